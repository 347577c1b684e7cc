"""``seleksi simulate``: run a test design for simulated candidates and report.

    seleksi simulate --bank BANK --design DESIGN --simulees N --seed S --out REPORT.json
                     [--theta FILE] [--report report.html]
                     [--sympson-hetter RATE [--design-out FILE]]

BANK: an exported bank file (``.json``; or ``.csv`` for the SKD subtests TWK,
TIU and TKP, whose definitions a CSV file does not carry; see
docs/item-format.md), a SQLite database file (``.db``/``.sqlite``) or a
database URL, or ``synthetic:skd[:SCALE]`` for a generated SKD-shaped bank. DESIGN: a design
JSON file (docs/test-design.md) or ``skd-linear`` / ``skd-adaptive``.
``--theta FILE``: abilities, CSV with one column per section code (or one
column ``theta`` for all sections), or a JSON list; default N(0, 1) with a
correlation of 0.5 between sections.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from seleksi.cli import CommandError, examples
from seleksi.outputs import check_output, write_outputs


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate candidates through a test design and report precision and exposure",
        description="Run the real engine for N simulated candidates; report bias, RMSE, "
        "SE, length, exposure, overlap and pass/fail classification (docs/test-design.md). "
        "BANK is an exported bank file (.json; .csv for the SKD subtests), a SQLite file or "
        "database URL, or synthetic:skd[:SCALE]. Progress goes to standard error; every "
        "output path is checked before the run and written only when all are complete.",
        epilog=examples(
            "seleksi simulate --bank synthetic:skd --design skd-adaptive --out sim.json "
            "--report sim.html",
            "seleksi simulate --bank seleksi-data/seleksi.db --design skd-linear "
            "--simulees 2000 --out linear.json",
            "seleksi simulate --bank bank.json --design skd-adaptive --sympson-hetter 0.25 "
            "--design-out capped.json --out sh.json",
        ),
    )
    p.add_argument(
        "--bank",
        required=True,
        metavar="BANK",
        help="bank file (.json/.csv), SQLite file or database URL, or synthetic:skd[:SCALE]",
    )
    p.add_argument(
        "--design",
        required=True,
        metavar="DESIGN",
        help="design JSON file, or skd-linear / skd-adaptive",
    )
    p.add_argument(
        "--simulees", type=int, default=1000, metavar="N", help="number of simulees (default 1000)"
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--out", required=True, metavar="REPORT.json", help="report JSON to write")
    p.add_argument(
        "--theta",
        metavar="FILE",
        help="abilities: CSV (columns = section codes, or theta) or JSON (default: N(0, 1), "
        "correlation 0.5 between sections)",
    )
    p.add_argument("--report", metavar="HTML", help="also write an HTML report with plots")
    p.add_argument(
        "--sympson-hetter",
        type=float,
        metavar="RATE",
        help="first set Sympson–Hetter parameters for this maximum exposure rate (0 < RATE ≤ 1) "
        "by iterative simulation",
    )
    p.add_argument(
        "--design-out", metavar="FILE", help="write the design with the calibrated parameters here"
    )
    p.add_argument("--quiet", action="store_true", help="no progress and no summary line")
    p.set_defaults(func=run)


def load_bank(spec: str) -> Any:
    """BankArrays from a file, database or ``synthetic:skd[:SCALE]``."""
    if spec.startswith("synthetic:"):
        from cat_engine.synthetic import skd_synthetic_bank

        parts = spec.split(":")
        scale_text = parts[2] if len(parts) == 3 else "10"
        if len(parts) > 3 or parts[1] != "skd" or not scale_text.isdigit() or scale_text == "0":
            raise CommandError(
                f"--bank {spec}: expected synthetic:skd or synthetic:skd:SCALE "
                "(SCALE a whole number ≥ 1, default 10)"
            )
        return skd_synthetic_bank(int(scale_text), seed=0)
    from item_bank.arrays import load_bank_arrays
    from item_bank.database import open_engine, sqlite_url
    from item_bank.store import ItemStore
    from seleksi.database import require_database, url_of

    path = Path(spec)
    if "://" in spec or path.suffix.lower() in (".db", ".sqlite", ".sqlite3"):
        url = url_of(spec)
        try:
            require_database(url, tables=("bank_item",))
        except CommandError as exc:
            raise CommandError(f"--bank {spec}: {exc}") from None
        store = ItemStore(open_engine(url))
    else:
        if path.is_dir():
            raise CommandError(f"--bank {spec}: is a folder")
        if not path.exists():
            raise CommandError(f"--bank {spec}: no such file")
        store = ItemStore(open_engine(sqlite_url(":memory:")))
        store.create_tables()
        if path.suffix.lower() == ".csv":
            # A CSV file carries items only; the SKD subtests' definitions are known.
            from item_bank.demo import SKD_SUBTESTS

            store.define_subtests(SKD_SUBTESTS)
        try:
            store.import_file(path)
        except Exception as exc:
            lines = str(exc).splitlines()
            more = f"\n  ... ({len(lines) - 6} more)" if len(lines) > 6 else ""
            hint = (
                " (a CSV file holds items only, and only the SKD subtests TWK, TIU and TKP are "
                "known without their definitions: export the bank as JSON, which carries its "
                "subtests, or pass the database)"
                if path.suffix.lower() == ".csv"
                else ""
            )
            raise CommandError(f"--bank {spec}: " + "\n".join(lines[:6]) + more + hint) from None
    bank = load_bank_arrays(store)
    if bank.n_items == 0:
        raise CommandError(f"--bank {spec}: no calibrated items")
    return bank


def load_design(spec: str, bank: Any) -> Any:
    from cat_engine.design import TestDesign, skd_design

    if spec in ("skd-linear", "skd-adaptive"):
        return skd_design(spec.split("-")[1], blueprint=skd_blueprint_for(bank))
    path = Path(spec)
    if not path.exists():
        raise CommandError(f"--design {spec}: no such file")
    try:
        return TestDesign.from_json(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CommandError(f"--design {spec}: {exc}") from None


def skd_blueprint_for(bank: Any) -> dict[str, dict[str, int]] | None:
    """The SKD blueprint if the bank has its content areas, else proportional counts.

    A bank with other area codes gets, per subtest, counts proportional to
    its own areas (largest remainders), so the default design runs on it.
    """
    from cat_engine.design import SKD_BLUEPRINT, SKD_LENGTHS

    if all(a in bank.content_codes for areas in SKD_BLUEPRINT.values() for a in areas):
        return None
    out: dict[str, dict[str, int]] = {}
    for code, length in SKD_LENGTHS.items():
        if code not in bank.subtest_codes:
            continue
        sub = bank.subtest_codes.index(code)
        areas, counts = np.unique(
            bank.content_area[(bank.subtest == sub) & ~bank.pretest], return_counts=True
        )
        share = counts / counts.sum() * length
        base = np.floor(share).astype(int)
        for i in np.argsort(-(share - base))[: length - base.sum()]:
            base[i] += 1
        out[code] = {bank.content_codes[a]: int(c) for a, c in zip(areas, base, strict=True) if c}
    return out


def load_theta(path: str | None, n: int, codes: tuple[str, ...], seed: int) -> np.ndarray:
    if path is None:
        rng = np.random.default_rng(seed)
        common = rng.normal(size=(n, 1))
        unique = rng.normal(size=(n, len(codes)))
        return np.sqrt(0.5) * common + np.sqrt(0.5) * unique  # correlation 0.5
    p = Path(path)
    if not p.exists():
        raise CommandError(f"--theta {path}: no such file")
    text = p.read_text(encoding="utf-8-sig")
    try:
        if p.suffix.lower() == ".json":
            arr = np.asarray(json.loads(text), dtype=np.float64)
        else:
            rows = list(csv.DictReader(io.StringIO(text)))
            if not rows:
                raise ValueError("no rows")
            fields = rows[0].keys()
            if all(c in fields for c in codes):
                arr = np.array([[float(r[c]) for c in codes] for r in rows])
            elif "theta" in fields:
                arr = np.array([float(r["theta"]) for r in rows])
            else:
                raise ValueError(f"expected columns {', '.join(codes)} or theta")
    except (ValueError, TypeError) as exc:
        raise CommandError(f"--theta {path}: {exc}") from None
    if arr.ndim == 1:
        arr = np.repeat(arr[:, None], len(codes), axis=1)
    if arr.ndim != 2 or arr.shape[1] != len(codes) or not np.all(np.isfinite(arr)):
        raise CommandError(f"--theta {path}: expected finite abilities for {', '.join(codes)}")
    return arr


def run(args: argparse.Namespace) -> int:
    from cat_engine.errors import EngineError
    from cat_engine.metrics import summarize
    from cat_engine.report_html import render
    from cat_engine.simulation import calibrate_sympson_hetter, simulate
    from seleksi.progress import Progress

    if args.simulees < 1 and args.theta is None:
        raise CommandError("--simulees must be at least 1")
    rate = args.sympson_hetter
    if rate is not None and not 0 < rate <= 1:
        raise CommandError(f"--sympson-hetter {rate}: a maximum exposure rate, 0 < RATE ≤ 1")
    if args.design_out and rate is None:
        raise CommandError("--design-out writes the design --sympson-hetter calibrates")
    outputs = [(args.out, "--out"), (args.report, "--report"), (args.design_out, "--design-out")]
    given = [(Path(path).resolve(), option) for path, option in outputs if path]
    for path, option in given:
        check_output(path, option)
    if len({path for path, _ in given}) < len(given):
        raise CommandError("--out, --report and --design-out must be different files")
    bank = load_bank(args.bank)
    design = load_design(args.design, bank)
    codes = tuple(s.code for s in design.sections)
    theta = load_theta(args.theta, args.simulees, codes, args.seed)
    n = int(theta.shape[0])
    history: list[float] = []
    files: list[tuple[str, str]] = []
    try:
        if rate is not None:
            rounds = 20  # calibrate_sympson_hetter's default: it may stop earlier
            with Progress(
                f"Sympson–Hetter rounds (up to {rounds})",
                rounds * n,
                "simulees",
                quiet=args.quiet,
            ) as bar:
                design, history = calibrate_sympson_hetter(
                    design,
                    bank,
                    theta,
                    rate,
                    seed=args.seed,
                    iterations=rounds,
                    progress=lambda r, done: bar.set((r - 1) * n + done, f"round {r}"),
                )
                bar.note(
                    f"Sympson–Hetter: {len(history)} rounds, last maximum rate {history[-1]:.3f}"
                )
            if args.design_out:
                files.append((args.design_out, design.to_json()))
        with Progress(f"simulate ({design.mode})", n, "simulees", quiet=args.quiet) as bar:
            result = simulate(design, bank, theta, args.seed, progress=bar.set)
    except EngineError as exc:
        raise CommandError(str(exc)) from None
    report = summarize(result, bank)
    if history:
        report["sympson_hetter_max_rates"] = history
    files.insert(0, (args.out, json.dumps(report, indent=2, ensure_ascii=False)))
    if args.report:
        files.append((args.report, render(report)))
    write_outputs(files)
    if args.quiet:
        return 0
    o = report["overall"]
    print(
        f"{report['simulees']} simulees, {design.mode}: RMSE θ {o['theta']['rmse']:.3f}, "
        f"bias {o['theta']['bias']:+.3f}, mean length {o['mean_length']:.1f}, "
        f"max exposure {o['max_exposure_rate']:.3f}"
    )
    return 0
