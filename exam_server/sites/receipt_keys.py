"""Which keys a candidate's receipt may be checked against: the one place.

A site's server signs the receipts of the candidates who sit there with the
site's checkpoint key (``exam_server.checkpoints``: the same key signs its
checkpoint lines). The centre registers those keys: the first at the site's
first sync (``site_link.checkpoint_key``), each replacement through
``seleksi site register-key`` (``site_checkpoint_key``;
:func:`exam_server.sites.checkpoint_keys.keys_of`). :func:`receipt_keys_for`
gives the server's own keys (current and retired) and, for every site
holding a session of the exam, each key registered for it as a site key
(:class:`exam_server.receipts.ReceiptKey` with ``site``): it verifies only the
receipts of the candidates scheduled into that site's sessions. Every path
that checks a receipt at the centre (the appeal and diagnostic pages, the
served key list) and every publication (whose signed manifest the public
receipt check and ``seleksi results prove`` read) takes its keys from here.

Validity, as the centre's data allows: the checkpoint numbers each key signs
(``from_checkpoint``, ``until_checkpoint``) and times — a first key from the
time of the site's first checkpoint line held here, a replacement from the
time the site made it (its statement's ``at``), each until the next one's.
A receipt carries no time, so the period is told, not enforced.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection, Engine

from exam_server.models import Candidate, Exam, ExamSession, Site
from exam_server.receipts import ReceiptKey, as_receipt_key, utc_text
from exam_server.sites.checkpoint_keys import CheckpointKeyError, keys_of, load_pem
from exam_server.sites.models import SiteCheckpoint, SiteCheckpointKey, SiteLink, SiteSessionKey

LINK = SiteLink.__table__  # type: ignore[attr-defined]
KEYS = SiteCheckpointKey.__table__  # type: ignore[attr-defined]
LINES = SiteCheckpoint.__table__  # type: ignore[attr-defined]
SESSION_KEY = SiteSessionKey.__table__  # type: ignore[attr-defined]
SITE = Site.__table__  # type: ignore[attr-defined]
SESSION = ExamSession.__table__  # type: ignore[attr-defined]
EXAM = Exam.__table__  # type: ignore[attr-defined]
CANDIDATE = Candidate.__table__  # type: ignore[attr-defined]


def receipt_keys_for(
    conn: Connection,
    server_keys: Sequence[ReceiptKey | Any],
    exam_code: str | None = None,
    registration_number: str | None = None,
) -> list[ReceiptKey]:
    """The keys a receipt of ``exam_code`` (every exam: ``None``) is checked
    against at this server: ``server_keys`` (its own, current and retired:
    ``exam_server.receipts.server_keys``, or the key lists given to
    ``seleksi results publish``) and the keys registered for each site that
    holds a session of the exam, as site keys limited to that site's
    candidates. ``registration_number``: the one receipt's candidate, when
    checking one receipt — each site's sessions then list that candidate
    alone, if scheduled there (the same verdict for that receipt, without
    reading every candidate). A database without the site tables gives
    ``server_keys``."""
    own = [as_receipt_key(k) for k in server_keys]
    seen = {k.key_id for k in own}
    sites = site_receipt_keys(conn, exam_code, registration_number)
    return own + [k for k in sites if k.key_id not in seen]


def site_receipt_keys(
    conn: Connection, exam_code: str | None = None, registration_number: str | None = None
) -> list[ReceiptKey]:
    """Every key registered for a site holding a session of ``exam_code``
    (or of any exam), in site order, each with its site, its checkpoint
    numbers and times, and the site's sessions with their candidates (only
    ``registration_number``, when given)."""
    if not inspect(conn).has_table(LINK.name):
        return []
    q = (
        select(SESSION_KEY.c.site_id, SESSION.c.code, SESSION.c.id)
        .join(SESSION, SESSION.c.id == SESSION_KEY.c.session_id)
        .join(EXAM, EXAM.c.id == SESSION.c.exam_id)
        .order_by(SESSION_KEY.c.site_id, SESSION.c.code)
    )
    if exam_code is not None:
        q = q.where(EXAM.c.code == exam_code)
    held = conn.execute(q).all()
    if not held:
        return []
    regnos: dict[int, list[str]] = {}
    who = (
        select(CANDIDATE.c.session_id, CANDIDATE.c.registration_number)
        .where(CANDIDATE.c.session_id.in_([int(r[2]) for r in held]))
        .order_by(CANDIDATE.c.registration_number)
    )
    if registration_number is not None:
        who = who.where(CANDIDATE.c.registration_number == registration_number)
    for sid, regno in conn.execute(who):
        regnos.setdefault(int(sid), []).append(str(regno))
    sessions: dict[int, list[tuple[str, tuple[str, ...]]]] = {}
    for site_id, code, sid in held:
        sessions.setdefault(int(site_id), []).append((str(code), tuple(regnos.get(int(sid), ()))))
    out: list[ReceiptKey] = []
    for site_id, scope in sessions.items():
        code = conn.execute(select(SITE.c.code).where(SITE.c.id == site_id)).scalar()
        out += _keys_of_site(conn, site_id, str(code), tuple(scope))
    return out


def _keys_of_site(
    conn: Connection, site_id: int, code: str, scope: tuple[tuple[str, tuple[str, ...]], ...]
) -> list[ReceiptKey]:
    registered = keys_of(conn, site_id)
    made_at = {
        int(n): _at(text)
        for n, text in conn.execute(
            select(KEYS.c.from_n, KEYS.c.statement).where(KEYS.c.site_id == site_id)
        )
    }
    starts: list[str] = []
    for k in registered:
        at = made_at.get(k.from_n)
        if at is None:  # the first key: from the first line it signed that is held here
            line = conn.execute(
                select(LINES.c.line)
                .where(LINES.c.site_id == site_id, LINES.c.n >= k.from_n)
                .order_by(LINES.c.n)
                .limit(1)
            ).scalar()
            at = _at(line) if line is not None else None
        starts.append(utc_text(at) if at is not None else "")
    out = []
    for i, k in enumerate(registered):
        try:
            public = load_pem(k.public_pem)
        except CheckpointKeyError:
            continue  # never stored so (the sync and register-key check the PEM)
        out.append(
            ReceiptKey(
                public,
                valid_from=starts[i],
                valid_until=starts[i + 1] if i + 1 < len(starts) else "",
                site=code,
                from_checkpoint=k.from_n,
                until_checkpoint=k.until,
                sessions=scope,
            )
        )
    return out


def _at(text: str | None) -> float | None:
    """The ``at`` (epoch seconds) of a statement or a checkpoint line (JSON)."""
    try:
        at = json.loads(text or "")["at"]
    except (ValueError, KeyError, TypeError):
        return None
    return float(at) if isinstance(at, int | float) else None


def receipt_keys_on(
    engine: Engine, server_keys: Sequence[ReceiptKey | Any], exam_code: str | None = None
) -> list[ReceiptKey]:
    """:func:`receipt_keys_for` on a connection of its own (for a worker thread)."""
    with engine.connect() as conn:
        return receipt_keys_for(conn, server_keys, exam_code)
