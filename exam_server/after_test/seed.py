"""A finished exam to look at after the test, for the demo and the tests:
candidates who sat a whole test (answers drawn from the bank's IRT model with
area-specific abilities), their final engine states and scores stored as the
server stores them at finish, and their signed receipts.

:func:`seed_after_test_demo` adds what the demo shows: a signed publication,
survey answers, feedback in every state, and one appeal accepted and signed
as the publication's second version.

The attempts are stored as the server stores a sitting (answer chain,
snapshots, start and finish events), so ``seleksi audit verify`` replays
them and finds their scores.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Table, insert, select, update
from sqlalchemy.engine import Engine

from after_test import models as am
from after_test.feedback import text_digest
from cat_engine import engine as cat
from cat_engine.bank import BankArrays
from cat_engine.design import TestDesign
from cat_engine.irt import category_probabilities
from exam_server import audit, receipts
from exam_server import models as m
from exam_server import scheduling as sch
from exam_server.attempts import storage
from exam_server.attempts.frames import published_points
from exam_server.audit import verdict
from exam_server.results.rules import RankingPolicy
from exam_server.snapshot import PublicItemContent


def _t(model: Any) -> Table:
    return model.__table__


CATEGORIES = ("general", "general", "general", "cumlaude", "disability")


@dataclass
class FinishedExam:
    exam_code: str
    session_code: str
    registration_numbers: list[str] = field(default_factory=list)
    receipts: dict[str, str] = field(default_factory=dict)  # regno → text code


def _answer(rng: np.random.Generator, bank: BankArrays, item: int, theta: float) -> int:
    """An option drawn from the item's IRT model at ``theta``."""
    probs = category_probabilities(np.array([theta]), bank.params.subset([item]))[0, 0]
    k = int(rng.choice(probs.shape[0], p=probs / probs.sum()))
    options = np.flatnonzero(bank.option_category[item, : bank.n_options[item]] == k)
    return int(rng.choice(options)) if options.size else -1


def seed_finished_exam(
    engine: Engine,
    *,
    design: TestDesign,
    bank: BankArrays,
    items: list[PublicItemContent],
    formations: Sequence[str],
    site_code: str,
    room_code: str,
    receipt_key: Ed25519PrivateKey | None,
    exam_code: str = "SKD-HASIL",
    exam_name: str = "SKD CPNS, sesi selesai (demo)",
    n_candidates: int = 60,
    prefix: str = "2023",
    seed: int = 20,
    starts_at: float = 1_735_700_400.0,  # 2025-01-01 03:00 UTC
    area_sd: float = 0.6,
) -> FinishedExam:
    """An exam whose one closed session holds ``n_candidates`` finished
    attempts. Each candidate's ability in a content area is ``0.8·g +
    area_sd·z`` (g, z standard normal), so areas differ from the total."""
    rng = np.random.default_rng(seed)
    policy = RankingPolicy.default_2024()
    sch.create_exam(engine, exam_code, exam_name, design, bank, items, policy)
    session_code = f"{exam_code}-S1"
    session_id = sch.create_session(
        engine, session_code, exam_code, site_code, room_code, starts_at
    )
    rows = ["registration_number,name,category,formation_code,session_code,birth_date"]
    for i in range(n_candidates):
        rows.append(
            f"{prefix}{i + 1:04d},Peserta {prefix}-{i + 1},{CATEGORIES[i % len(CATEGORIES)]},"
            f"{formations[i % len(formations)]},{session_code},"
            f"{1990 + i % 10}-0{1 + i % 9}-1{i % 9}"
        )
    sch.import_candidates_csv(engine, "\n".join(rows) + "\n")
    out = FinishedExam(exam_code, session_code)
    cands = _t(m.Candidate)
    with engine.begin() as conn:
        conn.execute(
            update(_t(m.ExamSession))
            .where(_t(m.ExamSession).c.id == session_id)
            .values(status="closed", opened_at=starts_at, closed_at=starts_at + 7200.0)
        )
        people = conn.execute(
            select(cands.c.id, cands.c.registration_number, cands.c.category)
            .where(cands.c.session_id == session_id)
            .order_by(cands.c.registration_number)
        ).all()
    n_areas = len(bank.content_codes)
    # Half the test's time spread over its items: no test ends on the clock.
    n_total = sum(sec.n_items for sec in design.sections)
    per_item = 0.5 * (design.time_limit_seconds or 6000.0) / max(n_total, 1)
    finished = starts_at + 5400.0
    with engine.begin() as conn:
        for k, person in enumerate(people):
            theta = 0.8 * rng.normal() + area_sd * rng.normal(size=n_areas)
            sitting = _sit(
                conn,
                rng,
                design,
                bank,
                policy,
                session_id,
                person,
                seed * 100_000 + k,
                theta,
                per_item,
                starts_at,
                finished,
            )
            out.registration_numbers.append(person.registration_number)
            if receipt_key is not None:
                points, total = published_points(policy, sitting.score)
                r = receipts.sign_receipt(
                    receipt_key,
                    registration_number=person.registration_number,
                    exam=exam_code,
                    session=session_code,
                    scores=points,
                    total=total,
                    chain_head=sitting.head,
                )
                out.receipts[person.registration_number] = receipts.encode(r)
    return out


@dataclass
class _Sitting:
    head: str
    score: dict[str, Any]


def _sit(
    conn: Any,
    rng: np.random.Generator,
    design: TestDesign,
    bank: BankArrays,
    policy: RankingPolicy,
    session_id: int,
    person: Any,
    attempt_seed: int,
    theta: np.ndarray,
    per_item: float,
    starts_at: float,
    finished: float,
) -> _Sitting:
    """One candidate's whole test stored as the server stores a sitting: the
    attempt, its ``start`` event, every answer chained onto the answer chain
    (``storage.chained_response``) with the engine's snapshots, the final
    state and the ``finish`` event binding the result
    (``audit.finish_event_data``), so that ``seleksi audit verify`` replays
    each answer and finds the stored score. Answers are drawn from the bank's
    IRT model at the candidate's ability in each item's content area."""
    actor = f"candidate:{person.id}"
    limit = float(design.time_limit_seconds or 0.0)
    state = cat.start(design, bank, attempt_seed)
    aid = int(
        conn.execute(
            insert(_t(m.Attempt)).values(
                session_id=session_id,
                candidate_id=person.id,
                status="running",
                seed=attempt_seed,
                last_seq=0,
                response_head="",
                terminal_released=False,
                remaining_at_start=limit,
                last_seen_at=starts_at,
                started_at=starts_at,
            )
        ).inserted_primary_key[0]
    )
    storage.put_snapshot(conn, storage.snapshot_row(aid, 0, state))
    audit.append(
        conn,
        "start",
        actor,
        session_id=session_id,
        attempt_id=aid,
        data=audit.start_event_data(attempt_seed, "DEMO"),
        at=starts_at,
    )
    head, seq, now = "", 0, starts_at
    numbers: dict[int, int] = {}
    # A linear form is answered in its order; an adaptive test item by item.
    form = [i for sec in state.sections for i in sec.items] if design.mode == "linear" else None
    while True:
        nxt = (form[seq] if seq < len(form) else None) if form is not None else None
        if form is None and not cat.is_complete(state):
            nxt = cat.current(state)
        if nxt is None:
            break
        current: int = nxt
        numbers.setdefault(current, len(numbers) + 1)  # its number on the screen
        option = _answer(rng, bank, current, float(theta[bank.content_area[current]]))
        choices = cat.Choices() if form is None else None
        before = state
        state = cat.record(state, bank, current, option, elapsed=per_item, choices=choices)
        seq += 1
        now += per_item
        row = storage.chained_response(
            aid,
            head,
            seq,
            "answer",
            numbers[current],
            bank.item_ids[current],
            option,
            False,
            per_item,
            now,
            server_elapsed=per_item,
            chosen=audit.encode_choices(choices),
        )
        head = row["hash"]
        conn.execute(insert(storage.RESPONSE).values(**row))
        if storage.snapshot_due(before, state, seq, 10):
            storage.put_snapshot(conn, storage.snapshot_row(aid, seq, state))
    final = cat.finish(state, "submitted")
    score = cat.score(final, bank).to_dict()
    passed, reason = verdict(policy, person.category, score)
    total = float(score.get("total", 0.0))
    storage.put_snapshot(conn, storage.snapshot_row(aid, seq, final))
    conn.execute(
        update(_t(m.Attempt))
        .where(_t(m.Attempt).c.id == aid)
        .values(
            status="finished",
            last_seq=seq,
            response_head=head,
            remaining_at_start=max(
                0.0, float(design.time_limit_seconds or 0.0) - (now - starts_at)
            ),
            last_seen_at=finished,
            finished_at=finished,
            finish_reason="submitted",
            score_json=json.dumps(score, separators=(",", ":")),
            total_points=total,
            passed=passed,
            pass_reason=reason[:300],
        )
    )
    audit.append(
        conn,
        "finish",
        actor,
        session_id=session_id,
        attempt_id=aid,
        reason="submitted",
        data=audit.finish_event_data(head, score, total, passed),
        at=finished,
    )
    return _Sitting(head, score)


def _day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).date().isoformat()


def seed_feedback_and_survey(engine: Engine, exam_code: str, now: float, seed: int = 3) -> None:
    """Survey answers over three test days and feedback in every state (demo)."""
    rng = np.random.default_rng(seed)
    questions = ("overall", "clarity", "terminal", "staff")
    rows = []
    for d in range(3):
        day = _day(now - (3 - d) * 86_400.0)
        for s in range(12):
            sub = f"{seed:04x}{d:04x}{s:024x}"
            for q in questions:
                rows.append(
                    {
                        "submission": sub,
                        "question": q,
                        "exam_code": exam_code,
                        "day": day,
                        "value": int(np.clip(round(rng.normal(3.6 + 0.3 * d, 0.9)), 1, 5)),
                    }
                )
    items = [
        (
            "venue",
            "Ruang ujian terlalu dingin, mohon suhu AC disesuaikan.",
            "published",
            "Terima kasih, suhu ruang sudah diatur 25 °C.",
        ),
        ("test", "Petunjuk pengerjaan TKP sangat jelas.", "published", None),
        (
            "registration",
            "Unggah dokumen sering gagal pada malam hari.",
            "published",
            "Kapasitas server unggah sudah ditambah.",
        ),
        ("results", "Kapan hasil SKB diumumkan?", "pending", None),
        ("other", "Iklan pinjaman online, klik di sini!", "rejected", None),
    ]
    fb = []
    for i, (cat_, text, status, answer) in enumerate(items):
        created = now - (5 - i) * 86_400.0
        fb.append(
            {
                "exam_code": exam_code,
                "category": cat_,
                "text": text,
                "text_sha256": text_digest(text),
                "status": status,
                "created_at": created,
                "moderated_at": None if status == "pending" else created + 3600.0,
                "moderated_by": "" if status == "pending" else "admin",
                "moderation_note": "",
                "answer": answer,
                "answered_at": None if answer is None else created + (1 + i) * 86_400.0,
                "source_mac": "demo",
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(_t(am.AfterSurveyAnswer)), rows)
        conn.execute(insert(_t(am.AfterFeedback)), fb)


def seed_after_test_demo(
    engine: Engine,
    *,
    design: TestDesign,
    bank: BankArrays,
    items: list[PublicItemContent],
    formations: Sequence[str],
    site_code: str,
    room_code: str,
    receipt_key: Ed25519PrivateKey,
    results_dir: Path,
    signing_key: Ed25519PrivateKey,
    now: float,
) -> list[str]:
    """The demo's after-the-test part (see the module doc); returns lines to print.
    Does nothing when the exam exists already (a demo served again)."""
    from exam_server.after_test import service
    from exam_server.results import publication as pub
    from exam_server.results.from_db import load_outcomes
    from exam_server.results.ranking import rank_skd

    exam_code = "SKD-HASIL"
    with engine.connect() as conn:
        if conn.execute(select(_t(m.Exam).c.id).where(_t(m.Exam).c.code == exam_code)).first():
            return []
    today = _day(now)
    finished = seed_finished_exam(
        engine,
        design=design,
        bank=bank,
        items=items,
        formations=formations,
        site_code=site_code,
        room_code=room_code,
        receipt_key=receipt_key,
        exam_code=exam_code,
        starts_at=now - 4 * 86_400.0,
    )
    seed_feedback_and_survey(engine, exam_code, now)
    lines = [
        f"After the test (exam {exam_code}): /after/{exam_code}/ (diagnostic report, "
        "feedback box, dashboard, appeals)"
    ]
    if (results_dir / pub.MANIFEST).exists():
        return [*lines, f"  ({results_dir} holds another publication: no appeal demo)"]
    policy = RankingPolicy.default_2024()
    formations_, outcomes = load_outcomes(engine, exam_code)
    v1 = pub.publish(
        pub.ExamInfo(exam_code, "SKD CPNS, sesi selesai (demo)", today),
        policy,
        rank_skd(policy, formations_, outcomes),
        signing_key,
        receipt_keys=[receipt_key.public_key()],
    )
    results_dir.mkdir(parents=True, exist_ok=True)
    pub.write_publication(results_dir, v1.files)
    # One appeal, accepted: a clerk typed the first candidate's name wrongly.
    regno = finished.registration_numbers[0]
    from exam_server.after_test import store

    store.add_appeal(
        engine,
        exam_code=exam_code,
        registration_number=regno,
        receipt_sha256=receipts.receipt_hash(receipts.decode(finished.receipts[regno])),
        published_version=1,
        reason="Nama saya salah tulis pada pengumuman.",
        evidence="Sesuai KTP: Peserta 2023-1 Santoso.",
        field="name",
        requested="Peserta 2023-1 Santoso",
        submitted_at=now - 3600.0,
        answer_by=now + 6 * 86_400.0,
    )
    appeal_id = store.appeal_rows(engine, exam_code)[0]["id"]
    store.decide_appeal(
        engine,
        appeal_id,
        status="accepted",
        answer="Diterima: kesalahan penulisan nama diperbaiki.",
        answered_at=now - 600.0,
        answered_by="admin",
        correction_from=f"Peserta {finished.registration_numbers[0][:4]}-1",
        correction_to="Peserta 2023-1 Santoso",
    )
    v2 = service.publish_corrections(engine, exam_code, results_dir, signing_key, today)
    assert v2 is not None
    return [
        *lines,
        f"  publication version 2 (an accepted appeal) in {results_dir}: seleksi results verify "
        f"{results_dir} --public-key {results_dir.parent / 'keys' / 'after-demo-signing.pub'}",
        f"  a receipt for the diagnostic report ({regno}): {finished.receipts[regno]}",
    ]


def demo_after_test(database_url: str, results_dir: Path, now: float | None = None) -> list[str]:
    """The demo's after-the-test part on the demo database (``seleksi demo``):
    a finished exam on the demo exam's frozen bank and design, in the demo
    site's second room, published into ``results_dir`` and signed with the
    demo's own results key (``<data>/keys/after-demo-signing.key``, made here like
    ``seleksi results keygen`` when missing). Lines to print; none when done before."""
    import os
    import time

    from exam_server.checkpoints import load_or_create_key, paths_for
    from exam_server.db import make_engine
    from exam_server.results import publication as pub
    from exam_server.snapshot import bank_from_json, items_from_json

    engine = make_engine(database_url)
    try:
        exams, forms = _t(m.Exam), _t(m.Formation)
        with engine.connect() as conn:
            demo = conn.execute(select(exams).where(exams.c.code == "SKD-DEMO")).first()
            codes = [r[0] for r in conn.execute(select(forms.c.code).order_by(forms.c.id))]
        if demo is None or not codes:
            return []
        keys = results_dir.parent / "keys"
        key_path = keys / "after-demo-signing.key"
        if key_path.exists():
            signing = pub.load_private_key(key_path.read_bytes())
        else:
            keys.mkdir(parents=True, exist_ok=True)
            signing = pub.generate_key()
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pub.private_key_pem(signing))
            (keys / "after-demo-signing.pub").write_bytes(pub.public_key_pem(signing.public_key()))
        return seed_after_test_demo(
            engine,
            design=TestDesign.from_dict(json.loads(demo.design_json)),
            bank=bank_from_json(demo.bank_json),
            items=items_from_json(demo.items_json),
            formations=codes,
            site_code="TILOK-01",
            room_code="R2",
            receipt_key=load_or_create_key(paths_for(database_url)[1]),
            results_dir=results_dir,
            signing_key=signing,
            now=time.time() if now is None else now,
        )
    finally:
        engine.dispose()
