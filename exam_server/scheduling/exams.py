"""Exams and their documents: an exam stored with its frozen bank, items,
test design, ranking policy and options; the policy checked against the design;
the documents replaced until a session has opened; the admin API's view."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from cat_engine.bank import BankArrays
from cat_engine.design import TestDesign
from cat_engine.errors import EngineError
from cat_engine.pool import check_design_against_bank
from exam_server import audit
from exam_server.db import writer
from exam_server.exam_options import ExamOptions
from exam_server.exams import exam_policy
from exam_server.models import Exam, ExamSession
from exam_server.results.rules import RankingPolicy
from exam_server.scheduling.common import SetupError, _code, _one
from exam_server.snapshot import PublicItemContent, bank_to_json, items_to_json


def create_exam(
    engine: Engine,
    code: str,
    name: str,
    design: TestDesign,
    bank: BankArrays,
    items: list[PublicItemContent],
    policy: RankingPolicy | None = None,
    options: ExamOptions | None = None,
) -> int:
    """Store an exam with a frozen copy of ``bank`` and the public ``items``
    (aligned with the bank's indices), and its documents: the test design,
    the ranking policy (default: the 2024 rules) and its options (default:
    :class:`ExamOptions`). Keys and points stay in the arrays, which are
    never sent to terminals."""
    _code(code, "code")
    policy = policy or RankingPolicy.default_2024()
    options = options or ExamOptions()
    if len(items) != bank.n_items:
        raise SetupError(f"{len(items)} item texts for {bank.n_items} items")
    if [it.item_id for it in items] != list(bank.item_ids):
        raise SetupError("item texts are not in the bank's order")
    limit = design.time_limit_seconds
    if limit is None or limit <= 0:
        raise SetupError(
            "the design has no overall time limit",
            [{"field": "design", "message": "time_limit_seconds"}],
        )
    try:
        check_design_against_bank(design, bank)
    except (EngineError, ValueError) as exc:
        raise SetupError(
            f"the design does not fit the bank: {exc}", [{"field": "design", "message": str(exc)}]
        ) from None
    check_policy_fits_design(policy, design)
    with Session(writer(engine)) as s:
        if _one(s, Exam, code=code) is not None:
            raise SetupError(f"exam {code} exists", [{"field": "code", "message": "exists"}], 409)
        exam = Exam(
            code=code,
            name=name,
            design_json=design.to_json(),
            bank_json=bank_to_json(bank),
            items_json=items_to_json(items),
            policy_json=policy.to_json(),
            options_json=options.to_json(),
            n_items=bank.n_items,
            created_at=time.time(),
        )
        s.add(exam)
        s.flush()
        assert exam.id is not None
        audit.append(
            s.connection(),
            "create_exam",
            "admin",
            data={
                "exam_id": exam.id,
                "code": code,
                "n_items": bank.n_items,
                **_document_digests(exam),
            },
        )
        s.commit()
        return exam.id


def check_policy_fits_design(policy: RankingPolicy, design: TestDesign) -> None:
    """A ranking policy judges the subtests the design scores: the same codes."""
    sections = {sec.code for sec in design.sections}
    subtests = set(policy.subtest_codes)
    if sections != subtests:
        msg = (
            f"the ranking policy's subtests {sorted(subtests)} are not the design's "
            f"sections {sorted(sections)}"
        )
        raise SetupError(msg, [{"field": "policy", "message": msg}])


def _document_digests(exam: Exam) -> dict[str, str]:
    """SHA-256 of each stored document (audited, so a later change shows),
    the frozen bank included: its option points are the keys every answer is
    scored with, so an edited key would otherwise score the answers after it
    consistently with itself, recomputation included; and the item texts."""
    import hashlib

    return {
        f"{name}_sha256": hashlib.sha256((text or "").encode()).hexdigest()
        for name, text in (
            ("design", exam.design_json),
            ("policy", exam.policy_json),
            ("options", exam.options_json),
            ("bank", exam.bank_json),
            # The stems and options candidates read: options swapped here change
            # what each chosen option meant, the keys left as they were.
            ("items", exam.items_json),
        )
    }


def exam_opened(s: Session, exam_id: int) -> bool:
    """Whether a session of the exam has opened (its documents are then fixed)."""
    row = s.execute(
        select(col(ExamSession.id)).where(
            col(ExamSession.exam_id) == exam_id,
            or_(col(ExamSession.status) != "scheduled", col(ExamSession.opened_at).is_not(None)),
        )
    ).first()
    return row is not None


def set_exam_documents(
    engine: Engine,
    code: str,
    policy: RankingPolicy | None = None,
    options: ExamOptions | None = None,
    actor: str = "admin",
) -> dict[str, Any]:
    """Replace an exam's ranking policy and/or options, until a session of it
    has opened (then they are part of what candidates were judged by and are
    refused with 409)."""
    with Session(writer(engine)) as s:
        exam = _one(s, Exam, code=code)
        if exam is None or exam.id is None:
            raise SetupError(f"no exam {code}", [{"field": "code", "message": "unknown"}], 404)
        if exam_opened(s, exam.id):
            raise SetupError(
                f"exam {code} has had a session opened: its documents are fixed",
                [{"field": "code", "message": "a session has opened"}],
                409,
            )
        if policy is not None:
            check_policy_fits_design(policy, TestDesign.from_dict(json.loads(exam.design_json)))
            exam.policy_json = policy.to_json()
        if options is not None:
            exam.options_json = options.to_json()
        s.add(exam)
        s.flush()
        audit.append(
            s.connection(),
            "exam_documents",
            actor,
            data={"exam_id": exam.id, "code": code, **_document_digests(exam)},
        )
        s.commit()
        return exam_documents(exam)


def exam_documents(exam: Exam) -> dict[str, Any]:
    """An exam's documents as the admin API shows them."""
    policy = exam_policy(exam)
    options = ExamOptions.from_json(exam.options_json)
    return {
        "design": json.loads(exam.design_json),
        "policy": policy.to_dict(),
        "options": options.model_dump(by_alias=True),
        "warnings": options.warnings(),
        **_document_digests(exam),
    }


def exam_summary(engine: Engine) -> list[dict[str, Any]]:
    with Session(writer(engine)) as s:
        return [
            {
                "id": e.id,
                "code": e.code,
                "name": e.name,
                "n_items": e.n_items,
                "policy_version": exam_policy(e).version,
                **exam_documents(e),
            }
            for e in s.execute(select(Exam).order_by(Exam.id)).scalars()  # type: ignore[arg-type]
        ]
