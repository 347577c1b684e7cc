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
line's :func:`fingerprint` (``XXXXX-XXXXX``, Crockford base32 of its hash) is
short enough for a proctor to copy into the session report from the proctor
console; a report's fingerprint later proves that the file still holds that
line (a file cut at its end still has a valid chain). ``seleksi audit verify
--checkpoints FILE`` checks the file (:func:`read_file`) and that the database
still holds every recorded head (:func:`check_database`).

Several processes (PostgreSQL) may write: each write holds a PostgreSQL
advisory lock and an exclusive ``flock`` on the file, and reads the file's
last line to chain to it and to know what is new, so the processes of one
host share one file without repeating each other. On PostgreSQL an answer
whose transaction commits after a later-numbered one was checkpointed is
not in a line of its own; the attempt's next answer or its ``finish`` event
(whose response head is in the audit chain) covers it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.to_thread
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Engine

from exam_server.models import AuditHead, Response
from exam_server.receipts import human_code, key_id, record_current_key
from exam_server.settings import Settings

log = logging.getLogger(__name__)

VERSION = 1
#: Signed before each line's content: the same key signs receipts.
DOMAIN = b"seleksi/checkpoint/1\x00"
#: Advisory lock key for checkpoint writers ("SLKC"), apart from the attempt locks.
_PG_LOCK = 0x534C4B43
HEAD = AuditHead.__table__  # type: ignore[attr-defined]
RESPONSE = Response.__table__  # type: ignore[attr-defined]


def _canon(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def line_hash(line: bytes) -> str:
    """SHA-256 hex of one line's bytes (without its newline)."""
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def fingerprint(line: bytes) -> str:
    """The short, hand-copyable form of a line's hash: ``XXXXX-XXXXX`` (50 bits)."""
    return human_code(hashlib.sha256(line.rstrip(b"\n")).digest(), chars=10, group=5)


# -- paths and the key --------------------------------------------------------------


def default_paths(settings: Settings) -> tuple[Path, Path]:
    """(checkpoint file, private key file) for ``settings`` (see :func:`paths_for`)."""
    return paths_for(settings.database_url, settings.checkpoint_path, settings.checkpoint_key_path)


def paths_for(
    database_url: str, file: str | None = None, key: str | None = None
) -> tuple[Path, Path]:
    """(checkpoint file, private key file): ``file``/``key`` if given, else
    beside the SQLite file (``seleksi.db.checkpoints.jsonl``,
    ``seleksi.db.checkpoint-key.pem``), else (PostgreSQL) in the working
    directory (``seleksi-checkpoints.jsonl``, ``seleksi-checkpoint-key.pem``)."""
    if database_url.startswith("sqlite"):
        db = database_url.split(":///", 1)[-1]
        base = Path(db if db and db != ":memory:" else "seleksi.db")
        file_default = base.with_name(base.name + ".checkpoints.jsonl")
        key_default = base.with_name(base.name + ".checkpoint-key.pem")
    else:
        file_default = Path("seleksi-checkpoints.jsonl")
        key_default = Path("seleksi-checkpoint-key.pem")
    return (Path(file) if file else file_default, Path(key) if key else key_default)


def public_key_path(private_key_path: Path) -> Path:
    """Where the public half is written (``….pem`` → ``….pub.pem``)."""
    return private_key_path.with_name(private_key_path.stem + ".pub.pem")


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The server's checkpoint key: read from ``path``, or generated there on
    first start (mode 0600, created exclusively so two workers starting at once
    end up with one key), with its public half beside it (mode 0644)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = _read_private_key(path)
    else:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        log.info("made the checkpoint key %s (key id %s)", path, key_id(key.public_key()))
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("the checkpoint key %s is readable by others (mode %o): chmod 600", path, mode)
    pub = public_key_path(path)
    pem_pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if not pub.exists() or pub.read_bytes() != pem_pub:
        pub.write_bytes(pem_pub)
    return key


def _read_private_key(path: Path) -> Ed25519PrivateKey:
    for _ in range(50):  # another worker may be writing it this instant
        data = path.read_bytes()
        if data:
            break
        time.sleep(0.02)
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key from a PEM file holding the public or the private key."""
    data = path.read_bytes()
    try:
        key: Any = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError):
            raise ValueError(f"{path}: not a PEM key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 key")
    return key


# -- the file -----------------------------------------------------------------------


def last_line(f: IO[bytes]) -> bytes | None:
    """The file's last complete line (without newline), reading backwards from its end."""
    f.seek(0, os.SEEK_END)
    end = f.tell()
    if end == 0:
        return None
    pos, block, tail = end, 65536, b""
    while pos > 0:
        step = min(block, pos)
        pos -= step
        f.seek(pos)
        tail = f.read(step) + tail
        body = tail.rstrip(b"\n")
        nl = body.rfind(b"\n")
        if nl >= 0:
            return body[nl + 1 :] or None
    return tail.rstrip(b"\n") or None


def sign_line(key: Ed25519PrivateKey, content: dict[str, Any]) -> bytes:
    """One signed line (no newline): ``content`` plus ``key_id`` and ``sig``."""
    body = {**content, "key_id": key_id(key.public_key())}
    sig = key.sign(DOMAIN + _canon(body))
    return _canon({**body, "sig": base64.b64encode(sig).decode("ascii")})


@dataclass(frozen=True)
class Checkpoint:
    """One line of the file, parsed. attempts: ``(attempt_id, last_seq, head)``."""

    n: int
    at: float
    reason: str
    session_id: int | None
    audit_id: int
    audit_hash: str
    responses_upto: int
    attempts: tuple[tuple[int, int, str], ...]
    prev: str
    key_id: str
    line: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.line)

    @property
    def hash(self) -> str:
        return line_hash(self.line)

    def where(self) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.at))
        return f"checkpoint {self.n} ({stamp}, {self.fingerprint})"


def parse_line(line: bytes) -> Checkpoint:
    """A line's content (no signature check). Raises ``ValueError``."""
    try:
        d = json.loads(line)
        if not isinstance(d, dict) or d.get("v") != VERSION:
            raise ValueError("not a version-1 checkpoint")
        attempts = tuple((int(a), int(s), str(h)) for a, s, h in d["attempts"])
        sid = d.get("session_id")
        return Checkpoint(
            n=int(d["n"]),
            at=float(d["at"]),
            reason=str(d["reason"]),
            session_id=None if sid is None else int(sid),
            audit_id=int(d["audit"]["id"]),
            audit_hash=str(d["audit"]["hash"]),
            responses_upto=int(d["responses_upto"]),
            attempts=attempts,
            prev=str(d["prev"]),
            key_id=str(d["key_id"]),
            line=line,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a checkpoint line ({exc})") from None


def signature_ok(line: bytes, public_key: Ed25519PublicKey) -> bool:
    try:
        d = json.loads(line)
        sig = base64.b64decode(d.pop("sig"), validate=True)
        public_key.verify(sig, DOMAIN + _canon(d))
    except (InvalidSignature, ValueError, TypeError, KeyError, AttributeError):
        return False
    return True


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


# -- writing ------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[IO[bytes]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield f
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def write_checkpoint(
    engine: Engine,
    path: Path,
    key: Ed25519PrivateKey,
    reason: str,
    *,
    session_id: int | None = None,
    now: float | None = None,
    force: bool = False,
) -> Checkpoint | None:
    """Append a checkpoint if any head moved since the file's last line (or
    ``force``); returns it, or None when nothing changed. Blocking: run it
    in a thread."""
    with contextlib.ExitStack() as stack:
        conn = stack.enter_context(engine.connect())
        if engine.dialect.name == "postgresql":
            # One writer at a time across processes; the snapshot makes the
            # heads and the answers one moment.
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            stack.enter_context(conn.begin())
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        else:
            stack.enter_context(conn.begin())
        f = stack.enter_context(_locked(path))
        previous_raw = last_line(f)
        previous = parse_line(previous_raw) if previous_raw else None
        head = conn.execute(select(HEAD.c.last_id, HEAD.c.last_hash).where(HEAD.c.id == 1)).first()
        audit_id, audit_hash = (int(head[0]), str(head[1])) if head else (0, "")
        upto0 = previous.responses_upto if previous else 0
        latest: dict[int, tuple[int, str]] = {}
        upto = upto0
        for r in conn.execute(
            select(RESPONSE.c.id, RESPONSE.c.attempt_id, RESPONSE.c.seq, RESPONSE.c.hash)
            .where(RESPONSE.c.id > upto0)
            .order_by(RESPONSE.c.id)
        ):
            upto = max(upto, int(r.id))
            seen = latest.get(int(r.attempt_id))
            if seen is None or int(r.seq) > seen[0]:
                latest[int(r.attempt_id)] = (int(r.seq), str(r.hash))
        unchanged = (
            previous is not None
            and not latest
            and (previous.audit_id, previous.audit_hash) == (audit_id, audit_hash)
        )
        if unchanged and not force:
            return None
        content = {
            "v": VERSION,
            "n": (previous.n if previous else 0) + 1,
            "at": round(time.time() if now is None else now, 3),
            "reason": reason,
            "session_id": session_id,
            "audit": {"id": audit_id, "hash": audit_hash},
            "responses_upto": upto,
            "attempts": [[aid, seq, h] for aid, (seq, h) in sorted(latest.items())],
            "prev": line_hash(previous_raw) if previous_raw else "",
        }
        line = sign_line(key, content)
        f.seek(0, os.SEEK_END)
        f.write(line + b"\n")
        f.flush()
        os.fsync(f.fileno())
        return parse_line(line)
    return None  # pragma: no cover  (the with block always returns)


def latest(path: Path) -> Checkpoint | None:
    """The file's last checkpoint (None if there is none yet)."""
    if not path.exists():
        return None
    with path.open("rb") as f:
        raw = last_line(f)
    return parse_line(raw) if raw else None


def latest_fingerprint(path: Path) -> str | None:
    """The fingerprint of the file's last checkpoint, for the session report."""
    cp = latest(path)
    return cp.fingerprint if cp else None


class Checkpointer:
    """Writes checkpoints for a running server: every ``checkpoint_seconds``,
    on :meth:`now` (session close) and at :meth:`stop`."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.engine = engine
        self.interval = settings.checkpoint_seconds
        self.path, self.key_path = default_paths(settings)
        self.key: Ed25519PrivateKey | None = None
        self._lock = anyio.Lock()  # one write at a time in this process
        self._task: asyncio.Task[None] | None = None

    @property
    def public_key(self) -> Ed25519PublicKey:
        if self.key is None:
            raise RuntimeError("the checkpointer has not started")
        return self.key.public_key()

    async def start(self) -> None:
        self.key = await anyio.to_thread.run_sync(load_or_create_key, self.key_path)
        # The key also signs receipts: list it, so a receipt survives the key's replacement.
        pub = self.key.public_key()
        await anyio.to_thread.run_sync(record_current_key, self.key_path, pub)
        await self.now("start")
        if self.interval > 0:
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.now("interval")

    async def now(self, reason: str, session_id: int | None = None) -> Checkpoint | None:
        """Write a checkpoint now if anything changed (never raises: a failed
        checkpoint is logged, and the exam goes on)."""
        if self.key is None:
            return None
        key = self.key
        async with self._lock:
            try:
                return await anyio.to_thread.run_sync(
                    lambda: write_checkpoint(
                        self.engine, self.path, key, reason, session_id=session_id
                    )
                )
            except Exception:
                log.exception("checkpoint (%s) not written to %s", reason, self.path)
                return None

    async def close_session(self, session_id: int) -> str | None:
        """The checkpoint at a session's close; returns the fingerprint for the
        session report (the latest line's if nothing changed since it)."""
        cp = await self.now("session_close", session_id=session_id)
        if cp is None:
            cp = await anyio.to_thread.run_sync(self.latest)
        return cp.fingerprint if cp is not None else None

    def latest(self) -> Checkpoint | None:
        """The file's last checkpoint (blocking: a read of the file's end)."""
        return latest(self.path)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.now("stop")
