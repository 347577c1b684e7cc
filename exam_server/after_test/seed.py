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

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
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
from cat_engine.state import TestState
from exam_server import audit, receipts
from exam_server import models as m
from exam_server import scheduling as sch
from exam_server.attempts import storage
from exam_server.attempts.frames import published_points
from exam_server.audit import verdict
from exam_server.db import writer
from exam_server.results.rules import RankingPolicy
from exam_server.snapshot import PublicItemContent


def _t(model: Any) -> Table:
    return model.__table__


CATEGORIES = ("general", "general", "general", "cumlaude", "disability")


class Stopped(Exception):
    """The seeding was asked to stop before it wrote anything."""


@dataclass
class FinishedExam:
    exam_code: str
    session_code: str
    registration_numbers: list[str] = field(default_factory=list)
    receipts: dict[str, str] = field(default_factory=dict)  # regno → text code


def _answers(
    rng: np.random.Generator, bank: BankArrays, items: list[int], theta: np.ndarray
) -> list[int]:
    """Options drawn from each item's IRT model at ``theta[area]``, in ``items``'
    order (one draw of the category, then of an option with it, per item)."""
    probs_all = category_probabilities(theta, bank.params.subset(items))  # (areas, n, K)
    out: list[int] = []
    for j, item in enumerate(items):
        probs = probs_all[int(bank.content_area[item]), j]
        k = int(rng.choice(probs.shape[0], p=probs / probs.sum()))
        options = np.flatnonzero(bank.option_category[item, : bank.n_options[item]] == k)
        out.append(int(rng.choice(options)) if options.size else -1)
    return out


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
    stop: Callable[[], bool] | None = None,
) -> FinishedExam:
    """An exam whose one closed session holds ``n_candidates`` finished
    attempts. Each candidate's ability in a content area is ``0.8·g +
    area_sd·z`` (g, z standard normal), so areas differ from the total.

    Every test is played first (the forms' assembly takes most of the time),
    then the exam, its session, candidates and sittings are written; the
    sittings in one transaction. stop: asked between tests and last before
    anything is written; when it says True, nothing is written and
    :class:`Stopped` is raised (the demo's background seeding, when the demo
    stops first)."""
    rng = np.random.default_rng(seed)
    policy = RankingPolicy.default_2024()
    # Half the test's time spread over its items: no test ends on the clock.
    n_total = sum(sec.n_items for sec in design.sections)
    per_item = 0.5 * (design.time_limit_seconds or 6000.0) / max(n_total, 1)
    categories = [CATEGORIES[i % len(CATEGORIES)] for i in range(n_candidates)]
    n_areas = len(bank.content_codes)
    played: list[_Played] = []
    for k in range(n_candidates):
        if stop is not None and stop():
            raise Stopped
        theta = 0.8 * rng.normal() + area_sd * rng.normal(size=n_areas)
        played.append(
            _play(rng, design, bank, policy, categories[k], seed * 100_000 + k, theta, per_item)
        )
    if stop is not None and stop():
        raise Stopped
    return _write_finished_exam(
        engine,
        design=design,
        bank=bank,
        items=items,
        policy=policy,
        played=played,
        formations=formations,
        categories=categories,
        site_code=site_code,
        room_code=room_code,
        receipt_key=receipt_key,
        exam_code=exam_code,
        exam_name=exam_name,
        prefix=prefix,
        starts_at=starts_at,
        per_item=per_item,
    )


@dataclass
class _Played:
    """One candidate's whole test, played through the engine before anything
    is stored: the answers in order, the states to snapshot, the result."""

    seed: int
    answers: list[tuple[int, str, int, str | None]]  # screen number, item id, option, chosen
    snapshots: dict[int, TestState]  # seq → state after it (0: the start; the last: final)
    score: dict[str, Any]
    passed: bool | None
    reason: str


def _play(
    rng: np.random.Generator,
    design: TestDesign,
    bank: BankArrays,
    policy: RankingPolicy,
    category: str,
    attempt_seed: int,
    theta: np.ndarray,
    per_item: float,
) -> _Played:
    """One candidate's test through the engine as the server drives it: a
    linear form answered in its order, an adaptive test item by item; answers
    drawn from the bank's IRT model at the candidate's ability in each item's
    content area (see :func:`_answers`)."""
    state = cat.start(design, bank, attempt_seed)
    snapshots: dict[int, TestState] = {0: state}
    answers: list[tuple[int, str, int, str | None]] = []
    numbers: dict[int, int] = {}
    seq = 0
    # A linear form is answered in its order; an adaptive test item by item.
    form = [i for sec in state.sections for i in sec.items] if design.mode == "linear" else None
    drawn = iter(_answers(rng, bank, form, theta)) if form is not None else None
    while True:
        nxt = (form[seq] if seq < len(form) else None) if form is not None else None
        if form is None and not cat.is_complete(state):
            nxt = cat.current(state)
        if nxt is None:
            break
        current: int = nxt
        numbers.setdefault(current, len(numbers) + 1)  # its number on the screen
        option = next(drawn) if drawn is not None else _answers(rng, bank, [current], theta)[0]
        choices = cat.Choices() if form is None else None
        before = state
        state = cat.record(state, bank, current, option, elapsed=per_item, choices=choices)
        seq += 1
        answers.append(
            (numbers[current], bank.item_ids[current], option, audit.encode_choices(choices))
        )
        if storage.snapshot_due(before, state, seq, 10):
            snapshots[seq] = state
    final = cat.finish(state, "submitted")
    snapshots[seq] = final  # the final state replaces a snapshot of the last answer
    score = cat.score(final, bank).to_dict()
    passed, reason = verdict(policy, category, score)
    return _Played(attempt_seed, answers, snapshots, score, passed, reason)


def _write_finished_exam(
    engine: Engine,
    *,
    design: TestDesign,
    bank: BankArrays,
    items: list[PublicItemContent],
    policy: RankingPolicy,
    played: list[_Played],
    formations: Sequence[str],
    categories: list[str],
    site_code: str,
    room_code: str,
    receipt_key: Ed25519PrivateKey | None,
    exam_code: str,
    exam_name: str,
    prefix: str,
    starts_at: float,
    per_item: float,
) -> FinishedExam:
    """Store the played tests as the server stores a sitting: the attempt, its
    ``start`` event, every answer chained onto the answer chain
    (``storage.chained_response``) with the engine's snapshots, the final
    state and the ``finish`` event binding the result
    (``audit.finish_event_data``), so that ``seleksi audit verify`` replays
    each answer and finds the stored score; the receipts signed at finish."""
    sch.create_exam(engine, exam_code, exam_name, design, bank, items, policy)
    session_code = f"{exam_code}-S1"
    session_id = sch.create_session(
        engine, session_code, exam_code, site_code, room_code, starts_at
    )
    rows = ["registration_number,name,category,formation_code,session_code,birth_date"]
    for i, category in enumerate(categories):
        rows.append(
            f"{prefix}{i + 1:04d},Peserta {prefix}-{i + 1},{category},"
            f"{formations[i % len(formations)]},{session_code},"
            f"{1990 + i % 10}-0{1 + i % 9}-1{i % 9}"
        )
    sch.import_candidates_csv(engine, "\n".join(rows) + "\n")
    out = FinishedExam(exam_code, session_code)
    cands, attempts = _t(m.Candidate), _t(m.Attempt)
    limit = float(design.time_limit_seconds or 0.0)
    finished = starts_at + 5400.0
    # BEGIN IMMEDIATE: the audit chain's head is read and extended here while a
    # served demo may write its own events.
    with writer(engine).begin() as conn:
        conn.execute(
            update(_t(m.ExamSession))
            .where(_t(m.ExamSession).c.id == session_id)
            .values(status="closed", opened_at=starts_at, closed_at=starts_at + 7200.0)
        )
        people = conn.execute(
            select(cands.c.id, cands.c.registration_number)
            .where(cands.c.session_id == session_id)
            .order_by(cands.c.registration_number)
        ).all()
        responses: list[dict[str, Any]] = []
        snapshots: list[dict[str, Any]] = []
        for person, play in zip(people, played, strict=True):
            actor = f"candidate:{person.id}"
            key = conn.execute(
                insert(attempts).values(
                    session_id=session_id,
                    candidate_id=person.id,
                    status="running",
                    seed=play.seed,
                    last_seq=0,
                    response_head="",
                    terminal_released=False,
                    remaining_at_start=limit,
                    last_seen_at=starts_at,
                    started_at=starts_at,
                )
            ).inserted_primary_key
            assert key is not None
            aid = int(key[0])
            audit.append(
                conn,
                "start",
                actor,
                session_id=session_id,
                attempt_id=aid,
                data=audit.start_event_data(play.seed, "DEMO"),
                at=starts_at,
            )
            head, now = "", starts_at
            for seq, (number, item_id, option, chosen) in enumerate(play.answers, start=1):
                now += per_item
                row = storage.chained_response(
                    aid,
                    head,
                    seq,
                    "answer",
                    number,
                    item_id,
                    option,
                    False,
                    per_item,
                    now,
                    server_elapsed=per_item,
                    chosen=chosen,
                )
                head = row["hash"]
                responses.append(row)
            snapshots += [storage.snapshot_row(aid, s, st) for s, st in play.snapshots.items()]
            total = float(play.score.get("total", 0.0))
            conn.execute(
                update(attempts)
                .where(attempts.c.id == aid)
                .values(
                    status="finished",
                    last_seq=len(play.answers),
                    response_head=head,
                    remaining_at_start=max(0.0, limit - (now - starts_at)),
                    last_seen_at=finished,
                    finished_at=finished,
                    finish_reason="submitted",
                    score_json=json.dumps(play.score, separators=(",", ":")),
                    total_points=total,
                    passed=play.passed,
                    pass_reason=play.reason[:300],
                )
            )
            audit.append(
                conn,
                "finish",
                actor,
                session_id=session_id,
                attempt_id=aid,
                reason="submitted",
                data=audit.finish_event_data(head, play.score, total, play.passed),
                at=finished,
            )
            out.registration_numbers.append(person.registration_number)
            if receipt_key is not None:
                points, total_points = published_points(policy, play.score)
                r = receipts.sign_receipt(
                    receipt_key,
                    registration_number=person.registration_number,
                    exam=exam_code,
                    session=session_code,
                    scores=points,
                    total=total_points,
                    chain_head=head,
                )
                out.receipts[person.registration_number] = receipts.encode(r)
        # Many rows in one statement each (executemany), not one statement a row.
        if responses:
            conn.execute(insert(storage.RESPONSE), responses)
        conn.execute(insert(storage.SNAPSHOT), snapshots)
    return out


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


# -- the demo's after-the-test part in the background ---------------------------------

#: What the background process runs: at a lower priority (the served demo's
#: start and pages come first), then :func:`main`.
_BACKGROUND = (
    "import os, sys\n"
    "if hasattr(os, 'nice'):\n"
    "    os.nice(5)\n"
    "from exam_server.after_test.seed import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def start_demo_after_test(database_url: str, results_dir: Path) -> subprocess.Popen[bytes] | None:
    """Seed the demo's after-the-test part (:func:`demo_after_test`) in a process
    of its own while the demo starts serving: its forms' assembly takes about
    ten seconds, which the first page need not wait for. It prints its lines
    when done; until then ``/after/SKD-HASIL/`` and ``/results/`` say the
    exam is being prepared (:func:`exam_server.demo.being_prepared`). None
    when the part exists already.

    Stop it with :func:`stop_demo_after_test`. It runs in a session of its own
    (a Ctrl+C reaches the demo, not it) and stops when its stdin closes, also
    when the demo dies: before it writes, it writes nothing; once writing (about
    a second), it finishes."""
    from exam_server.checkpoints import load_or_create_key, paths_for
    from exam_server.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            exams = _t(m.Exam)
            done = conn.execute(select(exams.c.id).where(exams.c.code == "SKD-HASIL")).first()
    finally:
        engine.dispose()
    if done is not None:
        return None
    # The receipts' key is the server's checkpoint key: made here, before the
    # server and this process would both make one.
    load_or_create_key(paths_for(database_url)[1])
    return subprocess.Popen(
        [sys.executable, "-c", _BACKGROUND, database_url, str(results_dir)],
        stdin=subprocess.PIPE,
        start_new_session=True,
    )


def stop_demo_after_test(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Tell the background process to stop (see :func:`start_demo_after_test`)
    and wait for it to end."""
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired, KeyboardInterrupt):
        proc.wait(timeout)  # a second Ctrl+C: it finishes alone


def main(argv: Sequence[str]) -> int:
    """The background process: ``DATABASE_URL RESULTS_DIR``; prints the lines of
    :func:`demo_after_test`, or nothing when its stdin closed first."""
    closed = threading.Event()

    def watch() -> None:
        # The demo never writes: this returns at EOF. (os.read, not sys.stdin:
        # a daemon thread in a buffered read stops the interpreter's exit.)
        with contextlib.suppress(OSError):
            os.read(0, 1)
        closed.set()

    threading.Thread(target=watch, daemon=True).start()
    database_url, results_dir = argv
    try:
        lines = demo_after_test(database_url, Path(results_dir), stop=closed.is_set)
    except Stopped:
        return 0
    if lines:
        print("\n" + "\n".join(lines), flush=True)
    return 0
