"""Everything checked at once (:func:`verify`): every chain, every finished
attempt's score and verdict, the stored records against what the chain says
of them (:mod:`exam_server.audit.records`: attempts' ends, exam documents,
SKB scores and sheets; :mod:`exam_server.audit.recruitment_records`: the
status of registrations and needs), at a centre the copies of its sites'
records (:func:`exam_server.sites.reverify.verify_sites`), and, with a
checkpoint file, that no chain lost its tail."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from exam_server import state_codec
from exam_server.audit.appeal_records import check_appeals
from exam_server.audit.chain import (
    ATTEMPT,
    AUDIT,
    CANDIDATE,
    EXAM,
    HEAD,
    RESPONSE,
    SESSION,
    SNAPSHOT,
    WITHDRAWN,
    event_hash,
    form_digest,
    response_hash,
)
from exam_server.audit.formation_records import check_formations
from exam_server.audit.grant_records import check_grants
from exam_server.audit.records import (
    ChainFacts,
    check_attempt_candidate,
    check_attempt_end,
    check_attempt_taken,
    check_exam_documents,
    check_missing_attempts,
    check_skb,
)
from exam_server.audit.recruitment_decisions import check_recruitment_decisions
from exam_server.audit.recruitment_records import check_recruitment
from exam_server.audit.replay import (
    ExamRules,
    ReplayError,
    _check_finish_event,
    compare_score,
    recompute_score,
    verdict,
)
from exam_server.audit.skb_setup import check_skb_setup
from exam_server.audit.staff_records import check_staff

if TYPE_CHECKING:
    from exam_server.checkpoints import KeySwitch
    from exam_server.sites.reverify import SitesReport


@dataclass
class VerifyReport:
    events: int = 0
    attempts: int = 0
    responses: int = 0
    scores: int = 0  # finished attempts whose score was recomputed
    checkpoints: int = 0  # checkpoint lines checked
    # A centre's copies of its sites' records (None: no site's records held).
    sites: SitesReport | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def key_switches(conn: Connection) -> list[KeySwitch]:
    """The checkpoint key replacements recorded in this database's audit chain
    (``site_checkpoint_key`` events a site writes of its own key; the chain
    itself is verified with the rest), as
    :class:`exam_server.checkpoints.KeySwitch`. A centre's events of the same
    kind name a site (``data.site``): they record that site's key, never a
    switch of the centre's own."""
    from exam_server import checkpoints as cps

    out = []
    rows = conn.execute(
        select(AUDIT.c.data_json).where(AUDIT.c.kind == "site_checkpoint_key").order_by(AUDIT.c.id)
    )
    for (data_json,) in rows:
        d = json.loads(data_json or "{}")
        if "site" in d:
            continue
        if "from_n" in d and "key_id" in d and d.get("previous_key_id", "") != d["key_id"]:
            out.append(cps.KeySwitch(int(d["from_n"]), str(d["key_id"]), d.get("previous_key_id")))
    return out


def verify(
    engine: Engine,
    *,
    checkpoint_file: Path | None = None,
    public_key: Ed25519PublicKey | None = None,
    expect: tuple[str, ...] = (),
    scores: bool = True,
    other_keys: Sequence[Ed25519PublicKey] = (),
) -> VerifyReport:
    """Recompute the audit chain, every attempt's response chain, check that
    each finished attempt's recorded response head matches, and (``scores``)
    recompute each finished attempt's score and verdict from its chained
    answers. With ``checkpoint_file`` and the checkpoint ``public_key``: check
    the file's lines and that the database still holds every head they
    recorded; ``expect``: fingerprints copied into session reports. A site
    whose checkpoint key was replaced has the replacements in its chain
    (``site_checkpoint_key``): each line is checked with the key its number
    calls for, the replaced keys' public keys given as ``other_keys``."""
    from exam_server import checkpoints as cps

    rep = VerifyReport()
    facts = ChainFacts()
    finish_heads: dict[int, str] = {}
    finish_data: dict[int, dict[str, Any]] = {}
    seeds: dict[int, int] = {}
    file_report = None
    if checkpoint_file is not None:
        if public_key is None:
            raise ValueError("checking a checkpoint file needs the checkpoint public key")
        with engine.connect() as conn:
            switches = key_switches(conn)
        file_report = cps.read_file(
            checkpoint_file, public_key, expect, switches=switches, other_keys=other_keys
        )
    # The chain, the head and the answers must be read at one moment: on a
    # live server an event committed between two reads would look like a
    # removed row. A SQLite read transaction is already one snapshot;
    # PostgreSQL's default READ COMMITTED is not.
    snapshot = {} if engine.dialect.name == "sqlite" else {"isolation_level": "REPEATABLE READ"}
    with engine.connect().execution_options(**snapshot) as conn, conn.begin():
        prev = ""
        last_id = 0
        for row in conn.execute(select(AUDIT).order_by(AUDIT.c.id)).mappings():
            rep.events += 1
            if row["prev_hash"] != prev:
                rep.problems.append(
                    f"audit event {row['id']}: prev_hash does not link to event {last_id}"
                )
            if event_hash(row["prev_hash"], dict(row)) != row["hash"]:
                rep.problems.append(f"audit event {row['id']}: hash does not match its content")
            facts.take(row)
            if row["attempt_id"] is not None and row["kind"] in ("finish", "start"):
                data = json.loads(row["data_json"])
                aid = int(row["attempt_id"])
                if row["kind"] == "start" and isinstance(data.get("seed"), int):
                    seeds[aid] = int(data["seed"])
                elif row["kind"] == "finish":
                    finish_data[aid] = data
                    head = data.get("response_head")
                    if isinstance(head, str):
                        finish_heads[aid] = head
            prev, last_id = row["hash"], row["id"]
        head_row = conn.execute(select(HEAD).where(HEAD.c.id == 1)).first()
        if head_row is not None and (head_row.last_hash != prev or head_row.last_id != last_id):
            rep.problems.append("audit head does not point at the last event (rows removed?)")
        chains: dict[int, str] = {}
        answers: dict[int, list[dict[str, Any]]] = {}
        for r in conn.execute(
            select(RESPONSE).order_by(RESPONSE.c.attempt_id, RESPONSE.c.seq)
        ).mappings():
            rep.responses += 1
            aid = int(r["attempt_id"])
            p = chains.get(aid, "")
            if r["prev_hash"] != p:
                rep.problems.append(
                    f"response {r['id']} (attempt {aid}, seq {r['seq']}): broken link"
                )
            if response_hash(r["prev_hash"], dict(r)) != r["hash"]:
                rep.problems.append(f"response {r['id']} (attempt {aid}, seq {r['seq']}): altered")
            chains[aid] = r["hash"]
            answers.setdefault(aid, []).append(dict(r))
        attempts = conn.execute(
            select(
                ATTEMPT.c.id,
                ATTEMPT.c.response_head,
                ATTEMPT.c.status,
                ATTEMPT.c.seed,
                ATTEMPT.c.terminal_id,
                ATTEMPT.c.last_seq,
                # The last snapshot: a finished attempt's is its final state.
                select(SNAPSHOT.c.state)
                .where(SNAPSHOT.c.attempt_id == ATTEMPT.c.id)
                .order_by(SNAPSHOT.c.seq.desc())
                .limit(1)
                .scalar_subquery()
                .label("state"),
                # The state it started in, which its start event binds by digest.
                select(SNAPSHOT.c.state)
                .where(SNAPSHOT.c.attempt_id == ATTEMPT.c.id, SNAPSHOT.c.seq == 0)
                .scalar_subquery()
                .label("start_state"),
                ATTEMPT.c.session_id.label("attempt_session_id"),
                ATTEMPT.c.finish_reason,
                ATTEMPT.c.score_json,
                ATTEMPT.c.total_points,
                ATTEMPT.c.passed,
                ATTEMPT.c.pass_reason,
                EXAM.c.id.label("exam_id"),
                ATTEMPT.c.candidate_id,
                CANDIDATE.c.registration_number,
                CANDIDATE.c.category,
                CANDIDATE.c.formation_id,
                CANDIDATE.c.name,
                CANDIDATE.c.birth_date,
                CANDIDATE.c.session_id,
            )
            .join(SESSION, SESSION.c.id == ATTEMPT.c.session_id)
            .join(EXAM, EXAM.c.id == SESSION.c.exam_id)
            .join(CANDIDATE, CANDIDATE.c.id == ATTEMPT.c.candidate_id)
            .order_by(ATTEMPT.c.id)
        ).mappings()
        exams: dict[int, ExamRules] = {}
        present: set[int] = set()
        for a in attempts:
            rep.attempts += 1
            aid = int(a["id"])
            present.add(aid)
            rep.problems.extend(check_attempt_candidate(facts, a))
            rep.problems.extend(check_attempt_end(facts, a))
            rep.problems.extend(check_attempt_taken(facts, a, len(answers.get(aid, []))))
            if chains.get(aid, "") != a["response_head"]:
                rep.problems.append(
                    f"attempt {aid}: stored response head differs from its responses"
                )
            if aid in finish_heads and finish_heads[aid] != chains.get(aid, ""):
                rep.problems.append(f"attempt {aid}: responses changed after the finish event")
            if scores and (a["status"] == "finished" or a["score_json"] is not None):
                eid = int(a["exam_id"])
                if eid not in exams:
                    exam_row = conn.execute(
                        select(EXAM.c.design_json, EXAM.c.bank_json, EXAM.c.policy_json).where(
                            EXAM.c.id == eid
                        )
                    ).one()
                    retired = conn.execute(
                        select(WITHDRAWN.c.item_index).where(WITHDRAWN.c.exam_id == eid).limit(1)
                    ).first()
                    exams[eid] = replace(
                        ExamRules.from_row(*exam_row), withdrawn=retired is not None
                    )
                # The stored verdict was given under the category the candidate had
                # at the test (bound by the start event); a category corrected on
                # appeal later changes the published ranking, not this record.
                then = (facts.starts.get(aid, ("", None))[1] or {}).get("category")
                at_test = a if then is None else {**a, "category": then}
                start_json, problem = _bound_start(aid, a["start_state"], facts.forms.get(aid))
                rep.problems.extend(problem)
                score_problems = _check_score(
                    rep, at_test, exams[eid], seeds, finish_data, answers.get(aid, []), start_json
                )
                rep.problems.extend(score_problems)
        rep.problems.extend(check_missing_attempts(facts, present))
        rep.problems.extend(check_exam_documents(conn, facts))
        rep.problems.extend(check_skb(conn, facts))
        rep.problems.extend(check_recruitment(conn))
        rep.problems.extend(check_recruitment_decisions(conn))
        rep.problems.extend(check_grants(conn))
        rep.problems.extend(check_skb_setup(conn))
        for check in (check_staff, check_formations, check_appeals):
            problems, notes = check(conn)
            rep.problems.extend(problems)
            rep.notes.extend(notes)
        # The sites' copies count in the centre's rankings but are in none of
        # its chains: verified from the site's own chains and signed lines.
        from exam_server.sites.reverify import verify_sites

        sites = verify_sites(conn, scores=scores)
        if sites.sites:
            rep.sites = sites
            rep.problems.extend(sites.problems)
            rep.notes.extend(sites.notes)
        if file_report is not None:
            rep.checkpoints = len(file_report.checkpoints)
            rep.problems.extend(file_report.problems)
            rep.problems.extend(cps.check_database(conn, file_report.checkpoints))
    return rep


def _bound_start(aid: int, blob: bytes | None, digest: str | None) -> tuple[str | None, list[str]]:
    """The JSON of the state an attempt started in (its seq-0 snapshot) when
    its start event binds it by ``form_sha256`` and the stored one matches;
    else None, and a problem when a bound one was changed or removed."""
    if digest is None:
        return None, []  # started before the events bound it
    if blob is None:
        # The finish replaces the seq-0 snapshot of an attempt that ended
        # before its first answer; nothing else removes it.
        return None, []
    try:
        text = state_codec.unpack_json(blob)
    except ValueError:
        return None, [f"attempt {aid}: the state it started in is not a stored state"]
    if form_digest(text) != digest:
        json_state = json.loads(text)
        if json_state.get("finished"):  # the final state, stored at seq 0: see above
            return None, []
        return None, [
            f"attempt {aid}: the state it started in differs from the one its start "
            "event recorded (form_sha256)"
        ]
    return text, []


def _check_score(
    rep: VerifyReport,
    a: Mapping[Any, Any],
    rules: ExamRules,
    seeds: Mapping[int, int],
    finish_data: Mapping[int, dict[str, Any]],
    answers: Sequence[Mapping[str, Any]],
    start_json: str | None = None,
) -> list[str]:
    aid = int(a["id"])
    out: list[str] = []
    if a["score_json"] is None:
        return [f"attempt {aid}: finished, but no score_json stored"]
    try:
        stored = json.loads(a["score_json"])
    except ValueError:
        return [f"attempt {aid}: score_json is not JSON"]
    if not isinstance(stored, dict):
        return [f"attempt {aid}: score_json is not a score"]
    passed = None if a["passed"] is None else bool(a["passed"])
    total = None if a["total_points"] is None else float(a["total_points"])
    data = finish_data.get(aid)
    if data is None:
        if a["status"] != "finished":  # a finished one: check_attempt_end says it
            out.append(f"attempt {aid}: a score is stored, but the audit log has no finish event")
    else:
        out.extend(_check_finish_event(aid, data, stored, total, passed))
    seed = seeds.get(aid)
    if seed is None:
        out.append(f"attempt {aid}: no start event with its seed in the audit log")
        seed = int(a["seed"])
    elif seed != int(a["seed"]):
        out.append(f"attempt {aid}: seed is {a['seed']} stored, {seed} in the start event")
    try:
        score, note = recompute_score(
            rules,
            seed,
            answers,
            a["finish_reason"] or "submitted",
            state_codec.unpack_json(a["state"]) if a["state"] else None,
            start_json,
        )
    except ReplayError as exc:
        out.append(f"attempt {aid}: its chained answers cannot be scored: {exc}")
        return out
    rep.scores += 1
    if note is not None:
        rep.notes.append(f"attempt {aid}: {note}")
    expected = verdict(rules.policy, str(a["category"]), score)
    out.extend(compare_score(aid, stored, score, total, passed, a["pass_reason"], expected))
    return out
