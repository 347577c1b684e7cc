"""Bounces: delivery status notifications in the bounce mailbox mark the outbox
messages they report as failed, with the remote server's words; anything else
in the mailbox is left alone, and nothing a mailbox holds crashes the reader."""

from __future__ import annotations

import mailbox
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from exam_server.db import create_schema, make_engine
from exam_server.models import AuditEvent
from exam_server.recruitment import outbox
from recruitment.bounces import Bounce, read_report, report_bytes
from recruitment.models import RecOutbox
from seleksi.cli import main

ID = "<outbox.17.0123456789abcdef@contoh.go.id>"


def test_a_permanent_failure_is_read_with_its_words() -> None:
    assert read_report(report_bytes(ID, "tidak.ada@contoh.id")) == [
        Bounce(17, "0123456789abcdef", "tidak.ada@contoh.id", "5.1.1", "550 5.1.1 user unknown")
    ]


def test_the_original_may_come_back_whole() -> None:
    """Many servers return the whole message (message/rfc822) instead of its headers."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report.attach(MIMEText("Delivery failed.\n"))
    status = Message()
    status["Content-Type"] = "message/delivery-status"
    per_msg, per_rcpt = Message(), Message()
    per_msg["Reporting-MTA"] = "dns; mx.example.org"
    per_rcpt["Final-Recipient"] = "rfc822;penuh@example.org"
    per_rcpt["Action"] = "failed"
    per_rcpt["Status"] = "5.2.2"
    per_rcpt["Diagnostic-Code"] = "smtp; 552 5.2.2 mailbox full"
    status.set_payload([per_msg, per_rcpt])
    original = Message()
    original["Message-ID"] = ID
    original["Subject"] = "Verifikasi"
    original.set_payload("Halo\n")
    returned = Message()
    returned["Content-Type"] = "message/rfc822"
    returned.set_payload([original])
    report.attach(status)
    report.attach(returned)
    (b,) = read_report(report.as_bytes())
    assert (b.outbox_id, b.recipient, b.status) == (17, "penuh@example.org", "5.2.2")
    assert b.diagnostic == "552 5.2.2 mailbox full"


@pytest.mark.parametrize(
    "data",
    [
        report_bytes(ID, "a@b.id", status="4.4.1", action="delayed"),  # a delay warning
        report_bytes(ID, "a@b.id", status="2.0.0", action="delivered"),  # a receipt
        report_bytes(ID, "a@b.id", status="4.2.2", action="failed"),  # not permanent
        report_bytes("<CAF00@mail.gmail.com>", "a@b.id"),  # about someone else's mail
        b"From: someone@example.org\r\nSubject: halo\r\n\r\nbukan laporan\r\n",
        b"",
        b"\xff\xfe\x00garbage",
    ],
)
def test_anything_else_reports_nothing(data: bytes) -> None:
    assert read_report(data) == []


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.integers(0, 2000), st.binary(min_size=1, max_size=8))
def test_no_mailbox_content_crashes_the_reader(noise: bytes, at: int, patch: bytes) -> None:
    """Random bytes, and a real report with bytes overwritten anywhere."""
    assert isinstance(read_report(noise), list)
    real = bytearray(report_bytes(ID, "a@b.id"))
    at %= len(real)
    real[at : at + len(patch)] = patch
    for b in read_report(bytes(real)):
        assert b.outbox_id >= 0 and b.status.startswith("5.")


@pytest.fixture
def db(tmp_path: Path) -> tuple[str, Engine]:
    path = tmp_path / "rec.db"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    return str(path), engine


def queued(engine: Engine, to: str, now: float) -> RecOutbox:
    with Session(engine) as s:
        outbox.enqueue(s, to, "Verifikasi email", "Klik tautan ini", "verify", now)
        s.commit()
        row = s.execute(select(RecOutbox).where(RecOutbox.to_addr == to)).scalar_one()
        s.expunge(row)
        return row


def test_the_command_marks_the_bounced_messages_once_and_says_what_it_read(
    db: tuple[str, Engine], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, engine = db
    gone = queued(engine, "tidak.ada@contoh.id", 1_750_000_000.0)
    fine = queued(engine, "ada@contoh.id", 1_750_000_001.0)
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(report_bytes(outbox.message_id(gone, "seleksi@contoh.go.id"), gone.to_addr))
    box.add(report_bytes(outbox.message_id(fine, "x@y"), fine.to_addr, action="delayed"))
    # An id of this outbox's shape with a digest that does not fit the row
    # (another database's message, or a forged report): not applied.
    box.add(report_bytes(f"<outbox.{fine.id}.ffffffffffffffff@contoh.go.id>", fine.to_addr))
    box.add(b"From: teman@example.org\r\nSubject: halo\r\n\r\nbukan laporan\r\n")
    command = ["recruitment", "bounces", "--maildir", str(tmp_path / "Maildir"), "--db", path]

    assert main(command) == 0
    out = capsys.readouterr().out
    assert "4 messages read, 2 bounce reports about the outbox: 1 messages marked failed" in out
    assert "1 naming no message of this outbox" in out
    status = outbox.outbox_status(engine)
    assert status.failed == 1
    (failing,) = status.failing
    assert failing["to"] == "tidak.ada@contoh.id"
    assert failing["error"] == "bounced 5.1.1 tidak.ada@contoh.id: 550 5.1.1 user unknown"
    with Session(engine) as s:
        kinds = [e.kind for e in s.execute(select(AuditEvent)).scalars()]
    assert kinds.count("rec_outbox_bounced") == 1

    # Read again: nothing is marked twice, and the audit has no second entry.
    assert main(command) == 0
    assert "0 messages marked failed, 1 already marked" in capsys.readouterr().out
    with Session(engine) as s:
        kinds = [e.kind for e in s.execute(select(AuditEvent)).scalars()]
    assert kinds.count("rec_outbox_bounced") == 1


def test_an_mbox_works_and_a_wrong_mailbox_is_one_clear_line(
    db: tuple[str, Engine], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, engine = db
    gone = queued(engine, "hilang@contoh.id", 1_750_000_000.0)
    box = mailbox.mbox(tmp_path / "bounces.mbox", create=True)
    box.add(report_bytes(outbox.message_id(gone, "seleksi@contoh.go.id"), gone.to_addr))
    box.flush()
    assert (
        main(["recruitment", "bounces", "--mbox", str(tmp_path / "bounces.mbox"), "--db", path])
        == 0
    )
    assert "1 messages marked failed" in capsys.readouterr().out
    assert main(["recruitment", "bounces", "--maildir", str(tmp_path), "--db", path]) != 0
    err = capsys.readouterr().err
    assert "not a Maildir folder" in err and err.count("\n") == 1
    assert main(["recruitment", "bounces", "--mbox", str(tmp_path / "none"), "--db", path]) != 0
    assert "no such file" in capsys.readouterr().err
