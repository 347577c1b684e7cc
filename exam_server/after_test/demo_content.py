"""The demo's after-the-test content on top of a finished exam
(:mod:`.finished_exam`): survey answers, feedback in every state, a signed
publication and one appeal accepted and signed as the publication's second
version; :func:`demo_after_test` seeds it all on the demo database.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from after_test import models as am
from after_test.feedback import text_digest
from cat_engine.bank import BankArrays
from cat_engine.design import TestDesign
from exam_server import models as m
from exam_server import receipts
from exam_server.after_test.finished_exam import _t, seed_finished_exam
from exam_server.db import writer
from exam_server.results.rules import RankingPolicy
from exam_server.snapshot import PublicItemContent


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
    with writer(engine).begin() as conn:
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
    stop: Callable[[], bool] | None = None,
) -> list[str]:
    """The demo's after-the-test part (see the module doc); returns lines to print.
    Does nothing when the exam exists already (a demo served again). stop: see
    :func:`seed_finished_exam` (raises :class:`Stopped`, nothing written)."""
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
        stop=stop,
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
        actor="admin:admin",
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


def demo_after_test(
    database_url: str,
    results_dir: Path,
    now: float | None = None,
    stop: Callable[[], bool] | None = None,
) -> list[str]:
    """The demo's after-the-test part on the demo database (``seleksi demo``):
    a finished exam on the demo exam's frozen bank and design, in the demo
    site's second room, published into ``results_dir`` and signed with the
    demo's own results key (``<data>/keys/after-demo-signing.key``, made here like
    ``seleksi results keygen`` when missing). Lines to print; none when done before."""
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
            stop=stop,
        )
    finally:
        engine.dispose()
