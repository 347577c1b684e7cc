"""How many candidates got each result code, per stage and formation: the
counts a manifest carries, and their comparison with counts announced earlier."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from exam_server.results.publication.documents import PublicationError
from exam_server.results.rules import FINAL_MEANINGS, SKD_MEANINGS, RankingPolicy

Counts = dict[str, dict[str, dict[str, int]]]
"""stage → formation id → result code label (and ``"total"``) → number of candidates."""


def formation_counts(
    policy: RankingPolicy, docs: Sequence[tuple[str, Mapping[str, Any]]]
) -> Counts:
    """How many candidates got each result code, per stage and formation.

    Every code of the stage is listed, zeros included, so an announcement
    says "TH 0" rather than saying nothing. Codes are the policy's labels
    (``P/L``, ``P``, ``TL``, ``TH``, ``DIS`` under the 2024 rules).
    """
    out: Counts = {}
    for _, doc in docs:
        stage = str(doc["stage"])
        meanings = SKD_MEANINGS if stage == "skd" else FINAL_MEANINGS
        n = {policy.code(m).code: 0 for m in meanings}
        for e in doc["entries"]:
            n[str(e["code"])] = n.get(str(e["code"]), 0) + 1
        n["total"] = len(doc["entries"])
        out.setdefault(stage, {})[str(doc["formation"]["id"])] = n
    return out


def compare_counts(announced: Any, published: Counts) -> list[str]:
    """Differences between counts announced earlier and a publication's, by formation.

    ``announced`` may be partial (only the stages, formations and codes it
    names are compared: for example only each formation's ``total``
    registered before the test). A formation announced but not published is
    a difference; one published but not announced is not (it was not
    announced). Raises :class:`PublicationError` if ``announced`` is not
    shaped like :data:`Counts`.
    """
    if not isinstance(announced, Mapping) or not all(
        isinstance(fs, Mapping) and all(isinstance(c, Mapping) for c in fs.values())
        for fs in announced.values()
    ):
        raise PublicationError("announced counts: expected {stage: {formation: {code: number}}}")
    problems = []
    for stage in sorted(announced):
        for fid in sorted(announced[stage]):
            want = announced[stage][fid]
            got = published.get(str(stage), {}).get(str(fid))
            if got is None:
                problems.append(
                    f"{stage}/{fid}: announced with {want.get('total', '?')} "
                    "candidates, but not in the publication"
                )
                continue
            diffs = [
                f"{code} published {got.get(code, 0)}, announced {want[code]}"
                for code in sorted(want, key=lambda c: (c == "total", c))
                if got.get(code, 0) != want[code]
            ]
            if diffs:
                problems.append(
                    f"{stage}/{fid}: counts differ from the announcement (" + "; ".join(diffs) + ")"
                )
    return problems


def announced_counts(doc: Any) -> Any:
    """The counts in an announcement: an earlier ``manifest.json``, or a bare counts document."""
    if isinstance(doc, Mapping) and "counts" in doc:
        return doc["counts"]
    return doc
