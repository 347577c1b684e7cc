"""Recruitment's database operations: one function per thing a person does.

Every function runs one transaction (``Session(writer(engine))``) and writes
its change to the audit chain (``exam_server.audit.append``) in that same
transaction; the rules come from the ``recruitment`` package (state machines,
eligibility, NIK, documents, scheduling). The flow ends in the exam server's
own tables: an approved need becomes ``exam_formation`` rows
(``exam_server.scheduling.create_formations``), scheduling writes
``exam_candidate`` rows into ``exam_session``. Times are epoch seconds from
the caller's clock; "today" is the date in Western Indonesia (WIB), where the
periods' dates are announced.

No function logs or stores a NIK: it is checked, hashed and given to the
registry adapter, then dropped.

The operations live in modules by stage, re-exported here (callers use
``from exam_server.recruitment import service as svc``): ``periods`` (the
period, staff accounts, shared errors), ``needs`` (needs, formations,
announcements), ``outbox`` (messages and their delivery), ``accounts``
(candidate accounts), ``registrations``, ``verification`` (MS/TMS,
conflicts, appeals) and ``placement`` (slots, scheduling, cards).
What the candidate's page reads across them is here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from exam_server.recruitment.accounts import (  # noqa: F401
    RESEND_SECONDS,
    account,
    account_login,
    confirm_email_change,
    documents_of,
    email_fingerprint,
    masked,
    password_fingerprint,
    password_ok,
    registration_of,
    registrations_by_period,
    request_email_change,
    request_password_reset,
    resend_verification,
    reset_password,
    signup,
    verify_email,
)
from exam_server.recruitment.needs import (  # noqa: F401
    VersionInfo,
    announcement,
    announcement_versions,
    create_need,
    decide_need,
    formation_code,
    formations,
    need_form_values,
    needs,
    open_vacancies,
    parse_need,
    publish_announcement,
    requirement_of,
    submit_need,
    update_need,
)
from exam_server.recruitment.outbox import (  # noqa: F401
    OutboxStatus,
    Undelivered,
    enqueue,
    outbox_status,
    send_again,
    undelivered_to,
)
from exam_server.recruitment.periods import (  # noqa: F401
    STAFF_ROLES,
    WIB,
    AgencyView,
    NotFound,
    PeriodView,
    Refused,
    agencies,
    agency_by_code,
    create_agency,
    create_period,
    create_staff,
    current_period,
    period_by_code,
    period_by_id,
    period_list,
    set_schedule,
    set_staff_password,
    staff_by_id,
    staff_list,
    staff_login,
    today,
)
from exam_server.recruitment.placement import (  # noqa: F401
    ScheduleResult,
    add_slot,
    card_of,
    extended_exam,
    on_record,
    registrations_by_status,
    schedule,
    test_locations,
)
from exam_server.recruitment.registrations import (  # noqa: F401
    NIK_TAKEN,
    NOT_OPEN,
    eligibility_of,
    grant_accounts,
    identity_refusal,
    late_registration_running,
    late_until,
    may_register,
    nik_held_by_other,
    parse_registration,
    registration_number,
    save_registration,
    submit_registration,
    upload_document,
)
from exam_server.recruitment.verification import (  # noqa: F401
    Queue,
    answer_appeal,
    appeal_of,
    appeal_stats,
    approve_tms,
    decide_registration,
    declare_conflict,
    file_appeal,
    last_verification,
    open_appeals,
    pending_tms,
    registration_for_staff,
    verification_queue,
)
from exam_server.recruitment.voids import (  # noqa: F401
    GRANT_NOBODY,
    change_grant,
    default_grant_until,
    draft_holders_of,
    grant_of,
    granted_to,
    void_registration,
)
from recruitment import eligibility as elig
from recruitment.models import (
    RecAccount,
    RecAppeal,
    RecDocument,
    RecRegistration,
    RecVerification,
)


@dataclass(frozen=True)
class CandidateView:
    """Everything the candidate's page shows, read in one go."""

    account: RecAccount | None
    registration: RecRegistration | None
    formations: list[dict[str, Any]]
    documents: dict[str, RecDocument]
    checks: list[elig.Check]
    verification: RecVerification | None
    appeal: RecAppeal | None
    locations: list[str]
    undelivered: Undelivered | None = None  # our last message to the account bounced
    # The draft's NIK is held by another account's submitted registration.
    nik_held: bool = False
    # The last day of a late registration running for the draft's NIK and this account.
    late_until: dt.date | None = None
    # A late registration of the period for this account runs (the form shows
    # after the window).
    late_running: bool = False


def candidate_view(
    engine: Engine, period: PeriodView, account_id: int, now: float | None = None
) -> CandidateView:
    """now: when given, also whether the draft's NIK is held by another
    registration and the late registrations running (what the page says)."""
    reg = registration_of(engine, period.id, account_id)
    forms = formations(engine, period.id)
    docs_ = documents_of(engine, reg.id) if reg is not None and reg.id is not None else {}
    checks = eligibility_of(engine, period, reg, forms, frozenset(docs_)) if reg else []
    rid = reg.id if reg is not None else None
    acc = account(engine, account_id)
    return CandidateView(
        account=acc,
        registration=reg,
        formations=forms,
        documents=docs_,
        checks=checks,
        verification=last_verification(engine, rid) if rid is not None else None,
        appeal=appeal_of(engine, rid) if rid is not None else None,
        locations=test_locations(engine, period.id),
        undelivered=undelivered_to(engine, acc.email) if acc is not None else None,
        **(_late_view(engine, period, account_id, reg, now) if now is not None else {}),
    )


def _late_view(
    engine: Engine,
    period: PeriodView,
    account_id: int,
    reg: RecRegistration | None,
    now: float,
) -> dict[str, Any]:
    draft = reg is not None and reg.status == "draft"
    with Session(engine) as s:
        until = (
            late_until(s, period.id, reg.nik_hash, account_id, now)
            if reg is not None and draft
            else None
        )
    return {
        "nik_held": nik_held_by_other(engine, reg) if reg is not None and draft else False,
        "late_until": until,
        "late_running": late_registration_running(engine, period.id, account_id, now),
    }
