"""Everything the centre holds of its sites verified again, from the first
record: :func:`verify_copies` for one site (``seleksi site status
--verify``), :func:`verify_sites` for all of them (``seleksi audit verify``
at a centre, whose rankings count the sites' copies).

The copies are outside the centre's own chains: an insider at the centre
who edited a site-held candidate's answers or result there changed the
ranking, and only these checks see it. The anchors are what the centre
cannot make: the site's signed checkpoint lines, under keys the centre's
own chain says it took. Each line must still find the audit event and the
answers it recorded (a chain rebuilt after an edit links and hashes, but no
longer ends at the heads the site signed), a closed session must be covered
by a line, and every finished attempt is scored again from its answers by
the rule sync uses (:func:`exam_server.sites.rescoring.rescore`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection, Engine

from exam_server import checkpoints as cps
from exam_server.audit import ExamRules, event_hash, response_hash
from exam_server.audit.chain import AUDIT
from exam_server.models import ExamSession, Site
from exam_server.receipts import key_id
from exam_server.sites import checkpoint_keys as ck
from exam_server.sites.checkpoint_keys import KEYS, LINK
from exam_server.sites.copies import S_ATTEMPT, S_AUDIT, S_CHECKPOINT, S_RESPONSE
from exam_server.sites.heads import _checkpoint_heads
from exam_server.sites.rescoring import _json_object, finished_copies, rescore
from exam_server.sites.results import SESSION_KEY

SITE = Site.__table__  # type: ignore[attr-defined]
SESSION = ExamSession.__table__  # type: ignore[attr-defined]


@dataclass
class SitesReport:
    """What :func:`verify_sites` read and found: counts of the copies held
    (events, attempts, answers, checkpoint lines), finished attempts scored
    again, and problems (each naming its site)."""

    sites: int = 0
    events: int = 0
    attempts: int = 0
    responses: int = 0
    scores: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def verify_copies(engine: Engine, site_id: int) -> list[str]:
    """Verify the chains and checkpoint lines the centre holds of ``site_id``
    again (:func:`_chain_problems`). One message per problem; ``[]`` when
    all verify."""
    with engine.connect() as conn:
        return _chain_problems(conn, site_id, SitesReport())


def verify_sites(conn: Connection, *, scores: bool = True) -> SitesReport:
    """Every site whose records the centre holds, verified in ``conn`` (read
    in one snapshot by the caller): its checkpoint keys against the centre's
    own events of them (:func:`_key_problems`), the chains and checkpoint
    lines (:func:`_chain_problems`), its sessions (:func:`_session_problems`),
    each attempt record against the site's chain (:func:`_record_problems`),
    and (``scores``) each finished attempt scored again and compared with
    the result the rankings read (:func:`_score_problems`). Problems start
    with ``site CODE:``; a database without sites gives an empty report."""
    rep = SitesReport()
    if not inspect(conn).has_table(S_AUDIT.name):
        return rep  # a database made before sites existed (not migrated)
    held = conn.execute(
        select(SITE.c.id, SITE.c.code)
        .where(select(S_AUDIT.c.id).where(S_AUDIT.c.site_id == SITE.c.id).exists())
        .order_by(SITE.c.code)
    ).all()
    for site_id, code in held:
        rep.sites += 1
        found = _key_problems(conn, int(site_id), str(code), rep)
        found += _chain_problems(conn, int(site_id), rep)
        found += _session_problems(conn, int(site_id))
        found += _record_problems(conn, int(site_id), str(code), rep)
        if scores:
            found += _score_problems(conn, int(site_id), str(code), rep)
        rep.problems += [f"site {code}: {p}" for p in found]
    return rep


def _key_problems(conn: Connection, site_id: int, code: str, rep: SitesReport) -> list[str]:
    """The site's checkpoint keys as stored (its first, taken at its first
    sync, and each registered replacement) against the centre's own audit
    events of them (``site_checkpoint_key`` naming the site): the signed
    lines are the anchor of the site's copies only while their keys are the
    ones the centre's chain says it took."""
    events: list[dict[str, Any]] = []
    baseline: dict[str, Any] = {}
    for kind, data_json in conn.execute(
        select(AUDIT.c.kind, AUDIT.c.data_json)
        .where(AUDIT.c.kind.in_(["site_checkpoint_key", KEYS_BASELINE]))
        .order_by(AUDIT.c.id)
    ):
        data = _json_object(data_json)
        if kind == KEYS_BASELINE:
            sites = data.get("sites")
            baseline = sites if isinstance(sites, dict) else {}
        # By the site's id since 2026-12-07 (a renamed site keeps it; found
        # by a review), by its code in registrations written before.
        elif data.get("site_id", site_id if data.get("site") == code else None) == site_id:
            events.append(data)
    out: list[str] = []
    first = conn.execute(select(LINK.c.checkpoint_key).where(LINK.c.site_id == site_id)).scalar()
    if first:
        stored = _key_id(str(first))
        said = [e for e in events if e.get("first")]
        if not said and baseline.get(str(site_id)) == stored:
            rep.notes.append(
                f"site {code}: its first checkpoint key ({stored}) was taken before the centre"
                " recorded first keys in its audit chain (the upgrade listed it): compare it"
                " with the site's own (`seleksi site status` there)"
            )
        elif not said:
            out.append(
                f"its first checkpoint key {stored} has no audit event of the centre taking it,"
                " and the upgrade that began recording them did not list it"
            )
        elif said[-1].get("key_id") != stored:
            out.append(
                f"its first checkpoint key is {stored} stored, {said[-1].get('key_id')} by the"
                " centre's audit event of its first sync"
            )
    registered = {
        int(e["from_n"]): str(e.get("key_id"))
        for e in events
        if not e.get("first") and isinstance(e.get("from_n"), int)
    }
    held = {
        int(n): _key_id(str(pem))
        for n, pem in conn.execute(
            select(KEYS.c.from_n, KEYS.c.public_pem).where(KEYS.c.site_id == site_id)
        )
    }
    for n in sorted(held.keys() | registered.keys()):
        if n not in registered:
            out.append(
                f"checkpoint key {held[n]} from line {n} is stored, but the centre's audit"
                " chain records no registration of it"
            )
        elif n not in held:
            out.append(
                f"checkpoint key {registered[n]} registered from line {n} is no longer stored"
            )
        elif held[n] != registered[n]:
            out.append(
                f"checkpoint key from line {n} is {held[n]} stored, {registered[n]} registered"
            )
    return out


#: The audit event that lists the sites' first checkpoint keys the centre had
#: taken before it recorded each in its chain (:func:`record_keys_baseline`).
KEYS_BASELINE = "site_keys_baseline"


def record_keys_baseline(conn: Connection) -> bool:
    """Write the ``site_keys_baseline`` event once, when the chain has none:
    every site whose first checkpoint key is stored, with that key's id
    (site id → key id). Run by the upgrade that began recording first keys
    (revision ``0025_site_key_baseline``), so a key taken before then is a
    note, and any other without its event a problem. True when written."""
    from exam_server import audit

    had = conn.execute(select(AUDIT.c.id).where(AUDIT.c.kind == KEYS_BASELINE).limit(1)).first()
    if had is not None or not inspect(conn).has_table(LINK.name):
        return False
    sites = {
        str(int(sid)): _key_id(str(pem))
        for sid, pem in conn.execute(
            select(LINK.c.site_id, LINK.c.checkpoint_key).where(LINK.c.checkpoint_key.is_not(None))
        )
        if pem
    }
    audit.append(conn, KEYS_BASELINE, "upgrade", data={"sites": dict(sorted(sites.items()))})
    return True


def _key_id(pem: str) -> str:
    try:
        return key_id(ck.load_pem(pem))
    except ck.CheckpointKeyError:
        return "?"


def _chain_problems(conn: Connection, site_id: int, rep: SitesReport) -> list[str]:
    """The site's audit chain and every answer chain recomputed, each finished
    attempt's answers ending at its finish event's head, the checkpoint lines
    (signature under the key registered for each, order) and the heads each
    line recorded still held here. Counts go to ``rep``."""
    out: list[str] = []
    prev, last = "", 0
    heads: dict[int, str] = {}
    ended: dict[int, int] = {}  # attempt → the id of its finish or void event
    for row in conn.execute(
        select(S_AUDIT).where(S_AUDIT.c.site_id == site_id).order_by(S_AUDIT.c.id)
    ).mappings():
        rep.events += 1
        if row["prev_hash"] != prev:
            out.append(f"audit event {row['id']}: does not link to event {last}")
        if event_hash(row["prev_hash"], dict(row)) != row["hash"]:
            out.append(f"audit event {row['id']}: hash does not match its content")
        if row["kind"] in ("finish", "void") and row["attempt_id"] is not None:
            ended[int(row["attempt_id"])] = int(row["id"])
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
        rep.responses += 1
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
    signed: dict[int, int] = {}  # attempt → the last seq a line recorded of it
    covered = 0  # the audit event the last line recorded
    for n, line in lines:
        rep.checkpoints += 1
        raw = str(line).encode()
        try:
            cp = cps.parse_line(raw)
        except ValueError as exc:
            out.append(f"checkpoint {n}: unreadable ({exc})")
            prev_line = cps.line_hash(raw)
            continue
        signed.update((aid, seq) for aid, seq, _ in cp.attempts)
        covered = max(covered, cp.audit_id)
        key = ck.key_for(keys, int(n))
        if key is None or cp.key_id != key.key_id:
            out.append(f"checkpoint {n}: signed by key {cp.key_id}, not registered for it")
        elif not cps.signature_ok(raw, ck.load_pem(key.public_pem)):
            out.append(f"checkpoint {n}: signature does not match")
        if cp.prev != prev_line:
            out.append(f"checkpoint {n}: does not follow the one before")
        prev_line = cps.line_hash(raw)
        # A site sends a line only after the records it names, so a head
        # missing here now was removed (or refused), not late.
        out += [m for _, m in _checkpoint_heads(conn, site_id, cp, arrived=True)]
    # Each line records the head of every attempt answered since the line
    # before, so once a line covers an attempt's end its answers end at the
    # last head the lines recorded of it: answers appended later (to a voided
    # test, say, with its record and head made to match) are named.
    for aid, end in ended.items():
        held, want = chains.get(aid, (0, ""))[0], signed.get(aid, 0)
        if end <= covered and held > want:
            out.append(
                f"attempt {aid}: answers up to seq {held} held, but the site's signed lines"
                f" end it at seq {want}"
            )
    return out


def _session_problems(conn: Connection, site_id: int) -> list[str]:
    """Each session in which the site's chain started tests, held as the
    site's (its package record here: without it the results read the
    session as the centre's, every candidate absent) and, once closed, covered by a signed line: the
    site writes one after the close, so the lines anchor every event up to
    it, the finish events with their answers' heads among them. Without
    that, deleting the lines left a rebuilt chain nothing to be held to
    (found by a review)."""
    out: list[str] = []
    named = {
        int(sid)
        for (sid,) in conn.execute(
            select(S_AUDIT.c.session_id)
            .where(S_AUDIT.c.site_id == site_id, S_AUDIT.c.kind == "start")
            .distinct()
        )
        if sid is not None
    }
    keyed = {
        int(sid)
        for (sid,) in conn.execute(
            select(SESSION_KEY.c.session_id).where(SESSION_KEY.c.site_id == site_id)
        )
    }
    codes: dict[int, str] = {
        int(i): str(c)
        for i, c in conn.execute(
            select(SESSION.c.id, SESSION.c.code).where(SESSION.c.id.in_(sorted(named)))
        )
    }
    for sid in sorted(named - keyed):
        out.append(
            f"session {codes.get(sid, sid)}: tests started in the site's chain, but the centre"
            " holds no package of it for this site (site_session_key)"
        )
    last = conn.execute(
        select(S_CHECKPOINT.c.line)
        .where(S_CHECKPOINT.c.site_id == site_id)
        .order_by(S_CHECKPOINT.c.n.desc())
        .limit(1)
    ).scalar()
    try:
        covered = cps.parse_line(str(last).encode()).audit_id if last is not None else 0
    except ValueError:
        covered = 0  # _chain_problems names the unreadable line
    for sid, close_id in conn.execute(
        select(S_AUDIT.c.session_id, S_AUDIT.c.id).where(
            S_AUDIT.c.site_id == site_id, S_AUDIT.c.kind == "close_session"
        )
    ):
        if int(close_id) > covered:
            out.append(
                f"session {codes.get(int(sid), sid)}: no signed checkpoint line covers its close"
                f" (event {close_id}; the last line held records event {covered}): lines"
                " removed, or not arrived yet"
            )
    return out


def _record_problems(conn: Connection, site_id: int, code: str, rep: SitesReport) -> list[str]:
    """Each attempt record against the site's chain, session by session (the
    check the rankings make before they count a session:
    :func:`exam_server.sites.results._attempt_problems`)."""
    from exam_server.sites.results import _attempt_problems

    by_session: dict[int, list[Any]] = {}
    for a in conn.execute(
        select(S_ATTEMPT).where(S_ATTEMPT.c.site_id == site_id).order_by(S_ATTEMPT.c.attempt_id)
    ).mappings():
        rep.attempts += 1
        by_session.setdefault(int(a["session_id"]), []).append(a)
    # A session whose every record was removed is still in the site's chain.
    for (sid,) in conn.execute(
        select(S_AUDIT.c.session_id)
        .where(S_AUDIT.c.site_id == site_id, S_AUDIT.c.kind == "start")
        .distinct()
    ):
        if sid is not None:
            by_session.setdefault(int(sid), [])
    names: dict[int, str] = {
        int(i): str(c)
        for i, c in conn.execute(
            select(SESSION.c.id, SESSION.c.code).where(SESSION.c.id.in_(sorted(by_session)))
        )
    }
    out: list[str] = []
    for session_id, rows in by_session.items():
        session_code = str(names.get(session_id, session_id))
        prefix = f"site {code}, "
        out += [
            p.removeprefix(prefix)
            for p in _attempt_problems(conn, site_id, code, session_id, session_code, rows)
        ]
    return out


def _score_problems(conn: Connection, site_id: int, code: str, rep: SitesReport) -> list[str]:
    """Every finished attempt whose records have all arrived scored again
    (:func:`exam_server.sites.rescoring.rescore`), and the centre's recorded
    check of it (``centre_check``, ``centre_total``) against that."""
    complete, incomplete = finished_copies(conn, site_id, None, pending_only=False)
    rules: dict[int, ExamRules] = {}
    out: list[str] = []
    for a, head, start, finish in complete:
        rep.scores += 1
        aid = int(a["attempt_id"])
        got = rescore(conn, site_id, a, head, start, finish, rules)
        out += list(got.problems)
        check = "differs" if got.problems else "equal"
        if a["centre_check"] != check:
            out.append(
                f"attempt {aid}: the centre's check is {a['centre_check']!r} stored,"
                f" {check!r} scored again"
            )
        elif got.total is not None and a["centre_total"] != got.total:
            out.append(
                f"attempt {aid}: the centre's total is {a['centre_total']} stored,"
                f" {got.total} scored again"
            )
    if incomplete:
        rep.notes.append(
            f"site {code}: {len(incomplete)} finished attempt(s) not all synced yet"
            " (scored when the rest arrives)"
        )
    return out
