"""``seleksi forensics``: rank a session's candidates for review; watch the items.

    seleksi forensics --session ID --report FILE.html [--json FILE.json]
        [--compromised ITEM,ITEM | --compromised-file FILE] [--fdr 0.05] [--db FILE|URL]
    seleksi forensics --seats FILE.csv [--db FILE|URL]
    seleksi forensics --watch [--db FILE|URL]
    seleksi forensics --flag ITEM | --retire ITEM | --clear ITEM --reason TEXT [--db FILE|URL]
    seleksi forensics --items [--db FILE|URL]
    seleksi forensics --drift OLD.csv NEW.csv [--alpha 0.001]

The report lists every candidate of the session, most unusual first, with
each index's p-value and what it means; candidates with a Benjamini–Hochberg
q at most --fdr are marked for review. The indices and their limits:
docs/forensics.md. --seats loads rooms' seating layouts (CSV with columns
room, terminal_id, row, col; room is the room code or site/room). --watch
feeds the finished attempts not yet seen into each item's CUSUM and flags
items that became easier or faster; --retire takes a flagged item out of the
bank and of every exam's selection, --clear returns it to the watch; both
are audited with the reason given. --drift compares two calibrations
(PARAMS.csv from ``seleksi calibrate``, with standard errors): the new one is
linked onto the old over the common items (Stocking–Lord) and the items whose
difficulty fell by more than chance explains are listed.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import time
from pathlib import Path
from typing import Any

from seleksi.cli import CommandError, examples
from seleksi.database import add_db_argument, require_database, url_of


def register(sub: Any) -> None:
    p = sub.add_parser(
        "forensics",
        help="rank a session's candidates for review; watch items for leaks",
        description=(
            "Data forensics after a session: person fit, response times, answer "
            "similarity with neighbours and any pair, answer changes, a section unlike the "
            "rest, preknowledge of a suspected item set; candidates ranked for review under "
            "Benjamini–Hochberg. Also the item watch (CUSUM) and its review workflow. Every "
            "index is explained in the report and in docs/forensics.md; the report says "
            "review, never cheated."
        ),
        epilog=examples(
            "seleksi forensics --db seleksi-data/seleksi.db --session SESI-1 --report sesi1.html",
            "seleksi forensics --session 3 --report r.html --compromised TIU-0012,TIU-0107",
            "seleksi forensics --seats seats.csv",
            "seleksi forensics --watch",
            "seleksi forensics --retire TIU-0012 --reason 'key sold online (report 17)'",
        ),
    )
    add_db_argument(p)
    act = p.add_mutually_exclusive_group(required=True)
    act.add_argument("--session", metavar="ID", help="the session to analyse (id or code)")
    act.add_argument(
        "--seats", metavar="CSV", help="load seating layouts: room,terminal_id,row,col"
    )
    act.add_argument(
        "--watch", action="store_true", help="feed new finished attempts to the item watch"
    )
    act.add_argument("--items", action="store_true", help="list the item watch and review queue")
    act.add_argument("--flag", metavar="ITEM", help="flag an item for review (with --reason)")
    act.add_argument("--retire", metavar="ITEM", help="retire a flagged item (with --reason)")
    act.add_argument("--clear", metavar="ITEM", help="clear a flagged item (with --reason)")
    act.add_argument(
        "--drift",
        nargs=2,
        metavar=("OLD.csv", "NEW.csv"),
        help="items that became easier between two calibrations (PARAMS.csv with SEs)",
    )
    p.add_argument("--report", metavar="FILE.html", help="with --session: write the HTML report")
    p.add_argument("--json", metavar="FILE.json", help="with --session: write the report as JSON")
    p.add_argument(
        "--compromised", metavar="ITEMS", help="suspected leaked item ids, comma separated"
    )
    p.add_argument(
        "--compromised-file", metavar="FILE", help="suspected leaked item ids, one a line"
    )
    p.add_argument(
        "--fdr",
        type=float,
        default=0.05,
        help="false-discovery rate of the review list (default 0.05)",
    )
    p.add_argument("--reason", help="why (required with --flag, --retire, --clear)")
    p.add_argument(
        "--alpha",
        type=float,
        default=0.001,
        help="with --drift: list items with a one-sided p below this (default 0.001)",
    )
    p.set_defaults(func=run)


def _cli_actor() -> str:
    """Who acts, for the audit log: the operating-system account running the command."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return "cli"


def _compromised(args: argparse.Namespace) -> list[str]:
    ids: list[str] = []
    if args.compromised:
        ids += [s.strip() for s in args.compromised.split(",") if s.strip()]
    if args.compromised_file:
        try:
            text = Path(args.compromised_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {args.compromised_file}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"{args.compromised_file}: not UTF-8 text (byte {exc.start})"
            ) from None
        ids += [line.strip() for line in text.splitlines() if line.strip()]
    return ids


def run(args: argparse.Namespace) -> int:
    if args.drift:
        return _drift(Path(args.drift[0]), Path(args.drift[1]), args.alpha)
    url = url_of(args.db)
    require_database(url, tables=("exam_session", "forensics_item_review"))
    from exam_server.db import make_engine

    engine = make_engine(url)
    try:
        if args.session:
            return _session(engine, args)
        if args.seats:
            return _seats(engine, Path(args.seats))
        if args.watch:
            return _watch(engine)
        if args.items:
            return _items(engine)
        return _review(engine, args)
    finally:
        engine.dispose()


def _session(engine: Any, args: argparse.Namespace) -> int:
    from exam_server.forensics.load import SessionNotFound
    from exam_server.forensics.report import render_html, summary
    from exam_server.forensics.service import analyse_session
    from forensics.session import ForensicSettings

    if not args.report and not args.json:
        raise CommandError("--session needs --report FILE.html or --json FILE.json")
    try:
        settings = ForensicSettings(fdr=args.fdr)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    try:
        loaded, rep = analyse_session(
            engine, args.session, compromised=_compromised(args), settings=settings
        )
    except SessionNotFound as exc:
        raise CommandError(str(exc)) from None
    if args.report:
        Path(args.report).write_text(
            render_html(loaded, rep, generated_at=time.time()), encoding="utf-8"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps(summary(loaded, rep), ensure_ascii=False, indent=1), encoding="utf-8"
        )
    d = loaded.data
    print(
        f"session {loaded.session_code}: {d.n_candidates} candidates, {d.items.n_items} items "
        f"({int(d.items.timed.sum())} with time parameters); {int(rep.review.sum())} to review "
        f"at a false-discovery rate of {settings.fdr}"
        + (f"; report {args.report}" if args.report else "")
    )
    return 0


def _seats(engine: Any, path: Path) -> int:
    from exam_server.forensics.seats import SeatError, parse_seats, room_ids, store_seats

    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise CommandError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        seats = parse_seats(text, room_ids(engine))
    except SeatError as exc:
        raise CommandError(f"{path}, {exc}") from None
    rooms = store_seats(engine, seats)
    print(f"seating: {len(seats)} seats in {rooms} rooms")
    return 0


def _watch(engine: Any) -> int:
    from exam_server.forensics.service import feed_watch

    result = feed_watch(engine, time.time(), actor=_cli_actor())
    print(
        f"item watch: {result.attempts} attempts, {result.administrations} answers taken in; "
        f"{len(result.flagged)} items flagged for review"
        + (": " + ", ".join(result.flagged) if result.flagged else "")
    )
    return 0


def _items(engine: Any) -> int:
    from exam_server.forensics.service import review_queue

    rows = review_queue(engine)
    if not rows:
        print("no item watched or reviewed yet (run --watch after a session)")
    for r in rows:
        cusum = "–" if r["cusum"] is None else f"{r['cusum']:.1f}"
        print(
            f"{r['item_id']}\t{r['status']}\tCUSUM {cusum}\t"
            f"{r['administrations']} answers\t{r['reason']}"
        )
    return 0


def _review(engine: Any, args: argparse.Namespace) -> int:
    from exam_server.forensics.service import ReviewError, decide, flag

    if not (args.reason or "").strip():
        raise CommandError("--reason is required: say why, it goes into the audit log")
    actor = _cli_actor()
    try:
        if args.flag:
            flag(engine, args.flag, actor, args.reason, time.time())
            print(f"item {args.flag} flagged for review")
            return 0
        item, status = (args.retire, "retired") if args.retire else (args.clear, "cleared")
        withdrawn = decide(engine, item, status, actor, args.reason, time.time())
    except ReviewError as exc:
        raise CommandError(str(exc)) from None
    exams = sorted({w.exam_id for w in withdrawn})
    print(
        f"item {item} {status}"
        + (f"; withdrawn from exams {', '.join(map(str, exams))}" if status == "retired" else "")
    )
    if withdrawn:
        from exam_server.forensics.forms import retire_forms

        done = retire_forms(engine, item, actor, time.time())
        print(
            f"tests prepared and not started: {len(done.states)} got a parallel item in its "
            f"place, {done.kept} keep it (no parallel item in the bank); started tests that "
            f"hold it unanswered: {done.started} (they keep it)"
        )
    return 0


def run_response_times(args: argparse.Namespace) -> int:
    """``seleksi calibrate --response-times``: fit the lognormal response-time
    model to the stored answers of finished attempts (exam_server.forensics.times)."""
    from exam_server.db import make_engine
    from exam_server.forensics.times import fit_stored_times

    url = url_of(args.db)
    require_database(url, tables=("exam_response", "forensics_item_time"))
    engine = make_engine(url)
    try:
        fit = fit_stored_times(engine, time.time(), min_count=args.min_times)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    finally:
        engine.dispose()
    print(
        f"response times: {fit.attempts} finished attempts, {fit.items} items; "
        f"{fit.fitted} items with at least {args.min_times} times got α and β"
        + ("" if fit.converged else " (the fit did not converge: see the warning)")
    )
    return 0


def _read_calibration(path: Path) -> tuple[list[str], Any, Any]:
    """ids, ItemParameters and the SE of b (NaN where missing) of a PARAMS.csv."""
    import numpy as np

    from calibration.io import InputError, read_params

    try:
        ids, params = read_params(path)
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except InputError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CommandError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if rows and "se_b" not in rows[0]:
        raise CommandError(f"{path}: no se_b column (write it with seleksi calibrate)")
    se_b = np.full(len(rows), np.nan)
    for k, r in enumerate(rows):
        cell = (r.get("se_b") or "").strip()
        try:
            se_b[k] = float(cell) if cell else np.nan
        except ValueError:
            raise CommandError(
                f"{path}: row {k + 2}, field 'se_b': {cell!r} is not a number"
            ) from None
    return ids, params, se_b


def _drift(old_path: Path, new_path: Path, alpha: float) -> int:
    import numpy as np

    from calibration.linking import link
    from forensics.drift import parameter_drift

    if not 0 < alpha < 1:
        raise CommandError("--alpha must be between 0 and 1")
    old_ids, old, old_se = _read_calibration(old_path)
    new_ids, new, new_se = _read_calibration(new_path)
    common = [i for i in new_ids if i in set(old_ids)]
    if len(common) < 5:
        raise CommandError(f"{len(common)} items in common: at least 5 are needed to link")
    io = np.array([old_ids.index(i) for i in common])
    jn = np.array([new_ids.index(i) for i in common])
    try:
        t = link(new.subset(jn), old.subset(io))
    except ValueError as exc:
        raise CommandError(f"cannot link the calibrations: {exc}") from None
    b_new = new.b[jn] * t.A + t.B
    z, p = parameter_drift(old.b[io], old_se[io], b_new, new_se[jn] * t.A)
    easier = [k for k in np.argsort(z) if np.isfinite(p[k]) and p[k] < alpha]
    print(
        f"{len(common)} items in common; new = {t.A:.3f} x + {t.B:.3f} on the old scale "
        f"({t.method}); {len(easier)} became easier (one-sided p < {alpha})"
    )
    for k in easier:
        print(f"{common[k]}\tb {old.b[io][k]:.2f} -> {b_new[k]:.2f}\tz {z[k]:.1f}\tp {p[k]:.2g}")
    return 0
