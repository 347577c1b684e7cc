"""Fixtures of the recruitment tests: a local SMTP server that records what it
received (aiosmtpd), a real server with the demo recruitment seeded, chromium."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlmodel import Session, col

from exam_server import audit
from exam_server.clock import Clock, ManualClock
from exam_server.db import make_engine
from exam_server.recruitment import service as svc
from exam_server.recruitment.config import RecruitmentConfig
from exam_server.recruitment.demo import seed_recruitment
from exam_server.testing import ThreadServer, free_port
from recruitment.models import RecOutbox
from tests.conftest import TEST_SCRYPT_N, ServerHandle, make_settings, seed_small
from tests.proctor_ui.conftest import CHROMIUM, CHROMIUM_ARGS

PASSWORDS = {
    "operator": "operator-pass-1",
    "approver": "approver-pass-1",
    "verifier": "verifier-pass-1",
    "verifier2": "verifier-pass-2",
    "verifier3": "verifier-pass-3",
    "admin": "admin-rec-pass-1",
    "candidate": "candidate-pass-1",
}


@dataclass
class Mailbox:
    """What the local SMTP server received: (to, subject, body) in order, and
    each message's Message-ID (same order)."""

    received: list[tuple[str, str, str]] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        self.message_ids.append(str(msg["Message-ID"]))
        self.received.append((str(msg["To"]), str(msg["Subject"]), str(text)))
        return "250 OK"

    def wait_for(
        self, to: str, subject: str = "", body: str = "", timeout: float = 10.0
    ) -> list[tuple[str, str, str]]:
        """The messages to ``to`` whose subject and body hold ``subject`` and
        ``body``, once there is one (messages arrive one by one: wait for the
        one the test is about, not for the first)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            mine = [m for m in self.received if m[0] == to and subject in m[1] and body in m[2]]
            if mine:
                return mine
            time.sleep(0.05)
        raise AssertionError(f"no message to {to}; received {[m[:2] for m in self.received]}")


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@dataclass
class RecServer:
    handle: ServerHandle
    config: RecruitmentConfig
    mail: Mailbox

    @property
    def url(self) -> str:
        return self.handle.url


def start_rec_server(
    tmp: Path,
    mail: Mailbox,
    smtp_port: int | None,
    clock: Clock | None = None,
    extra: dict[str, str] | None = None,
) -> RecServer:
    """A real server on a seeded exam day with the demo recruitment (SQLite in
    ``tmp``). clock: the server's (default the system clock); extra: more
    ``Settings.extra`` (e.g. the outbox's interval)."""
    url = f"sqlite:///{tmp / 'exam.db'}"
    seed = seed_small(url)
    more = dict(extra or {})
    extra = {
        "recruitment_documents_dir": str(tmp / "docs"),
        "recruitment_key_path": str(tmp / "rec.key"),
    }
    if smtp_port is not None:
        extra |= {"recruitment_smtp_host": "127.0.0.1", "recruitment_smtp_port": str(smtp_port)}
    extra |= more
    server = ThreadServer(make_settings(url, extra=extra), clock=clock).start()
    handle = ServerHandle(server, seed, make_engine(url))
    cfg = RecruitmentConfig.from_settings(handle.settings)
    seed_recruitment(
        handle.db,
        key=cfg.key,
        nik_key=cfg.nik_key,
        store=cfg.store,
        now=clock.now() if clock is not None else time.time(),
        passwords=PASSWORDS,
        scrypt_n=TEST_SCRYPT_N,
        site_code=seed.site_code,
        room_code="R2",
        exam_code=seed.exam_code,
    )
    return RecServer(handle, cfg, mail)


@pytest.fixture(scope="module")
def rec_server(
    smtp: tuple[Mailbox, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RecServer]:
    """One server per test module (seeding costs seconds): the tests of a
    module share it and are written to run in file order."""
    box, port = smtp
    rec = start_rec_server(tmp_path_factory.mktemp("recruitment"), box, port)
    yield rec
    rec.handle.server.stop()
    rec.handle.db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM}: install Debian's chromium or set SELEKSI_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


# -- the outbox rig: a real server whose clock and SMTP port the test holds ----------------

TICK = 0.1  # the test server's outbox interval (seconds)


def wait_until(what: Callable[[], Any], timeout: float = 10.0, message: str = "") -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = what()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting: {message}")


def rows(db: Any, **where: Any) -> list[RecOutbox]:
    with Session(db) as s:
        q = select(RecOutbox).order_by(col(RecOutbox.id))
        for k, v in where.items():
            q = q.where(getattr(RecOutbox, k) == v)
        return list(s.execute(q).scalars())


def enqueue(db: Any, to: str, now: float, subject: str = "Status") -> int:
    with Session(db) as s:
        svc.enqueue(s, to, subject, f"isi untuk {to} / body for {to}", "status", now)
        s.commit()
    (row,) = [r for r in rows(db, to_addr=to)][-1:]
    return int(row.id or 0)


@dataclass
class LateSmtp:
    """An SMTP port that refuses connections until :meth:`start`."""

    box: Mailbox
    port: int
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.box, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def received(self, to: str) -> list[tuple[str, str, str]]:
        return [m for m in self.box.received if m[0] == to]


@dataclass
class Rig:
    rec: RecServer
    clock: ManualClock
    smtp: LateSmtp


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """A real server with the demo recruitment, its clock in the test's hands,
    its background sender every 0.1 s, and an SMTP port nobody listens on yet."""
    box = Mailbox()
    late = LateSmtp(box, free_port())
    clock = ManualClock(start=time.time())
    extra = {"recruitment_outbox_interval_seconds": str(TICK)}
    rec = start_rec_server(tmp_path_factory.mktemp("outbox"), box, late.port, clock, extra)
    yield Rig(rec, clock, late)
    rec.handle.server.stop()
    rec.handle.db.dispose()
    late.stop()


# -- staff pages and the audit check, as the integrity tests use them ---------------------

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def staff_client(rec: RecServer, user: str, password: str) -> tuple[httpx.Client, str]:
    """A staff account logged in on the recruitment pages: the client and the
    CSRF token of its staff page."""
    c = httpx.Client(base_url=rec.url)
    token = CSRF.search(c.get("/recruitment/staff/login").text)
    assert token is not None
    r = c.post(
        "/recruitment/staff/login",
        data={"csrf": token.group(1), "username": user, "password": password},
    )
    assert r.status_code == 303, r.text
    page = CSRF.search(c.get("/recruitment/staff").text)
    assert page is not None
    return c, page.group(1)


def recruitment_problems(db: Any) -> list[str]:
    """What ``audit verify`` says of the recruitment rows (scores not recomputed)."""
    return [p for p in audit.verify(db, scores=False).problems if p.startswith("recruitment")]
