"""The SKD default design on the demo bank: adaptive against the linear 110-item form.

    .venv/bin/python -m benchmarks.cat_skd_demo [--simulees 1000] [--seed 2024]

Generates the demo bank (``item_bank.demo.generate_demo_bank``), loads it as
the engine sees it, draws simulees with θ ~ N(0, 1) per subtest (correlation
0.5 between subtests) and runs, through :func:`cat_engine.simulation.simulate`,
the linear SKD form (110 items, parallel forms assembled per candidate), the
adaptive SKD design at the same length, and a shorter adaptive design (about
half the items). Writes the ``skd-simulation`` block of docs/test-design.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import machine_line, write_section
from cat_engine.design import TestDesign, skd_design
from cat_engine.metrics import summarize
from cat_engine.simulation import simulate

DOC = Path(__file__).resolve().parent.parent / "docs" / "test-design.md"

SHORT_BLUEPRINT = {
    "TWK": {
        "nasionalisme": 3,
        "integritas": 3,
        "bela_negara": 3,
        "pilar_negara": 3,
        "bahasa_indonesia": 3,
    },
    "TIU": {"verbal": 5, "numerik": 8, "figural": 5},
    "TKP": {
        "pelayanan_publik": 4,
        "jejaring_kerja": 4,
        "sosial_budaya": 4,
        "tik": 4,
        "profesionalisme": 4,
        "anti_radikalisme": 4,
    },
}


def demo_bank(seed: int) -> Any:
    from item_bank.arrays import load_bank_arrays
    from item_bank.database import open_engine
    from item_bank.demo import generate_demo_bank
    from item_bank.store import ItemStore

    store = ItemStore(open_engine("sqlite://"))
    store.create_tables()
    store.import_document(generate_demo_bank(seed=seed))
    return load_bank_arrays(store)


def short_design() -> TestDesign:
    doc = skd_design("adaptive").to_dict()
    doc["name"] = "SKD adaptive, short"
    for sec in doc["sections"]:
        sec["blueprint"] = SHORT_BLUEPRINT[sec["code"]]
        sec["reference_length"] = sec["n_items"]  # report on the published 30/35/45 form
        sec["n_items"] = sum(sec["blueprint"].values())
    return TestDesign.from_dict(doc)


def row(label: str, rep: dict[str, Any], seconds: float) -> list[str]:
    out = []
    for sec in rep["sections"]:
        cls = sec["classification"]
        out.append(
            f"| {label} | {sec['code']} | {sec['length']['mean']:.0f} | "
            f"{sec['theta']['rmse']:.3f} | {sec['points']['rmse']:.1f} | "
            f"{sec['mean_se']:.3f} | {cls['accuracy']:.3f} | {cls['false_pass']:.3f} | "
            f"{cls['false_fail']:.3f} | {sec['exposure']['max_rate']:.2f} | "
            f"{sec['exposure']['never_used']:.0%} | {sec['mean_overlap']:.3f} |"
        )
    o = rep["overall"]
    c = o["classification_all_sections"]
    out.append(
        f"| {label} | all | {o['mean_length']:.0f} | {o['theta']['rmse']:.3f} | "
        f"{o['total_points']['rmse']:.1f} | {o['mean_se']:.3f} | {c['accuracy']:.3f} | "
        f"{c['false_pass']:.3f} | {c['false_fail']:.3f} | {o['max_exposure_rate']:.2f} | | "
        f"({seconds:.0f} s) |"
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--simulees", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    bank = demo_bank(args.seed)
    r = np.random.default_rng(args.seed)
    common = r.normal(size=(args.simulees, 1))
    theta = np.sqrt(0.5) * common + np.sqrt(0.5) * r.normal(size=(args.simulees, 3))
    designs = [
        ("linear 110", skd_design("linear")),
        ("adaptive 110", skd_design("adaptive")),
        ("adaptive 57", short_design()),
    ]
    lines = [
        "### Simulation: the SKD default on the demo bank",
        "",
        machine_line(),
        f"Demo bank seed {args.seed}: {bank.n_items} items ({int((~bank.pretest).sum())} "
        f"operational). {args.simulees} simulees, θ ~ N(0, 1) per subtest with correlation "
        "0.5, the same simulees and the same answer draws for every design. *Points RMSE* "
        "is against the simulee's true score on the reference form (its TCC at the true θ); "
        "classification is pass/fail against the passing grade (TWK 65, TIU 80, TKP 166; "
        "*all*: every subtest passed) with the truth taken from the true score. Exposure is "
        "the highest rate of any item; *never used* is the share of the subtest's "
        "operational items no simulee saw; overlap is the mean share of items two simulees "
        "share.",
        "",
        "| design | subtest | items | RMSE θ | RMSE points | mean SE | accuracy | false pass "
        "| false fail | max exposure | never used | overlap |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, design in designs:
        t0 = time.perf_counter()
        res = simulate(design, bank, theta, seed=args.seed)
        seconds = time.perf_counter() - t0
        rep = summarize(res, bank)
        lines += row(label, rep, seconds)
        print(f"{label}: {seconds:.0f} s", flush=True)
    lines += [
        "",
        "Reproduce: `.venv/bin/python -m benchmarks.cat_skd_demo` "
        f"(`--simulees {args.simulees} --seed {args.seed}`).",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("skd-simulation", text, doc=DOC)


if __name__ == "__main__":
    main()
