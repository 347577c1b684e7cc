"""A finished sitting's receipt again, for a candidate who lost theirs.

The receipt shown at the finish is the candidate's proof on the SKB page and
the after-test pages (appeals, diagnostic report). A candidate who did not
write it down must not be shut out of those pages, so the server signs it
again from what it stored at the finish: the sitting's session, its scores
as the exam's policy publishes them and its answer-chain head, with the key
given (the server's current receipt key). Ed25519 is deterministic: with the
key that signed it at the finish, it is the very same code; with a newer key
it names the same facts and verifies under the server's key list all the
same (``exam_server.receipts.at_server``).

Two ways in, each bound to the person: the applicant's own account on the
recruitment pages (``/recruitment/me``, the registration's candidate) and
the committee's ``seleksi after receipt``, which records who gave it and why
(an audit event ``receipt_again``).

Reads the database (unlike the rest of :mod:`exam_server.receipts`); the
package does not import it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Select, Table, inspect, select
from sqlalchemy.engine import Connection, Engine

from exam_server import audit
from exam_server import models as m
from exam_server.attempts.frames import published_points
from exam_server.db import writer
from exam_server.receipts.keys import ReceiptKey
from exam_server.receipts.receipt import encode, short_code, sign_receipt
from exam_server.receipts.verification import ReceiptRefused, verify
from exam_server.results.rules import RankingPolicy


def _t(model: type) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


@dataclass(frozen=True)
class SittingReceipt:
    """A finished sitting's receipt: ``code`` is the text code the pages and
    ``seleksi results prove --receipt`` accept, ``short`` the code to write
    down."""

    exam: str
    session: str
    registration_number: str
    code: str
    short: str


def sitting_receipt(
    engine: Engine,
    key: Ed25519PrivateKey,
    *,
    candidate_id: int | None = None,
    exam_code: str | None = None,
    registration_number: str | None = None,
) -> SittingReceipt | None:
    """The receipt of a candidate's finished sitting, signed again with ``key``.

    The candidate is named by ``candidate_id`` (the recruitment's link) or by
    ``exam_code`` and ``registration_number`` (the committee's command); at
    least one of those must be given. A sitting at an exam site is read from
    the centre's verified copy (:func:`_site_sitting`). None when that
    candidate has no finished sitting here (not finished yet, voided, absent,
    or sat at a site whose records have not arrived or not verified)."""
    if candidate_id is None and (exam_code is None or registration_number is None):
        raise ValueError("name the candidate: candidate_id, or exam_code and registration_number")
    who = (candidate_id, exam_code, registration_number)
    with engine.connect() as conn:
        row = conn.execute(_sitting_query(_t(m.Attempt), *who)).first()
        if row is None:
            row = _site_sitting(conn, *who)
    if row is None or not row.score_json:
        return None
    # The exam's policy as exam_server.exams.exam_policy reads it: the points
    # rounded as the publication prints them, as at the finish.
    policy = RankingPolicy.of_exam(row.policy_json)
    points, total = published_points(policy, json.loads(row.score_json))
    r = sign_receipt(
        key,
        registration_number=str(row.registration_number),
        exam=str(row.exam),
        session=str(row.session),
        scores=points,
        total=total,
        chain_head=str(row.response_head),
    )
    return SittingReceipt(
        str(row.exam), str(row.session), str(row.registration_number), encode(r), short_code(r)
    )


def _sitting_query(
    attempts: Table,
    candidate_id: int | None,
    exam_code: str | None,
    registration_number: str | None,
    *where: Any,
) -> Select[Any]:
    """The latest finished sitting of the candidate named, from ``attempts``
    (the server's own ``exam_attempt``, or the centre's copies of a site's
    ``site_attempt``), with what its receipt names; ``where``: more conditions."""
    exams, sessions, cands = _t(m.Exam), _t(m.ExamSession), _t(m.Candidate)
    q = (
        select(
            exams.c.code.label("exam"),
            sessions.c.code.label("session"),
            cands.c.registration_number,
            attempts.c.score_json,
            attempts.c.response_head,
            exams.c.policy_json,
        )
        .join(sessions, sessions.c.id == attempts.c.session_id)
        .join(exams, exams.c.id == sessions.c.exam_id)
        .join(cands, cands.c.id == attempts.c.candidate_id)
        .where(attempts.c.status == "finished", *where)
        # A candidate re-seated after a void has one finished sitting at most;
        # the latest is the one a receipt was given for.
        .order_by(attempts.c.finished_at.desc())
        .limit(1)
    )
    if candidate_id is not None:
        q = q.where(cands.c.id == candidate_id)
    if exam_code is not None:
        q = q.where(exams.c.code == exam_code)
    if registration_number is not None:
        q = q.where(cands.c.registration_number == registration_number)
    return q


def _site_sitting(
    conn: Connection,
    candidate_id: int | None,
    exam_code: str | None,
    registration_number: str | None,
) -> Any:
    """A finished sitting held at an exam site, from the centre's verified copy
    of it: the site's result scored again here and found equal
    (``centre_check``), the one the rankings count. Its receipt is signed
    with this server's key, which every page here accepts for any candidate;
    the site's own key stays at the site."""
    from exam_server.sites.copies import S_ATTEMPT

    if not inspect(conn).has_table(S_ATTEMPT.name):
        return None  # a database made before sites existed
    equal = S_ATTEMPT.c.centre_check == "equal"
    return conn.execute(
        _sitting_query(S_ATTEMPT, candidate_id, exam_code, registration_number, equal)
    ).first()


#: The audit event of a receipt the committee gave again (``seleksi after receipt``).
RECEIPT_AGAIN = "receipt_again"


def give_again(
    engine: Engine,
    key: Ed25519PrivateKey,
    exam_code: str,
    registration_number: str,
    by: str,
    reason: str,
    server_keys: Sequence[ReceiptKey],
) -> SittingReceipt | None:
    """The committee gives a candidate their receipt again: :func:`sitting_receipt`,
    recorded as a ``receipt_again`` audit event naming who gave it, why, and
    the receipt's short code (so a receipt given to the wrong person can be
    traced). ``by`` must be an active staff account of this server. Nothing
    is recorded when there is no finished sitting.

    Refused (``ValueError``, nothing signed or recorded): ``by`` is no active
    staff account (the event would name nobody who can answer for it), or
    the receipt does not verify under ``server_keys`` (the server's receipt
    keys, current and retired: a code signed with another key would be
    turned away by every page, found by a review)."""
    with engine.connect() as conn:
        staff = conn.execute(
            select(_t(m.Staff).c.disabled).where(_t(m.Staff).c.username == by)
        ).first()
    if staff is None or staff.disabled:
        raise ValueError(f"{by!r} is not an active staff account of this server")
    found = sitting_receipt(
        engine, key, exam_code=exam_code, registration_number=registration_number
    )
    if found is None:
        return None
    try:
        verify(found.code, server_keys)
    except ReceiptRefused as exc:
        raise ValueError(f"the receipt would not verify at this server: {exc}") from None
    with writer(engine).begin() as conn:
        audit.append(
            conn,
            RECEIPT_AGAIN,
            f"staff:{by}",
            reason=reason,
            data={
                "exam": found.exam,
                "registration_number": found.registration_number,
                "short": found.short,
            },
        )
    return found
