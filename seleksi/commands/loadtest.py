"""``seleksi loadtest``: drive N simulated terminals against a running server.

    seleksi loadtest --url http://127.0.0.1:8000 --terminals 500 --pace 30 \
        --login-window 60 --duration 300 --candidates creds.csv --session-token TOKEN \
        [--db URL]   # check every acknowledged answer is in the database afterwards
    seleksi loadtest ... --seed-db URL   # first seed a fresh exam there (the server's
                                         # SELEKSI_SECRET_KEY must be set)
        [--exam-mode adaptive]           # the small seeded exam, adaptive
        [--design FILE|skd-adaptive --bank FILE|DB|synthetic:skd[:SCALE]]  # another exam
    seleksi loadtest ... --db URL --irt-seed S --exposure
        # answer as `seleksi simulate --seed S` simulees would (adaptive exams), then
        # report the exam's item exposure from the database (exam_item_usage /
        # exam_usage) beside the items the attempts were given

Reports connections held, logins/s, answers/s, acknowledgement latency
(p50/p95/p99/max), errors by code and acknowledged vs found in the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any

from seleksi.cli import CommandError, examples
from seleksi.database import DB_METAVAR


def _url(value: str) -> str:
    return value if "://" in value else f"sqlite:///{value}"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "loadtest",
        help="drive simulated terminals against a running server and report latency",
        description="Simulated terminals over the real protocol (HTTP login + WebSocket) "
        "against a running server, for --duration seconds: logins spread over "
        "--login-window, one answer every --pace seconds each. The candidates come from "
        "--candidates with --session-token, or --seed-db seeds a fresh exam first (the "
        "server's SELEKSI_SECRET_KEY must be in the environment). Reports connections held, "
        "logins/s, answers/s, acknowledgement latency (p50/p95/p99/max), errors by code, and "
        "with --db every acknowledged answer looked up in the database. Exits 1 when no "
        "terminal could log in, 3 when an acknowledged answer is missing. See "
        "docs/reliability.md.",
        epilog=examples(
            "seleksi loadtest --url http://127.0.0.1:8000 --terminals 50 "
            "--candidates creds.csv --session-token ABCD-1234",
            "SELEKSI_SECRET_KEY=... seleksi loadtest --url http://127.0.0.1:8000 "
            "--terminals 500 --seed-db exam.db --duration 300",
        ),
    )
    p.add_argument(
        "--url", required=True, metavar="URL", help="server base URL, e.g. http://127.0.0.1:8000"
    )
    p.add_argument("--terminals", type=int, required=True, metavar="N", help="number of terminals")
    p.add_argument(
        "--pace", type=float, default=30.0, metavar="SECONDS", help="mean seconds between answers"
    )
    p.add_argument(
        "--jitter", type=float, default=0.5, metavar="FRACTION", help="relative spread of the pace"
    )
    p.add_argument(
        "--login-window",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="logins spread over these seconds",
    )
    p.add_argument(
        "--duration", type=float, default=180.0, metavar="SECONDS", help="whole run, seconds"
    )
    p.add_argument("--finish", action="store_true", help="finish every attempt at the end")
    p.add_argument(
        "--candidates", metavar="CSV", help="CSV of registration_number,pin (with --session-token)"
    )
    p.add_argument("--session-token", metavar="TOKEN", help="the session token shown in the room")
    p.add_argument(
        "--seed-db",
        metavar=DB_METAVAR,
        help="seed a fresh exam with --terminals candidates in this database first "
        "(a SQLite file or a URL; instead of --candidates and --session-token)",
    )
    p.add_argument(
        "--db",
        metavar=DB_METAVAR,
        help="the server's database (a SQLite file or a URL), to check every acknowledged "
        "answer against (default: --seed-db, else no check)",
    )
    p.add_argument("--seed", type=int, default=1, metavar="S", help="random seed of the terminals")
    p.add_argument(
        "--exam-mode",
        choices=("linear", "adaptive"),
        default="linear",
        help="--seed-db: the small exam's mode (default linear)",
    )
    p.add_argument(
        "--design",
        help="--seed-db: a design JSON file or skd-linear / skd-adaptive instead of the small exam",
    )
    p.add_argument(
        "--bank",
        help="--seed-db with --design: bank file, database or synthetic:skd[:SCALE] "
        "(as seleksi simulate; default synthetic:skd)",
    )
    p.add_argument(
        "--irt-seed",
        type=int,
        metavar="S",
        help="answer adaptive items as the simulees of `seleksi simulate --seed S` "
        "(terminal j = simulee j; needs --db or --seed-db)",
    )
    p.add_argument(
        "--exposure",
        action="store_true",
        help="report the exam's item exposure from the database after the run",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress on standard error")
    p.set_defaults(func=run)


def _check_server(url: str) -> None:
    """The server answers ``/healthz`` (one line otherwise, before any terminal starts)."""
    import httpx

    try:
        httpx.get(url.rstrip("/") + "/healthz", timeout=5.0)
    except httpx.HTTPError as exc:
        raise CommandError(f"no server answers at {url}: {exc or type(exc).__name__}") from None


async def _run_with_progress(
    config: Any, creds: Any, token: str, answerer: Any, quiet: bool
) -> Any:
    """``run_load`` with a progress line every second: seconds of the run done,
    terminals logged in, answers acknowledged (the report's live counters)."""
    from exam_server.loadtest.report import LoadReport
    from exam_server.loadtest.runner import run_load
    from seleksi.progress import Progress

    report = LoadReport()
    total = int(config.duration)
    with Progress("loadtest", total, "s", quiet=quiet) as bar:
        task = asyncio.ensure_future(
            run_load(config, creds, token, answerer=answerer, report=report)
        )
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        while not task.done():
            await asyncio.wait({task}, timeout=1.0)
            bar.set(
                min(total, int(loop.time() - t0)),
                f"{report.logins_ok}/{config.terminals} logged in, "
                f"{report.answers_acked} answers acknowledged, {sum(report.errors.values())} "
                "errors",
            )
        return task.result()


def run(args: argparse.Namespace) -> int:
    from exam_server.loadtest.report import verify_in_database
    from exam_server.loadtest.runner import LoadConfig, load_candidates

    try:
        config = LoadConfig(
            url=args.url,
            terminals=args.terminals,
            pace=args.pace,
            login_window=args.login_window,
            duration=args.duration,
            jitter=args.jitter,
            finish=args.finish,
            seed=args.seed,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    db_url = _url(args.db) if args.db else None
    if (args.design or args.bank) and not args.seed_db:
        raise CommandError("--design and --bank choose the exam --seed-db seeds")
    if (args.irt_seed is not None or args.exposure) and not (args.db or args.seed_db):
        raise CommandError("--irt-seed and --exposure read the exam from --db (or --seed-db)")
    if not args.seed_db and not (args.candidates and args.session_token):
        raise CommandError("give --candidates and --session-token (or --seed-db)")
    if db_url is not None:
        from seleksi.database import require_database

        require_database(db_url)  # checked, never created
    _check_server(args.url)
    if args.seed_db:
        from exam_server.loadtest.seeding import seed_load_exam

        secret = os.environ.get("SELEKSI_SECRET_KEY", "")
        if len(secret) < 32:
            raise CommandError("--seed-db needs the server's SELEKSI_SECRET_KEY in the environment")
        design = bank = None
        if args.design:
            from seleksi.commands.simulate import load_bank, load_design

            bank = load_bank(args.bank or "synthetic:skd")
            design = load_design(args.design.replace("_", "-"), bank)
        seed, creds = seed_load_exam(
            _url(args.seed_db),
            secret,
            args.terminals,
            mode=args.exam_mode,
            design=design,
            bank=bank,
        )
        token = seed.session_token
        db_url = db_url or _url(args.seed_db)
    else:
        if not args.candidates or not args.session_token:
            raise CommandError("give --candidates and --session-token (or --seed-db)")
        try:
            creds = load_candidates(args.candidates)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        token = args.session_token
    if len(creds) < args.terminals:
        raise CommandError(f"{args.terminals} terminals need {args.terminals} candidates")
    answerer = None
    exam = None
    if db_url and (args.irt_seed is not None or args.exposure):
        from exam_server.loadtest.exposure import exam_of

        try:
            exam = exam_of(db_url, creds[0].registration_number)
        except LookupError as exc:
            raise CommandError(str(exc)) from None
    if exam is not None and args.irt_seed is not None:
        from exam_server.loadtest.exposure import IrtAnswers
        from seleksi.commands.simulate import load_theta

        codes = tuple(s.code for s in exam.design.sections)
        # The abilities seleksi simulate draws for --simulees N --seed S: terminal j
        # (candidate j of the list) is simulee j.
        theta = load_theta(None, args.terminals, codes, args.irt_seed)
        answerer = IrtAnswers(exam, theta, args.irt_seed)
    report = asyncio.run(_run_with_progress(config, creds, token, answerer, args.quiet))
    if report.logins_ok == 0:
        first = next(iter(report.errors.most_common(1)), None)
        why = f" (most frequent error: {first[0]} × {first[1]})" if first else ""
        raise CommandError(f"no terminal logged in at {args.url}{why}; nothing was measured")
    if db_url:
        verify_in_database(report, db_url)
    exposure = None
    if exam is not None and args.exposure:
        from exam_server.loadtest.exposure import read_live_exposure

        exposure = read_live_exposure(db_url or "", exam)
    if args.json:
        out = report.to_dict()
        if exposure is not None:
            out["exposure"] = exposure.to_dict()
        print(json.dumps(out, indent=2))
    else:
        print(report.to_text())
        if exposure is not None:
            print(exposure.to_text())
    if report.db is not None and (report.db["missing"] or report.db["duplicated"]):
        return 3
    if exposure is not None and any(exposure.mismatches().values()):
        return 3
    return 0
