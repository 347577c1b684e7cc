"""Sites' attempts as the centre's results read them.

``exam_server.results.from_db.load_outcomes`` (the one reader of outcomes
for ranking and publication) adds what :func:`site_rows` gives to the
centre's own attempts: a session packaged for a site is run there, so its
attempts exist at the centre only as the site's synced copies. They count
only when they are complete and verified:

* the site's ``close_session`` event for the session has arrived and the
  site reported nothing pending at its last sync (otherwise a candidate
  whose attempt has not arrived would look absent);
* every finished attempt was scored again at the centre from its synced
  answers and found equal to the site's result (``centre_check = equal``).

Otherwise :class:`~exam_server.results.from_db.SourceError` names the site,
the session and what is missing. Attempt ids are the site's, so each row's
``id`` is ``SITE/attempt`` (unique beside the centre's own integer ids).

:func:`site_sessions` decides the rule; the after-the-test population
(``exam_server.after_test.store.population``: diagnostic reports, training
needs) reads the same verified copies through it, leaving a session out
with its reason where the results would stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from exam_server.audit.chain import candidates_facts
from exam_server.models import ExamSession, Site
from exam_server.sites.models import (
    SiteAttempt,
    SiteAuditEvent,
    SiteLink,
    SiteResponse,
    SiteSessionKey,
)

S_ATTEMPT = SiteAttempt.__table__  # type: ignore[attr-defined]
S_RESPONSE = SiteResponse.__table__  # type: ignore[attr-defined]
S_AUDIT = SiteAuditEvent.__table__  # type: ignore[attr-defined]
SESSION_KEY = SiteSessionKey.__table__  # type: ignore[attr-defined]
LINK = SiteLink.__table__  # type: ignore[attr-defined]
SITE = Site.__table__  # type: ignore[attr-defined]
SESSION = ExamSession.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SiteAttemptRow:
    """The fields of an attempt the results read (as ``exam_attempt`` has them)."""

    id: str
    session_id: int
    candidate_id: int
    status: str
    terminal_id: str | None
    last_seq: int
    score_json: str | None


@dataclass(frozen=True)
class SiteResponseRow:
    attempt_id: str
    seq: int
    kind: str
    number: int
    item_id: str
    option: int
    flagged: bool


@dataclass(frozen=True)
class SiteSession:
    """A session of the exam packaged for a site, as the centre holds it.

    attempts: the synced attempt copies (``site_attempt`` rows as mappings),
    given only when they count (``problem`` is None); problem: why they do
    not count yet, in words naming the site and the session; arrived: False
    when the site's records have not all arrived (the close of the session
    or pending records), True when they have (``problem`` then names an
    attempt that did not verify)."""

    session_id: int
    site_id: int
    site_code: str
    session_code: str
    attempts: list[Any]
    problem: str | None
    arrived: bool


def site_sessions(conn: Connection, session_ids: list[int]) -> list[SiteSession]:
    """Every session of ``session_ids`` packaged for a site, with its synced
    attempts when they are complete and verified (the module docstring's
    rule: the one place it is decided) or the reason they are not."""
    if not inspect(conn).has_table(SESSION_KEY.name):
        return []  # a database made before sites existed (not migrated)
    packaged = conn.execute(
        select(SESSION_KEY.c.session_id, SESSION_KEY.c.site_id, SITE.c.code, SESSION.c.code)
        .join(SITE, SITE.c.id == SESSION_KEY.c.site_id)
        .join(SESSION, SESSION.c.id == SESSION_KEY.c.session_id)
        .where(SESSION_KEY.c.session_id.in_(session_ids))
    ).all()
    out: list[SiteSession] = []
    # A session in which a site started tests but whose package record is
    # gone would read as held at the centre, every candidate absent (found
    # by a review).
    keyed = {(int(r[0]), int(r[1])) for r in packaged}
    for session_id, site_id, code, session_code in conn.execute(
        select(S_AUDIT.c.session_id, S_AUDIT.c.site_id, SITE.c.code, SESSION.c.code)
        .join(SITE, SITE.c.id == S_AUDIT.c.site_id)
        .join(SESSION, SESSION.c.id == S_AUDIT.c.session_id)
        .where(S_AUDIT.c.session_id.in_(session_ids), S_AUDIT.c.kind == "start")
        .distinct()
    ):
        if (int(session_id), int(site_id)) not in keyed:
            problem = (
                f"session {session_code} has tests started at site {code}, but the centre holds"
                " no package of it for that site (site_session_key)"
            )
            known = (int(session_id), int(site_id), str(code), str(session_code))
            out.append(SiteSession(*known, [], problem, True))
    for session_id, site_id, code, session_code in packaged:
        closed = conn.execute(
            select(S_AUDIT.c.id).where(
                S_AUDIT.c.site_id == site_id,
                S_AUDIT.c.session_id == session_id,
                S_AUDIT.c.kind == "close_session",
            )
        ).first()
        pending = conn.execute(
            select(LINK.c.site_pending).where(LINK.c.site_id == site_id)
        ).scalar()
        known = (int(session_id), int(site_id), str(code), str(session_code))
        if closed is None or pending:
            missing = "the close of the session not synced" if closed is None else f"{pending}"
            missing += "" if closed is None else " records pending"
            problem = (
                f"session {session_code} is held at site {code}, whose records have not all"
                f" arrived ({missing})"
            )
            out.append(SiteSession(*known, [], problem, False))
            continue
        rows = list(
            conn.execute(
                select(S_ATTEMPT).where(
                    S_ATTEMPT.c.site_id == site_id, S_ATTEMPT.c.session_id == session_id
                )
            ).mappings()
        )
        against_chain = _attempt_problems(conn, site_id, code, session_id, session_code, rows)
        if against_chain:
            out.append(SiteSession(*known, [], against_chain[0], True))
            continue
        unverified = next(
            (a for a in rows if a["status"] == "finished" and a["centre_check"] != "equal"), None
        )
        if unverified is not None:
            problem = (
                f"attempt {code}/{unverified['attempt_id']} (session {session_code}): its result"
                f" is {unverified['centre_check']} at the centre's verification; see the centre"
                " page"
            )
            out.append(SiteSession(*known, [], problem, True))
            continue
        out.append(SiteSession(*known, rows, None, True))
    return out


def site_rows(conn: Connection, session_ids: list[int]) -> tuple[list[Any], list[Any]]:
    """The verified attempts and answers of the sessions of ``session_ids``
    that were packaged for a site. Raises ``SourceError`` when one of them is
    not yet complete or verified at the centre."""
    from exam_server.results.from_db import SourceError

    # Typed loosely: they stand beside SQLAlchemy rows of the same fields.
    attempts: list[Any] = []
    responses: list[Any] = []
    for s in site_sessions(conn, session_ids):
        if s.problem is not None:
            wait = "" if s.arrived else ": results wait for its sync (docs/sites.md)"
            raise SourceError(s.problem + wait)
        ids: list[int] = []
        for a in s.attempts:
            attempts.append(
                SiteAttemptRow(
                    id=f"{s.site_code}/{a['attempt_id']}",
                    session_id=s.session_id,
                    candidate_id=int(a["candidate_id"]),
                    status=str(a["status"]),
                    terminal_id=a["terminal_id"],
                    last_seq=int(a["last_seq"]),
                    score_json=a["score_json"],
                )
            )
            ids.append(int(a["attempt_id"]))
        if ids:
            r = S_RESPONSE.c
            responses.extend(
                SiteResponseRow(
                    f"{s.site_code}/{row.attempt_id}",
                    int(row.seq),
                    str(row.kind),
                    int(row.number),
                    str(row.item_id),
                    int(row.option),
                    bool(row.flagged),
                )
                for row in conn.execute(
                    select(
                        r.attempt_id, r.seq, r.kind, r.number, r.item_id, r.option, r.flagged
                    ).where(r.site_id == s.site_id, r.attempt_id.in_(ids))
                )
            )
    return attempts, responses


def _attempt_problems(
    conn: Connection,
    site_id: int,
    code: str,
    session_id: int,
    session_code: str,
    rows: list[Any],
) -> list[str]:
    """The site's attempt records against the site's own audit chain, as the
    centre holds it: whose test each is and how it ended (the checks of
    ``exam_server.audit.records``, the same as ``seleksi audit verify`` at the
    site), that it belongs to this session, and that a test that started is
    not stored as one nobody took (which would rank as absent). The attempt
    record itself is outside every chain: a site could otherwise swap two
    candidates' results or void a finished one. Problems as sentences naming
    the site, the session and the attempt."""
    from exam_server.audit.records import (
        ChainFacts,
        check_attempt_candidate,
        check_attempt_end,
        check_attempt_taken,
    )
    from exam_server.sites.copies import positions_of

    # Every test the site's chain started in this session must have its
    # record here: deleting one turned a candidate who sat the test into one
    # who never came (found by a review).
    started = {
        int(aid)
        for (aid,) in conn.execute(
            select(S_AUDIT.c.attempt_id).where(
                S_AUDIT.c.site_id == site_id,
                S_AUDIT.c.session_id == session_id,
                S_AUDIT.c.kind == "start",
            )
        )
    }
    held = {int(a["attempt_id"]) for a in rows}
    out = [
        f"site {code}, session {session_code}: attempt {aid}: started in the site's chain,"
        " but the centre holds no record of it"
        for aid in sorted(started - held)
    ]
    if not rows:
        return out
    ids = sorted(held)
    facts = ChainFacts()
    sessions: dict[int, int | None] = {}
    for ev in conn.execute(
        select(S_AUDIT)
        .where(S_AUDIT.c.site_id == site_id, S_AUDIT.c.attempt_id.in_(ids))
        .order_by(S_AUDIT.c.id)
    ).mappings():
        facts.take(ev)
        if ev["kind"] == "start":
            sessions[int(ev["attempt_id"])] = ev["session_id"]
    answered = positions_of(conn, site_id, ids)
    # The centre's candidate rows as the ranking reads them: every fact the
    # site's start event bound (audit.candidate_facts) is compared, so a
    # category, formation, name or birth date edited at the centre is
    # reported (found by a review: only the registration number was).
    people = candidates_facts(conn, {int(a["candidate_id"]) for a in rows})
    for a in rows:
        aid = int(a["attempt_id"])
        person = people.get(int(a["candidate_id"]), {"registration_number": None})
        view = {
            **person,
            "id": aid,
            "candidate_id": a["candidate_id"],
            "status": a["status"],
            "finish_reason": a["finish_reason"],
            "terminal_id": a["terminal_id"],
            "last_seq": a["last_seq"],
        }
        found = check_attempt_candidate(facts, view) + check_attempt_end(facts, view)
        head = answered.get(aid)
        found += check_attempt_taken(facts, view, head.position if head else 0)
        # The record's answer count and head are the chain's (a record sent
        # before its answers had all arrived is never stored): a last seq
        # moved past the chain kept a finished test from being scored again
        # while it still ranked (found by a review).
        at = (head.position, head.hash) if head else (0, "")
        if (a["last_seq"], a["response_head"]) != at:
            found.append(
                f"attempt {aid}: its record ends at seq {a['last_seq']}, its answers held at"
                f" seq {at[0]}" + (" (another head)" if a["last_seq"] == at[0] else "")
            )
        if aid in sessions and sessions[aid] != a["session_id"]:
            found.append(
                f"attempt {aid}: session {a['session_id']} stored, "
                f"{sessions[aid]} in its start event"
            )
        out += [f"site {code}, session {session_code}: {p}" for p in found]
    return out
