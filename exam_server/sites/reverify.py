"""Everything the centre holds of a site verified again, from the first record."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine

from exam_server import checkpoints as cps
from exam_server.audit import event_hash, response_hash
from exam_server.sites import checkpoint_keys as ck
from exam_server.sites.copies import S_AUDIT, S_CHECKPOINT, S_RESPONSE
from exam_server.sites.rescoring import _json_object


def verify_copies(engine: Engine, site_id: int) -> list[str]:
    """Verify everything the centre holds of ``site_id`` again, from the
    first record: the audit chain, every answer chain, the checkpoint lines
    (signature under the key registered for each, order) and that each
    finished attempt's answers end at its finish event's head. One message
    per problem; ``[]`` when all verify."""
    out: list[str] = []
    with engine.connect() as conn:
        prev, last = "", 0
        heads: dict[int, str] = {}
        for row in conn.execute(
            select(S_AUDIT).where(S_AUDIT.c.site_id == site_id).order_by(S_AUDIT.c.id)
        ).mappings():
            if row["prev_hash"] != prev:
                out.append(f"audit event {row['id']}: does not link to event {last}")
            if event_hash(row["prev_hash"], dict(row)) != row["hash"]:
                out.append(f"audit event {row['id']}: hash does not match its content")
            if row["kind"] == "finish" and row["attempt_id"] is not None:
                head = _json_object(row["data_json"]).get("response_head")
                if isinstance(head, str):
                    heads[int(row["attempt_id"])] = head
            prev, last = row["hash"], row["id"]
        chains: dict[int, tuple[int, str]] = {}
        for r in conn.execute(
            select(S_RESPONSE)
            .where(S_RESPONSE.c.site_id == site_id)
            .order_by(S_RESPONSE.c.attempt_id, S_RESPONSE.c.seq)
        ).mappings():
            aid = int(r["attempt_id"])
            seq, h = chains.get(aid, (0, ""))
            if r["seq"] != seq + 1 or r["prev_hash"] != h:
                out.append(f"attempt {aid}: answer seq {r['seq']} does not follow seq {seq}")
            if response_hash(r["prev_hash"], dict(r)) != r["hash"]:
                out.append(f"attempt {aid}: answer seq {r['seq']}: hash does not match")
            chains[aid] = (int(r["seq"]), str(r["hash"]))
        for aid, head in heads.items():
            if chains.get(aid, (0, ""))[1] != head:
                out.append(f"attempt {aid}: its answers do not end at its finish event's head")
        keys = ck.keys_of(conn, site_id)
        lines = conn.execute(
            select(S_CHECKPOINT.c.n, S_CHECKPOINT.c.line)
            .where(S_CHECKPOINT.c.site_id == site_id)
            .order_by(S_CHECKPOINT.c.n)
        ).all()
        prev_line = ""
        for n, line in lines:
            raw = str(line).encode()
            cp = cps.parse_line(raw)
            key = ck.key_for(keys, int(n))
            if key is None or cp.key_id != key.key_id:
                out.append(f"checkpoint {n}: signed by key {cp.key_id}, not registered for it")
            elif not cps.signature_ok(raw, ck.load_pem(key.public_pem)):
                out.append(f"checkpoint {n}: signature does not match")
            if cp.prev != prev_line:
                out.append(f"checkpoint {n}: does not follow the one before")
            prev_line = cps.line_hash(raw)
    return out
