"""The centre's side of each site's link: its sync token, key release at
session start, and the per-site status the centre page shows."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from exam_server import audit
from exam_server.db import writer
from exam_server.models import ExamSession, Room, Site
from exam_server.sites import checkpoint_keys as ck
from exam_server.sites.models import SiteAttempt, SiteLink, SiteProblem, SiteSessionKey

LINK = SiteLink.__table__  # type: ignore[attr-defined]
SITE = Site.__table__  # type: ignore[attr-defined]
ROOM = Room.__table__  # type: ignore[attr-defined]
SESSION = ExamSession.__table__  # type: ignore[attr-defined]
SESSION_KEY = SiteSessionKey.__table__  # type: ignore[attr-defined]
S_ATTEMPT = SiteAttempt.__table__  # type: ignore[attr-defined]
PROBLEM = SiteProblem.__table__  # type: ignore[attr-defined]


class LinkError(Exception):
    """A site request the centre refuses: ``status`` is the HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _digest(secret: str) -> str:
    # The token is 256 random bits, not a password: a plain hash suffices,
    # and each sync batch checks it without scrypt's cost.
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(engine: Engine, site_code: str) -> str:
    """A new sync token for ``site_code`` (``CODE.secret``); the previous one
    stops working. Makes the site's link row on first use."""
    secret = secrets.token_urlsafe(32)
    with writer(engine).begin() as conn:
        site_id = conn.execute(select(SITE.c.id).where(SITE.c.code == site_code)).scalar()
        if site_id is None:
            raise LinkError(404, "no_site", f"no site {site_code} at the centre")
        if conn.execute(select(LINK.c.site_id).where(LINK.c.site_id == site_id)).first():
            conn.execute(
                LINK.update().where(LINK.c.site_id == site_id).values(token_hash=_digest(secret))
            )
        else:
            conn.execute(LINK.insert().values(site_id=site_id, token_hash=_digest(secret)))
        audit.append(conn, "site_token", "centre", data={"site": site_code})
    return f"{site_code}.{secret}"


def site_id_of(engine: Engine, site_code: str) -> int:
    """The centre's id of the site ``site_code``; raises :class:`LinkError` (404)."""
    with engine.connect() as conn:
        sid = conn.execute(select(SITE.c.id).where(SITE.c.code == site_code)).scalar()
    if sid is None:
        raise LinkError(404, "no_site", f"no site {site_code} at the centre")
    return int(sid)


def authenticate(engine: Engine, token: str) -> int:
    """The site id a sync token belongs to; raises :class:`LinkError` (401)."""
    code, _, secret = token.partition(".")
    with engine.connect() as conn:
        row = conn.execute(
            select(LINK.c.site_id, LINK.c.token_hash)
            .join(SITE, SITE.c.id == LINK.c.site_id)
            .where(SITE.c.code == code)
        ).first()
    if row is None or not secret or not hmac.compare_digest(row.token_hash, _digest(secret)):
        raise LinkError(401, "bad_site_token", "the site token is not valid for any site")
    return int(row.site_id)


def key_release_opens(starts_at: float, lead_seconds: float) -> float:
    """When the centre starts to give a session's key (epoch seconds):
    ``lead_seconds`` before the session's scheduled start."""
    return starts_at - lead_seconds


def release_key(
    engine: Engine, site_id: int, session_code: str, now: float, lead_seconds: float
) -> bytes:
    """The item key of ``session_code`` for the site holding it, from
    ``lead_seconds`` before the session's start on; recorded and audited."""
    with writer(engine).begin() as conn:
        row = conn.execute(
            select(SESSION.c.id, SESSION.c.starts_at, SESSION_KEY.c.key_b64, ROOM.c.site_id)
            .join(ROOM, ROOM.c.id == SESSION.c.room_id)
            .join(SESSION_KEY, SESSION_KEY.c.session_id == SESSION.c.id, isouter=True)
            .where(SESSION.c.code == session_code)
        ).first()
        if row is None or int(row.site_id) != site_id:
            raise LinkError(404, "no_session", f"session {session_code} is not held at this site")
        if row.key_b64 is None:
            raise LinkError(404, "no_key", f"session {session_code} was not packaged")
        if now < key_release_opens(float(row.starts_at), lead_seconds):
            raise LinkError(
                403,
                "too_early",
                f"session {session_code}'s key is released from {lead_seconds:.0f} s"
                " before its start",
            )
        conn.execute(
            SESSION_KEY.update()
            .where(SESSION_KEY.c.session_id == row.id, SESSION_KEY.c.released_at.is_(None))
            .values(released_at=now)
        )
        audit.append(
            conn,
            "site_key_release",
            f"site:{site_id}",
            session_id=int(row.id),
            data={"session": session_code},
            at=now,
        )
        return base64.b64decode(row.key_b64)


def overview(engine: Engine, now: float, online_seconds: float) -> list[dict[str, Any]]:
    """One entry per site with a link: whether it is online (in contact in
    the last ``online_seconds``), sync lag (seconds since the oldest record
    it still holds was written, or, offline, at least since its last sync;
    0 when all is here), pending records,
    sessions running, records received, results checked, problems, and its
    checkpoint keys (:func:`_keys`)."""
    with engine.connect() as conn:
        links = conn.execute(
            select(LINK, SITE.c.code, SITE.c.name)
            .join(SITE, SITE.c.id == LINK.c.site_id)
            .order_by(SITE.c.code)
        ).mappings()
        checks = {
            (int(s), str(c)): int(n)
            for s, c, n in conn.execute(
                select(S_ATTEMPT.c.site_id, S_ATTEMPT.c.centre_check, func.count()).group_by(
                    S_ATTEMPT.c.site_id, S_ATTEMPT.c.centre_check
                )
            )
        }
        problems: dict[int, list[dict[str, Any]]] = {}
        for p in conn.execute(select(PROBLEM).order_by(PROBLEM.c.id)).mappings():
            problems.setdefault(int(p["site_id"]), []).append(
                {"at": p["at"], "kind": p["kind"], "message": p["message"]}
            )
        out = []
        for link in links:
            sid = int(link["site_id"])
            contact = link["last_contact_at"]
            oldest = link["oldest_pending_at"]
            online = contact is not None and now - float(contact) <= online_seconds
            lag = 0.0 if oldest is None else max(0.0, now - float(oldest))
            if not online and link["last_sync_at"] is not None:
                # Whatever the site wrote since its last sync is not here:
                # it is at least that far behind.
                lag = max(lag, now - float(link["last_sync_at"]))
            out.append(
                {
                    "code": link["code"],
                    "name": link["name"],
                    "online": online,
                    "last_contact_at": contact,
                    "last_sync_at": link["last_sync_at"],
                    "lag_seconds": lag,
                    "pending": int(link["site_pending"]),
                    "sessions_running": int(link["sessions_running"]),
                    "received": int(link["received"]),
                    "duplicates": int(link["duplicates"]),
                    "audit_events": int(link["audit_last_id"]),
                    "results": {
                        k: checks.get((sid, k), 0) for k in ("equal", "differs", "pending")
                    },
                    "problems": problems.get(sid, []),
                    "keys": _keys(conn, sid),
                }
            )
    return out


def _keys(conn: Connection, site_id: int) -> list[dict[str, Any]]:
    """The site's checkpoint keys in order, as :func:`ck.keys_of` reads
    them (key id, checkpoint numbers ``from_n`` up to before ``until``, None
    for the key in use), each with its registration at the centre
    (``registered_at`` epoch seconds, ``registered_by``, ``reason``), all None
    for the first key, which the centre took at the site's first sync."""
    registered = {
        int(r.from_n): r
        for r in conn.execute(
            select(
                ck.KEYS.c.from_n,
                ck.KEYS.c.registered_at,
                ck.KEYS.c.registered_by,
                ck.KEYS.c.reason,
            ).where(ck.KEYS.c.site_id == site_id)
        )
    }
    out = []
    for k in ck.keys_of(conn, site_id):
        r = registered.get(k.from_n)
        out.append(
            {
                "key_id": k.key_id,
                "from_n": k.from_n,
                "until": k.until,
                "registered_at": float(r.registered_at) if r is not None else None,
                "registered_by": str(r.registered_by) if r is not None else None,
                "reason": str(r.reason) if r is not None else None,
            }
        )
    return out
