"""``seleksi calibrate``: estimate item parameters from a response file.

    seleksi calibrate RESPONSES.csv --model 1pl|2pl|3pl|4pl|grm|gpcm --out PARAMS.csv
        [--long] [--weights COLUMN] [--group COLUMN [--focal VALUE]]
        [--poly-model grm|gpcm] [--anchor BANK [--link METHOD]]
        [--write [--db FILE|URL] [--run NAME] [--scale NAME]]
        [--report report.html] [--scores SCORES.csv] [--quadrature N] [--max-iter N] [--quiet]

RESPONSES.csv is wide (``person_id`` then one column per item id, empty =
not presented) or, with ``--long``, ``person_id,item_id,response`` rows.
Items with more than two categories use ``--poly-model`` (default GPCM)
when ``--model`` is dichotomous. ``--anchor BANK`` (a PARAMS.csv or an item
bank database) puts the results on the bank's scale: ``--link fixed`` holds
the common items at their bank values and calibrates the others around them
(pretest items); ``stocking-lord`` (default), ``haebara`` or ``mean-sigma``
calibrate freely and transform. ``--write`` stores the parameters in the
bank database (``--db``, the one default of every command) as a new
calibration run. See docs/calibration.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from seleksi.cli import CommandError, examples
from seleksi.database import DB_HELP, add_db_argument, require_database, url_of
from seleksi.outputs import check_output, write_outputs

MODELS = ("1pl", "rasch", "2pl", "3pl", "4pl", "grm", "gpcm")
#: Fewer items than this leave the parameters unidentified: with N(0, 1) fixed, one
#: binary item's responses carry one number (its p-value), two items' three, while
#: a 2PL needs two per item.
MIN_ITEMS = 3


def register(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="estimate IRT item parameters (MML-EM) from responses",
        description="Calibrate items by marginal maximum likelihood (EM) and write PARAMS.csv, "
        "with classical statistics, S-X² item fit and (with --group) Mantel–Haenszel DIF. "
        "RESPONSES.csv is wide (person_id, then one column per item id; empty = not "
        "presented) or, with --long, person_id,item_id,response rows. Every output path is "
        "checked before the fit, and the outputs are written only when all are complete. "
        "See docs/calibration.md.",
        epilog=examples(
            "seleksi calibrate responses.csv --model 3pl --out params.csv --report report.html",
            "seleksi calibrate pretest.csv --model 2pl --out p.csv --anchor bank.csv --link fixed",
            "seleksi calibrate r.csv --model 2pl --out p.csv --write --db exam.db",
            "seleksi calibrate --response-times --db exam.db   # item time parameters",
        ),
    )
    p.add_argument(
        "responses", metavar="RESPONSES.csv", nargs="?", help="response CSV (wide, or --long)"
    )
    p.add_argument(
        "--model",
        type=str.lower,
        choices=MODELS,
        help="IRT model (any case: 2pl or 2PL)",
    )
    p.add_argument("--out", metavar="PARAMS.csv", help="parameters CSV to write")
    p.add_argument("--long", action="store_true", help="rows are person_id,item_id,response")
    p.add_argument("--weights", metavar="COLUMN", help="case-weight column")
    p.add_argument("--group", metavar="COLUMN", help="grouping column for DIF (two groups)")
    p.add_argument("--focal", metavar="VALUE", help="the focal group's value (default: the second)")
    p.add_argument(
        "--poly-model",
        choices=("grm", "gpcm"),
        default="gpcm",
        help="model for items with more than two categories (default gpcm)",
    )
    p.add_argument(
        "--anchor", metavar="BANK", help="bank parameters: PARAMS.csv or a bank database"
    )
    p.add_argument(
        "--link",
        choices=("stocking-lord", "haebara", "mean-sigma", "fixed"),
        default="stocking-lord",
        help="how --anchor is used (default stocking-lord)",
    )
    add_db_argument(p, "--bank", "--database-url", help=f"for --write: {DB_HELP}")
    p.add_argument(
        "--write", action="store_true", help="store the parameters in --db as a calibration run"
    )
    p.add_argument("--run", help="calibration run name for --write (default calibrate-<time>)")
    p.add_argument("--scale", default="default", help="scale name for --write (default 'default')")
    p.add_argument("--report", metavar="HTML", help="write an HTML report with plots")
    p.add_argument("--scores", metavar="CSV", help="write EAP/MAP ability estimates per person")
    p.add_argument(
        "--quadrature", type=int, default=41, metavar="N", help="quadrature nodes (default 41)"
    )
    p.add_argument(
        "--max-iter", type=int, default=500, metavar="N", help="EM iteration limit (default 500)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress and no summary line")
    p.add_argument(
        "--response-times",
        action="store_true",
        help="instead: fit the lognormal response-time model to the answers stored in --db "
        "(each item's time intensity and discrimination, for seleksi forensics)",
    )
    p.add_argument("--min-times", type=int, default=20, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def _bank_url(path_or_url: str | None) -> str:
    """The URL of an existing item bank database (checked; nothing is created)."""
    url = url_of(path_or_url)
    require_database(url, tables=("bank_item",))
    return url


def _load_anchor(spec: str) -> tuple[list[str], Any]:
    """(ids, ItemParameters) of the bank's calibrated items."""
    from calibration.io import InputError, read_params

    if spec.lower().endswith(".csv"):
        if not Path(spec).is_file():
            raise CommandError(f"--anchor {spec}: no such file")
        try:
            return read_params(spec)
        except InputError as exc:
            raise CommandError(f"--anchor {spec}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise CommandError(f"--anchor {spec}: not UTF-8 text (byte {exc.start})") from None
        except OSError as exc:
            raise CommandError(f"--anchor {spec}: {exc.strerror or exc}") from None
    from cat_engine.irt import ItemParameters, Model
    from item_bank.database import open_engine
    from item_bank.store import ItemStore

    store = ItemStore(open_engine(_bank_url(spec)))
    ids: list[str] = []
    rows: list[tuple[int, float, float, float, float, tuple[float, ...]]] = []
    for rec in store.export_document().items:
        irt = getattr(rec, "irt", None)
        if irt is None or irt.a is None:
            continue
        model = Model.parse(irt.model)
        ids.append(rec.item_id)
        rows.append(
            (
                int(model),
                float(irt.a),
                float(irt.b) if irt.b is not None else float("nan"),
                float(irt.c) if irt.c is not None else 0.0,
                float(irt.d) if irt.d is not None else 1.0,
                tuple(irt.thresholds),
            )
        )
    if not ids:
        raise CommandError(f"{spec}: no calibrated items in the bank")
    width = max([len(r[5]) for r in rows] + [1])
    thr = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        thr[i, : len(r[5])] = r[5]
    return ids, ItemParameters(
        np.array([r[0] for r in rows], dtype=np.int8),
        np.array([r[1] for r in rows]),
        np.array([r[2] for r in rows]),
        np.array([r[3] for r in rows]),
        np.array([r[4] for r in rows]),
        thr,
    )


def run(args: argparse.Namespace) -> int:
    # Only what every run needs is imported here: DIF, linking and person scores
    # import theirs when asked for (issue 17: the whole command's start-up counts).
    from calibration import classical, fit
    from calibration.em import ConvergenceWarning, MMLEstimator
    from calibration.io import InputError, check_items, read_long, read_wide
    from cat_engine.irt import Model

    if args.response_times:
        from seleksi.commands.forensics import run_response_times

        return run_response_times(args)
    if args.responses is None or args.model is None or args.out is None:
        raise CommandError("give RESPONSES.csv, --model and --out (or --response-times)")
    if args.quadrature < 5:
        raise CommandError("--quadrature must be at least 5")
    if args.max_iter < 1:
        raise CommandError("--max-iter must be at least 1")
    # Everything the fit's results go to is checked before the fit.
    outputs = [(args.out, "--out"), (args.report, "--report"), (args.scores, "--scores")]
    given = [(Path(path).resolve(), option) for path, option in outputs if path]
    for path, option in given:
        check_output(path, option)
    if len({path for path, _ in given}) < len(given):
        raise CommandError("--out, --report and --scores must be different files")
    if Path(args.responses).is_dir():
        raise CommandError(f"{args.responses}: is a folder; give the response CSV")
    if args.write:
        args.bank_url = _bank_url(args.db)
    reader = read_long if args.long else read_wide
    try:
        rf = reader(args.responses, weight_column=args.weights, group_column=args.group)
    except InputError as exc:
        raise CommandError(f"{args.responses}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise CommandError(
            f"{args.responses}: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV"
        ) from None
    except OSError as exc:
        raise CommandError(f"{args.responses}: {exc.strerror or exc}") from None
    data = rf.data
    ids = rf.item_ids

    # models per item --------------------------------------------------------
    base = Model.parse(args.model)
    poly = data.n_categories > 2
    if base.is_dichotomous:
        names = [args.poly_model if p else args.model for p in poly]
    else:
        names = [args.model] * len(ids)

    # anchors ------------------------------------------------------------------
    anchor_ids: list[str] = []
    anchor_params = None
    common: list[int] = []
    bank_pos: list[int] = []
    if args.anchor:
        anchor_ids, anchor_params = _load_anchor(args.anchor)
        where = {iid: i for i, iid in enumerate(anchor_ids)}
        common = [j for j, iid in enumerate(ids) if iid in where]
        bank_pos = [where[ids[j]] for j in common]
        if len(common) < 2:
            raise CommandError(
                f"--anchor {args.anchor}: only {len(common)} item(s) in common with the responses"
            )
        for j, bp in zip(common, bank_pos, strict=True):
            names[j] = Model(int(anchor_params.model[bp])).label.lower()
    fixed = args.link == "fixed" and anchor_params is not None
    try:
        check_items(data, ids, skip=common if fixed else ())
    except InputError as exc:
        raise CommandError(f"{args.responses}: {exc}") from None
    # Anchors held fixed set the scale themselves; a free calibration needs the items to.
    if not fixed and len(ids) < MIN_ITEMS:
        raise CommandError(
            f"{args.responses}: {len(ids)} item(s); a calibration needs at least {MIN_ITEMS}: "
            "with fewer, the item parameters are not identified (the fit would report "
            "values the data do not determine)"
        )

    from seleksi.progress import Progress

    bar = Progress("calibrate", None, "EM iterations", quiet=args.quiet, every_seconds=5.0)

    def progress(it: int, loglik: float, change: float, dparam: float) -> None:
        bar.set(it, f"log-likelihood {loglik:,.3f}, change {change:.2e}, max Δparam {dparam:.2e}")

    est = MMLEstimator(
        names,
        n_quad=args.quadrature,
        max_iter=args.max_iter,
        anchor=anchor_params.subset(bank_pos) if fixed and anchor_params is not None else None,
        anchor_items=common if fixed else None,
        progress=progress,
    )
    with warnings.catch_warnings(record=True) as caught, bar:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            est.fit(data)
        except ValueError as exc:
            raise CommandError(f"{args.responses}: {exc}") from None
    for w in caught:
        print(f"seleksi: warning: {w.message}", file=sys.stderr)
    params, se = est.params_, est.se_
    transform = None
    if anchor_params is not None and not fixed:
        from calibration.linking import link

        transform = link(params.subset(common), anchor_params.subset(bank_pos), args.link)
        params = transform.apply(params)
        se = transform.apply_se(se) if se is not None else None

    # scores, quality -------------------------------------------------------
    mean, sd = est.latent_mean_, est.latent_sd_
    if transform is not None:
        mean, sd = transform.A * mean + transform.B, transform.A * sd
    if args.scores or args.report:  # person estimates only for the files that show them
        from calibration import scoring

        theta, theta_se = scoring.eap(params, data, prior_mean=mean, prior_sd=sd)
    stats = classical.item_statistics(data)
    dense = data.to_dense() if data.n_persons * data.n_items <= 50_000_000 else None
    if dense is not None:
        sx2 = fit.s_x2(params, dense, data.weights, latent_mean=mean, latent_sd=sd)
        sx2_stat, sx2_df, sx2_p = sx2.s_x2, sx2.df, sx2.p_value
    else:
        sx2_stat = sx2_df = sx2_p = np.full(data.n_items, np.nan)
    dif_class: list[str] | None = None
    dif_delta = None
    extra: dict[str, Any] = {
        "n": stats.n,
        "p_value": stats.p_value,
        "item_rest": stats.item_rest,
        "s_x2": sx2_stat,
        "s_x2_df": sx2_df,
        "s_x2_p": sx2_p,
    }
    if rf.groups is not None:
        if dense is None:
            raise CommandError("--group: DIF needs the responses as a dense matrix (too large)")
        values = sorted({g for g in rf.groups if g != ""})
        if len(values) != 2:
            raise CommandError(
                f"--group {args.group}: DIF needs exactly two groups, found {len(values)}: "
                f"{', '.join(values[:5])}"
            )
        focal = args.focal if args.focal is not None else values[1]
        if focal not in values:
            raise CommandError(f"--focal {focal!r} is not one of {', '.join(values)}")
        g = np.array([np.nan if v == "" else float(v == focal) for v in rf.groups])
        from calibration import dif

        res = dif.mantel_haenszel(dense, g, data.weights)
        dif_class, dif_delta = res.ets_class, res.delta
        extra.update({"mh_delta": res.delta, "mh_se": res.se_delta, "ets_class": res.ets_class})
    if common:
        is_anchor = np.zeros(len(ids), dtype=bool)
        is_anchor[common] = True
        extra["anchor"] = [("fixed" if fixed else "common") if a else "" for a in is_anchor]

    files: list[tuple[str, str]] = [(args.out, _params_text(ids, params, se, extra))]
    if args.scores:
        map_t, map_se = scoring.map_estimate(params, data, prior_mean=mean, prior_sd=sd)
        lines = ["person_id,eap,eap_se,map,map_se"]
        lines += [
            f"{pid},{theta[i]:.4f},{theta_se[i]:.4f},{map_t[i]:.4f},{map_se[i]:.4f}"
            for i, pid in enumerate(rf.person_ids)
        ]
        files.append((args.scores, "\n".join(lines) + "\n"))

    summary = {
        "responses": f"{args.responses} ({'long' if args.long else 'wide'})",
        "persons": f"{data.n_persons:,}"
        + (f" (weighted {data.weights.sum():,.0f})" if args.weights else ""),
        "items": f"{data.n_items:,}",
        "responses present": f"{data.nnz:,} "
        f"({data.nnz / max(data.n_persons * data.n_items, 1):.0%})",
        "models": ", ".join(
            f"{Model(m).label} × {int((params.model == m).sum())}" for m in np.unique(params.model)
        ),
        "log-likelihood": f"{est.loglik_:,.3f}",
        "AIC / BIC": f"{est.aic_:,.1f} / {est.bic_:,.1f}",
        "parameters": str(est.n_parameters_),
        "EM iterations": f"{est.n_iter_} ({'converged' if est.converged_ else 'NOT converged'})",
        "quadrature": f"{args.quadrature} nodes on [−6, 6]",
        "latent distribution": f"N({mean:.3f}, {sd:.3f}²)",
    }
    if transform is not None:
        summary["linking"] = (
            f"{transform.method}: θ_bank = {transform.A:.4f} θ + {transform.B:+.4f} "
            f"over {len(common)} common items"
        )
    elif fixed:
        summary["linking"] = f"fixed-parameter calibration, {len(common)} anchor items held"
    if args.report:
        from calibration.report import ReportData, observed_by_theta, render

        obs, obs_n, centres = observed_by_theta(
            theta, data.person, data.item, data.category, data.weights, data.n_items
        )
        rd = ReportData(
            title=f"Calibration report: {Path(args.responses).name}",
            item_ids=ids,
            params=params,
            se=se,
            summary=summary,
            p_value=stats.p_value,
            item_rest=stats.item_rest,
            sx2_p=sx2_p,
            dif_class=dif_class,
            dif_delta=dif_delta,
            theta_hat=theta,
            observed=obs,
            observed_n=obs_n,
            bin_centres=centres,
            anchors=set(common),
        )
        files.append((args.report, render(rd)))
    write_outputs(files)

    if args.write:
        n_written = _write_bank(args, ids, params, se, data, set(common) if fixed else set())
        print(f"stored {n_written} items as calibration run {args.run}", file=sys.stderr)
    if not args.quiet:
        print(
            f"calibrated {data.n_items} items from {data.n_persons} persons: "
            f"log-likelihood {est.loglik_:.3f}, AIC {est.aic_:.1f}, BIC {est.bic_:.1f} "
            f"→ {args.out}",
            file=sys.stderr,
        )
    return 0


def _params_text(
    ids: list[str], params: Any, se: dict[str, Any] | None, extra: dict[str, Any]
) -> str:
    """PARAMS.csv as text (written with the other outputs, all or none)."""
    import tempfile

    from calibration.io import write_params

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "params.csv"
        write_params(path, ids, params, se, extra)
        return path.read_text(encoding="utf-8")


def _write_bank(
    args: argparse.Namespace,
    ids: list[str],
    params: Any,
    se: dict[str, Any] | None,
    data: Any,
    skip: set[int],
) -> int:
    from cat_engine.irt import Model
    from item_bank.database import open_engine
    from item_bank.records import IrtRecord
    from item_bank.store import ItemStore

    def num(x: float) -> float | None:
        return float(x) if np.isfinite(x) else None

    counts = data.counts()
    estimates: dict[str, IrtRecord] = {}
    for j, iid in enumerate(ids):
        if j in skip:
            continue
        model = Model(int(params.model[j]))
        dich = model.is_dichotomous
        k = int(params.n_categories[j]) - 1
        estimates[iid] = IrtRecord(
            model=model.label,
            a=num(params.a[j]),
            b=num(params.b[j]) if dich else None,
            c=num(params.c[j]) if dich and model >= Model.THREE_PL else None,
            d=num(params.d[j]) if model == Model.FOUR_PL else None,
            thresholds=() if dich else tuple(float(t) for t in params.thresholds[j, :k]),
            se_a=num(se["a"][j]) if se else None,
            se_b=num(se["b"][j]) if se and dich else None,
            se_c=num(se["c"][j]) if se and dich and model >= Model.THREE_PL else None,
            se_d=num(se["d"][j]) if se and model == Model.FOUR_PL else None,
            se_thresholds=()
            if dich or not se
            else tuple(num(se["thresholds"][j, t]) for t in range(k)),
            sample_size=round(counts[j]),
        )
    store = ItemStore(open_engine(args.bank_url))
    if args.run is None:
        args.run = f"calibrate-{dt.datetime.now(dt.UTC).strftime('%Y%m%d-%H%M%S')}"
    try:
        store.record_calibration(estimates, run=args.run, scale=args.scale)
    except (KeyError, ValueError) as exc:
        raise CommandError(f"--write: {exc}") from None
    return len(estimates)
