"""The SKD ranking per formation, with a code and a reason for every candidate.

Within each formation: absent candidates are TH, voided attempts DIS; the rest
meet their category's passing grade or are TL. Those who pass are ranked by the
policy's SKD order (total, then TKP, TIU, TWK in 2024); the first
``cut_multiple × openings`` are P/L (ties with the last place all included
under ``include_all``), the others P. Candidates equal on every key of the
order share a rank.

The result does not depend on the order of the input: every listing is sorted
by the rules, then by registration number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, TypeVar

from exam_server.results.outcomes import ABSENT, VOIDED, CandidateOutcome, Formation
from exam_server.results.rules import RankingPolicy, evaluate, fmt

T = TypeVar("T")
SortKey = tuple[tuple[int, Decimal | int], ...]


class RankingError(ValueError):
    """The input to a ranking is inconsistent; the message names the candidate."""


@dataclass(frozen=True)
class SkdEntry:
    """One candidate's line in the SKD ranking of their formation.

    ``scores`` (subtest → points) and ``total`` are ``None``/empty for TH and
    DIS; ``rank`` is the position among those who passed (shared when equal on
    every key of the order), ``None`` for the others.
    """

    registration_number: str
    name: str
    formation: str
    category: str
    status: str
    scores: dict[str, Decimal]
    total: Decimal | None
    meaning: str
    code: str
    rank: int | None
    reason_id: str
    reason_en: str
    responses_hash: str
    gpa: Decimal | None
    birth_date: dt.date | None
    status_note: str


@dataclass(frozen=True)
class SkdFormation:
    formation: Formation
    cut: int  # cut_multiple × openings
    passed: int  # candidates who met their passing grade
    entries: tuple[SkdEntry, ...]


@dataclass(frozen=True)
class SkdResult:
    policy: RankingPolicy
    formations: tuple[SkdFormation, ...]  # sorted by formation id

    def entry(self, registration_number: str) -> SkdEntry:
        for f in self.formations:
            for e in f.entries:
                if e.registration_number == registration_number:
                    return e
        raise KeyError(registration_number)


def desc(value: Decimal | None) -> tuple[int, Decimal | int]:
    """Sort component: higher first, missing last."""
    return (1, 0) if value is None else (0, -value)


def asc_date(value: dt.date | None) -> tuple[int, Decimal | int]:
    """Sort component: earlier date (older candidate) first, missing last."""
    return (1, 0) if value is None else (0, value.toordinal())


def included_count(keys: Sequence[SortKey], places: int, ties: str) -> int:
    """How many of ``keys`` (already sorted, best first) fill ``places`` places.

    ``include_all``: everyone equal to the last place's key goes in too;
    ``exclude_all``: a tie that crosses the boundary keeps all of its members
    out. Equal keys mean equal on every rule of the chain.
    """
    if places <= 0:
        return 0
    if len(keys) <= places:
        return len(keys)
    boundary = keys[places - 1]
    if keys[places] != boundary:
        return places
    if ties == "include_all":
        n = places
        while n < len(keys) and keys[n] == boundary:
            n += 1
        return n
    n = places
    while n > 0 and keys[n - 1] == boundary:
        n -= 1
    return n


def competition_ranks(keys: Sequence[SortKey]) -> list[int]:
    """1-based ranks of sorted ``keys``; equal keys share the best rank (1, 2, 2, 4)."""
    ranks: list[int] = []
    for i, k in enumerate(keys):
        ranks.append(ranks[-1] if i and keys[i - 1] == k else i + 1)
    return ranks


def deciding_rule(a: SortKey, b: SortKey, names: Sequence[str]) -> str | None:
    """The first rule of the chain on which ``a`` and ``b`` differ (None if equal)."""
    for name, x, y in zip(names, a, b, strict=True):
        if x != y:
            return name
    return None


def group_by(items: Iterable[T], key: Callable[[T], str]) -> dict[str, list[T]]:
    out: dict[str, list[T]] = {}
    for it in items:
        out.setdefault(key(it), []).append(it)
    return out


def check_inputs(
    formations: Iterable[Formation], outcomes: Iterable[CandidateOutcome]
) -> tuple[dict[str, Formation], list[CandidateOutcome]]:
    by_id: dict[str, Formation] = {}
    for f in formations:
        if f.id in by_id:
            raise RankingError(f"formation {f.id}: listed twice")
        by_id[f.id] = f
    seen: set[str] = set()
    cands = list(outcomes)
    for c in cands:
        if c.registration_number in seen:
            raise RankingError(f"candidate {c.registration_number}: listed twice")
        seen.add(c.registration_number)
        if c.formation not in by_id:
            raise RankingError(
                f"candidate {c.registration_number}: formation {c.formation!r} is not "
                "among the formations"
            )
    return by_id, cands


def rank_skd(
    policy: RankingPolicy,
    formations: Iterable[Formation],
    outcomes: Iterable[CandidateOutcome],
) -> SkdResult:
    """Rank every formation's candidates under ``policy`` (see the module docstring).

    Raises :class:`RankingError` (a ``ValueError``) naming the candidate for an
    unknown formation or category, a duplicate registration number, or a
    missing or out-of-range score.
    """
    by_id, cands = check_inputs(formations, outcomes)
    per = group_by(cands, lambda c: c.formation)
    return SkdResult(
        policy,
        tuple(_rank_formation(policy, by_id[fid], per.get(fid, [])) for fid in sorted(by_id)),
    )


def skd_key(policy: RankingPolicy, scores: dict[str, Decimal], total: Decimal) -> SortKey:
    return tuple(desc(total if k == "total" else scores[k]) for k in policy.skd_order)


class _Passer(NamedTuple):
    """A candidate who met their passing grade, before the cut."""

    key: SortKey
    outcome: CandidateOutcome
    scores: dict[str, Decimal]
    total: Decimal
    gpa: Decimal | None
    reason_id: str
    reason_en: str


def _rank_formation(
    policy: RankingPolicy, formation: Formation, cands: list[CandidateOutcome]
) -> SkdFormation:
    cut = policy.cut_multiple * formation.openings
    passed: list[_Passer] = []
    failed: list[SkdEntry] = []
    others: list[SkdEntry] = []
    for c in cands:
        who = f"candidate {c.registration_number}"
        gpa = None if c.gpa is None else policy.points(c.gpa, what=f"{who}: gpa")
        try:
            category = policy.category(c.category)
        except ValueError as exc:
            raise RankingError(f"{who}: {exc}") from None
        if c.status in (ABSENT, VOIDED):
            meaning = "absent" if c.status == ABSENT else "disqualified"
            rid, ren = (
                ("tidak mengikuti tes", "did not sit the test")
                if c.status == ABSENT
                else ("hasil tes dibatalkan oleh pengawas", "attempt voided by the proctor")
            )
            if c.status_note:
                rid, ren = f"{rid} ({c.status_note})", f"{ren} ({c.status_note})"
            others.append(_entry(policy, c, {}, None, meaning, None, rid, ren, gpa))
            continue
        try:
            scores = policy.subtest_points(c.scores, who=who)
        except ValueError as exc:
            raise RankingError(str(exc)) from None
        total = sum(scores.values(), Decimal(0))
        verdict = evaluate(policy, category.id, scores)
        if not verdict.passed:
            failed.append(
                _entry(
                    policy,
                    c,
                    scores,
                    total,
                    "below_threshold",
                    None,
                    verdict.reason("id"),
                    verdict.reason("en"),
                    gpa,
                )
            )
            continue
        passed.append(
            _Passer(
                skd_key(policy, scores, total),
                c,
                scores,
                total,
                gpa,
                verdict.reason("id"),
                verdict.reason("en"),
            )
        )

    passed.sort(key=lambda p: (p.key, p.outcome.registration_number))
    keys = [p.key for p in passed]
    n_in = included_count(keys, cut, policy.ties_at_cut)
    ranks = competition_ranks(keys)
    ranked: list[SkdEntry] = []
    for i, (key, c, scores, total, gpa, why_id, why_en) in enumerate(passed):
        inside = i < n_in
        rid, ren = _cut_reason(i, ranks[i], len(passed), cut, formation.openings, policy, inside)
        # Where the order to a neighbour was decided after the total, say by which rule.
        for j, (word_id, word_en) in (
            (i - 1, ("di bawah", "behind")),
            (i + 1, ("di atas", "ahead of")),
        ):
            if 0 <= j < len(passed) and keys[j][0] == key[0]:
                rule = deciding_rule(key, keys[j], policy.skd_order)
                other = passed[j].outcome.registration_number
                if rule is None:
                    rid += f"; setara penuh dengan {other}"
                    ren += f"; fully tied with {other}"
                else:
                    rid += f"; nilai total sama, {word_id} {other} karena {rule}"
                    ren += f"; equal total, {word_en} {other} on {rule}"
        ranked.append(
            _entry(
                policy,
                c,
                scores,
                total,
                "in_cut" if inside else "outside_cut",
                ranks[i],
                f"{why_id}; {rid}",
                f"{why_en}; {ren}",
                gpa,
            )
        )

    def total_desc(e: SkdEntry) -> tuple[tuple[int, Decimal | int], str]:
        return desc(e.total), e.registration_number

    failed.sort(key=total_desc)
    others.sort(key=lambda e: (e.meaning, e.registration_number))
    return SkdFormation(formation, cut, len(passed), (*ranked, *failed, *others))


def plural_openings(n: int) -> str:
    """ "1 opening", "2 openings"."""
    return f"{n} opening" if n == 1 else f"{n} openings"


def _cut_reason(
    i: int, rank: int, n: int, cut: int, openings: int, policy: RankingPolicy, inside: bool
) -> tuple[str, str]:
    m = policy.cut_multiple
    if n <= cut and inside:
        return (
            f"peringkat {rank} dari {n} yang memenuhi; jumlahnya tidak melebihi batas "
            f"{cut} ({m} × {openings} formasi), semua lanjut",
            f"rank {rank} of {n} who passed; no more than the cut of {cut} "
            f"({m} × {plural_openings(openings)}), all go on",
        )
    if inside and i >= cut:
        return (
            f"peringkat {rank} dari {n}; sama persis dengan peringkat ke-{cut} pada batas "
            f"{cut} ({m} × {openings} formasi), semua yang sama diikutkan",
            f"rank {rank} of {n}; tied on every rule with place {cut} at the cut of {cut} "
            f"({m} × {plural_openings(openings)}), all tied candidates go on",
        )
    if inside:
        return (
            f"peringkat {rank} dari {n}, dalam batas {cut} ({m} × {openings} formasi)",
            f"rank {rank} of {n}, within the cut of {cut} ({m} × {plural_openings(openings)})",
        )
    if i < cut:
        return (
            f"peringkat {rank} dari {n}; sama persis dengan yang melewati batas {cut} "
            f"({m} × {openings} formasi), semua yang sama tidak diikutkan",
            f"rank {rank} of {n}; tied on every rule across the cut of {cut} "
            f"({m} × {plural_openings(openings)}), all tied candidates are left out",
        )
    return (
        f"peringkat {rank} dari {n}, di luar batas {cut} ({m} × {openings} formasi)",
        f"rank {rank} of {n}, outside the cut of {cut} ({m} × {plural_openings(openings)})",
    )


def _entry(
    policy: RankingPolicy,
    c: CandidateOutcome,
    scores: dict[str, Decimal],
    total: Decimal | None,
    meaning: str,
    rank: int | None,
    reason_id: str,
    reason_en: str,
    gpa: Decimal | None,
) -> SkdEntry:
    return SkdEntry(
        registration_number=c.registration_number,
        name=c.name,
        formation=c.formation,
        category=c.category,
        status=c.status,
        scores=scores,
        total=total,
        meaning=meaning,
        code=policy.code(meaning).code,
        rank=rank,
        reason_id=reason_id,
        reason_en=reason_en,
        responses_hash=c.responses_hash,
        gpa=gpa,
        birth_date=c.birth_date,
        status_note=c.status_note,
    )


__all__ = [
    "RankingError",
    "SkdEntry",
    "SkdFormation",
    "SkdResult",
    "competition_ranks",
    "fmt",
    "included_count",
    "rank_skd",
]
