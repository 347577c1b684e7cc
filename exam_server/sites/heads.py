"""The heads a site asserts checked against the records synced: its signed
checkpoint lines (signature under the site's checkpoint key registered for
each line's number, order, the heads each recorded) and the chain heads it
reports with a batch.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.engine import Connection

from exam_server import audit
from exam_server import checkpoints as cps
from exam_server.models import Site
from exam_server.receipts import key_id
from exam_server.sites import checkpoint_keys as ck
from exam_server.sites.copies import (
    LINK,
    S_AUDIT,
    S_CHECKPOINT,
    S_RESPONSE,
    _GapSignal,
    _Outcome,
    positions_of,
)
from exam_server.sites.wire import Batch, ChainHead

SITE = Site.__table__  # type: ignore[attr-defined]
# A stored line's record came before it, unless the centre refused it (a
# rewritten chain): missing now, it was removed or never accepted.
_NOT_HELD = "is not held here (removed, or refused when it arrived)"


def _checkpoints(
    conn: Connection, site_id: int, link: Any, batch: Batch, out: _Outcome
) -> ChainHead:
    """Store the batch's checkpoint lines that follow the last one here, each
    verified with the key registered for its number
    (:func:`exam_server.sites.checkpoint_keys.key_for`): the site's first key
    (taken from the batch at the first sync) or a replacement registered at
    the centre. A line signed by any other key is refused, and nothing after it."""
    head = ChainHead(position=int(link["checkpoint_n"]), hash=str(link["checkpoint_hash"]))
    if not link["checkpoint_key"] and batch.checkpoint_key:
        # Trust on first use: the key the site's first batch names.
        try:
            first = ck.load_pem(batch.checkpoint_key)
        except ck.CheckpointKeyError as exc:
            out.conflict("no_key", f"the site's checkpoint key: {exc}")
            return head
        conn.execute(
            LINK.update()
            .where(LINK.c.site_id == site_id)
            .values(checkpoint_key=batch.checkpoint_key)
        )
        # In the centre's own chain, as a registration is: the key then
        # anchors the site's lines, and `audit verify` holds the stored key
        # to this event (an insider's key swapped in would re-sign them all).
        code = conn.execute(select(SITE.c.code).where(SITE.c.id == site_id)).scalar()
        audit.append(
            conn,
            "site_checkpoint_key",
            f"site:{code}",
            reason="first sync",
            data={
                "site": code,
                "site_id": site_id,
                "key_id": key_id(first),
                "from_n": 1,
                "first": True,
            },
        )
    if not batch.checkpoints:
        return head
    keys = ck.keys_of(conn, site_id)
    if not keys:
        out.conflict("no_key", "the site sent checkpoint lines without its checkpoint key")
        return head
    site = conn.execute(select(SITE.c.code).where(SITE.c.id == site_id)).scalar()
    for text in batch.checkpoints:
        raw = text.encode()
        try:
            cp = cps.parse_line(raw)
        except ValueError as exc:
            out.conflict("altered", f"a checkpoint line: {exc}")
            break
        if cp.n <= head.position:
            stored = conn.execute(
                select(S_CHECKPOINT.c.line).where(
                    S_CHECKPOINT.c.site_id == site_id, S_CHECKPOINT.c.n == cp.n
                )
            ).scalar()
            if stored == text:
                out.duplicates += 1
            else:
                out.conflict("rewritten", f"checkpoint {cp.n} sent again with other content")
            continue
        if cp.n > head.position + 1:
            raise _GapSignal(f"checkpoint {cp.n} arrived after checkpoint {head.position}")
        registered = ck.key_for(keys, cp.n)
        if registered is None or cp.key_id != registered.key_id:
            out.conflict(
                ck.UNREGISTERED, ck.unregistered_message(str(site), cp.n, cp.key_id, registered)
            )
            break
        if not cps.signature_ok(raw, ck.load_pem(registered.public_pem)):
            out.conflict("altered", f"checkpoint {cp.n}: its signature does not match")
            break
        if cp.prev != head.hash:
            out.conflict(
                "rewritten", f"checkpoint {cp.n} does not follow checkpoint {head.position}"
            )
            break
        out.problems.extend(_checkpoint_heads(conn, site_id, cp))
        conn.execute(S_CHECKPOINT.insert().values(site_id=site_id, n=cp.n, line=text))
        out.stored += 1
        head = ChainHead(position=cp.n, hash=cps.line_hash(raw))
    return head


def _checkpoint_heads(
    conn: Connection, site_id: int, cp: cps.Checkpoint, *, arrived: bool = False
) -> list[tuple[str, str]]:
    """The heads a signed checkpoint recorded against the records synced.
    arrived: False as a line arrives (a head whose record is not here yet is
    checked when it arrives: the site sends lines only after the records);
    True for a line already stored, whose records came before it (a head
    missing now was removed, or refused as the site rewrote it)."""
    found: list[tuple[str, str]] = []
    if cp.audit_id:
        h = conn.execute(
            select(S_AUDIT.c.hash).where(S_AUDIT.c.site_id == site_id, S_AUDIT.c.id == cp.audit_id)
        ).scalar()
        if h is None and arrived:
            found.append(("removed", f"audit event {cp.audit_id} of {cp.where()} {_NOT_HELD}"))
        elif h is not None and h != cp.audit_hash:
            found.append(
                ("rewritten", f"audit event {cp.audit_id} differs from {cp.where()} (rewritten)")
            )
    if cp.attempts:
        stored = dict(
            ((int(a), int(s)), str(h))
            for a, s, h in conn.execute(
                select(S_RESPONSE.c.attempt_id, S_RESPONSE.c.seq, S_RESPONSE.c.hash).where(
                    S_RESPONSE.c.site_id == site_id,
                    tuple_(S_RESPONSE.c.attempt_id, S_RESPONSE.c.seq).in_(
                        [(a, s) for a, s, _ in cp.attempts]
                    ),
                )
            )
        )
        for aid, seq, h in cp.attempts:
            if arrived and (aid, seq) not in stored:
                found.append(
                    ("removed", f"attempt {aid}: answer seq {seq} of {cp.where()} {_NOT_HELD}")
                )
            elif stored.get((aid, seq), h) != h:
                found.append(
                    ("rewritten", f"attempt {aid}: answer seq {seq} differs from {cp.where()}")
                )
    return found


def _compare_heads(
    conn: Connection,
    site_id: int,
    batch: Batch,
    touched: dict[int, ChainHead],
    out: _Outcome,
) -> None:
    """The site's heads now against the records synced: a head at a position
    the centre holds with another hash, or behind it, means the site changed
    or removed what it had sent."""
    ah = batch.audit_head
    if ah.position:
        h = conn.execute(
            select(S_AUDIT.c.hash).where(S_AUDIT.c.site_id == site_id, S_AUDIT.c.id == ah.position)
        ).scalar()
        if h is not None and h != ah.hash:
            out.conflict(
                "rewritten",
                f"the site's audit head (event {ah.position}) differs from the event synced:"
                " its audit chain was rewritten after sync",
            )
    if not batch.attempt_heads:
        return
    here = positions_of(conn, site_id, list(batch.attempt_heads))
    here.update(touched)
    # Only the heads here are compared (a small read): a site head at the
    # position held must carry its hash, and none may be behind it. A record
    # rewritten further back shows when the next one does not link to it.
    for aid, head in batch.attempt_heads.items():
        mine = here.get(aid)
        if mine is None or head.position > mine.position:
            continue  # not all here yet
        if head.position < mine.position:
            out.conflict(
                "removed",
                f"attempt {aid}: the site's chain ends at seq {head.position}, seq"
                f" {mine.position} was synced (answers removed at the site)",
            )
        elif head.hash != mine.hash:
            out.conflict(
                "rewritten",
                f"attempt {aid}: the site's answer seq {head.position} differs from the one"
                " synced (rewritten at the site after sync)",
            )
