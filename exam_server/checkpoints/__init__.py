"""Signed checkpoints of every chain head, outside the database.

The audit log and the answer chains (``exam_server.audit``) show any row
changed in place, but someone who deletes the last rows and rewinds the head
pointer leaves a shorter chain that checks out. A checkpoint anchors the heads
outside the database: at a fixed cadence (``Settings.checkpoint_seconds``,
default 60 s), at every session close and when the server stops, the server
appends one JSON line to an append-only file with

* ``audit``: the audit log's head (last event id and hash);
* ``attempts``: ``[attempt_id, last_seq, head_hash]`` of every answer chain
  that grew since the previous line (so lines stay small);
* ``responses_upto``: the highest ``exam_response.id`` covered;
* ``prev``: SHA-256 of the previous line's bytes (the lines form a chain too:
  a line edited or removed in the middle breaks it);
* ``sig``: Ed25519 over ``DOMAIN`` ‖ the canonical JSON of the rest, with
  the server's own key (generated on first start, file mode 0600).

A line is written only when something changed since the previous one. Each
line's :func:`fingerprint` (two groups of five Crockford base32 characters of
its hash, such as ``5FYH9-X1X2Z``) is short enough for a proctor to copy into
the session report from the proctor console; a report's fingerprint later
proves that the file still holds that line (a file cut at its end still has a
valid chain). ``seleksi audit verify
--checkpoints FILE`` checks the file (:func:`read_file`) and that the database
still holds every recorded head (:func:`check_database`).

Several processes (PostgreSQL) may write: each write holds a PostgreSQL
advisory lock and an exclusive ``flock`` on the file, and reads the file's
last line to chain to it and to know what is new, so the processes of one
host share one file without repeating each other. On PostgreSQL an answer
whose transaction commits after a later-numbered one was checkpointed is
not in a line of its own; the attempt's next answer or its ``finish`` event
(whose response head is in the audit chain) covers it.

The key is in :mod:`exam_server.checkpoints.keys`, a line in
:mod:`exam_server.checkpoints.lines`, the checks in
:mod:`exam_server.checkpoints.check`, the writing in
:mod:`exam_server.checkpoints.writer`; their names are re-exported here.
"""

from __future__ import annotations

from exam_server.checkpoints.check import (
    FileReport,
    KeySwitch,
    check_database,
    expected_key,
    read_file,
)
from exam_server.checkpoints.keys import (
    default_paths,
    load_or_create_key,
    load_public_key,
    paths_for,
    public_key_path,
)
from exam_server.checkpoints.lines import (
    DOMAIN,
    VERSION,
    Checkpoint,
    fingerprint,
    last_line,
    line_hash,
    parse_line,
    sign_line,
    signature_ok,
)
from exam_server.checkpoints.writer import (
    HEAD,
    RESPONSE,
    Checkpointer,
    latest,
    latest_fingerprint,
    write_checkpoint,
)

__all__ = [
    "DOMAIN",
    "HEAD",
    "RESPONSE",
    "VERSION",
    "Checkpoint",
    "Checkpointer",
    "FileReport",
    "KeySwitch",
    "check_database",
    "default_paths",
    "expected_key",
    "fingerprint",
    "last_line",
    "latest",
    "latest_fingerprint",
    "line_hash",
    "load_or_create_key",
    "load_public_key",
    "parse_line",
    "paths_for",
    "public_key_path",
    "read_file",
    "sign_line",
    "signature_ok",
    "write_checkpoint",
]
