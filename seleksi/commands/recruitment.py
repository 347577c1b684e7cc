"""``seleksi recruitment``: set up a selection period before the test (issue 18).

    seleksi recruitment period-create CODE --name NAME --agency AGENCY --schedule FILE
                                      [--rules FILE] [--exam EXAM]
    seleksi recruitment agency-create CODE --name NAME
    seleksi recruitment staff-create USERNAME --role operator|approver|verifier|admin
                                     [--agency CODE] [--password-file FILE]
    seleksi recruitment schedule-set FILE [--period CODE]
    seleksi recruitment staff-list | staff-password USERNAME [--password-file FILE]
    seleksi recruitment extended-exam EXAM NEW_CODE [--factor 1.3]
    seleksi recruitment slot-add SESSION --location LOC [--extended] [--period CODE]
    seleksi recruitment outbox-send --smtp-host HOST [--smtp-port 25] [--from ADDR]
                                    [--again] [--watch SECONDS] [--reminder-days 3,1]
                                    [--retry-first 60] [--retry-max 3600] [--max-attempts 8]
    seleksi recruitment remind [--reminder-days 3,1]
    seleksi recruitment bounces (--maildir DIR | --mbox FILE)
    seleksi recruitment status [--period CODE]

Everything else (needs, approval, the announcement, registration,
verification, appeals, scheduling) happens on the pages at ``/recruitment``
(docs/recruitment.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from seleksi.cli import CommandError, examples
from seleksi.database import add_db_argument, require_database, url_of


def register(sub: Any) -> None:
    p = sub.add_parser(
        "recruitment",
        help="recruitment before the test: periods, agency accounts, sessions, outbox",
        description="Set up a selection period before the test: the period with its schedule "
        "and eligibility rules, the agency's accounts (operator, approver, verifier, admin), "
        "the exam sessions open to it per test location, and send the outbox by SMTP. Needs, "
        "the announcement, registration, verification, appeals and scheduling are done on "
        "the pages at /recruitment.",
        epilog=examples(
            "seleksi recruitment period-create CASN-2024 --name 'Seleksi CASN 2024' "
            "--agency 'Kementerian Contoh' --schedule schedule.json --exam SKD-2024",
            "seleksi recruitment staff-create verifikator1 --role verifier",
            "seleksi recruitment slot-add SESI-JKT-1 --location Jakarta",
            "seleksi recruitment outbox-send --smtp-host 127.0.0.1 --smtp-port 1025",
        ),
    )
    ssub = p.add_subparsers(dest="recruitment_command", metavar="ACTION")
    ssub.required = True

    c = ssub.add_parser(
        "period-create",
        help="create a selection period",
        description="Create a period. --schedule: a JSON file with registration_opens, "
        "registration_closes, verification_ends, appeal_opens, appeal_closes, "
        "appeal_answer_days, exam_from, exam_to (dates YYYY-MM-DD). --rules: the eligibility "
        "rules (JSON, as recruitment/rules_2024.json, the default).",
        epilog=examples(
            "seleksi recruitment period-create CASN-2024 --name 'CASN 2024' "
            "--agency 'Kementerian Contoh' --schedule schedule.json"
        ),
    )
    c.add_argument("code", metavar="CODE")
    c.add_argument("--name", required=True)
    c.add_argument("--agency", required=True)
    c.add_argument("--schedule", required=True, metavar="FILE")
    c.add_argument("--rules", metavar="FILE", help="eligibility rules (default: CASN 2024)")
    c.add_argument("--exam", default="", metavar="EXAM", help="the exam the candidates sit")
    add_db_argument(c)
    c.set_defaults(func=_period_create)

    sc = ssub.add_parser(
        "schedule-set",
        help="change a period's dates",
        description="Replace the period's schedule with the dates in FILE (the same JSON as "
        "period-create --schedule). The public announcement shows the change, with the old "
        "and new dates, when it is published again.",
        epilog=examples("seleksi recruitment schedule-set schedule-extended.json"),
    )
    sc.add_argument("schedule", metavar="FILE")
    sc.add_argument("--period", metavar="CODE", help="default: the newest period")
    add_db_argument(sc)
    sc.set_defaults(func=_schedule_set)

    ag = ssub.add_parser(
        "agency-create",
        help="create an agency (instansi) recruiting in the periods",
        description="Create an agency: a ministry, province or regency whose staff enter "
        "needs and verify the registrations for its formations (staff-create --agency).",
        epilog=examples(
            "seleksi recruitment agency-create KEMCON --name 'Kementerian Contoh'",
        ),
    )
    ag.add_argument("code", metavar="CODE")
    ag.add_argument("--name", required=True)
    add_db_argument(ag)
    ag.set_defaults(func=_agency_create)

    s = ssub.add_parser(
        "staff-create",
        help="create an agency account",
        description="Create an account of the recruitment pages: operator (enters needs), "
        "approver (approves them; another account than the operator), verifier (checks "
        "registrations, confirms others' TMS, answers appeals), admin (approves needs; a "
        "national admin also publishes and schedules). --agency: the agency the account "
        "acts for (it sees and changes only that agency's needs and registrations); without "
        "it the account is national (every agency). The password is prompted twice or read "
        "from --password-file.",
        epilog=examples(
            "seleksi recruitment staff-create penyetuju --role approver --agency KEMCON",
            "seleksi recruitment staff-create admin-bkn --role admin",
        ),
    )
    s.add_argument("username", metavar="USERNAME")
    s.add_argument("--role", required=True, choices=("operator", "approver", "verifier", "admin"))
    s.add_argument("--agency", metavar="CODE", help="the agency's code (default: national)")
    s.add_argument("--name", default="")
    s.add_argument("--password-file", metavar="FILE", help="first line of FILE (- for stdin)")
    add_db_argument(s)
    s.set_defaults(func=_staff_create)

    sl = ssub.add_parser(
        "staff-list",
        help="list the agency accounts",
        description="List the recruitment pages' accounts: login name, role, name.",
        epilog=examples("seleksi recruitment staff-list"),
    )
    add_db_argument(sl)
    sl.set_defaults(func=_staff_list)

    sp = ssub.add_parser(
        "staff-password",
        help="set a new password for an agency account",
        description="Replace an agency account's password (prompted twice, or the first "
        "line of --password-file; at least 10 characters).",
        epilog=examples("seleksi recruitment staff-password verifikator1"),
    )
    sp.add_argument("username", metavar="USERNAME")
    sp.add_argument("--password-file", metavar="FILE", help="first line of FILE (- for stdin)")
    add_db_argument(sp)
    sp.set_defaults(func=_staff_password)

    e = ssub.add_parser(
        "extended-exam",
        help="copy an exam with a longer time limit (extra-time sessions)",
        description="Copy EXAM as NEW_CODE with its time limit times --factor (100 minutes "
        "become 130 at 1.3), for the sessions of candidates with the extra_time accommodation.",
        epilog=examples("seleksi recruitment extended-exam SKD-2024 SKD-2024-X"),
    )
    e.add_argument("exam", metavar="EXAM")
    e.add_argument("new_code", metavar="NEW_CODE")
    e.add_argument("--factor", type=float, default=1.3)
    add_db_argument(e)
    e.set_defaults(func=_extended_exam)

    a = ssub.add_parser(
        "slot-add",
        help="open an exam session to a period's candidates at a test location",
        description="Candidates choose among the locations of these sessions; scheduling "
        "fills each location's sessions earliest first within their rooms' capacity. "
        "--extended: a session for extra time (its exam must give more time).",
        epilog=examples("seleksi recruitment slot-add SESI-JKT-X --location Jakarta --extended"),
    )
    a.add_argument("session", metavar="SESSION")
    a.add_argument("--location", required=True)
    a.add_argument("--extended", action="store_true")
    a.add_argument("--period", metavar="CODE", help="default: the newest period")
    add_db_argument(a)
    a.set_defaults(func=_slot_add)

    o = ssub.add_parser(
        "outbox-send",
        help="send the due messages by SMTP (with retries; --watch keeps sending)",
        description="Send every due message of the outbox. A message the SMTP server "
        "refuses for now (connection refused, a 4xx reply, a timeout) is tried again after "
        "--retry-first seconds, then twice as long each time up to --retry-max, at most "
        "--max-attempts times; a 5xx reply, or the last attempt, marks it failed with the "
        "error (shown on the staff page). --again first puts every failed message back "
        "(audited). --watch SECONDS keeps running: every SECONDS it queues the deadline "
        "reminders that are due (--reminder-days) and sends what is due, until Ctrl-C. "
        "Several senders (servers with SELEKSI_RECRUITMENT_SMTP_HOST, this command) may run "
        "at once: each message is claimed by one of them and sent once.",
        epilog=examples(
            "seleksi recruitment outbox-send --smtp-host mail.contoh.go.id",
            "seleksi recruitment outbox-send --smtp-host 127.0.0.1 --smtp-port 1025 --again",
            "seleksi recruitment outbox-send --smtp-host mail.contoh.go.id --watch 30",
        ),
    )
    o.add_argument("--smtp-host", required=True)
    o.add_argument("--smtp-port", type=int, default=25)
    o.add_argument("--from", dest="mail_from", default="seleksi@localhost")
    o.add_argument("--smtp-timeout", type=float, default=10.0, metavar="SECONDS")
    o.add_argument("--retry-first", type=float, default=60.0, metavar="SECONDS")
    o.add_argument("--retry-max", type=float, default=3600.0, metavar="SECONDS")
    o.add_argument("--max-attempts", type=int, default=8)
    o.add_argument("--again", action="store_true", help="send every failed message again")
    o.add_argument("--watch", type=float, default=None, metavar="SECONDS")
    o.add_argument(
        "--reminder-days",
        default="3,1",
        help="with --watch: reminder lead times in days before registration or the appeal "
        "window closes, or 'off'",
    )
    add_db_argument(o)
    o.set_defaults(func=_outbox_send)

    r = ssub.add_parser(
        "remind",
        help="queue the deadline and appeal reminders that are due now",
        description="Queue a reminder in the outbox for every registration still in draft "
        "when registration closes within a lead time (--reminder-days, default 3 and 1 "
        "days), and for every TMS registration that has not appealed when the open appeal "
        "window closes within one: one per registration and lead time, never twice "
        "(Bahasa Indonesia, then English). outbox-send sends them; a server with an SMTP "
        "host does both on its own.",
        epilog=examples(
            "seleksi recruitment remind", "seleksi recruitment remind --reminder-days 7,3,1"
        ),
    )
    r.add_argument("--reminder-days", default="3,1")
    add_db_argument(r)
    r.set_defaults(func=_remind)

    from seleksi.commands import bounces, voids

    bounces.add_parser(ssub, _engine)

    voids.add_parser(ssub, _engine)

    st = ssub.add_parser(
        "status",
        help="the period's needs, announcement versions and registrations by state",
        description="Print the period: needs by state, announcement versions, registrations "
        "by state, the outbox's unsent (and retrying) and failed messages.",
        epilog=examples("seleksi recruitment status"),
    )
    st.add_argument("--period", metavar="CODE", help="default: the newest period")
    add_db_argument(st)
    st.set_defaults(func=_status)


def _engine(args: argparse.Namespace) -> Any:
    from exam_server.db import make_engine

    url = url_of(args.db)
    require_database(url, tables=("rec_period",))
    return make_engine(url, pool_size=1)


def _period(engine: Any, code: str | None) -> Any:
    from exam_server.recruitment import service as svc

    if code:
        try:
            return svc.period_by_code(engine, code)
        except svc.NotFound:
            raise CommandError(f"no period {code!r}") from None
    period = svc.current_period(engine)
    if period is None:
        raise CommandError("no period yet: seleksi recruitment period-create")
    return period


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{what} {path}: {exc}") from None


def _period_create(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from exam_server.recruitment import service as svc
    from recruitment.announcement import Schedule
    from recruitment.eligibility import EligibilityRules

    try:
        schedule = Schedule.model_validate_json(_read(args.schedule, "--schedule"))
        rules = EligibilityRules.from_json(_read(args.rules, "--rules")) if args.rules else None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "-"
        raise CommandError(f"{where}: {first['msg']}") from None
    engine = _engine(args)
    try:
        period_id = svc.create_period(
            engine, args.code, args.name, args.agency, schedule, rules, args.exam, "cli"
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    finally:
        engine.dispose()
    print(f"created period {args.code} (id {period_id})")
    return 0


def _schedule_set(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from exam_server.recruitment import service as svc
    from recruitment.announcement import Schedule

    try:
        schedule = Schedule.model_validate_json(_read(args.schedule, "schedule"))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CommandError(
            f"{'.'.join(str(x) for x in first['loc']) or '-'}: {first['msg']}"
        ) from None
    engine = _engine(args)
    try:
        period = _period(engine, args.period)
        svc.set_schedule(engine, period.id, schedule, "cli", time.time())
    finally:
        engine.dispose()
    print(f"new schedule for {period.code}; publish the announcement again to show it")
    return 0


def _staff_create(args: argparse.Namespace) -> int:
    from exam_server.recruitment import service as svc
    from seleksi.commands.staff import read_password

    password = read_password(args.password_file)
    engine = _engine(args)
    try:
        staff_id = svc.create_staff(
            engine, args.username, args.name, args.role, password, agency=args.agency
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except svc.NotFound:
        raise CommandError(f"no agency {args.agency} (seleksi recruitment agency-create)") from None
    except Exception as exc:  # the unique username
        raise CommandError(f"cannot create {args.username}: {type(exc).__name__}") from None
    finally:
        engine.dispose()
    print(f"created {args.role} {args.username} of {args.agency or 'national'} (id {staff_id})")
    return 0


def _agency_create(args: argparse.Namespace) -> int:
    from exam_server.recruitment import service as svc

    engine = _engine(args)
    try:
        agency_id = svc.create_agency(engine, args.code, args.name)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except Exception as exc:  # the unique code
        raise CommandError(f"cannot create {args.code}: {type(exc).__name__}") from None
    finally:
        engine.dispose()
    print(f"created agency {args.code} (id {agency_id})")
    return 0


def _staff_list(args: argparse.Namespace) -> int:
    from exam_server.recruitment import service as svc

    engine = _engine(args)
    try:
        rows = svc.staff_list(engine)
    finally:
        engine.dispose()
    for r in rows:
        print(f"{r['username']:20s} {r['role']:9s} {r['agency']:12s} {r['name']}")
    return 0


def _staff_password(args: argparse.Namespace) -> int:
    from exam_server.auth import hash_password
    from exam_server.recruitment import service as svc
    from seleksi.commands.staff import read_password

    password = read_password(args.password_file)
    if len(password) < 10:
        raise CommandError("the password needs at least 10 characters; nothing was changed")
    engine = _engine(args)
    try:
        svc.set_staff_password(engine, args.username, hash_password(password))
    except svc.NotFound as exc:
        raise CommandError(str(exc)) from None
    finally:
        engine.dispose()
    print(f"new password set for {args.username}")
    return 0


def _extended_exam(args: argparse.Namespace) -> int:
    from exam_server.recruitment import service as svc
    from exam_server.scheduling import SetupError

    engine = _engine(args)
    try:
        exam_id = svc.extended_exam(engine, args.exam, args.new_code, args.factor)
    except (svc.NotFound, SetupError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        engine.dispose()
    print(f"created exam {args.new_code} (id {exam_id}), {args.factor}x the time of {args.exam}")
    return 0


def _slot_add(args: argparse.Namespace) -> int:
    from exam_server.recruitment import service as svc

    engine = _engine(args)
    try:
        period = _period(engine, args.period)
        svc.add_slot(engine, period.id, args.session, args.location, args.extended)
    except svc.NotFound as exc:
        raise CommandError(str(exc)) from None
    except svc.Refused as exc:
        raise CommandError(exc.text_en) from None
    finally:
        engine.dispose()
    print(f"session {args.session} open to {period.code} at {args.location}")
    return 0


def _lead_days(text: str) -> tuple[float, ...]:
    from recruitment.delivery import parse_lead_days

    try:
        return parse_lead_days(text)
    except ValueError as exc:
        raise CommandError(f"--reminder-days: {exc}") from None


def _outbox_send(args: argparse.Namespace) -> int:
    from exam_server.recruitment.config import OutboxConfig
    from exam_server.recruitment.outbox import SmtpTarget, send_again
    from exam_server.recruitment.worker import run_once
    from recruitment.delivery import RetryPolicy

    try:
        policy = RetryPolicy(args.retry_first, args.retry_max, args.max_attempts)
    except ValueError as exc:
        raise CommandError(f"--retry-first/--retry-max/--max-attempts: {exc}") from None
    if not 1 <= args.smtp_timeout <= 300:
        raise CommandError("--smtp-timeout: between 1 and 300 seconds")
    if args.watch is not None and not 0.1 <= args.watch <= 3600:
        raise CommandError("--watch: between 0.1 and 3600 seconds")
    days = _lead_days(args.reminder_days) if args.watch is not None else ()
    target = SmtpTarget(
        args.smtp_host,
        args.smtp_port,
        args.mail_from,
        timeout_seconds=args.smtp_timeout,
        policy=policy,
        lease_seconds=max(300.0, 6 * args.smtp_timeout),
    )
    cfg = OutboxConfig(target, args.watch or 0.0, days)
    engine = _engine(args)
    totals = [0, 0, 0, 0]  # reminders, sent, to retry, failed
    try:
        if args.again:
            print(f"{send_again(engine, None, 'cli', time.time())} failed messages queued again")
        while True:
            queued, d = run_once(engine, cfg, time.time())
            for i, n in enumerate((queued, d.sent, d.retry, d.failed)):
                totals[i] += n
            if args.watch is None:
                break
            time.sleep(args.watch)
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()
    reminders = f"{totals[0]} reminders queued, " if args.watch is not None else ""
    print(f"{reminders}sent {totals[1]} messages, {totals[2]} to retry, {totals[3]} failed")
    return 0


def _remind(args: argparse.Namespace) -> int:
    from exam_server.recruitment.reminders import queue_reminders

    days = _lead_days(args.reminder_days)
    engine = _engine(args)
    try:
        queued = queue_reminders(engine, time.time(), days)
    finally:
        engine.dispose()
    print(f"{queued} reminders queued")
    return 0


def _status(args: argparse.Namespace) -> int:
    from exam_server.recruitment import service as svc

    engine = _engine(args)
    try:
        period = _period(engine, args.period)
        needs = svc.needs(engine, period.id)
        versions = svc.announcement_versions(engine, period.id)
        counts = svc.registrations_by_status(engine, period.id)
        box = svc.outbox_status(engine)
    finally:
        engine.dispose()
    out = {
        "period": period.code,
        "rules": period.rules.version,
        "needs": {n["code"]: n["status"] for n in needs},
        "announcement_versions": len(versions),
        "registrations": counts,
        "outbox": {"unsent": box.unsent, "retrying": box.retrying, "failed": box.failed},
    }
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0
