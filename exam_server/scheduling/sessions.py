"""Exam sessions: scheduled in a room, opened for logins, closed, looked up by
code, and the candidates' check-in PINs for them."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from exam_server import audit
from exam_server.auth import new_pin, new_session_token, pin_mac
from exam_server.db import writer
from exam_server.models import Candidate, CheckIn, Exam, ExamSession, Room, Site
from exam_server.scheduling.common import SetupError, _code, _one


def create_session(
    engine: Engine, code: str, exam_code: str, site_code: str, room_code: str, starts_at: float
) -> int:
    with Session(writer(engine)) as s:
        exam = _one(s, Exam, code=exam_code)
        site = _one(s, Site, code=site_code)
        errors = []
        if exam is None:
            errors.append({"field": "exam_code", "message": f"no exam {exam_code}"})
        if site is None:
            errors.append({"field": "site_code", "message": f"no site {site_code}"})
        room = _one(s, Room, site_id=site.id, code=room_code) if site is not None else None
        if site is not None and room is None:
            errors.append({"field": "room_code", "message": f"no room {room_code} at {site_code}"})
        if _one(s, ExamSession, code=_code(code, "code")) is not None:
            raise SetupError(
                f"session {code} exists", [{"field": "code", "message": "exists"}], 409
            )
        if errors or exam is None or room is None:
            raise SetupError("cannot schedule the session", errors)
        sess = ExamSession(code=code, exam_id=exam.id, room_id=room.id, starts_at=starts_at)
        s.add(sess)
        s.commit()
        assert sess.id is not None
        return sess.id


def open_session(engine: Engine, session_id: int, actor: str) -> str:
    """Open a session for logins; returns its token. Opening a session that
    is open already returns the token it has, changing nothing: a
    double-click or a second console used to make a new token, which left
    the room typing the old one, each try counted as a failed login until
    the room's address waited (found by a review)."""
    token = new_session_token()
    with Session(writer(engine)) as s:
        # Locked (PostgreSQL): two opens at once see each other's token.
        sess = s.get(ExamSession, session_id, with_for_update=True)
        if sess is None:
            raise SetupError(f"no session {session_id}", status=404)
        if sess.status == "closed":
            raise SetupError("the session is closed", status=409)
        if sess.status == "open" and sess.token:
            return str(sess.token)
        from exam_server.sites.keys import items_sealed  # a site's package (docs/sites.md)

        if items_sealed(s.connection(), session_id):
            raise SetupError(
                "the session's items are still sealed: release its key first", status=409
            )
        sess.status, sess.token, sess.opened_at = "open", token, time.time()
        s.add(sess)
        s.flush()
        audit.append(s.connection(), "open_session", actor, session_id=session_id)
        s.commit()
    return token


def mark_session_closed(engine: Engine, session_id: int, actor: str, reason: str) -> list[int]:
    """Close a session to logins; returns the ids of its unfinished attempts."""
    from exam_server.models import Attempt

    with Session(writer(engine)) as s:
        sess = s.get(ExamSession, session_id)
        if sess is None:
            raise SetupError(f"no session {session_id}", status=404)
        sess.status, sess.closed_at = "closed", time.time()
        s.add(sess)
        s.flush()
        audit.append(s.connection(), "close_session", actor, session_id=session_id, reason=reason)
        s.commit()
        rows = s.execute(
            select(col(Attempt.id)).where(
                col(Attempt.session_id) == session_id,
                col(Attempt.status).in_(("running", "paused")),
            )
        ).scalars()
        return [int(x) for x in rows]


def issue_pin(
    engine: Engine, secret_key: str, session_id: int, registration_number: str, actor: str
) -> str:
    """Issue (or re-issue) the check-in PIN of a candidate for a session."""
    pin = new_pin()
    with Session(writer(engine)) as s:
        c = _one(s, Candidate, registration_number=registration_number)
        if c is None or c.session_id != session_id:
            raise SetupError(
                f"{registration_number} is not scheduled in this session",
                [{"field": "registration_number", "message": "not in session"}],
                404,
            )
        mac = pin_mac(secret_key, session_id, c.id, pin)
        ci = _one(s, CheckIn, session_id=session_id, candidate_id=c.id)
        if ci is None:
            ci = CheckIn(session_id=session_id, candidate_id=c.id, pin_mac=mac)
        ci.pin_mac, ci.issued_at, ci.issued_by = mac, time.time(), actor
        s.add(ci)
        s.flush()
        audit.append(
            s.connection(),
            "checkin",
            actor,
            session_id=session_id,
            data={"registration_number": registration_number},
        )
        s.commit()
    return pin


def session_id_of(engine: Engine, code: str) -> int:
    with Session(writer(engine)) as s:
        sess = _one(s, ExamSession, code=code)
        if sess is None:
            raise SetupError(f"no session {code}", status=404)
        return int(sess.id)
