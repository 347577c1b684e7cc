"""The after-the-test REST endpoints (declared :class:`~exam_server.http.Endpoint`s):

* candidate (their token, after the score screen): the survey's questions and
  one anonymous submission (or "no thanks");
* administrators: appeals and their decisions, feedback moderation and
  answers, the training-needs table as a printable page and as CSV, the
  PRMSE analysis of the exam's subscores. While ``seleksi demo`` still seeds
  its finished exam in the background (:func:`exam_server.demo.being_prepared`),
  that exam's appeal and feedback lists say ``"being_prepared": true`` and its
  training needs are ``503`` ``being_prepared``.

Every refusal is ``422`` with ``{"error", "message", "message_id", "errors": [{"field"}]}``
and nothing stored.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from after_test import appeals, feedback
from after_test.errors import Refused
from exam_server.after_test import plots, service, store
from exam_server.after_test.pages import area_name, render
from exam_server.after_test.survey_pool import Submission
from exam_server.after_test.text import t
from exam_server.context import context
from exam_server.demo import being_prepared
from exam_server.http import STR, ApiError, Endpoint, candidate_of, obj, read_json
from exam_server.results import publication as pub
from exam_server.results.integration import skb_range_problem
from exam_server.results.versions import Correction, apply_corrections, current_value

ADMIN = ("admin",)


def _refused(exc: Refused) -> ApiError:
    err = ApiError(
        422, "refused", exc.message_en, [{"field": exc.field, "message": exc.message_id}]
    )
    return err


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


# -- the terminal's survey ------------------------------------------------------------------


async def survey_questions(request: Request) -> Response:
    claims = candidate_of(request)
    ctx = context(request.app)
    exam, status, _ = await anyio.to_thread.run_sync(
        store.session_day, ctx.engine, claims.attempt_id
    )
    policy = await anyio.to_thread.run_sync(store.policy_of, ctx.engine, exam)
    done = await anyio.to_thread.run_sync(store.survey_done, ctx.engine, claims.attempt_id)
    return _json(
        {
            "open": status == "finished" and not done,
            "questions": [
                {"code": q.code, "id": q.text.id, "en": q.text.en, "low": q.low, "high": q.high}
                for q in policy.survey
            ],
        }
    )


async def survey_submit(request: Request) -> Response:
    claims = candidate_of(request)
    ctx = context(request.app)
    body = await read_json(request)
    exam, status, day = await anyio.to_thread.run_sync(
        store.session_day, ctx.engine, claims.attempt_id
    )
    if status != "finished":
        raise ApiError(409, "not_finished", "the survey opens after the test is finished")
    policy = await anyio.to_thread.run_sync(store.policy_of, ctx.engine, exam)
    try:
        answers = (
            {}
            if body.get("declined") is True
            else feedback.check_survey(policy.survey, body.get("answers"))
        )
    except Refused as exc:
        raise _refused(exc) from None
    first = await anyio.to_thread.run_sync(store.mark_survey_done, ctx.engine, claims.attempt_id)
    if not first:
        raise ApiError(409, "already_answered", "this test's survey was answered already")
    # Written with other candidates' answers, never beside the attempt's marker.
    await anyio.to_thread.run_sync(ctx.survey_pool.add, Submission(exam, day, answers))
    return _json({"stored": len(answers)})


def _preparing(request: Request) -> bool:
    """Whether the demo still seeds this exam in the background (its lists
    are empty or partial for now, not "none")."""
    return being_prepared(context(request.app).settings) == request.path_params["exam"]


# -- appeals ------------------------------------------------------------------------------


async def list_appeals(request: Request) -> Response:
    ctx = context(request.app)
    rows = await anyio.to_thread.run_sync(
        store.appeal_rows, ctx.engine, request.path_params["exam"]
    )
    return _json({"appeals": rows, "being_prepared": _preparing(request)})


def _published_value(
    directory: str | None, exam: str, regno: str, field: str, value: str | None = None
) -> str | None:
    """What the current publication of ``exam`` holds for the candidate's ``field``.

    With ``value`` (the correction an accepted appeal makes), refuse a value the
    next version could not publish: an SKB score outside the policy's range
    (the rule of the SKB import, :func:`~exam_server.results.integration.skb_range_problem`),
    a component score outside 0–100, an unknown category."""
    nothing = Refused("publication", "hasil ujian ini belum diumumkan", "nothing is published")
    if not directory:
        raise nothing
    try:
        files = pub.read_publication(directory)
        manifest = json.loads(files[pub.MANIFEST])
    except (pub.PublicationError, OSError, ValueError):
        raise nothing from None
    if manifest["exam"]["id"] != exam:
        raise nothing
    listed = {f["path"] for f in manifest["files"]}
    inputs = pub.inputs_from_files({p: files[p] for p in listed})
    try:
        old = current_value(inputs[2], inputs[3], regno, field)
    except KeyError:
        raise Refused(
            "field",
            f"{regno} tidak memiliki nilai '{field}' dalam publikasi",
            f"{regno} has no '{field}' in the publication",
        ) from None
    if value is not None:
        _check_correction(inputs, Correction(regno, field, old, value, "", ""))
    return old


def _check_correction(inputs: pub.Inputs, correction: Correction) -> None:
    """Refuse (422, both languages) a correction the next version would refuse."""
    policy, value = inputs[0], correction.new
    if correction.field == "skb":
        try:
            points = policy.points(value, what="skb")
        except ValueError:
            raise Refused(
                "value", f"nilai SKB {value!r} bukan angka", f"SKB score {value!r} is not a number"
            ) from None
        if skb_range_problem(policy, points) is not None:
            raise Refused(
                "value",
                f"nilai SKB {skb_range_problem(policy, points, 'id')}",
                f"SKB score {skb_range_problem(policy, points)}",
            )
    try:
        apply_corrections(inputs, [correction])
    except pub.PublicationError as exc:
        raise Refused(
            "value", f"perbaikan ini tidak dapat diterapkan: {exc}", f"the correction: {exc}"
        ) from None


async def decide_appeal(request: Request) -> Response:
    ctx = context(request.app)
    appeal_id = int(request.path_params["appeal_id"])
    body = await read_json(request)
    try:
        row = await anyio.to_thread.run_sync(store.appeal, ctx.engine, appeal_id)
    except store.NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    policy = await anyio.to_thread.run_sync(store.policy_of, ctx.engine, row["exam_code"])
    decision = appeals.Decision(
        appeals.Status(body["status"])
        if body.get("status") in ("accepted", "rejected")
        else appeals.Status.SUBMITTED,
        str(body.get("answer") or ""),
        body.get("field") if isinstance(body.get("field"), str) else None,
        body.get("value") if isinstance(body.get("value"), str) else None,
    )
    now = ctx.clock.now()
    try:
        appeals.check_decision(policy.appeals, row["status"], decision, now)
        old = None
        if decision.status == appeals.Status.ACCEPTED:
            assert decision.field is not None
            old = await anyio.to_thread.run_sync(
                _published_value,
                ctx.settings.results_dir,
                row["exam_code"],
                row["registration_number"],
                decision.field,
                decision.value,
            )
    except Refused as exc:
        raise _refused(exc) from None
    staff = request.state.staff
    try:
        ok = await anyio.to_thread.run_sync(
            lambda: store.decide_appeal(
                ctx.engine,
                appeal_id,
                actor=f"{staff.role}:{staff.username}",
                status=decision.status.value,
                answer=decision.answer.strip(),
                answered_at=now,
                answered_by=staff.username,
                field=decision.field
                if decision.status == appeals.Status.ACCEPTED
                else row["field"],
                correction_from=old,
                correction_to=decision.value
                if decision.status == appeals.Status.ACCEPTED
                else None,
            )
        )
    except Refused as exc:  # another accepted correction of the field waits (checked locked)
        raise _refused(exc) from None
    if not ok:
        raise ApiError(409, "already_answered", "this appeal was answered meanwhile")
    return _json(await anyio.to_thread.run_sync(store.appeal, ctx.engine, appeal_id))


# -- feedback moderation -----------------------------------------------------------------------


async def list_feedback(request: Request) -> Response:
    ctx = context(request.app)
    rows = await anyio.to_thread.run_sync(
        store.feedback_rows, ctx.engine, request.path_params["exam"]
    )
    return _json({"feedback": rows, "being_prepared": _preparing(request)})


async def _item(request: Request) -> dict[str, Any]:
    try:
        return await anyio.to_thread.run_sync(
            store.feedback_item, context(request.app).engine, int(request.path_params["item_id"])
        )
    except store.NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None


async def moderate_feedback(request: Request) -> Response:
    ctx = context(request.app)
    body = await read_json(request)
    item = await _item(request)
    decision = str(body.get("decision") or "")
    try:
        feedback.check_moderation(item["status"], decision)
    except Refused as exc:
        raise _refused(exc) from None
    ok = await anyio.to_thread.run_sync(
        lambda: store.update_feedback(
            ctx.engine,
            item["id"],
            "pending",
            status=decision,
            moderated_at=ctx.clock.now(),
            moderated_by=request.state.staff.username,
            moderation_note=str(body.get("note") or "")[:300],
        )
    )
    if not ok:
        raise ApiError(409, "already_moderated", "this item was moderated meanwhile")
    return _json({"id": item["id"], "status": decision})


async def edit_feedback(request: Request) -> Response:
    ctx = context(request.app)
    body = await read_json(request)
    item = await _item(request)
    policy = await anyio.to_thread.run_sync(store.policy_of, ctx.engine, item["exam_code"])
    try:
        feedback.check_edit(item["status"])
        text = feedback.check_feedback(policy.feedback, item["category"], body.get("text"), "")
    except Refused as exc:
        raise _refused(exc) from None
    ok = await anyio.to_thread.run_sync(
        lambda: store.update_feedback(
            ctx.engine, item["id"], "pending", text=text, text_sha256=feedback.text_digest(text)
        )
    )
    if not ok:
        raise _refused(
            Refused(
                "text",
                "saran yang sudah dimoderasi tidak dapat diubah",
                "a moderated item cannot be edited",
            )
        )
    return _json({"id": item["id"], "text": text})


async def answer_feedback(request: Request) -> Response:
    ctx = context(request.app)
    body = await read_json(request)
    item = await _item(request)
    try:
        text = feedback.check_answer(item["status"], item["answer"] is not None, body.get("answer"))
    except Refused as exc:
        raise _refused(exc) from None
    now = ctx.clock.now()
    ok = await anyio.to_thread.run_sync(
        lambda: store.update_feedback(
            ctx.engine, item["id"], "published", answer=text, answered_at=now
        )
    )
    if not ok:
        raise ApiError(409, "conflict", "the item changed meanwhile")
    return _json({"id": item["id"], "answer": text})


# -- training needs and diagnostics -------------------------------------------------------------


async def _training(request: Request) -> service.Training:
    ctx = context(request.app)
    exam = request.path_params["exam"]
    if _preparing(request):
        raise ApiError(
            503,
            "being_prepared",
            f"the demo's finished exam {exam} is being prepared in the background:"
            " try again in a few seconds",
        )
    if not ctx.settings.results_dir:
        raise ApiError(409, "not_published", "no results directory is configured")

    def work() -> service.Training:
        files = pub.read_publication(str(ctx.settings.results_dir))
        policy = store.policy_of(ctx.engine, exam)
        return service.training(ctx.engine, exam, files, policy.training)

    try:
        return await anyio.to_thread.run_sync(work)
    except pub.PublicationError as exc:
        raise ApiError(409, "not_published", str(exc)) from None
    except store.NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None


async def training_page(request: Request) -> Response:
    lang = "en" if request.query_params.get("lang") == "en" else "id"
    tr = await _training(request)
    heat = None
    if tr.table is not None:
        tb = tr.table
        heat = plots.heat_map(
            t("heat_title", lang),
            list(tb.groups),
            [area_name(a) for a in tb.areas],
            tb.need.tolist(),
            max(
                10.0,
                float(max((v for row in tb.need.tolist() for v in row if v == v), default=0.0)),
            ),
        )
    return render(
        request,
        "training.html",
        t("training", lang),
        table=tr.table,
        programmes=tr.programmes,
        heat=heat,
        fmt=lambda v: "–" if v != v else f"{v:.1f}",
    )


async def training_csv(request: Request) -> Response:
    tr = await _training(request)
    name = f"kebutuhan-pelatihan-{request.path_params['exam']}.csv"
    return Response(
        service.training_csv(tr),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def subscore_value(request: Request) -> Response:
    ctx = context(request.app)
    try:
        popn = await anyio.to_thread.run_sync(
            store.population, ctx.engine, request.path_params["exam"]
        )
    except store.NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    return _json(
        {
            "candidates": len(popn.registration_numbers),
            "subtests": [
                {
                    "subtest": d.subtest,
                    "areas": [
                        {
                            "area": a.area,
                            "reported": a.reported,
                            "prmse_sub": a.prmse_sub if a.prmse_sub == a.prmse_sub else None,
                            "prmse_total": a.prmse_total
                            if a.prmse_total == a.prmse_total
                            else None,
                            "prmse_augmented": a.prmse_augmented
                            if a.prmse_augmented == a.prmse_augmented
                            else None,
                            "reason_id": a.reason_id,
                            "reason_en": a.reason_en,
                        }
                        for a in d.value.areas
                    ],
                }
                for d in popn.diagnostics
            ],
            # Site sessions whose synced copies do not count yet (not in "candidates").
            "left_out": [
                {"site": w.site, "session": w.session, "reason": w.reason, "candidates": n}
                for w, n in Counter(popn.left_out.values()).items()
            ],
        }
    )


_DECIDE = obj(["status", "answer"], status=STR, answer=STR, field=STR, value=STR)

ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/after/survey",
        survey_questions,
        "the survey's questions and whether it is open",
        tag="after",
    ),
    Endpoint(
        "POST",
        "/api/after/survey",
        survey_submit,
        "one anonymous survey submission (or declined)",
        body=obj([], answers={"type": "object"}, declined={"type": "boolean"}),
        tag="after",
        responses={"409": "not finished or answered already", "422": "an answer off the scale"},
    ),
    Endpoint(
        "GET", "/api/after/{exam}/appeals", list_appeals, "appeals of results", ADMIN, tag="after"
    ),
    Endpoint(
        "POST",
        "/api/after/appeals/{appeal_id:int}/decide",
        decide_appeal,
        "accept (with a clerical correction) or reject an appeal",
        ADMIN,
        body=_DECIDE,
        tag="after",
        responses={"409": "answered already", "422": "refused"},
    ),
    Endpoint(
        "GET",
        "/api/after/{exam}/feedback",
        list_feedback,
        "feedback items incl. pending",
        ADMIN,
        tag="after",
    ),
    Endpoint(
        "POST",
        "/api/after/feedback/{item_id:int}/moderate",
        moderate_feedback,
        "publish or reject a pending feedback item",
        ADMIN,
        body=obj(["decision"], decision=STR, note=STR),
        tag="after",
    ),
    Endpoint(
        "POST",
        "/api/after/feedback/{item_id:int}/edit",
        edit_feedback,
        "correct a pending item's text (refused once moderated)",
        ADMIN,
        body=obj(["text"], text=STR),
        tag="after",
    ),
    Endpoint(
        "POST",
        "/api/after/feedback/{item_id:int}/answer",
        answer_feedback,
        "the agency's answer to a published item",
        ADMIN,
        body=obj(["answer"], answer=STR),
        tag="after",
    ),
    Endpoint(
        "GET",
        "/api/after/{exam}/training.html",
        training_page,
        "training needs (printable page)",
        ADMIN,
        tag="after",
    ),
    Endpoint(
        "GET",
        "/api/after/{exam}/training.csv",
        training_csv,
        "training needs (CSV)",
        ADMIN,
        tag="after",
    ),
    Endpoint(
        "GET",
        "/api/after/{exam}/subscores",
        subscore_value,
        "PRMSE analysis of the area subscores",
        ADMIN,
        tag="after",
    ),
]
