"""Final integration: SKB scores, the 40/60 final score, the final ranking, optimisation.

1. :func:`parse_skb_csv` reads the SKB scores (CSV, validated row by row and
   field by field).
2. :func:`integrate` computes, for every candidate called to SKB (SKD code
   P/L), the final score ``SKD total / SKD max × 40 + SKB / SKB max × 60`` and
   ranks each formation by the policy's final chain (final score, SKD total,
   TKP, TIU, TWK, GPA, older first in 2024). The first ``openings`` are
   appointed (P/L), the others not (TL); absent at SKB TH, disqualified DIS.
3. :func:`optimise` is a separate, explicit step: openings left vacant are
   filled from the policy's pool (by default candidates who passed the SKD
   passing grade but were outside the cut, code P), best first, within the
   formation or its optimisation group. It returns a new result and never
   runs by itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from assessment.components import ComponentError, ComponentScore, skb_total
from exam_server.results.outcomes import Formation
from exam_server.results.ranking import (
    RankingError,
    SkdEntry,
    SkdResult,
    SortKey,
    asc_date,
    competition_ranks,
    deciding_rule,
    desc,
    included_count,
    plural_openings,
)
from exam_server.results.rules import RankingPolicy, fmt

#: SKB statuses in the CSV.
SKB_PRESENT = "present"
SKB_ABSENT = "absent"
SKB_DISQUALIFIED = "disqualified"
SKB_STATUSES = (SKB_PRESENT, SKB_ABSENT, SKB_DISQUALIFIED)
SKB_COLUMNS = ("registration_number", "skb", "status", "note")


class SkbImportError(ValueError):
    """The SKB CSV is invalid; ``problems`` lists ``line N, field: message``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:20]
        more = f"\n… and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__("invalid SKB scores:\n" + "\n".join(shown) + more)


@dataclass(frozen=True)
class SkbScore:
    registration_number: str
    status: str
    points: Decimal | None  # None unless present
    note: str = ""
    #: The SKB's components (issue 19): ``points`` is their weighted sum.
    components: tuple[ComponentScore, ...] = ()


def parse_skb_csv(text: str, policy: RankingPolicy) -> dict[str, SkbScore]:
    """SKB scores by registration number from CSV text.

    Columns: ``registration_number`` and ``skb`` (points, 0 – SKB max) are
    required; ``status`` (present/absent/disqualified, default present) and
    ``note`` are optional. Blank lines are skipped. Every problem is reported
    with its line number and field, all at once, as :class:`SkbImportError`.
    """
    if text.startswith("\ufeff"):  # spreadsheets like to add a BOM
        text = text[1:]
    # newline="" lets the csv module see \r and \r\n line ends itself, as its docs ask.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[str] = []
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise SkbImportError(["line 1: the file is empty"]) from None
    except csv.Error as exc:
        raise SkbImportError([f"line 1: not CSV ({exc})"]) from None
    for col in ("registration_number", "skb"):
        if col not in header:
            problems.append(f"line 1, header: missing column {col!r}")
    unknown = [h for h in header if h not in SKB_COLUMNS]
    if unknown:
        problems.append(f"line 1, header: unknown column(s) {', '.join(map(repr, unknown))}")
    if len(set(header)) != len(header):
        problems.append("line 1, header: a column is repeated")
    if problems:
        raise SkbImportError(problems)
    out: dict[str, SkbScore] = {}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(f"line {reader.line_num}: not CSV ({exc})")
            break
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"line {line}: expected {len(header)} fields, got {len(row)}")
            continue
        rec = {h: cell.strip() for h, cell in zip(header, row, strict=True)}
        regno = rec["registration_number"]
        if not regno:
            problems.append(f"line {line}, registration_number: empty")
            continue
        if regno in out:
            problems.append(f"line {line}, registration_number: {regno} appears twice")
            continue
        status = rec.get("status", "") or SKB_PRESENT
        if status not in SKB_STATUSES:
            problems.append(
                f"line {line}, status: must be one of {', '.join(SKB_STATUSES)}, got {status!r}"
            )
            continue
        points: Decimal | None = None
        raw = rec["skb"]
        if status == SKB_PRESENT:
            try:
                points = policy.points(raw, what="skb")
            except ValueError:
                problems.append(f"line {line}, skb: {raw!r} is not a number")
                continue
            if (bad := skb_range_problem(policy, points)) is not None:
                problems.append(f"line {line}, skb: {bad}")
                continue
        elif raw:
            problems.append(f"line {line}, skb: must be empty when status is {status}")
            continue
        out[regno] = SkbScore(regno, status, points, rec.get("note", ""))
    if problems:
        raise SkbImportError(problems)
    return out


def skb_range_problem(policy: RankingPolicy, points: Decimal, lang: str = "en") -> str | None:
    """The one rule on an SKB score's range: ``None`` when ``0 ≤ points ≤
    skb_max_points`` (the policy's SKB scale), else what is wrong, in English
    (``150 is outside 0–100``) or Bahasa Indonesia (``lang="id"``).

    The CSV import, :func:`integrate`, the verifier reading a publication, a
    correction of a published SKB and an appeal's decision all ask this."""
    if 0 <= points <= policy.skb_max_points:
        return None
    if lang == "id":
        return f"{fmt(points)} di luar rentang 0–{fmt(policy.skb_max_points)}"
    return f"{fmt(points)} is outside 0–{fmt(policy.skb_max_points)}"


def skb_csv(scores: Iterable[SkbScore]) -> str:
    """The CSV :func:`parse_skb_csv` reads, sorted by registration number."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SKB_COLUMNS)
    for s in sorted(scores, key=lambda s: s.registration_number):
        pts = "" if s.points is None else fmt(s.points)
        w.writerow([s.registration_number, pts, s.status, s.note])
    return buf.getvalue()


@dataclass(frozen=True)
class FinalEntry:
    """One candidate's line in the final ranking of a formation.

    ``skb``/``final`` are ``None`` unless the candidate sat the SKB;
    ``origin_formation`` is where an optimised candidate came from (else None).
    """

    registration_number: str
    name: str
    formation: str
    category: str
    skd_scores: dict[str, Decimal]
    skd_total: Decimal
    skb_status: str
    skb: Decimal | None
    final: Decimal | None
    gpa: Decimal | None
    birth_date: dt.date | None
    meaning: str
    code: str
    rank: int | None
    reason_id: str
    reason_en: str
    responses_hash: str
    origin_formation: str | None = None
    skb_note: str = ""
    skb_components: tuple[ComponentScore, ...] = ()


@dataclass(frozen=True)
class FinalFormation:
    formation: Formation
    entries: tuple[FinalEntry, ...]

    @property
    def appointed(self) -> int:
        return sum(e.meaning in ("appointed", "appointed_optimised") for e in self.entries)

    @property
    def vacant(self) -> int:
        return max(0, self.formation.openings - self.appointed)


@dataclass(frozen=True)
class FinalResult:
    policy: RankingPolicy
    formations: tuple[FinalFormation, ...]  # sorted by formation id
    optimised: bool = False


def final_key(
    policy: RankingPolicy, e: FinalEntry | SkdEntry, *, order: tuple[str, ...] | None = None
) -> SortKey:
    """The sort key of the final chain (or ``order``, a sub-chain of it)."""
    parts: list[tuple[int, Decimal | int]] = []
    for k in order or policy.final_order:
        if k == "final":
            parts.append(desc(e.final if isinstance(e, FinalEntry) else None))
        elif k == "skb":
            parts.append(desc(e.skb if isinstance(e, FinalEntry) else None))
        elif k == "skd_total":
            parts.append(desc(e.skd_total if isinstance(e, FinalEntry) else e.total))
        elif k == "gpa":
            parts.append(desc(e.gpa))
        elif k == "older":
            parts.append(asc_date(e.birth_date))
        else:
            scores = e.skd_scores if isinstance(e, FinalEntry) else e.scores
            parts.append(desc(scores[k]))
    return tuple(parts)


def integrate(
    policy: RankingPolicy,
    skd: SkdResult,
    skb: Mapping[str, SkbScore],
    *,
    missing_is_absent: bool = False,
) -> FinalResult:
    """The final ranking of every formation (see the module docstring).

    Every candidate with SKD meaning ``in_cut`` needs an SKB record; one
    missing raises :class:`RankingError` unless ``missing_is_absent``. An SKB
    record for anyone not called to SKB raises too.
    """
    called = {
        e.registration_number: e for f in skd.formations for e in f.entries if e.meaning == "in_cut"
    }
    strangers = sorted(set(skb) - set(called))
    if strangers:
        raise RankingError(
            f"SKB scores for candidates not called to SKB: {', '.join(strangers[:10])}"
        )
    missing = sorted(set(called) - set(skb))
    if missing and not missing_is_absent:
        raise RankingError(
            f"no SKB record for: {', '.join(missing[:10])}"
            + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        )
    out: list[FinalFormation] = []
    for f in skd.formations:
        rows: list[FinalEntry] = []
        for e in f.entries:
            if e.meaning != "in_cut":
                continue
            assert e.total is not None  # in_cut entries always have scores
            rec = skb.get(e.registration_number) or SkbScore(
                e.registration_number, SKB_ABSENT, None, "no SKB record"
            )
            final = (
                policy.final_score(e.total, rec.points)
                if rec.status == SKB_PRESENT and rec.points is not None
                else None
            )
            if rec.points is not None and (bad := skb_range_problem(policy, rec.points)):
                raise RankingError(f"SKB of {rec.registration_number}: {bad}")
            _check_components(policy, rec)
            entry = _unranked_entry(e, rec.status, rec.points, final, skb_note=rec.note)
            rows.append(replace(entry, skb_components=rec.components))
        out.append(FinalFormation(f.formation, _rank_final(policy, f.formation, rows)))
    return FinalResult(policy, tuple(out))


def _check_components(policy: RankingPolicy, rec: SkbScore) -> None:
    """The SKB rule (issue 19): a score with components is their weighted sum
    (0–100), on the policy's SKB scale (``skb_max_points``)."""
    if not rec.components:
        return
    try:
        total = skb_points(policy, skb_total(rec.components))
    except ComponentError as exc:
        raise RankingError(f"SKB of {rec.registration_number}: {exc}") from None
    if rec.points != total:
        raise RankingError(
            f"SKB of {rec.registration_number}: {fmt(rec.points) if rec.points else '-'} is not "
            f"the weighted sum of its components ({fmt(total)})"
        )


def skb_points(policy: RankingPolicy, total: Decimal) -> Decimal:
    """An SKB total on 0–100 (``assessment.components.skb_total``) as the policy's
    SKB points (``skb_max_points``: 100 in 2024, so unchanged)."""
    return policy.points(total * policy.skb_max_points / 100, what="skb")


def _unranked_entry(
    e: SkdEntry,
    skb_status: str,
    skb: Decimal | None,
    final: Decimal | None,
    skb_note: str = "",
) -> FinalEntry:
    """A :class:`FinalEntry` for SKD entry ``e`` (which must have a total), before
    ranking: no meaning, code, rank or reason yet."""
    assert e.total is not None
    return FinalEntry(
        registration_number=e.registration_number,
        name=e.name,
        formation=e.formation,
        category=e.category,
        skd_scores=e.scores,
        skd_total=e.total,
        skb_status=skb_status,
        skb=skb,
        final=final,
        gpa=e.gpa,
        birth_date=e.birth_date,
        meaning="",
        code="",
        rank=None,
        reason_id="",
        reason_en="",
        responses_hash=e.responses_hash,
        skb_note=skb_note,
    )


def _with_code(
    policy: RankingPolicy, e: FinalEntry, meaning: str, rank: int | None, rid: str, ren: str
) -> FinalEntry:
    return replace(
        e, meaning=meaning, code=policy.code(meaning).code, rank=rank, reason_id=rid, reason_en=ren
    )


def _rank_final(
    policy: RankingPolicy, formation: Formation, rows: list[FinalEntry]
) -> tuple[FinalEntry, ...]:
    ranked_rows: list[FinalEntry] = []
    others: list[FinalEntry] = []
    below: list[FinalEntry] = []
    for e in rows:
        note = f" ({e.skb_note})" if e.skb_note else ""
        note_id = note
        if e.skb_status == SKB_ABSENT:
            others.append(
                _with_code(
                    policy,
                    e,
                    "absent",
                    None,
                    f"tidak mengikuti SKB{note_id}",
                    f"did not sit the SKB{note}",
                )
            )
        elif e.skb_status == SKB_DISQUALIFIED:
            others.append(
                _with_code(
                    policy,
                    e,
                    "disqualified",
                    None,
                    f"didiskualifikasi pada SKB{note_id}",
                    f"disqualified at the SKB{note}",
                )
            )
        elif policy.skb_minimum is not None and e.skb is not None and e.skb < policy.skb_minimum:
            cmp = f"SKB {fmt(e.skb)} < {fmt(policy.skb_minimum)}"
            below.append(
                _with_code(
                    policy,
                    e,
                    "not_appointed",
                    None,
                    f"nilai SKB di bawah batas minimal: {cmp}",
                    f"SKB below the minimum: {cmp}",
                )
            )
        elif low := [c for c in e.skb_components if c.below_minimum]:
            cmp = ", ".join(
                f"{c.code} {fmt(c.score)} < {fmt(c.minimum)}" for c in low if c.minimum is not None
            )
            below.append(
                _with_code(
                    policy,
                    e,
                    "not_appointed",
                    None,
                    f"komponen SKB di bawah batas minimal: {cmp}",
                    f"SKB component below its minimum: {cmp}",
                )
            )
        else:
            ranked_rows.append(e)
    ranked_rows.sort(key=lambda e: (final_key(policy, e), e.registration_number))
    keys = [final_key(policy, e) for e in ranked_rows]
    ranks = competition_ranks(keys)
    n_in = included_count(keys, formation.openings, policy.ties_at_openings)
    n = len(ranked_rows)
    done: list[FinalEntry] = []
    for i, e in enumerate(ranked_rows):
        assert e.final is not None and e.skb is not None
        formula = (
            f"{fmt(e.final)} = SKD {fmt(e.skd_total)}/{fmt(policy.skd_max_points)} × "
            f"{fmt(policy.skd_weight)} + SKB {fmt(e.skb)}/{fmt(policy.skb_max_points)} × "
            f"{fmt(policy.skb_weight)}"
        )
        inside = i < n_in
        o = formation.openings
        if inside and i >= o:
            where_id = f"sama persis dengan peringkat ke-{o}; semua yang sama diluluskan"
            where_en = f"tied on every rule with place {o}; all tied candidates pass"
        elif inside:
            where_id, where_en = f"dalam {o} formasi", f"within the {plural_openings(o)}"
        elif i < o:
            where_id = f"sama persis melewati batas {o} formasi; semua yang sama tidak diluluskan"
            where_en = f"tied on every rule across the {plural_openings(o)}; none of them passes"
        else:
            where_id, where_en = f"di luar {o} formasi", f"outside the {plural_openings(o)}"
        rid = f"nilai akhir {formula}; peringkat {ranks[i]} dari {n}, {where_id}"
        ren = f"final score {formula}; rank {ranks[i]} of {n}, {where_en}"
        for j, w_id, w_en in ((i - 1, "di bawah", "behind"), (i + 1, "di atas", "ahead of")):
            if 0 <= j < n and keys[j][0] == keys[i][0]:
                rule = deciding_rule(keys[i], keys[j], policy.final_order)
                other = ranked_rows[j].registration_number
                if rule is None:
                    rid += f"; setara penuh dengan {other}"
                    ren += f"; fully tied with {other}"
                else:
                    rid += f"; nilai akhir sama, {w_id} {other} karena {_rule_id(rule)}"
                    ren += f"; equal final score, {w_en} {other} on {_rule_en(rule)}"
        meaning = "appointed" if inside else "not_appointed"
        done.append(_with_code(policy, e, meaning, ranks[i], rid, ren))
    below.sort(key=lambda e: (final_key(policy, e), e.registration_number))
    others.sort(key=lambda e: (e.meaning, e.registration_number))
    return (*done, *below, *others)


def _rule_en(rule: str) -> str:
    return {"older": "age (older first)", "gpa": "GPA", "skd_total": "SKD total"}.get(rule, rule)


def _rule_id(rule: str) -> str:
    return {"older": "usia (lebih tua)", "gpa": "IPK", "skd_total": "total SKD"}.get(rule, rule)


def optimise(policy: RankingPolicy, skd: SkdResult, final: FinalResult) -> FinalResult:
    """Fill vacant openings from the policy's pool: an explicit, separate step.

    Pool ``skd_outside_cut``: candidates with SKD meaning ``outside_cut``
    (passed the passing grade, outside the cut), ordered by the final chain
    without ``final``/``skb`` (SKD total, TKP, TIU, TWK, GPA, older in 2024).
    Pool ``final_not_appointed``: candidates who sat the SKB but ranked outside
    the openings, ordered by the full final chain. Scope ``formation``: a
    vacancy takes only its own formation's pool; ``group``: any formation of
    the same optimisation group. Formations are filled in id order; each
    candidate fills at most one opening. Returns a new :class:`FinalResult`.
    """
    if final.optimised:
        raise ValueError("this final result is already optimised")
    by_id = {f.formation.id: f for f in final.formations}
    skd_by_id = {f.formation.id: f for f in skd.formations}
    if set(by_id) != set(skd_by_id):
        raise ValueError("the SKD and final results are for different formations")

    def scope_of(fid: str) -> str:
        f = by_id[fid].formation
        return f.optimisation_group if policy.optimisation_scope == "group" else f.id

    pool: dict[str, list[tuple[SortKey, str, FinalEntry]]] = {}
    if policy.optimisation_pool == "skd_outside_cut":
        order = tuple(k for k in policy.final_order if k not in ("final", "skb"))
        for f in skd.formations:
            for e in f.entries:
                if e.meaning == "outside_cut":
                    assert e.total is not None
                    cand = _unranked_entry(e, "", None, None)
                    pool.setdefault(scope_of(f.formation.id), []).append(
                        (final_key(policy, e, order=order), e.registration_number, cand)
                    )
    else:
        order = policy.final_order
        for ff in final.formations:
            for fe in ff.entries:
                if fe.meaning == "not_appointed" and fe.rank is not None:
                    pool.setdefault(scope_of(ff.formation.id), []).append(
                        (final_key(policy, fe), fe.registration_number, fe)
                    )
    for lst in pool.values():
        lst.sort(key=lambda t: (t[0], t[1]))

    taken: dict[str, str] = {}  # registration number → formation filled
    added: dict[str, list[FinalEntry]] = {}
    for fid in sorted(by_id):
        vacant = by_id[fid].vacant
        candidates = pool.get(scope_of(fid), [])
        while vacant > 0 and candidates:
            _, regno, cand = candidates.pop(0)
            taken[regno] = fid
            vacant -= 1
            origin = cand.formation
            n_filled = len(added.get(fid, [])) + 1
            rid = (
                f"optimalisasi: mengisi formasi kosong {fid} (ke-{n_filled}) dari formasi "
                f"{origin}, urutan {', '.join(map(_rule_id, order))}"
            )
            ren = (
                f"optimisation: fills vacant opening {n_filled} of {fid} from formation "
                f"{origin}, ordered by {', '.join(map(_rule_en, order))}"
            )
            added.setdefault(fid, []).append(
                replace(
                    cand,
                    formation=fid,
                    origin_formation=origin,
                    meaning="appointed_optimised",
                    code=policy.code("appointed_optimised").code,
                    rank=None,
                    reason_id=rid,
                    reason_en=ren,
                )
            )
    new_formations: list[FinalFormation] = []
    for fid in sorted(by_id):
        ff = by_id[fid]
        kept: list[FinalEntry] = []
        for fe in ff.entries:
            if fe.registration_number in taken:
                # Appointed elsewhere by optimisation: say so on the original line too.
                where = taken[fe.registration_number]
                fe = replace(
                    fe,
                    reason_id=f"{fe.reason_id}; dioptimalkan ke formasi {where}",
                    reason_en=f"{fe.reason_en}; moved to formation {where} by optimisation",
                )
            kept.append(fe)
        new_formations.append(FinalFormation(ff.formation, (*kept, *added.get(fid, []))))
    return FinalResult(policy, tuple(new_formations), optimised=True)
