"""Installing a verified site package into the site's database.

The rows keep the centre's ids, so what the site later sends (attempts of
session N, candidate M) means the same at the centre. Installing is
idempotent and additive: a package installed again changes nothing, a newer
package for the same site adds the rows it brings that are not there yet
(a session added at the centre). Sessions arrive ``scheduled``; each exam's
item content and its bank (the scoring keys) stay sealed until one of its
sessions' keys is released (``exam_server.sites.keys.release``): until then
``items_json`` is an empty list and ``bank_json`` the placeholder
:func:`~exam_server.sites.package.sealed_bank_json`, which every reader of
the bank refuses by name (``exam_server.snapshot.SealedBankError``).
"""

from __future__ import annotations

import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Engine

from exam_server import audit
from exam_server.db import create_schema, writer
from exam_server.sites.models import InstalledPackage, SealedItems
from exam_server.sites.package import (
    CANDIDATE,
    EXAM,
    FORMATION,
    ROOM,
    SESSION,
    SITE,
    Package,
    PackageError,
    sealed_bank_json,
    verify,
)

PACKAGE = InstalledPackage.__table__  # type: ignore[attr-defined]
SEALED = SealedItems.__table__  # type: ignore[attr-defined]
#: Tables in the order their foreign keys need, with the package's key for each.
_TABLES = (
    ("rooms", ROOM),
    ("exams", EXAM),
    ("formations", FORMATION),
    ("sessions", SESSION),
    ("candidates", CANDIDATE),
)


def _add_missing(
    conn: Connection, table: Any, rows: list[dict[str, Any]], extra: dict[str, Any]
) -> int:
    if not rows:
        return 0
    have = set(
        conn.execute(select(table.c.id).where(table.c.id.in_([r["id"] for r in rows]))).scalars()
    )
    new = [{**r, **extra} for r in rows if r["id"] not in have]
    if new:
        conn.execute(table.insert(), new)
    return len(new)


def install(engine: Engine, data: bytes, public_key: Ed25519PublicKey) -> tuple[Package, int]:
    """Verify ``data`` with the centre's ``public_key`` and install it; returns
    the package and how many rows were added. Raises :class:`PackageError`
    (nothing stored) for a package that is not signed by that key, changed
    since, or made for another site than the one installed here."""
    pkg = verify(data, public_key)
    create_schema(engine)
    c = pkg.content
    with writer(engine).begin() as conn:
        if conn.execute(
            select(PACKAGE.c.package_id).where(PACKAGE.c.package_id == pkg.package_id)
        ).first():
            return pkg, 0
        other = conn.execute(
            select(PACKAGE.c.site_code).where(PACKAGE.c.site_code != pkg.site_code)
        ).first()
        if other is not None:
            raise PackageError(
                f"this server is site {other.site_code}; the package is for site {pkg.site_code}"
            )
        site = c["site"]
        here = conn.execute(select(SITE.c.code).where(SITE.c.id == site["id"])).first()
        if here is not None and here.code != site["code"]:
            raise PackageError(
                f"site id {site['id']} is {here.code} here, {site['code']} in the package"
            )
        added = _add_missing(conn, SITE, [site], {})
        for name, table in _TABLES:
            rows = c[name]
            extra: dict[str, Any] = {}
            if name == "exams":
                # Sealed until a session's key is released: no text, no key.
                extra = {"items_json": "[]"}
                rows = [{**r, "bank_json": sealed_bank_json(str(r["code"]))} for r in rows]
            elif name == "sessions":
                extra = {"status": "scheduled"}
            added += _add_missing(conn, table, rows, extra)
        sealed_have = set(conn.execute(select(SEALED.c.session_id)).scalars())
        for s in c["sessions"]:
            if s["id"] in sealed_have:
                continue
            box = pkg.sealed(s["code"])
            conn.execute(
                SEALED.insert().values(
                    session_id=s["id"],
                    exam_id=s["exam_id"],
                    package_id=pkg.package_id,
                    nonce=box["nonce"],
                    ciphertext=box["ciphertext"],
                )
            )
        conn.execute(
            PACKAGE.insert().values(
                package_id=pkg.package_id,
                site_code=pkg.site_code,
                centre_key_id=pkg.key_id,
                built_at=float(c["built_at"]),
                installed_at=time.time(),
            )
        )
        if conn.dialect.name == "postgresql":
            # Rows came with the centre's ids: move the sequences past them.
            for table in (SITE, *(t for _, t in _TABLES)):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
                        f" GREATEST((SELECT MAX(id) FROM {table.name}), 1))"
                    )
                )
        audit.append(
            conn,
            "site_install",
            "site",
            data={
                "package_id": pkg.package_id,
                "site": pkg.site_code,
                "sessions": [s["code"] for s in c["sessions"]],
                "added": added,
            },
        )
    return pkg, added


def installed_site(engine: Engine) -> str | None:
    """The code of the site whose package is installed here (None: none)."""
    with engine.connect() as conn:
        row = conn.execute(select(PACKAGE.c.site_code).limit(1)).first()
    return None if row is None else str(row.site_code)
