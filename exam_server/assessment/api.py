"""REST endpoints of the SKB with several assessors (issue 19).

Administrators set up (plans, assessors, panels, slots, CAT field-test scores)
and publish the final ranking; assessors (role ``assessor``) declare conflicts,
submit rubric sheets and, as a panel's chair, adjudicate and read agreement and
severity (an administrator adjudicates a candidate the chair is recused from);
a candidate reads their interview and, once final, their SKB
breakdown with their registration number and their signed SKD receipt
(:mod:`exam_server.assessment.candidate_api`). Bodies are pydantic models
(unknown fields refused; :mod:`exam_server.assessment.api_common`); the work
is :mod:`exam_server.assessment.service`'s. The endpoint list is here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import anyio.to_thread
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server import receipts
from exam_server.assessment import service as svc
from exam_server.assessment.api_common import TAG, _actor, _Body, _body, _engine, _now, _run
from exam_server.assessment.candidate_api import (
    CandidateBody,
    RescheduleBody,
    candidate_page,
    reschedule,
)
from exam_server.context import context
from exam_server.http import ApiError, Endpoint, read_json
from exam_server.sites.receipt_keys import receipt_keys_on

ADMIN = ("admin",)
ASSESSOR = ("assessor",)


class AssessorBody(_Body):
    username: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(default="", max_length=200)
    password: str = Field(min_length=10, max_length=200)


class PanelBody(_Body):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    formation: str = Field(min_length=1, max_length=60)
    component: str = Field(min_length=1, max_length=40)
    members: list[str] = Field(min_length=1, max_length=9)
    chair: str


class SlotsBody(_Body):
    panel: str = Field(min_length=1, max_length=40)
    windows: list[tuple[dt.datetime, dt.datetime]] = Field(min_length=1, max_length=50)
    minutes: int = Field(ge=5, le=480)
    gap_minutes: int = Field(default=0, ge=0, le=240)
    meeting_url: str = Field(min_length=9, max_length=400)
    zone: str = Field(default="WIB", max_length=8)


class AssignBody(_Body):
    slot: int = Field(ge=1)
    registration_number: str = Field(min_length=1, max_length=40)


class CatScoreBody(_Body):
    registration_number: str = Field(min_length=1, max_length=40)
    component: str = Field(min_length=1, max_length=40)
    score: float | str


class DeclarationBody(_Body):
    panel: str = Field(min_length=1, max_length=40)
    registration_number: str = Field(min_length=1, max_length=40)
    conflict: bool
    note: str = Field(default="", max_length=2000)


class SheetBody(_Body):
    panel: str = Field(min_length=1, max_length=40)
    registration_number: str = Field(min_length=1, max_length=40)
    points: dict[str, Any]


class AdjudicationBody(_Body):
    panel: str = Field(min_length=1, max_length=40)
    registration_number: str = Field(min_length=1, max_length=40)
    score: float | str
    reason: str = Field(min_length=1, max_length=2000)


class PublishBody(_Body):
    exam_code: str = Field(min_length=1, max_length=40)
    published_at: str = Field(min_length=1, max_length=80)
    title: str = Field(default="", max_length=200)


async def save_plan(request: Request) -> Response:
    doc = await read_json(request)
    plan = await _run(svc.save_plan, _engine(request), doc, _actor(request))
    return JSONResponse(plan.model_dump(mode="json"), status_code=201)


async def add_assessor(request: Request) -> Response:
    b = await _body(request, AssessorBody)
    sid = await _run(
        svc.add_assessor,
        _engine(request),
        b.username,
        b.name,
        b.password,
        _actor(request),
        context(request.app).settings.scrypt_n,
    )
    return JSONResponse({"id": sid}, status_code=201)


async def create_panel(request: Request) -> Response:
    b = await _body(request, PanelBody)
    pid = await _run(
        svc.create_panel,
        _engine(request),
        b.code,
        b.formation,
        b.component,
        b.members,
        b.chair,
        _actor(request),
    )
    return JSONResponse({"id": pid}, status_code=201)


async def create_slots(request: Request) -> Response:
    b = await _body(request, SlotsBody)
    ids = await _run(
        svc.create_slots,
        _engine(request),
        b.panel,
        b.windows,
        b.minutes,
        b.gap_minutes,
        b.meeting_url,
        b.zone,
        _actor(request),
    )
    return JSONResponse({"slots": ids}, status_code=201)


async def assign_slot(request: Request) -> Response:
    b = await _body(request, AssignBody)
    await _run(
        svc.assign_slot,
        _engine(request),
        b.slot,
        b.registration_number,
        _actor(request),
        _now(request),
    )
    return JSONResponse({"ok": True})


async def record_cat_score(request: Request) -> Response:
    b = await _body(request, CatScoreBody)
    await _run(
        svc.record_cat_score,
        _engine(request),
        b.registration_number,
        b.component,
        b.score,
        _actor(request),
        _now(request),
    )
    return JSONResponse({"ok": True}, status_code=201)


class CatImportBody(_Body):
    exam_code: str = Field(min_length=1, max_length=40)
    component: str = Field(min_length=1, max_length=40)


async def import_cat_scores(request: Request) -> Response:
    b = await _body(request, CatImportBody)
    out = await _run(
        svc.import_cat_scores,
        _engine(request),
        b.exam_code,
        b.component,
        _actor(request),
        _now(request),
    )
    return JSONResponse(out, status_code=201)


async def admin_home(request: Request) -> Response:
    return JSONResponse(await _run(svc.admin_view, _engine(request)))


async def assessor_home(request: Request) -> Response:
    st = request.state.staff
    return JSONResponse(await _run(svc.assessor_view, _engine(request), st.staff_id))


async def declare(request: Request) -> Response:
    b = await _body(request, DeclarationBody)
    st = request.state.staff
    await _run(
        svc.declare,
        _engine(request),
        st.staff_id,
        b.panel,
        b.registration_number,
        b.conflict,
        b.note,
        _now(request),
    )
    return JSONResponse({"ok": True}, status_code=201)


async def submit_sheet(request: Request) -> Response:
    b = await _body(request, SheetBody)
    st = request.state.staff
    out = await _run(
        svc.submit_sheet,
        _engine(request),
        st.staff_id,
        b.panel,
        b.registration_number,
        b.points,
        _now(request),
    )
    return JSONResponse(out, status_code=201)


async def chair_page(request: Request) -> Response:
    panel = request.query_params.get("panel", "")
    st = request.state.staff
    return JSONResponse(await _run(svc.chair_view, _engine(request), st.staff_id, panel))


async def adjudicate(request: Request) -> Response:
    b = await _body(request, AdjudicationBody)
    st = request.state.staff
    await _run(
        svc.adjudicate,
        _engine(request),
        st.staff_id,
        b.panel,
        b.registration_number,
        b.score,
        b.reason,
        _now(request),
    )
    return JSONResponse({"ok": True}, status_code=201)


async def send_reminders(request: Request) -> Response:
    out = await _run(svc.send_reminders, _engine(request), _now(request))
    return JSONResponse(out)


async def publish_final(request: Request) -> Response:
    """Rank the exam's SKD, integrate the SKB from these tables, sign and publish."""
    from exam_server import audit
    from exam_server import results_api as ra
    from exam_server.results import publication as pubm
    from exam_server.results.integration import integrate
    from exam_server.results.ranking import RankingError, rank_skd
    from exam_server.results.rules import PolicyError, RankingPolicy

    b = await _body(request, PublishBody)
    folder, key_path = ra._setup(request)
    if folder is None or key_path is None:
        raise ApiError(409, "no_results_dir", "the server has no results folder or signing key")
    ctx = context(request.app)
    # Every key this server has held, retired ones too: receipts outlive a replaced key.
    receipt_keys = receipts.server_keys(ctx.checkpoints)

    def work() -> dict[str, Any]:
        key = ra._private_key(key_path)
        exam_doc, formations, outcomes = ra._source(ctx.settings.database_url, b.exam_code)
        try:
            policy = RankingPolicy.from_dict(exam_doc["policy"])
            skd = rank_skd(policy, formations, outcomes)
            final = integrate(policy, skd, svc.skb_scores(ctx.engine), missing_is_absent=True)
        except (PolicyError, RankingError, ValueError) as exc:
            raise ApiError(409, "results_not_ready", str(exc)) from None
        exam = pubm.ExamInfo(
            id=b.exam_code, title=b.title or str(exam_doc["title"]), published_at=b.published_at
        )
        # With the keys registered for the sites holding its sessions (site candidates' receipts).
        keys = receipt_keys_on(ctx.engine, receipt_keys, b.exam_code)
        publication = pubm.publish(exam, policy, skd, key, final, receipt_keys=keys)
        ra._replace_publication(folder, dict(publication.files))
        return {"exam_code": b.exam_code, "root": publication.root, "public_url": "/results/"}

    body = await anyio.to_thread.run_sync(work)
    await ctx.committer.submit(
        lambda conn: audit.append(conn, "skb_results_published", _actor(request), data=body)
    )
    return JSONResponse(body, status_code=201)


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    """A body model's JSON schema for the OpenAPI document."""
    return model.model_json_schema()


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "GET",
        "/api/skb/admin",
        admin_home,
        "plans, panels with members and slots, candidates without a slot",
        ADMIN,
        tag=TAG,
    ),
    Endpoint(
        "POST",
        "/api/skb/plans",
        save_plan,
        "store a formation's SKB plan (components, weights, rubrics), checked against "
        "the policy's caps; audited",
        ADMIN,
        tag=TAG,
        responses={"422": "breaks a cap or a rule (named)", "409": "final scores exist"},
    ),
    Endpoint(
        "POST",
        "/api/skb/assessors",
        add_assessor,
        "an assessor's account",
        ADMIN,
        body=_schema(AssessorBody),
        tag=TAG,
        responses={"409": "exists"},
    ),
    Endpoint(
        "POST",
        "/api/skb/panels",
        create_panel,
        "a panel of assessors for one component, with its chair",
        ADMIN,
        body=_schema(PanelBody),
        tag=TAG,
    ),
    Endpoint(
        "POST",
        "/api/skb/slots",
        create_slots,
        "interview slots filling a panel's availability (assessor double-booking refused)",
        ADMIN,
        body=_schema(SlotsBody),
        tag=TAG,
        responses={"409": "an assessor would be in two slots at once"},
    ),
    Endpoint(
        "POST",
        "/api/skb/assign",
        assign_slot,
        "put a candidate into a slot (one slot per candidate per component)",
        ADMIN,
        body=_schema(AssignBody),
        tag=TAG,
        responses={"409": "slot taken or the candidate has a slot already"},
    ),
    Endpoint(
        "POST",
        "/api/skb/cat-scores",
        record_cat_score,
        "a CAT field test's component score (0-100)",
        ADMIN,
        body=_schema(CatScoreBody),
        tag=TAG,
    ),
    Endpoint(
        "POST",
        "/api/skb/cat-scores/import",
        import_cat_scores,
        "the CAT field test's component scores from its exam's finished attempts "
        "(points over the maximum x 100); audited",
        ADMIN,
        body=_schema(CatImportBody),
        tag=TAG,
    ),
    Endpoint(
        "POST",
        "/api/skb/publish",
        publish_final,
        "rank, integrate the SKB (40/60) with each candidate's breakdown, sign, publish",
        ADMIN,
        body=_schema(PublishBody),
        tag=TAG,
    ),
    Endpoint(
        "GET",
        "/api/skb/me",
        assessor_home,
        "an assessor's panels, slots, rubric and own sheets (others' once all are in)",
        ASSESSOR,
        tag=TAG,
    ),
    Endpoint(
        "POST",
        "/api/skb/declarations",
        declare,
        "declare a conflict of interest (recusal) or none, before scoring",
        ASSESSOR,
        body=_schema(DeclarationBody),
        tag=TAG,
    ),
    Endpoint(
        "POST",
        "/api/skb/sheets",
        submit_sheet,
        "submit or change a rubric sheet until the score is final; audited",
        ASSESSOR,
        body=_schema(SheetBody),
        tag=TAG,
        responses={
            "422": "a level not in the rubric, a candidate not in the panel's slots",
            "409": "the score is final",
        },
    ),
    Endpoint(
        "GET",
        "/api/skb/chair",
        chair_page,
        "a chair's panel: adjudication queue, ICC and alpha, severities (?panel=CODE)",
        ASSESSOR,
        tag=TAG,
    ),
    Endpoint(
        "POST",
        "/api/skb/adjudications",
        adjudicate,
        "the chair's score when assessors differ by more than the margin; audited "
        "(an administrator's, for a candidate the chair is recused from)",
        ASSESSOR + ADMIN,
        body=_schema(AdjudicationBody),
        tag=TAG,
    ),
    Endpoint(
        "POST",
        "/api/skb/reschedule",
        reschedule,
        "a candidate moves their interview to a free slot until the plan's notice "
        "(registration number and SKD receipt); audited, the new time to the outbox",
        body=_schema(RescheduleBody),
        tag=TAG,
        responses={
            "401": "the receipt does not verify or is not this number's",
            "409": "too late or not free",
            "422": "a malformed body, or a date of birth (no longer accepted)",
            "429": "too many wrong tries",
        },
    ),
    Endpoint(
        "POST",
        "/api/skb/reminders",
        send_reminders,
        "queue a reminder in the outbox for each interview within 24 hours (once each)",
        ADMIN,
        tag=TAG,
    ),
    Endpoint(
        "POST",
        "/api/skb/candidate",
        candidate_page,
        "a candidate's interview schedule and SKB breakdown (registration number and "
        "signed SKD receipt; login back-off)",
        body=_schema(CandidateBody),
        tag=TAG,
        responses={
            "401": "the receipt does not verify or is not this number's",
            "422": "a malformed body, or a date of birth (no longer accepted)",
            "429": "too many wrong tries",
        },
    ),
]
