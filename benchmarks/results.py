"""Results: ranking, publishing and verifying at national scale.

    python -m benchmarks.results [--quick]

Synthetic SKD outcomes (seeded): candidates spread over formations of 1–5
openings, categories in rough 2024 proportions, 4 % absent, 0.5 % voided,
section points on the published scale. For each size the run times, in
process CPU seconds (wall time on a shared machine mostly measures the
neighbours):

* ``rank_skd`` — the SKD ranking of every formation;
* ``integrate`` — the final ranking from random SKB scores of the P/L candidates;
* ``publish`` — canonical JSON + CSV per formation, Merkle tree, manifest, signature;
* ``verify`` — ``verify_publication``: signature, hashes, CSV = JSON, Merkle
  root, and the rules re-applied (a second ranking and integration);
* ``prove`` — one candidate's inclusion proofs;
* the floor: SHA-256 over all published bytes plus the Merkle tree over the
  leaves (what any verifier must at least do).

Runs interleave the sizes' repetitions; median and min–max of 3. Peak memory
(max RSS) comes from the operating system. Writes the ``results`` section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from benchmarks.report import machine_line, write_section
from exam_server.results import publication as pub
from exam_server.results.integration import SkbScore, integrate
from exam_server.results.outcomes import CandidateOutcome, Formation
from exam_server.results.ranking import rank_skd
from exam_server.results.rules import RankingPolicy

POLICY = RankingPolicy.default_2024()
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
EXAM = pub.ExamInfo("BENCH", "benchmark", "2024-11-30")


def synthetic(n: int, seed: int = 2024) -> tuple[list[Formation], list[CandidateOutcome]]:
    """``n`` candidates over ``n // 40`` formations (about 40 applicants each)."""
    rng = random.Random(seed)
    forms = [Formation(f"F{i:06d}", rng.randint(1, 5)) for i in range(max(1, n // 40))]
    cats = ["general"] * 90 + ["cumlaude"] * 4 + ["diaspora"] + ["disability"] * 2 + ["papua"] * 3
    out = []
    for i in range(n):
        u = rng.random()
        status = "absent" if u < 0.04 else "voided" if u < 0.045 else "finished"
        scores = {}
        if status == "finished":
            scores = {
                "TWK": 5 * rng.randint(8, 28),
                "TIU": 5 * rng.randint(8, 33),
                "TKP": rng.randint(130, 215),
            }
        out.append(
            CandidateOutcome(
                registration_number=f"2024{i:08d}",
                formation=forms[rng.randrange(len(forms))].id,
                category=rng.choice(cats),
                status=status,
                scores=scores,
                responses_hash=hashlib.sha256(str(i).encode()).hexdigest(),
                gpa=round(rng.uniform(2.75, 4.0), 2),
            )
        )
    return forms, out


def cpu(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.process_time()
    value = fn()
    return time.process_time() - t0, value


def run_once(forms: list[Formation], cands: list[CandidateOutcome]) -> dict[str, float]:
    times: dict[str, float] = {}
    times["rank_skd"], skd = cpu(lambda: rank_skd(POLICY, forms, cands))
    rng = random.Random(7)
    skb = {
        e.registration_number: SkbScore(
            e.registration_number, "present", POLICY.points(rng.randint(300, 950) / 10)
        )
        for f in skd.formations
        for e in f.entries
        if e.meaning == "in_cut"
    }
    times["integrate"], final = cpu(lambda: integrate(POLICY, skd, skb))
    times["publish"], p = cpu(lambda: pub.publish(EXAM, POLICY, skd, KEY, final))
    times["verify"], report = cpu(lambda: pub.verify_publication(p.files, KEY.public_key()))
    assert report.ok, report.problems[:3]
    times["prove"], _ = cpu(lambda: pub.prove(p.files, cands[len(cands) // 2].registration_number))

    def floor() -> bytes:
        for data in p.files.values():
            hashlib.sha256(data).digest()
        leaves = pub.leaves_of(p.files)
        return pub.merkle_root(pub.merkle_levels([pub.leaf_hash(x) for x in leaves]))

    times["floor (hash files + Merkle)"], _ = cpu(floor)
    times["_bytes"] = float(sum(len(v) for v in p.files.values()))
    times["_leaves"] = float(p.manifest["merkle"]["leaves"])
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    args = ap.parse_args(argv)
    sizes = [2_000, 20_000] if args.quick else [10_000, 100_000]
    reps = 1 if args.quick else 3
    data = {n: synthetic(n) for n in sizes}
    runs: dict[int, list[dict[str, float]]] = {n: [] for n in sizes}
    for _ in range(reps):  # interleaved: size A, size B, A, B, …
        for n in sizes:
            runs[n].append(run_once(*data[n]))
            print(
                f"n={n}: " + ", ".join(f"{k} {v:.2f}" for k, v in runs[n][-1].items()), flush=True
            )
    keys = [k for k in runs[sizes[0]][0] if not k.startswith("_")]
    head = "| step | " + " | ".join(f"{n:,} candidates" for n in sizes) + " |"
    rows = [head, "| --- |" + " --- |" * len(sizes)]
    for k in keys:
        cells = []
        for n in sizes:
            xs = [r[k] for r in runs[n]]
            cells.append(f"{statistics.median(xs):.2f} s ({min(xs):.2f}–{max(xs):.2f})")
        rows.append(f"| {k} | " + " | ".join(cells) + " |")
    rows.append(
        "| publication size | "
        + " | ".join(
            f"{runs[n][0]['_bytes'] / 1e6:.1f} MB, {int(runs[n][0]['_leaves']):,} entries"
            for n in sizes
        )
        + " |"
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    md = "\n".join(
        [
            "## Results: ranking, publication, verification",
            "",
            machine_line(),
            "",
            "Command: `python -m benchmarks.results`. Synthetic SKD outcomes (about 40 "
            "candidates per formation, 1–5 openings; 4 % absent, 0.5 % voided); SKB scores "
            "for every P/L candidate. Process CPU seconds, median (min–max) of "
            f"{reps} interleaved runs. `verify` re-runs the ranking and the integration "
            "besides hashing, so it costs about rank + integrate + publish.",
            "",
            *rows,
            "",
            f"Peak memory of the whole run (max RSS): {peak_mb:.0f} MB.",
        ]
    )
    write_section("results", md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
