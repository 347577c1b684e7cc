"""Reminders an applicant can rely on: before registration closes, each draft
gets one per lead time; while the appeal window is open, each TMS registration
that has not appealed gets one per lead time before it closes, and an appeal
stops them. Against a real server whose clock the test moves and a real SMTP
server (``rig``)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from exam_server.recruitment import service as svc
from exam_server.recruitment.demo import demo_nik
from recruitment.delivery import (
    DAY,
    appeal_lead_due,
    appeal_reminder_message,
    due_lead,
    end_of_day,
    parse_lead_days,
    submission_deadline,
)
from recruitment.models import RecOutbox
from tests.recruitment.conftest import TICK, Rig, rows, wait_until


@pytest.fixture(scope="module")
def sending(rig: Rig) -> Rig:
    """The rig with its SMTP server listening (reminders are delivered)."""
    if rig.smtp.controller is None:
        rig.smtp.start()
    return rig


# -- reminders ------------------------------------------------------------------------------


def test_deadline_reminders_once_per_lead_time(sending: Rig) -> None:
    """Lead times 3 and 1 days (the default): each unsubmitted registration gets
    one reminder at each, in Bahasa Indonesia first, whatever the ticks; a
    submitted one gets none."""
    rig = sending
    db, clock, box = rig.rec.handle.db, rig.clock, rig.smtp.box
    period = svc.current_period(db)
    assert period is not None
    account = svc.signup(db, "rina@contoh.id", "Rina", "x", lambda i: "", clock.now())
    assert account is not None
    fields = {
        "nik": demo_nik(dt.date(1996, 5, 6), "F", 51),
        "name": "Rina Lestari",
        "sex": "F",
        "birth_date": dt.date(1996, 5, 6),
        "education_level": "S1",
        "major": "Psikologi",
        "formation": "ANALIS-SDM-GENERAL",
        "test_location": "Bandung",
        "accommodation": "",
    }
    cfg = rig.rec.config
    svc.save_registration(db, period, account, fields, cfg.nik_key, cfg.registry, clock.now())
    drafts = {"ani@contoh.id", "rina@contoh.id"}  # the demo's draft, and Rina's
    deadline = submission_deadline(period.schedule.registration_closes)

    def reminders() -> list[RecOutbox]:
        return rows(db, kind="deadline_reminder")

    clock.set(deadline - 3 * DAY - 60)
    time.sleep(5 * TICK)
    assert reminders() == []  # a minute early
    clock.set(deadline - 3 * DAY + 60)
    wait_until(lambda: len(reminders()) == 2, message="the 3-day reminders")
    for to in drafts:
        box.wait_for(to, subject="Pengingat")
    clock.advance(3600.0)
    time.sleep(5 * TICK)
    assert len(reminders()) == 2  # ticks went on: nothing queued twice
    clock.set(deadline - 1 * DAY + 60)
    wait_until(lambda: len(reminders()) == 4, message="the 1-day reminders")
    wait_until(
        lambda: all(
            len([m for m in box.received if m[0] == to and "Pengingat" in m[1]]) == 2
            for to in drafts
        ),
        message="both reminders delivered",
    )
    clock.set(deadline + 60)  # registration closed
    time.sleep(5 * TICK)
    mine = reminders()
    assert len(mine) == 4 and {r.to_addr for r in mine} == drafts
    assert {r.status for r in mine} == {"sent"}
    for to in drafts:
        got = [m for m in box.received if m[0] == to and "Pengingat" in m[1]]
        assert len(got) == 2
    body = mine[0].body
    closes = period.schedule.registration_closes.isoformat()
    assert body.index("Pendaftaran Anda") < body.index("Your registration") and closes in body
    assert "sekitar 2 hari 23 jam" in body and "about 2 days 23 hours left" in body
    assert "sekitar 23 jam" in mine[2].body and "about 23 hours left" in mine[2].body


def test_appeal_reminders_reach_tms_registrations_until_they_appeal(sending: Rig) -> None:
    """While the appeal window is open, a TMS registration that has not
    appealed is reminded at each lead time before the window closes, once;
    an appeal stops them, and other registrations (the demo's appealed Eka,
    the drafts) get none. The TMS decision itself already said the window."""
    rig = sending
    db, clock, box = rig.rec.handle.db, rig.clock, rig.smtp.box
    period = svc.current_period(db)
    assert period is not None
    schedule = period.schedule
    (status_mail,) = rows(db, to_addr="dedi@contoh.id", kind="status:tms")
    window = f"{schedule.appeal_opens.isoformat()} sampai {schedule.appeal_closes.isoformat()}"
    assert f"Masa sanggah: {window} pukul 23.59 WIB" in status_mail.body
    assert "Appeal window:" in status_mail.body
    deadline = end_of_day(schedule.appeal_closes)

    def reminders() -> list[RecOutbox]:
        return rows(db, kind="appeal_reminder")

    clock.set(deadline - 3 * DAY - 60)
    time.sleep(5 * TICK)
    assert reminders() == []  # a minute before the 3-day point
    clock.set(deadline - 3 * DAY + 60)
    wait_until(lambda: len(reminders()) == 1, message="the 3-day appeal reminder")
    (first,) = reminders()
    assert first.to_addr == "dedi@contoh.id"
    got = box.wait_for("dedi@contoh.id", subject="masa sanggah")
    assert "ajukan sanggah" in got[0][2] or "ajukan sanggah" in first.body
    body = first.body
    assert body.index("dinyatakan tidak memenuhi") < body.index("was found not to meet")
    assert schedule.appeal_closes.isoformat() in body
    assert "sekitar 2 hari 23 jam" in body and "about 2 days 23 hours left" in body
    clock.advance(3600.0)
    time.sleep(5 * TICK)
    assert len(reminders()) == 1  # ticks went on: nothing queued twice
    dedi = svc.account_login(db, "dedi@contoh.id", "candidate-pass-1", "")
    assert dedi is not None and dedi.id is not None
    svc.file_appeal(db, period, dedi.id, "Ijazah saya unggah ulang.", clock.now())
    clock.set(deadline - 1 * DAY + 60)
    time.sleep(5 * TICK)
    assert len(reminders()) == 1  # appealed: no 1-day reminder
    clock.set(deadline + 60)


def test_appeal_reminders_wait_for_the_window() -> None:
    opens, closes = dt.date(2024, 10, 1), dt.date(2024, 10, 2)  # two days
    deadline = end_of_day(closes)
    leads = (3.0, 1.0)
    start = dt.datetime(2024, 10, 1, tzinfo=svc.WIB).timestamp()
    # The 3-day point falls before the window opens: due from its opening.
    assert appeal_lead_due(opens, closes, start - 1, leads) is None
    assert appeal_lead_due(opens, closes, start, leads) == 3.0
    assert appeal_lead_due(opens, closes, deadline - DAY, leads) == 1.0
    assert appeal_lead_due(opens, closes, deadline, leads) is None
    subject, body = appeal_reminder_message("Dedi", "REG-1", "CPNS 2024", deadline, start)
    assert "masa sanggah" in subject and "appeal window" in subject
    assert "REG-1" in body and "2024-10-02 pukul 23.59 WIB" in body
    assert "sekitar 2 hari 0 jam" in body and "about 2 days 0 hours left" in body


def test_reminder_windows_and_keys() -> None:
    deadline = submission_deadline(dt.date(2024, 9, 6))
    assert dt.datetime.fromtimestamp(deadline, svc.WIB) == dt.datetime(
        2024, 9, 7, 0, 0, tzinfo=svc.WIB
    )
    leads = parse_lead_days("1,3")
    assert leads == (3.0, 1.0)
    assert due_lead(deadline, deadline - 3 * DAY - 1, leads) is None
    assert due_lead(deadline, deadline - 3 * DAY, leads) == 3.0
    assert due_lead(deadline, deadline - DAY - 1, leads) == 3.0
    # A server down through the 3-day point sends the 1-day one only, never both.
    assert due_lead(deadline, deadline - DAY, leads) == 1.0
    assert due_lead(deadline, deadline - 1, leads) == 1.0
    assert due_lead(deadline, deadline, leads) is None
    assert parse_lead_days("off") == ()
    for bad in ("x", "3,3", "0.0,1", "61", "1,2,3,4,5,6,7"):
        with pytest.raises(ValueError, match="reminder lead days"):
            parse_lead_days(bad)
