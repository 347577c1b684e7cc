"""The hash-chained audit log and the chains of responses.

Audit rows: ``hash = sha256(prev_hash ‖ canonical JSON of the row)``; the
chain head (``exam_audit_head``) is read with ``FOR UPDATE`` inside the
appending transaction, so concurrent writers (several processes on
PostgreSQL) queue up instead of forking the chain. Each attempt's responses
form their own chain (``Response.hash``), whose head is recorded in the
attempt's ``finish`` audit event, with the score bound by
:func:`score_digest`. :func:`verify` recomputes everything: the chains, and
every finished attempt's score and verdict from its chained answers
(:func:`recompute_score`); with a checkpoint file
(``exam_server.checkpoints``) also that no chain lost its tail.

The chains are in :mod:`exam_server.audit.chain`, the recomputation in
:mod:`exam_server.audit.replay`, the stored rows checked against what the
chain says of them in :mod:`exam_server.audit.records`, the whole check in
:mod:`exam_server.audit.verify`; their names are re-exported here.
"""

from __future__ import annotations

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
    append,
    candidate_facts,
    encode_choices,
    event_hash,
    finish_event_data,
    form_digest,
    response_hash,
    score_digest,
    start_event_data,
)
from exam_server.audit.replay import (
    POINTS_TOLERANCE,
    ExamRules,
    ReplayError,
    apply_response,
    compare_score,
    recompute_score,
    replay,
    verdict,
)
from exam_server.audit.verify import VerifyReport, key_switches, verify

__all__ = [
    "ATTEMPT",
    "AUDIT",
    "CANDIDATE",
    "EXAM",
    "HEAD",
    "POINTS_TOLERANCE",
    "RESPONSE",
    "SESSION",
    "SNAPSHOT",
    "WITHDRAWN",
    "ExamRules",
    "ReplayError",
    "VerifyReport",
    "append",
    "apply_response",
    "candidate_facts",
    "compare_score",
    "encode_choices",
    "event_hash",
    "finish_event_data",
    "form_digest",
    "key_switches",
    "recompute_score",
    "replay",
    "response_hash",
    "score_digest",
    "start_event_data",
    "verdict",
    "verify",
]
