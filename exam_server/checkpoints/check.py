"""Checking a checkpoint file (its chain of lines, signatures and key
switches) and that the database still holds every head it recorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text
from sqlalchemy.engine import Connection

from exam_server.checkpoints.lines import (
    Checkpoint,
    line_hash,
    parse_line,
    signature_ok,
)
from exam_server.receipts import key_id


@dataclass
class FileReport:
    """What :func:`read_file` found: the good lines and one problem per bad spot."""

    checkpoints: list[Checkpoint] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class KeySwitch:
    """The checkpoint key replaced (a site's ``seleksi site replace-key``, an
    event ``site_checkpoint_key`` of its audit chain): lines numbered
    ``from_n`` on are signed by ``key_id``, the lines before by
    ``previous_key_id`` (None: the file had none). ``after_hash``: the line
    before ``from_n`` when a new file continues another's numbering."""

    from_n: int
    key_id: str
    previous_key_id: str | None


def expected_key(n: int, current: str, switches: Sequence[KeySwitch]) -> str:
    """The key id that must sign checkpoint ``n``: the key of the last switch at
    or before it; before the first switch, that switch's previous key; with
    no switch, ``current``."""
    ordered = sorted(switches, key=lambda sw: sw.from_n)
    if not ordered:
        return current
    kid = ordered[0].previous_key_id or ordered[0].key_id
    for sw in ordered:
        if sw.from_n <= n:
            kid = sw.key_id
    return kid


def read_file(
    path: Path,
    public_key: Ed25519PublicKey,
    expect: tuple[str, ...] = (),
    *,
    switches: Sequence[KeySwitch] = (),
    other_keys: Sequence[Ed25519PublicKey] = (),
) -> FileReport:
    """Check every line's signature and its link to the line before; and that
    each fingerprint in ``expect`` (copied into session reports) is still in
    the file. Lines that fail are reported by line number and left out.

    After a key replacement (``switches``, from the site's audit chain) each
    line is checked with the key its number calls for (:func:`expected_key`);
    ``other_keys`` are the replaced keys' public keys (a key's id is its
    hash, so a public-key file cannot stand in for another key). A new file
    that continues another's numbering (a lost file: its first line is the
    anchor the replacement wrote) starts at its switch's number."""
    rep = FileReport()
    current = key_id(public_key)
    keys = {key_id(k): k for k in other_keys}
    keys[current] = public_key
    starts = {sw.from_n for sw in switches}
    prev_hash, prev_n = "", 0
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            line = raw.rstrip(b"\n")
            if not line:
                continue
            try:
                cp = parse_line(line)
            except ValueError as exc:
                rep.problems.append(f"checkpoint file line {lineno}: {exc}")
                prev_hash = line_hash(line)
                continue
            kid = expected_key(cp.n, current, switches)
            key = keys.get(kid)
            if cp.key_id != kid:
                rep.problems.append(
                    f"checkpoint file line {lineno}: signed by key {cp.key_id}, not {kid}"
                )
            elif key is None:
                rep.problems.append(
                    f"checkpoint file line {lineno}: signed by the replaced key {kid}, whose"
                    " public key was not given (its *.replaced-*.pub.pem)"
                )
            elif not signature_ok(line, key):
                rep.problems.append(
                    f"checkpoint file line {lineno}: signature does not match (line edited)"
                )
            if prev_n == 0 and cp.n > 1 and cp.n in starts and cp.prev:
                pass  # a new file's anchor, continuing the numbering of a lost one
            elif cp.prev != prev_hash:
                what = "the file start" if prev_n == 0 else f"checkpoint {prev_n}"
                rep.problems.append(
                    f"checkpoint file line {lineno} (checkpoint {cp.n}): does not follow {what}"
                    + (
                        f" (checkpoints {prev_n + 1}–{cp.n - 1} removed)"
                        if cp.n > prev_n + 1
                        else " (a line was removed or edited)"
                    )
                )
            elif cp.n != prev_n + 1:
                rep.problems.append(
                    f"checkpoint file line {lineno}: numbered {cp.n} after {prev_n}"
                )
            if not any(p.startswith(f"checkpoint file line {lineno}:") for p in rep.problems):
                rep.checkpoints.append(cp)
            prev_hash, prev_n = line_hash(line), cp.n
    found = {cp.fingerprint for cp in rep.checkpoints}
    for fp in expect:
        if _norm_fp(fp) not in found:
            rep.problems.append(
                f"fingerprint {fp} (from a session report) is not in the checkpoint file:"
                " the file was cut short or replaced"
            )
    return rep


def _norm_fp(fp: str) -> str:
    s = "".join(fp.split()).upper().replace("-", "")
    # Crockford base32 reads O as 0 and I/L as 1 when a person copied it.
    s = s.translate(str.maketrans("OIL", "011"))
    return f"{s[:5]}-{s[5:]}"


def check_database(conn: Connection, checkpoints: list[Checkpoint]) -> list[str]:
    """Every head the checkpoints recorded must still be in the database:
    the audit event with that id and hash, the answer with that attempt,
    seq and hash. Each missing or different head is reported with where the
    chain now ends (a removed tail) or what differs."""
    problems: list[str] = []
    audit = {
        int(r.id): str(r.hash)
        for r in conn.execute(text("SELECT id, hash FROM exam_audit ORDER BY id"))
    }
    last_audit = max(audit, default=0)
    answers: dict[tuple[int, int], str] = {}
    last_seq: dict[int, int] = {}
    for r in conn.execute(text("SELECT attempt_id, seq, hash FROM exam_response")):
        answers[(int(r.attempt_id), int(r.seq))] = str(r.hash)
        last_seq[int(r.attempt_id)] = max(last_seq.get(int(r.attempt_id), 0), int(r.seq))
    audit_reported = False
    for cp in checkpoints:
        if cp.audit_id and not audit_reported:
            have = audit.get(cp.audit_id)
            if have is None:
                removed = (
                    f"events {last_audit + 1}–{cp.audit_id}"
                    if cp.audit_id > last_audit + 1
                    else f"event {cp.audit_id}"
                )
                problems.append(
                    f"audit log: {cp.where()} recorded event {cp.audit_id}, but the log ends at"
                    f" event {last_audit}: {removed} removed"
                )
                audit_reported = True
            elif have != cp.audit_hash:
                problems.append(
                    f"audit log: event {cp.audit_id} differs from {cp.where()}"
                    " (the log was rewritten from there on)"
                )
                audit_reported = True
    reported: set[int] = set()
    for cp in checkpoints:
        for aid, seq, head in cp.attempts:
            if aid in reported:
                continue
            have = answers.get((aid, seq))
            if have is None:
                now = last_seq.get(aid, 0)
                problems.append(
                    f"attempt {aid}: {cp.where()} recorded its answers up to seq {seq}, but its"
                    f" chain ends at seq {now}: "
                    + (f"seq {now + 1}–{seq} removed" if seq > now + 1 else f"seq {seq} removed")
                )
                reported.add(aid)
            elif have != head:
                problems.append(
                    f"attempt {aid}: answer seq {seq} differs from {cp.where()}"
                    " (the chain was rewritten from there on)"
                )
                reported.add(aid)
    return problems
