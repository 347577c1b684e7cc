"""The frames the terminal reads about its attempt (``docs/protocol.md``).

Pure functions of a :class:`~exam_server.attempts.state.LiveAttempt` and the
server's time; the wire format itself is :mod:`exam_server.protocol`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cat_engine import engine as cat
from exam_server import protocol as p
from exam_server import receipts
from exam_server.attempts.state import ACTIVE, LiveAttempt
from exam_server.attempts.verdicts import section_points
from exam_server.results.rules import RankingPolicy, fmt


def item_frame(la: LiveAttempt, number: int) -> dict[str, Any]:
    """The item shown as ``number``, without its key or option points."""
    idx = la.index_of(number)
    it = la.exam.items[idx]
    return p.frame(
        "item",
        number=number,
        subtest=it.subtest,
        stem=it.stem,
        stem_format=it.stem_format,
        options=list(it.options),
        answer=la.answers.get(number, -1),
        flagged=la.flags.get(number, False),
    )


def state_frame(la: LiveAttempt, now: float) -> dict[str, Any]:
    """Everything a terminal needs to draw the attempt (after ``hello`` or on request)."""
    cur = la.number_of(cat.current(la.state)) if la.status in ACTIVE else None
    subtests = la.exam.bank.subtest_codes
    bank_sub = la.exam.bank.subtest
    return p.frame(
        "state",
        attempt_id=la.id,
        registration_number=la.registration_number,
        name=la.name,
        exam=la.exam.name,
        mode=la.exam.mode,
        status=la.status,
        server_time=now,
        remaining_seconds=round(la.remaining(now), 3),
        deadline=la.deadline_at,
        clock_running=la.running_since is not None,
        last_seq=la.last_seq,
        n_items=la.exam.n_items,
        sections=la.exam.sections(),
        map=[
            {
                "number": i + 1,
                "subtest": subtests[int(bank_sub[idx])],
                "answered": (i + 1) in la.answers,
                "flagged": la.flags.get(i + 1, False),
            }
            for i, idx in enumerate(la.presented)
        ],
        current=item_frame(la, cur) if cur is not None else None,
    )


def time_frame(la: LiveAttempt, now: float) -> dict[str, Any]:
    """The clock (sent after every proctor act that changes it)."""
    return p.frame(
        "time",
        server_time=now,
        remaining_seconds=round(la.remaining(now), 3),
        deadline=la.deadline_at,
        clock_running=la.running_since is not None,
        status=la.status,
    )


def final_frame(
    score: Mapping[str, Any],
    passed: bool | None,
    reasons: Mapping[str, str | None],
    why: str | None,
    receipt: Mapping[str, Any] | None = None,
    policy: RankingPolicy | None = None,
) -> dict[str, Any]:
    """The ``final`` frame. ``reasons``: the pass/fail reason by language
    (``"id"``, ``"en"``); ``pass_reason`` stays the English text that
    version-1 clients have always read, ``pass_reasons`` carries both.
    receipt: the candidate's signed receipt (``code``, ``short``, ``qr_svg``)
    when the server signs one. policy: the exam's ranking policy; with it the
    frame carries ``shown``, the points as the publication and the receipt
    print them (subtest code → text, and ``"total"``)."""
    fields: dict[str, Any] = {
        "reason": why,
        "sections": [
            {
                "code": s["code"],
                "points": s["points"],
                "max_points": s["max_points"],
                "n_answered": s.get("n_answered"),
                "n_items": s.get("n_items"),
            }
            for s in score.get("sections", [])
        ],
        "total": score.get("total"),
        "passed": passed,
        "pass_reason": reasons.get("en"),
        "pass_reasons": dict(reasons),
    }
    if receipt is not None:
        fields["receipt"] = dict(receipt)
    if policy is not None:
        # A score the policy cannot read (not finite) is shown as the engine gave it.
        with contextlib.suppress(ValueError, ArithmeticError):
            points, total = published_points(policy, score)
            fields["shown"] = {**{c: fmt(v) for c, v in points.items()}, "total": fmt(total)}
    return p.frame("final", **fields)


def published_points(
    policy: RankingPolicy, score: Mapping[str, Any]
) -> tuple[dict[str, Decimal], Decimal]:
    """Points per subtest and their total as the publication rounds them
    (the policy's ``score_decimals``): what the receipt signs and the
    terminal shows."""
    points = {code: policy.points(v) for code, v in section_points(score).items()}
    return points, policy.points(sum(points.values()))


def receipt(
    la: LiveAttempt, score: Mapping[str, Any], key: Ed25519PrivateKey | None
) -> dict[str, Any] | None:
    """The candidate's signed receipt of a finished attempt (``code``: the text
    code ``seleksi results prove --receipt`` and the public page accept;
    ``short``: a code to write down; ``qr_svg``: the text code as a QR code):
    registration number, exam, session, points per subtest and total as the
    publication rounds them (the exam's policy), and the answer-chain head.
    None when the server signs no receipts."""
    if key is None:
        return None
    points, total = published_points(la.exam.policy, score)
    r = receipts.sign_receipt(
        key,
        registration_number=la.registration_number,
        exam=la.exam.code,
        session=la.session_code,
        scores=points,
        total=total,
        chain_head=la.response_head,
    )
    return {"code": receipts.encode(r), "short": receipts.short_code(r)}
