"""Small builders shared by the results tests (imported as a plain module)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exam_server.results import publication as pub
from exam_server.results.integration import SkbScore, integrate, optimise
from exam_server.results.outcomes import FINISHED, CandidateOutcome, Formation, responses_digest
from exam_server.results.ranking import rank_skd
from exam_server.results.rules import RankingPolicy

POLICY = RankingPolicy.default_2024()


def cand(
    regno: str,
    twk: float,
    tiu: float,
    tkp: float,
    *,
    formation: str = "F1",
    category: str = "general",
    status: str = FINISHED,
    gpa: float | None = None,
    born: str | None = None,
    **kw: Any,
) -> CandidateOutcome:
    """A finished candidate with the given subtest points."""
    return CandidateOutcome(
        registration_number=regno,
        formation=formation,
        category=category,
        status=status,
        scores={"TWK": twk, "TIU": tiu, "TKP": tkp} if status == FINISHED else {},
        gpa=gpa,
        birth_date=None if born is None else dt.date.fromisoformat(born),
        **kw,
    )


def absent(regno: str, formation: str = "F1", status: str = "absent") -> CandidateOutcome:
    return CandidateOutcome(regno, formation, "general", status)


def formation(fid: str = "F1", openings: int = 1, group: str | None = None) -> Formation:
    return Formation(fid, openings, name=f"Formation {fid}", group=group)


def codes(result: Any, fid: str = "F1") -> dict[str, str]:
    """registration number → code in formation ``fid`` of an SKD or final result."""
    for f in result.formations:
        if f.formation.id == fid:
            return {e.registration_number: e.code for e in f.entries}
    raise KeyError(fid)


# -- a small exam with every code, for publication and page tests ----------------------

EXAM = pub.ExamInfo("SKD-2024-T", "Seleksi uji / test exam", "2024-12-01")
# A fixed key keeps the test's bytes stable (Ed25519 signing is deterministic).
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def responses(regno: str, n: int = 5) -> list[dict[str, Any]]:
    rng = random.Random(regno)
    return [
        {"seq": i + 1, "item": f"I{rng.randrange(999):03d}", "option": rng.randrange(5)}
        for i in range(n)
    ]


def outcomes() -> list[CandidateOutcome]:
    people = [
        cand("A1", 90, 100, 180, formation="FA", gpa=3.5, born="1996-02-01", name="Ani"),
        cand("A2", 85, 100, 180, formation="FA", gpa=3.1, born="1995-05-05", name="Budi"),
        cand("A3", 80, 100, 180, formation="FA", gpa=3.9, born="1999-09-09", name="Citra"),
        cand("A4", 75, 100, 180, formation="FA", name="Dewi Ayu"),
        cand("A5", 60, 120, 200, formation="FA", name="Eko"),  # TL
        absent("A6", "FA"),
        absent("A7", "FA", status="voided"),
        cand("B1", 70, 85, 170, formation="FB", category="papua", name="Yohana Wenda"),
    ]
    return [
        replace(c, responses_hash=responses_digest(responses(c.registration_number)))
        if c.status != "absent"
        else c
        for c in people
    ]


FORMATIONS = [formation("FA", 1, group="g"), formation("FB", 2, group="g")]
SKB = {
    "A1": SkbScore("A1", "present", POLICY.points(70)),
    "A2": SkbScore("A2", "present", POLICY.points(88.5)),
    "A3": SkbScore("A3", "absent", None, "sakit / ill"),
    "B1": SkbScore("B1", "present", POLICY.points(61)),
}


# The server's receipt key (it signs candidates' receipts at finish), fixed like KEY.
RECEIPT_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))


def build(
    cands: list[CandidateOutcome] | None = None, *, final: bool = True, receipt_keys: bool = False
) -> pub.Publication:
    skd = rank_skd(POLICY, FORMATIONS, cands if cands is not None else outcomes())
    fin = optimise(POLICY, skd, integrate(POLICY, skd, SKB)) if final else None
    keys = [RECEIPT_KEY.public_key()] if receipt_keys else []
    return pub.publish(EXAM, POLICY, skd, KEY, fin, receipt_keys=keys)


def receipt_code(regno: str = "A5", exam: str = EXAM.id, **points: str) -> str:
    """A receipt's text code as the terminal shows it; A5's recorded points by default."""
    from exam_server import receipts

    pts = {"TWK": "60", "TIU": "120", "TKP": "200", **points}
    r = receipts.sign_receipt(
        RECEIPT_KEY,
        registration_number=regno,
        exam=exam,
        session="S1",
        scores=pts,
        total=str(sum(int(v) for v in pts.values())),
        chain_head="ab" * 32,
    )
    return receipts.encode(r)
