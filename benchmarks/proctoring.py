"""Proctoring detectors: cost per event and what they catch on simulated sittings.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m benchmarks.proctoring [--quick]

One SKD-shaped synthetic bank (3PL TWK/TIU, GRM TKP); every simulee sits a
random linear SKD form (30 + 35 + 45 items) and answers in order, one event
per answer, the attempts interleaved as in a real room. Three kinds of
simulee, answers drawn from the bank's own IRT model:

* honest — θ ~ N(0, 1), 20–90 s per item;
* preknowledge — θ = −1.5, but the hardest 40 % of their TWK/TIU items are
  answered right (a leaked key), same pace;
* rapid guesser — honest for the first half, then random options at 1–3 s.

Speed: the events are fed to ``ProctoringService.handle`` (the server's path
per event: routing, every detector, publishing alerts) with all shipped
detectors, with the person-fit detector alone, and with no detector (the
floor: routing and the bus only). Runs interleave A, B, C, A, B, C …;
median and min–max of CPU µs per event (process time: the loop never
waits, and wall time on a shared machine mostly measures the neighbours).
Accuracy: the share of each kind of simulee that gets a person-fit or a
rapid-guessing alert at the defaults.
Writes the ``proctoring`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # per-event figures are single-threaded (set before numpy loads)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.report import machine_line, write_section  # noqa: E402
from cat_engine.bank import BankArrays  # noqa: E402
from cat_engine.irt import category_probabilities  # noqa: E402
from cat_engine.synthetic import skd_synthetic_bank  # noqa: E402
from exam_server.events import EventBus, LiveEvent  # noqa: E402
from exam_server.proctoring import (  # noqa: E402
    AttemptContext,
    DetectorFactory,
    PersonFitDetector,
    default_factories,
)
from exam_server.proctoring.service import ProctoringService  # noqa: E402

LENGTHS = {"TWK": 30, "TIU": 35, "TKP": 45}
KINDS = ("honest", "preknowledge", "rapid")


def simulate(
    bank: BankArrays, n_per_kind: dict[str, int], seed: int
) -> tuple[list[LiveEvent], dict[int, str]]:
    """Answer events of every simulee, interleaved by item position.

    Returns (events, simulee kind by attempt id).
    """
    rng = np.random.default_rng(seed)
    by_sub = {code: np.flatnonzero(bank.subtest == k) for k, code in enumerate(bank.subtest_codes)}
    kinds = [kind for kind in KINDS for _ in range(n_per_kind[kind])]
    streams: list[list[LiveEvent]] = []
    kind_of: dict[int, str] = {}
    for attempt, kind in enumerate(kinds, start=1):
        kind_of[attempt] = kind
        form = np.concatenate(
            [rng.choice(by_sub[code], n, replace=False) for code, n in LENGTHS.items()]
        )
        theta = -1.5 if kind == "preknowledge" else float(rng.normal())
        probs = category_probabilities([theta], bank.params.subset(form))[0]  # (n, K)
        categories = np.array([rng.choice(probs.shape[1], p=p / p.sum()) for p in probs])
        if kind == "preknowledge":
            dich = bank.params.model[form] <= 3
            b = np.where(dich, bank.params.b[form], -np.inf)
            hard = b >= np.quantile(b[dich], 0.6)
            categories[hard] = 1
        # The option that gives each category (first match), per item.
        options = np.empty(form.size, dtype=np.int64)
        for j, (item, cat) in enumerate(zip(form, categories, strict=True)):
            match = np.flatnonzero(bank.option_category[item] == cat)
            options[j] = int(match[0]) if match.size else 0
        elapsed = rng.uniform(20, 90, form.size)
        if kind == "rapid":
            half = form.size // 2
            options[half:] = rng.integers(0, bank.n_options[form[half:]])
            elapsed[half:] = rng.uniform(1, 3, form.size - half)
        t = 0.0
        stream = []
        for number, (item, option, secs) in enumerate(
            zip(form, options, elapsed, strict=True), start=1
        ):
            t += secs
            stream.append(
                LiveEvent(
                    "answer",
                    1,
                    attempt,
                    f"R{attempt}",
                    t,
                    {
                        "number": number,
                        "item": int(item),
                        "option": int(option),
                        "elapsed": float(secs),
                    },
                )
            )
        streams.append(stream)
    # A room answers in parallel: interleave the attempts item by item.
    events = [s[i] for i in range(max(map(len, streams))) for s in streams if i < len(s)]
    return events, kind_of


async def run_once(
    bank: BankArrays, events: Sequence[LiveEvent], factories: list[DetectorFactory]
) -> tuple[float, dict[int, set[str]]]:
    """Seconds to handle every event, and the alert codes raised per attempt."""

    async def bank_for(_session: int) -> BankArrays:
        return bank

    service = ProctoringService(EventBus(), factories=factories, bank_for=bank_for)
    raised: dict[int, set[str]] = {}
    await service.handle(events[0])  # load the bank outside the timing
    # CPU time of this process: on a shared machine wall time mostly measures
    # the neighbours (the loop is single-threaded and never waits).
    start = time.process_time()
    for event in events[1:]:
        for alert in await service.handle(event):
            raised.setdefault(event.attempt_id or 0, set()).add(alert.code)
    return time.process_time() - start, raised


def person_fit_only(context: AttemptContext) -> PersonFitDetector:
    return PersonFitDetector(context)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer simulees and rounds")
    args = parser.parse_args(argv)
    n = 30 if args.quick else 200
    rounds = 2 if args.quick else 3
    bank = skd_synthetic_bank(per_area_scale=10, seed=11)
    counts = {"honest": n, "preknowledge": n // 4, "rapid": n // 4}
    events, kind_of = simulate(bank, counts, seed=12)
    configs: dict[str, list[DetectorFactory]] = {
        "floor (no detector)": [],
        "person-fit only": [person_fit_only],
        "all five detectors": default_factories(),
    }
    times: dict[str, list[float]] = {name: [] for name in configs}
    raised: dict[int, set[str]] = {}
    for _ in range(rounds):
        for name, factories in configs.items():
            seconds, found = asyncio.run(run_once(bank, events, factories))
            times[name].append(seconds / (len(events) - 1) * 1e6)
            if name == "all five detectors":
                raised = found

    lines = [
        "## Proctoring detectors",
        "",
        machine_line() + " Single thread (`OMP_NUM_THREADS=1`); CPU time of the process.",
        "",
        f"{sum(counts.values())} simulated SKD sittings ({counts['honest']} honest, "
        f"{counts['preknowledge']} with item preknowledge, {counts['rapid']} rapid guessers), "
        f"{len(events):,} answer events on a {bank.n_items:,}-item synthetic bank, "
        f"{rounds} interleaved rounds. Command: "
        "`OMP_NUM_THREADS=1 python -m benchmarks.proctoring`.",
        "",
        "| detectors run per event | µs per event, median (min–max) | events per second |",
        "| --- | --- | --- |",
    ]
    for name, values in times.items():
        med = statistics.median(values)
        lines.append(
            f"| {name} | {med:.1f} ({min(values):.1f}–{max(values):.1f}) | {1e6 / med:,.0f} |"
        )
    lines += [
        "",
        "Share of sittings with an alert (defaults: person-fit lz* < −2.33 from 20 "
        "TWK/TIU answers on, re-checked after every answer; rapid guessing ≥ 5 of 10 "
        "first answers under 4 s):",
        "",
        "| simulee | n | person-fit alert | rapid-guessing alert |",
        "| --- | --- | --- | --- |",
    ]
    for kind in KINDS:
        ids = [a for a, k in kind_of.items() if k == kind]
        pf = sum("aberrant_pattern" in raised.get(a, set()) for a in ids) / len(ids)
        rg = sum("rapid_guessing" in raised.get(a, set()) for a in ids) / len(ids)
        lines.append(f"| {kind} | {len(ids)} | {pf:.1%} | {rg:.1%} |")
    lines += [
        "",
        "The honest row is the false-alarm rate a proctor sees per candidate. lz* is "
        "re-checked after every answer, so its per-sitting false-alarm rate is above the "
        "1 % of a single test at −2.33.",
    ]
    markdown = "\n".join(lines)
    write_section("proctoring", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
