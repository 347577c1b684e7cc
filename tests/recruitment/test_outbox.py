"""Delivery an agency can rely on: the outbox retries with back-off, gives up
on a 5xx and shows it to staff (who send it again), reminds applicants of the
registration deadline once per lead time, and never sends a message twice
even with two senders at once. Against real SMTP servers (aiosmtpd) and a
real server whose clock the test moves (``ManualClock``)."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text
from sqlmodel import Session, col

from exam_server.db import create_schema, make_engine
from exam_server.models import AuditEvent
from exam_server.recruitment import outbox
from exam_server.recruitment import service as svc
from exam_server.recruitment.config import OutboxConfig
from exam_server.recruitment.outbox import SmtpTarget
from exam_server.recruitment.reminders import queue_reminders
from exam_server.testing import free_port
from recruitment.delivery import (
    RetryPolicy,
    classify,
)
from seleksi.cli import main
from tests.conftest import make_settings
from tests.recruitment.conftest import (
    PASSWORDS,
    TICK,
    Mailbox,
    RecServer,
    Rig,
    enqueue,
    rows,
    wait_until,
)

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


# -- retries --------------------------------------------------------------------------------


def test_refused_then_accepted_is_delivered_once_after_retry(rig: Rig) -> None:
    db, clock = rig.rec.handle.db, rig.clock
    t0 = clock.now()
    ident = enqueue(db, "retry@contoh.id", t0)
    # Nobody listens: the background sender's try is refused, and it waits 1 min.
    (row,) = wait_until(
        lambda: [r for r in rows(db, id=ident) if r.attempts == 1],
        message="the first refused try",
    )
    assert row.status == "pending" and row.sent_at is None and "connect" in row.last_error
    assert row.next_try_at == pytest.approx(t0 + 60.0)
    rig.smtp.start()
    time.sleep(10 * TICK)  # ten ticks: not due yet, so not sent (nor tried)
    assert rig.smtp.received("retry@contoh.id") == []
    assert rows(db, id=ident)[0].attempts == 1
    clock.advance(60.0)
    rig.smtp.box.wait_for("retry@contoh.id")
    time.sleep(10 * TICK)
    assert len(rig.smtp.received("retry@contoh.id")) == 1  # once, though ticks go on
    (row,) = rows(db, id=ident)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 2, pytest.approx(t0 + 60.0))
    # The demo's own messages (refused at start) went out in the same retry.
    assert not rows(db, status="pending") and not rows(db, status="sending")


def test_temporary_4xx_is_retried_with_back_off(rig: Rig) -> None:
    db, clock, box = rig.rec.handle.db, rig.clock, rig.smtp.box
    refusals: list[str] = []

    async def busy_twice(server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address.startswith("later") and len(refusals) < 2:
            refusals.append(address)
            return "451 4.7.1 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    box.handle_RCPT = busy_twice  # type: ignore[attr-defined]
    try:
        t0 = clock.now()
        ident = enqueue(db, "later@contoh.id", t0)
        wait_until(lambda: rows(db, id=ident)[0].attempts == 1, message="first 451")
        assert rows(db, id=ident)[0].next_try_at == pytest.approx(t0 + 60.0)
        assert "451" in rows(db, id=ident)[0].last_error
        clock.advance(60.0)
        wait_until(lambda: rows(db, id=ident)[0].attempts == 2, message="second 451")
        (row,) = rows(db, id=ident)
        assert row.status == "pending" and row.next_try_at == pytest.approx(t0 + 60 + 120)
        clock.advance(119.0)
        time.sleep(5 * TICK)
        assert rows(db, id=ident)[0].attempts == 2  # one second early: not tried
        clock.advance(1.0)
        box.wait_for("later@contoh.id")
    finally:
        del box.handle_RCPT  # type: ignore[attr-defined]
    time.sleep(5 * TICK)
    assert len(rig.smtp.received("later@contoh.id")) == 1
    assert rows(db, id=ident)[0].status == "sent"


def _staff(rec: RecServer, user: str, password: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=rec.url)
    m = CSRF.search(c.get("/recruitment/staff/login").text)
    assert m is not None
    r = c.post(
        "/recruitment/staff/login",
        data={"csrf": m.group(1), "username": user, "password": password},
    )
    assert r.status_code == 303, r.text
    m = CSRF.search(c.get("/recruitment/staff").text)
    assert m is not None
    return c, m.group(1)


def test_permanent_failure_is_shown_to_staff_who_send_it_again(rig: Rig) -> None:
    db, clock, box = rig.rec.handle.db, rig.clock, rig.smtp.box

    async def no_such_user(server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address.startswith("bounce"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    box.handle_RCPT = no_such_user  # type: ignore[attr-defined]
    try:
        ident = enqueue(db, "bounce@contoh.id", clock.now(), subject="Status pendaftaran")
        (row,) = wait_until(
            lambda: [r for r in rows(db, id=ident) if r.status == "failed"], message="550"
        )
        assert row.attempts == 1 and "550" in row.last_error  # failed at once: no retries
        clock.advance(7200.0)
        time.sleep(5 * TICK)
        assert rows(db, id=ident)[0].attempts == 1 and rig.smtp.received("bounce@contoh.id") == []
    finally:
        del box.handle_RCPT  # type: ignore[attr-defined]

    admin, token = _staff(rig.rec, "admin-rekrutmen", PASSWORDS["admin"])
    page = admin.get("/recruitment/staff?lang=en").text
    assert re.search(r'id="outbox-failed">1<', page) and re.search(r'id="outbox-pending">0<', page)
    failed_row = re.search(rf'<tr id="outbox-{ident}">(.*?)</tr>', page, re.S)
    assert failed_row is not None
    assert "bounce@contoh.id" in failed_row.group(
        1
    ) and "550 5.1.1 no such user" in failed_row.group(1)
    assert "Send again" in failed_row.group(1)
    again = f"/recruitment/staff/outbox/{ident}/again"
    # Without the form's token: refused, nothing changes.
    assert admin.post(again, data={}).status_code == 403
    # A verifier may not.
    verifier, vtoken = _staff(rig.rec, "verifikator1", PASSWORDS["verifier"])
    assert verifier.post(again, data={"csrf": vtoken}).status_code == 409
    verifier.close()
    assert rows(db, id=ident)[0].status == "failed"
    # The admin may: queued again (audited), and the page's kick sends it.
    r = admin.post(again, data={"csrf": token})
    assert r.status_code == 303
    box.wait_for("bounce@contoh.id")
    assert rows(db, id=ident)[0].status == "sent"
    with Session(db) as s:
        event = s.execute(
            select(AuditEvent).where(col(AuditEvent.kind) == "rec_outbox_retry")
        ).scalar_one()
    assert event.actor == "admin-rekrutmen" and json.loads(event.data_json) == {"messages": [ident]}
    assert re.search(r'id="outbox-failed">0<', admin.get("/recruitment/staff").text)
    admin.close()


# -- the rules and the settings -------------------------------------------------------------


def test_back_off_doubles_up_to_its_cap_and_5xx_is_permanent() -> None:
    import smtplib

    p = RetryPolicy(60, 3600, 8)
    assert [p.delay(n) for n in range(1, 9)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert not p.gives_up(7) and p.gives_up(8)
    assert classify(smtplib.SMTPRecipientsRefused({"a@b": (550, b"no")})) == "permanent"
    assert classify(smtplib.SMTPRecipientsRefused({"a@b": (451, b"later")})) == "temporary"
    assert classify(smtplib.SMTPDataError(554, b"spam")) == "permanent"
    assert classify(smtplib.SMTPSenderRefused(421, b"busy", "x@y")) == "temporary"
    assert classify(smtplib.SMTPConnectError(554, b"go away")) == "temporary"
    assert classify(ConnectionRefusedError()) == "temporary"
    assert classify(TimeoutError()) == "temporary"
    with pytest.raises(ValueError, match="max attempts"):
        RetryPolicy(60, 3600, 0)
    with pytest.raises(ValueError, match="longest retry delay"):
        RetryPolicy(60, 30, 3)


def test_outbox_settings_are_validated() -> None:
    def cfg(**extra: str) -> OutboxConfig:
        return OutboxConfig.from_settings(make_settings("sqlite:///x.db", extra=extra))

    c = cfg(recruitment_smtp_host="mail", recruitment_retry_first_seconds="30")
    assert c.smtp is not None and c.smtp.policy.delay(3) == 120 and c.reminder_days == (3.0, 1.0)
    assert c.smtp.timeout_seconds == 10 and c.interval_seconds == 30
    assert cfg().smtp is None  # no host: messages stay stored
    bad = {
        "recruitment_retry_max_attempts": ("0", "RETRY_MAX_ATTEMPTS"),
        "recruitment_retry_first_seconds": ("soon", "RETRY_FIRST_SECONDS"),
        "recruitment_outbox_interval_seconds": ("0", "OUTBOX_INTERVAL_SECONDS"),
        "recruitment_outbox_lease_seconds": ("30", "OUTBOX_LEASE_SECONDS"),
        "recruitment_reminder_days": ("3,3", "REMINDER_DAYS"),
        "recruitment_smtp_port": ("99999", "SMTP_PORT"),
    }
    for name, (value, named) in bad.items():
        with pytest.raises(ValueError, match=named):
            cfg(recruitment_smtp_host="mail", **{name: value})
    with pytest.raises(ValueError, match="RETRY"):
        cfg(recruitment_retry_first_seconds="600", recruitment_retry_max_seconds="60")


# -- without a server: exhaustion, timeouts, two senders ------------------------------------


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Any]:
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    create_schema(engine)
    yield engine
    engine.dispose()


def test_retries_run_out_after_max_attempts(sqlite_db: Any) -> None:
    target = SmtpTarget("127.0.0.1", free_port(), "x@y", 1.0, RetryPolicy(60, 100, 3))
    ident = enqueue(sqlite_db, "nobody@contoh.id", 0.0)
    delays = []
    now = 0.0
    for _ in range(3):
        d = outbox.send_pending(sqlite_db, target, now)
        assert d.claimed == 1 and d.sent == 0
        (row,) = rows(sqlite_db, id=ident)
        delays.append(row.next_try_at - now if row.status == "pending" else None)
        assert outbox.send_pending(sqlite_db, target, row.next_try_at - 1).claimed == 0
        now = row.next_try_at
    assert delays == [60.0, 100.0, None]  # doubled, capped, then given up
    (row,) = rows(sqlite_db, id=ident)
    assert row.status == "failed" and row.attempts == 3 and "connect" in row.last_error
    status = svc.outbox_status(sqlite_db)
    assert (status.unsent, status.failed, status.failing[0]["id"]) == (0, 1, ident)


def test_a_server_that_never_answers_is_a_temporary_failure(sqlite_db: Any) -> None:
    with socket.socket() as mute:  # accepts the connection, never greets
        mute.bind(("127.0.0.1", 0))
        mute.listen(4)
        target = SmtpTarget("127.0.0.1", mute.getsockname()[1], "x@y", timeout_seconds=1.0)
        ident = enqueue(sqlite_db, "slow@contoh.id", 0.0)
        d = outbox.send_pending(sqlite_db, target, 0.0)
    (row,) = rows(sqlite_db, id=ident)
    assert (d.retry, row.status, row.next_try_at) == (1, "pending", 60.0)
    assert "timed out" in row.last_error


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_two_senders_deliver_each_message_exactly_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Two senders, as two server processes would be (an engine and an SMTP
    target each), drain one outbox at once: every message arrives once."""
    url = (
        f"sqlite:///{tmp_path / 'two.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    setup = make_engine(url)
    create_schema(setup)
    n = 120
    with Session(setup) as s:
        for i in range(n):
            svc.enqueue(s, f"p{i:03d}@contoh.id", "Status", f"isi {i}", "status", 0.0)
        s.commit()
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    engines = [make_engine(url), make_engine(url)]
    start = threading.Barrier(2)

    def sender(i: int) -> int:
        target = SmtpTarget("127.0.0.1", controller.port, "x@y")
        start.wait()
        sent = 0
        while True:  # small claims, so the two interleave all the way through
            d = outbox.send_pending(engines[i], target, 1.0, limit=3)
            sent += d.sent
            if d.claimed == 0:
                return sent

    try:
        with ThreadPoolExecutor(2) as pool:
            counts = list(pool.map(sender, range(2)))
    finally:
        controller.stop()
        for e in engines:
            e.dispose()
    try:
        got = sorted(m[0] for m in box.received)
        assert got == sorted(f"p{i:03d}@contoh.id" for i in range(n))  # each exactly once
        assert sum(counts) == n and min(counts) > 0  # both really sent
        assert {r.status for r in rows(setup)} == {"sent"}
    finally:
        setup.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_reminders_queued_once_by_concurrent_runs(
    backend: str, sqlite_db: Any, request: pytest.FixtureRequest
) -> None:
    """The once-only key holds even when two runs insert the same reminder
    (``INSERT … ON CONFLICT DO NOTHING`` on either database)."""
    db = sqlite_db
    if backend == "postgres":
        db = make_engine(request.getfixturevalue("postgres_url"))
        create_schema(db)
    rows_ = [
        {
            "to_addr": "a@contoh.id",
            "subject": "Pengingat",
            "body": "isi",
            "kind": "deadline_reminder",
            "created_at": 1.0,
            "dedupe_key": "deadline:1:3",
        }
    ]
    for _ in range(2):
        with Session(db) as s:
            outbox.enqueue_once(s, rows_)
            s.commit()
    assert len(rows(db, kind="deadline_reminder")) == 1
    assert queue_reminders(db, 1.0, (3.0, 1.0)) == 0  # no period: nothing due
    if db is not sqlite_db:
        db.dispose()


# -- the command line -----------------------------------------------------------------------


def test_outbox_send_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db = ["--db", url]
    assert main(["db", "migrate", *db]) == 0
    engine = make_engine(url)
    enqueue(engine, "ok@contoh.id", 0.0)
    enqueue(engine, "bounce@contoh.id", 0.0)
    box = Mailbox()

    async def no_bounce(server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address.startswith("bounce"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    box.handle_RCPT = no_bounce  # type: ignore[attr-defined]
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    send = ["recruitment", "outbox-send", "--smtp-host", "127.0.0.1"]
    send += ["--smtp-port", str(controller.port), *db]
    try:
        assert main(send) == 0
        assert "sent 1 messages, 0 to retry, 1 failed" in capsys.readouterr().out
        del box.handle_RCPT  # type: ignore[attr-defined]
        assert main([*send, "--again"]) == 0
        out = capsys.readouterr().out
        assert "1 failed messages queued again" in out and "sent 1 messages" in out
        assert main([*send, "--max-attempts", "0"]) == 1
        assert "--max-attempts" in capsys.readouterr().err
    finally:
        controller.stop()
    assert [m[0] for m in box.received] == ["ok@contoh.id", "bounce@contoh.id"]
    with Session(engine) as s:
        kinds = [e.kind for e in s.execute(select(AuditEvent)).scalars()]
    engine.dispose()
    assert "rec_outbox_retry" in kinds
    assert main(["recruitment", "remind", "--reminder-days", "3,3", *db]) == 1
    assert "--reminder-days" in capsys.readouterr().err
    assert main(["recruitment", "remind", *db]) == 0
    assert "0 reminders queued" in capsys.readouterr().out


def test_a_dead_senders_claim_lapses_and_its_late_result_is_ignored(sqlite_db: Any) -> None:
    """A sender that died mid-claim holds its messages until its lease ends;
    then another takes them, and the dead one's late write changes nothing."""
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        ident = enqueue(sqlite_db, "lapse@contoh.id", 0.0)
        (claimed,) = outbox._claim(sqlite_db, "dead", 0.0, 300.0, 10)  # then it "died"
        target = SmtpTarget("127.0.0.1", controller.port, "x@y", lease_seconds=300.0)
        assert outbox.send_pending(sqlite_db, target, 299.0).claimed == 0  # still held
        assert outbox.send_pending(sqlite_db, target, 301.0).sent == 1
        outbox._record(sqlite_db, "dead", claimed, {"status": "failed", "last_error": "late"})
    finally:
        controller.stop()
    (row,) = rows(sqlite_db, id=ident)
    assert (row.status, row.last_error, len(box.received)) == ("sent", "", 1)


def test_revision_0015_keeps_what_was_sent_and_gives_up_the_exhausted(tmp_path: Path) -> None:
    from alembic import command

    from exam_server.migrations import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}", pool_size=1)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0014_snapshot_zstd")
            for to, sent_at, attempts in (("a@x", 5.0, 1), ("b@x", None, 5), ("c@x", None, 2)):
                conn.execute(
                    text(
                        "INSERT INTO rec_outbox (to_addr, subject, body, kind, created_at, "
                        "sent_at, attempts, last_error) VALUES (:to, 's', 'b', 'status', 1.0, "
                        ":sent_at, :attempts, 'e')"
                    ),
                    {"to": to, "sent_at": sent_at, "attempts": attempts},
                )
            command.upgrade(alembic_config(conn), "0015_outbox_retry")
        got = {r.to_addr: (r.status, r.next_try_at, r.dedupe_key) for r in rows(engine)}
        assert got == {
            "a@x": ("sent", 0.0, None),
            "b@x": ("failed", 0.0, None),
            "c@x": ("pending", 0.0, None),
        }
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0014_snapshot_zstd")
            cols = {c["name"] for c in sa_inspect(conn).get_columns("rec_outbox")}
        assert "status" not in cols and "attempts" in cols
    finally:
        engine.dispose()


def test_a_server_with_a_bad_outbox_setting_does_not_start(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from exam_server.app import create_app

    extra = {"recruitment_smtp_host": "127.0.0.1", "recruitment_retry_max_attempts": "0"}
    app = create_app(make_settings(f"sqlite:///{tmp_path / 's.db'}", extra=extra))
    with pytest.raises(ValueError, match="SELEKSI_RECRUITMENT_RETRY_MAX_ATTEMPTS"), TestClient(app):
        pass


def test_a_message_sent_again_carries_the_same_message_id(sqlite_db: Any) -> None:
    """Delivery is at least once: when a sender dies after the SMTP server
    took a message but before the result was stored, the message goes again
    once the lease ends. Both copies carry one Message-ID (and Date), by
    which mail systems and readers recognise the copy; another message has
    another."""
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        target = SmtpTarget("127.0.0.1", controller.port, "seleksi@bkn.go.id", lease_seconds=300.0)
        first = enqueue(sqlite_db, "dua-kali@contoh.id", 0.0)
        enqueue(sqlite_db, "lain@contoh.id", 0.0)
        assert outbox.send_pending(sqlite_db, target, 1.0).sent == 2
        # The sender "died" before storing the first result: as a lapsed claim.
        with sqlite_db.begin() as c:
            c.execute(
                text("UPDATE rec_outbox SET status = 'sending', lease_until = 2 WHERE id = :i"),
                {"i": first},
            )
        assert outbox.send_pending(sqlite_db, target, 400.0).sent == 1
    finally:
        controller.stop()
    by_to: dict[str, list[str]] = {}
    for (to, _, _), mid in zip(box.received, box.message_ids, strict=True):
        by_to.setdefault(to, []).append(mid)
    twice = by_to["dua-kali@contoh.id"]
    assert len(twice) == 2 and twice[0] == twice[1]
    assert twice[0].endswith("@bkn.go.id>")
    assert by_to["lain@contoh.id"] != [twice[0]]
