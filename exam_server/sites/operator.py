"""What a site's operator reads and does, in one place for ``seleksi site``
and the site page (``/site.html``): the installed packages, each session's
item key (released or sealed, and from when the centre gives it), the sync,
and releasing a key from the centre or from the sealed sheet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from exam_server import checkpoints as cps
from exam_server.sites import keys
from exam_server.sites.client import CentreClient, sync_state
from exam_server.sites.install import PACKAGE
from exam_server.sites.keys import SEALED, SESSION
from exam_server.sites.link import key_release_opens
from exam_server.sites.outbox import Checkpoints


def report(
    engine: Engine,
    *,
    lead_seconds: float,
    centre_url: str | None,
    checkpoints: Checkpoints | None = None,
) -> dict[str, Any]:
    """The site as its operator sees it.

    ``site``: the installed site's code (None: no package here);
    ``packages``: each installed package (``package_id``, ``centre_key_id``
    whose signature was verified before it was installed, ``built_at``,
    ``installed_at``, its ``sessions``); ``sessions``: each packaged
    session (``code``, ``status``, ``starts_at``, ``key_released``,
    ``released_how``, ``released_at``, ``key_from``: when the centre gives
    its key, :func:`~exam_server.sites.link.key_release_opens` with
    ``lead_seconds``); ``sync``: :func:`~exam_server.sites.client.sync_state`
    and ``centre_url``; ``checkpoint_key_id``: the key the site's last
    checkpoint line is signed with. Times are epoch seconds."""
    with engine.connect() as conn:
        packages = [
            dict(r) for r in conn.execute(select(PACKAGE).order_by(PACKAGE.c.built_at)).mappings()
        ]
        rows = conn.execute(
            select(
                SESSION.c.code,
                SESSION.c.status,
                SESSION.c.starts_at,
                SEALED.c.package_id,
                SEALED.c.released_at,
                SEALED.c.released_how,
            )
            .join(SEALED, SEALED.c.session_id == SESSION.c.id)
            .order_by(SESSION.c.starts_at, SESSION.c.code)
        ).mappings()
        sessions = [
            {
                "code": r["code"],
                "status": r["status"],
                "starts_at": r["starts_at"],
                "key_released": r["released_at"] is not None,
                "released_how": r["released_how"],
                "released_at": r["released_at"],
                "key_from": key_release_opens(float(r["starts_at"]), lead_seconds),
                "package_id": r["package_id"],
            }
            for r in rows
        ]
    for p in packages:
        p["sessions"] = [s["code"] for s in sessions if s["package_id"] == p["package_id"]]
    last = cps.latest(checkpoints.path) if checkpoints is not None else None
    return {
        "site": packages[0]["site_code"] if packages else None,
        "packages": packages,
        "sessions": sessions,
        "sync": {**sync_state(engine), "centre_url": centre_url},
        "checkpoint_key_id": last.key_id if last is not None else None,
    }


def release_session_key(
    engine: Engine,
    session_code: str,
    sealed: str | None,
    centre: Callable[[], CentreClient] | None,
) -> tuple[int, str]:
    """Open ``session_code``'s items: with the ``sealed`` key typed from the
    sheet (checked by :func:`keys.unseal` before anything is decrypted), or
    else with the key the centre gives (``centre`` makes the client).
    Returns (items opened, ``"sealed"`` or ``"centre"``). Raises
    :class:`keys.SealedKeyError` (a mistyped key),
    :class:`~exam_server.sites.client.CentreUnreachable`,
    :class:`~exam_server.sites.package.PackageError` (a key that does not
    open the session) or ``ValueError`` (no centre to ask)."""
    if sealed:
        key, how = keys.unseal(session_code, sealed), "sealed"
    else:
        if centre is None:
            raise ValueError("no centre configured: type the sealed key")
        client = centre()
        try:
            key, how = client.fetch_key(session_code), "centre"
        finally:
            client.close()
    return keys.release(engine, session_code, key, how), how
