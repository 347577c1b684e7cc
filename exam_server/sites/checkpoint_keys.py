"""A site's checkpoint key replaced: the site's signed statement, its
registration at the centre, and which key verifies which checkpoint line.

A site signs its checkpoint lines (``exam_server.checkpoints``) with its own
Ed25519 key; the centre takes the first one at the site's first sync. When
that key is lost (a dead disk) or may be in other hands, the site makes a
new key and a **statement** (:func:`replace_site_key`): JSON naming the
site, the new public key, the first checkpoint number it signs
(``from_n``) and the hash of the line before, signed by the new key (so the
statement proves its maker holds it). Its **fingerprint** (``XXXXX-XXXXX``)
is read to the centre over a separate channel (the telephone); an
administrator at the centre registers the statement with that fingerprint
(:func:`register`), an act in the centre's audit chain. From then on the
site's lines numbered below ``from_n`` verify with the key before, and the
lines from ``from_n`` on with the new key (:func:`key_for`); a line signed
by any other key is refused, saying which key signed it and what to do.

History the centre already holds cannot be re-signed: ``from_n`` must be
after the last line it holds. Registration is the one trust decision; the
sync token alone cannot make the centre accept a new key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Engine

from exam_server import audit
from exam_server import checkpoints as cps
from exam_server.db import writer
from exam_server.models import AuditHead, Site
from exam_server.receipts import human_code, key_id
from exam_server.sites.models import SiteCheckpointKey, SiteLink, SiteProblem

#: Signed before the statement's content: a statement signature passes as nothing else.
DOMAIN = b"seleksi/checkpoint-key/1\x00"
KIND = "seleksi-checkpoint-key"
#: The kind of the problem a line signed by a key not registered for its number makes.
UNREGISTERED = "unregistered_key"

KEYS = SiteCheckpointKey.__table__  # type: ignore[attr-defined]
LINK = SiteLink.__table__  # type: ignore[attr-defined]
SITE = Site.__table__  # type: ignore[attr-defined]
PROBLEM = SiteProblem.__table__  # type: ignore[attr-defined]
HEAD = AuditHead.__table__  # type: ignore[attr-defined]


class CheckpointKeyError(ValueError):
    """A statement or registration refused; the message says why."""


def _canon(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_pem(pem: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM text; raises :class:`CheckpointKeyError`."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise CheckpointKeyError("not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointKeyError("not an Ed25519 key")
    return key


def fingerprint(statement: str) -> str:
    """The statement's short form read over the telephone: ``XXXXX-XXXXX``
    (Crockford base32 of its SHA-256, 50 bits)."""
    return human_code(hashlib.sha256(statement.strip().encode()).digest(), chars=10, group=5)


def _norm(fp: str) -> str:
    s = "".join(fp.split()).upper().replace("-", "").translate(str.maketrans("OIL", "011"))
    return f"{s[:5]}-{s[5:]}"


# -- the site's side ---------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """A verified statement: the site, the new key, where it starts."""

    site: str
    key_id: str
    public_pem: str
    from_n: int
    after_hash: str  # the hash of checkpoint from_n - 1 ("" when from_n is 1)
    previous_key_id: str | None
    at: float
    reason: str
    text: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.text)


def make_statement(
    key: Ed25519PrivateKey,
    site: str,
    from_n: int,
    after_hash: str,
    previous_key_id: str | None,
    reason: str,
    now: float | None = None,
) -> str:
    """The statement (one line of JSON) that ``key`` signs checkpoints of
    ``site`` from number ``from_n`` on, signed by ``key`` itself."""
    body = {
        "v": 1,
        "kind": KIND,
        "site": site,
        "key_id": key_id(key.public_key()),
        "public_pem": _pem(key.public_key()),
        "from_n": from_n,
        "after_hash": after_hash,
        "previous_key_id": previous_key_id,
        "at": round(time.time() if now is None else now, 3),
        "reason": reason,
    }
    sig = base64.b64encode(key.sign(DOMAIN + _canon(body))).decode()
    return _canon({**body, "sig": sig}).decode()


def read_statement(text: str) -> Statement:
    """The statement in ``text`` if its own key signed it; raises :class:`CheckpointKeyError`."""
    try:
        d = json.loads(text)
        if not isinstance(d, dict) or d.get("kind") != KIND or d.get("v") != 1:
            raise ValueError("not a Seleksi checkpoint-key statement (version 1)")
        sig = base64.b64decode(str(d.pop("sig")), validate=True)
        pub = load_pem(str(d["public_pem"]))
        pub.verify(sig, DOMAIN + _canon(d))
        if key_id(pub) != d["key_id"]:
            raise ValueError("its key id is not its key's")
        return Statement(
            site=str(d["site"]),
            key_id=str(d["key_id"]),
            public_pem=str(d["public_pem"]),
            from_n=int(d["from_n"]),
            after_hash=str(d["after_hash"]),
            previous_key_id=None if d["previous_key_id"] is None else str(d["previous_key_id"]),
            at=float(d["at"]),
            reason=str(d["reason"]),
            text=text.strip(),
        )
    except InvalidSignature:
        raise CheckpointKeyError(
            "the statement's signature does not match: it was changed"
        ) from None
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, CheckpointKeyError):
            raise
        raise CheckpointKeyError(f"not a valid checkpoint-key statement ({exc})") from None


def _file_lines(path: Path) -> list[cps.Checkpoint]:
    """The checkpoint file's lines that parse, in order ([] when there is none)."""
    if not path.exists():
        return []
    out = []
    with path.open("rb") as f:
        for raw in f:
            try:
                out.append(cps.parse_line(raw.rstrip(b"\n")))
            except ValueError:
                continue
    return out


def replace_site_key(
    engine: Engine,
    site: str,
    key_path: Path,
    checkpoint_path: Path,
    reason: str,
    *,
    centre_head: tuple[int, str] | None = None,
    now: float | None = None,
) -> Statement:
    """The statement for the site's new checkpoint key (the server
    stopped; the caller writes the statement out). Audited in the site's
    chain (``site_checkpoint_key``).

    Usually the old key at ``key_path``, if any, is kept beside it as
    ``….replaced-<time>.pem``, a new one is made, and it signs from the line
    after the checkpoint file's last. When the server already made a new
    key itself (it makes one when it finds none) and signed lines with it,
    that key is the new one, from its first line. When the file is lost
    (empty or missing), the new key signs from the line after
    ``centre_head`` (the centre's last checkpoint: number, hash), and an
    anchor line it signs is written so that the server's next lines
    continue that numbering."""
    t = time.time() if now is None else now
    lines = _file_lines(checkpoint_path)
    if not lines and centre_head is None:
        raise CheckpointKeyError(
            "the checkpoint file is missing or empty: give the centre's address and the"
            " token so the new key continues from the centre's last checkpoint"
        )
    current = cps.load_or_create_key(key_path) if key_path.exists() else None
    cur_id = key_id(current.public_key()) if current is not None else None
    before = [i for i, cp in enumerate(lines) if cp.key_id != cur_id]
    if current is not None and lines and lines[-1].key_id == cur_id and before:
        # The server made this key when it found none: it is the new one.
        i = before[-1]
        key, from_n, after, previous = current, lines[i + 1].n, lines[i].hash, lines[i].key_id
    else:
        if key_path.exists():
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(t))
            old = key_path.with_name(f"{key_path.stem}.replaced-{stamp}.pem")
            pub_path = cps.public_key_path(key_path)
            key_path.rename(old)
            if pub_path.exists():
                pub_path.rename(cps.public_key_path(old))
        key = cps.load_or_create_key(key_path)
        if lines:
            from_n, after, previous = lines[-1].n + 1, lines[-1].hash, lines[-1].key_id
        else:
            assert centre_head is not None
            from_n, after, previous = centre_head[0] + 1, centre_head[1], None
            if from_n > 1:
                _write_anchor(engine, checkpoint_path, key, from_n, after, t)
    text = make_statement(key, site, from_n, after, previous, reason, t)
    st = read_statement(text)
    with writer(engine).begin() as conn:
        audit.append(
            conn,
            "site_checkpoint_key",
            "site",
            reason=reason,
            data={
                "key_id": st.key_id,
                "previous_key_id": previous,
                "from_n": from_n,
                "fingerprint": st.fingerprint,
            },
            at=t,
        )
    return st


def _write_anchor(
    engine: Engine, path: Path, key: Ed25519PrivateKey, n: int, prev: str, now: float
) -> None:
    """The first line of a new checkpoint file that continues the centre's
    chain: number ``n``, linked to ``prev``, the audit head now and no
    answers (the server's next line records every attempt's head)."""
    with engine.connect() as conn:
        head = conn.execute(select(HEAD.c.last_id, HEAD.c.last_hash).where(HEAD.c.id == 1)).first()
    line = cps.sign_line(
        key,
        {
            "v": cps.VERSION,
            "n": n,
            "at": round(now, 3),
            "reason": "key_replaced",
            "session_id": None,
            "audit": {"id": int(head[0]) if head else 0, "hash": str(head[1]) if head else ""},
            "responses_upto": 0,
            "attempts": [],
            "prev": prev,
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as f:
        f.write(line + b"\n")


# -- the centre's side -------------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    """A key and the checkpoint numbers it signs: ``from_n`` up to before ``until``."""

    key_id: str
    public_pem: str
    from_n: int
    until: int | None


def keys_of(conn: Connection, site_id: int) -> list[Registered]:
    """The site's checkpoint keys in order: the first (taken at its first
    sync) from 1, then each registered replacement from its ``from_n``."""
    first = conn.execute(select(LINK.c.checkpoint_key).where(LINK.c.site_id == site_id)).scalar()
    rows: list[tuple[int, str]] = [(1, str(first))] if first else []
    rows += [
        (int(r.from_n), str(r.public_pem))
        for r in conn.execute(
            select(KEYS.c.from_n, KEYS.c.public_pem)
            .where(KEYS.c.site_id == site_id)
            .order_by(KEYS.c.from_n)
        )
    ]
    # A replacement from line 1 (before any line arrived) supersedes the first.
    rows = [r for i, r in enumerate(rows) if i + 1 == len(rows) or rows[i + 1][0] > r[0]]
    out = []
    for i, (from_n, pem) in enumerate(rows):
        try:
            kid = key_id(load_pem(pem))
        except CheckpointKeyError:
            kid = "?"
        until = rows[i + 1][0] if i + 1 < len(rows) else None
        out.append(Registered(kid, pem, from_n, until))
    return out


def key_for(keys: list[Registered], n: int) -> Registered | None:
    """The key that signs checkpoint ``n`` (None: none registered for it)."""
    for k in keys:
        if k.from_n <= n and (k.until is None or n < k.until):
            return k
    return None


def unregistered_message(site: str, n: int, signed_by: str, expected: Registered | None) -> str:
    """What the centre says of a line signed by a key not registered for its number."""
    want = f"key {expected.key_id}" if expected else "no key"
    return (
        f"checkpoint {n} is signed by key {signed_by}, which is not registered for site"
        f" {site} (checkpoint {n} verifies with {want}): not accepted. If the site's"
        " checkpoint key was replaced, the centre registers the new one (seleksi site"
        " register-key; docs/sites.md, 'A site's checkpoint key is replaced')"
    )


def register(
    engine: Engine,
    site_code: str,
    statement_text: str,
    fingerprint_read: str,
    by: str,
    reason: str,
    *,
    now: float | None = None,
) -> tuple[Statement, bool]:
    """Register the key of a site's statement at the centre, an
    administrator's act (``by``, ``reason``) audited as
    ``site_checkpoint_key``: the statement must verify, be for
    ``site_code``, have the fingerprint the site's operator read out
    (``fingerprint_read``), and start after the last checkpoint the centre
    holds of the site. Returns the statement and whether it was new
    (registering the same statement again changes nothing). The site's
    problems that named this key as unregistered are resolved."""
    st = read_statement(statement_text)
    if st.site != site_code:
        raise CheckpointKeyError(f"the statement is for site {st.site}, not {site_code}")
    if _norm(fingerprint_read) != st.fingerprint:
        raise CheckpointKeyError(
            f"the fingerprint {fingerprint_read} is not this statement's: ask the site's"
            " operator to read it again from the statement they made"
        )
    if not by.strip() or not reason.strip():
        raise CheckpointKeyError("say who registers the key and why")
    t = time.time() if now is None else now
    with writer(engine).begin() as conn:
        site = conn.execute(select(SITE.c.id).where(SITE.c.code == site_code)).scalar()
        link = (
            conn.execute(select(LINK).where(LINK.c.site_id == site)).mappings().first()
            if site is not None
            else None
        )
        if site is None or link is None:
            raise CheckpointKeyError(f"site {site_code} has no link at the centre")
        site_id = int(site)
        have = conn.execute(
            select(KEYS.c.statement).where(KEYS.c.site_id == site_id, KEYS.c.from_n == st.from_n)
        ).scalar()
        if have is not None and str(have).strip() == st.text:
            return st, False
        held = int(link["checkpoint_n"])
        if st.from_n <= held:
            raise CheckpointKeyError(
                f"the centre holds site {site_code}'s checkpoints up to {held}, signed with"
                f" the key before: a new key may only sign from checkpoint {held + 1} on, not"
                f" from {st.from_n}"
            )
        if st.from_n == held + 1 and held and st.after_hash != link["checkpoint_hash"]:
            raise CheckpointKeyError(
                f"the statement continues from another checkpoint {held} than the one the"
                " centre holds: the site's checkpoint file is not the one the centre has"
            )
        keys = keys_of(conn, site_id)
        if keys and st.from_n < keys[-1].from_n:
            raise CheckpointKeyError(
                f"a key is registered from checkpoint {keys[-1].from_n}: a replacement must"
                " start at or after it"
            )
        if any(k.key_id == st.key_id for k in keys):
            raise CheckpointKeyError(f"key {st.key_id} is already registered for site {site_code}")
        conn.execute(delete(KEYS).where(KEYS.c.site_id == site_id, KEYS.c.from_n == st.from_n))
        conn.execute(
            KEYS.insert().values(
                site_id=site_id,
                from_n=st.from_n,
                key_id=st.key_id,
                public_pem=st.public_pem,
                statement=st.text,
                registered_at=t,
                registered_by=by.strip(),
                reason=reason.strip(),
            )
        )
        resolved = conn.execute(
            delete(PROBLEM).where(
                PROBLEM.c.site_id == site_id,
                PROBLEM.c.kind == UNREGISTERED,
                PROBLEM.c.message.like(f"% signed by key {st.key_id},%"),
            )
        ).rowcount
        audit.append(
            conn,
            "site_checkpoint_key",
            f"admin:{by.strip()}",
            reason=reason.strip(),
            data={
                "site": site_code,
                "site_id": site_id,
                "key_id": st.key_id,
                "from_n": st.from_n,
                "previous_key_id": keys[-1].key_id if keys else None,
                "fingerprint": st.fingerprint,
                "problems_resolved": int(resolved or 0),
            },
            at=t,
        )
    return st, True
