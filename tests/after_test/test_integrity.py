"""The review of "after the test" for integrity and privacy, over a real server:

* a diagnostic subscore from a few answered items is not shown (it told a
  candidate which of those items were right: a key per blanked area);
* the public dashboard shows no survey mean of fewer than five answers (a
  test day with one respondent showed that candidate's answers);
* every appeal decision is an audit event, and ``publish-version`` signs only
  accepted appeals exactly as their event recorded them (a row written or
  changed in the database was signed as a correction, nothing chained);
* a second accepted correction of the same field waits for the first's
  version (both were accepted and jammed every later version);
* the feedback box of an exam the server does not hold is 404 (feedback was
  stored under any exam code).

Each test fails on the code before the review.
"""

from __future__ import annotations

import json
import re

import httpx
import numpy as np
import pytest
from sqlalchemy import delete, func, insert, select, update

from after_test import feedback
from after_test import models as am
from after_test.diagnostics import MIN_ITEMS, report_scale
from calibration.subscores import area_subscores
from exam_server import models as m
from exam_server import state_codec
from exam_server.after_test import service, store
from exam_server.after_test.survey_pool import Submission
from exam_server.audit import verify
from exam_server.audit.chain import AUDIT
from exam_server.context import context
from exam_server.db import writer
from exam_server.results import publication as pub
from tests.after_test.conftest import EXAM, PUBLISHED, SIGNING_KEY, AfterServer

APPEAL = am.AfterAppeal.__table__  # type: ignore[attr-defined]


def _report_rows(html: str) -> dict[str, tuple[str, str]]:
    """Area → (score cell, reason) of a diagnostic page."""
    rows = re.findall(
        r"<tr>\s*<td>\w+</td><td>([^<]+)</td>\s*<td class=\"num[^\"]*\">([^<]*)</td>.*?"
        r"<td class=\"muted\">([^<]*)</td>\s*</tr>",
        html,
        re.S,
    )
    return {area: (score, reason) for area, score, reason in rows}


SNAPSHOT = m.AttemptSnapshot.__table__  # type: ignore[attr-defined]


def _final_state(s: AfterServer, regno: str) -> tuple[int, int, bytes]:
    """(attempt id, seq, stored blob) of the candidate's final engine state."""
    a, c = m.Attempt.__table__, m.Candidate.__table__  # type: ignore[attr-defined]
    with s.db.connect() as conn:
        aid = conn.execute(
            select(a.c.id)
            .join(c, c.c.id == a.c.candidate_id)
            .where(c.c.registration_number == regno)
        ).scalar_one()
        seq = conn.execute(
            select(func.max(SNAPSHOT.c.seq)).where(SNAPSHOT.c.attempt_id == aid)
        ).scalar_one()
        blob = conn.execute(
            select(SNAPSHOT.c.state).where(SNAPSHOT.c.attempt_id == aid, SNAPSHOT.c.seq == seq)
        ).scalar_one()
    return int(aid), int(seq), bytes(blob)


def _store_state(s: AfterServer, aid: int, seq: int, blob: bytes) -> None:
    where = (SNAPSHOT.c.attempt_id == aid) & (SNAPSHOT.c.seq == seq)
    with writer(s.db).begin() as conn:
        conn.execute(update(SNAPSHOT).where(where).values(state=blob))


def _blanked(s: AfterServer, blob: bytes, keep: dict[str, int]) -> bytes:
    """The final state with only ``keep[area]`` answered items in those areas
    and every other item blank, as a candidate who skips them leaves it."""
    bank = store.population(s.db, EXAM).bank
    state = state_codec.unpack(blob)
    left = dict(keep)
    for sec in state.sections:
        for j, item in enumerate(sec.items):
            area = bank.content_codes[bank.content_area[item]]
            if left.get(area, 0) > 0 and not sec.pretest[j] and sec.options[j] >= 0:
                left[area] -= 1
            else:
                sec.options[j] = -1
    assert not any(left.values()), left  # the candidate had answered that many
    return state_codec.pack(state)


def test_a_subscore_from_a_few_answers_is_not_shown(after_server: AfterServer) -> None:
    """A candidate who answers one TWK item of an area and one TKP item of
    another, and leaves the rest blank, read on the old report whether the TWK
    item was right and the TKP option's points: a score from one item takes
    one value per answer category."""
    s = after_server
    bank = store.population(s.db, EXAM).bank
    # The attack, on the numbers: one right/wrong item's EAP as the report
    # rounds it is one value when the item was right and another when wrong.
    twk = int(np.flatnonzero(bank.content_area == bank.content_codes.index("twk_a"))[0])
    local = np.where(bank.content_area == bank.content_area[twk], 0, -1)
    one = area_subscores(bank.params, np.array([[twk], [twk]]), np.array([[0], [1]]), local, ("a",))
    assert len(set(np.round(report_scale(one.theta[:, 0])).tolist())) == 2

    regno = s.finished.registration_numbers[7]
    aid, seq, stored = _final_state(s, regno)
    _store_state(s, aid, seq, _blanked(s, stored, {"twk_a": 1, "tkp_a": 1, "tiu_a": MIN_ITEMS - 1}))
    try:
        _few_answers_not_shown(s, regno)
    finally:
        _store_state(s, aid, seq, stored)


def _few_answers_not_shown(s: AfterServer, regno: str) -> None:
    r = httpx.post(f"{s.url}/after/{EXAM}/diagnostik", data={"receipt": s.finished.receipts[regno]})
    assert r.status_code == 200, r.text
    rows = _report_rows(r.text)
    assert set(rows) == {"Twk a", "Twk b", "Tiu a", "Tiu b", "Tkp a", "Tkp b"}
    # Every area of this exam is reported (PRMSE), but none is shown from so few items.
    for area, n in (("Twk a", 1), ("Tkp a", 1), ("Tiu a", MIN_ITEMS - 1), ("Twk b", 0)):
        score, reason = rows[area]
        assert score == "–", (area, score)
        assert f"hanya {n} jawaban Anda" in reason, reason
    en = httpx.post(
        f"{s.url}/after/{EXAM}/diagnostik?lang=en", data={"receipt": s.finished.receipts[regno]}
    )
    assert "not shown: only 1 of your answers in this area were scored" in en.text

    # A candidate who answered their test still reads every area's score.
    other = s.finished.registration_numbers[3]
    popn = store.population(s.db, EXAM)
    assert (
        np.concatenate([d.subscores.n_items for d in popn.diagnostics], axis=1)[popn.row_of(other)]
        >= MIN_ITEMS
    ).all()
    full = _report_rows(
        httpx.post(
            f"{s.url}/after/{EXAM}/diagnostik", data={"receipt": s.finished.receipts[other]}
        ).text
    )
    assert all(re.fullmatch(r"\d+", score) for score, _ in full.values()), full


def test_minimum_items_hide_which_answers_were_right() -> None:
    """Why ten: on the tests' bank, over every right/wrong pattern of n items
    of one area, the share of those items whose right/wrong the shown score
    and SE settle."""
    from tests.after_test.conftest import area_bank

    bank, _ = area_bank()
    rng = np.random.default_rng(5)
    pool = np.flatnonzero(bank.content_area == 0)
    local = np.where(bank.content_area == 0, 0, -1)

    def settled(n: int) -> float:
        shares = []
        for _ in range(3):
            items = rng.choice(pool, n, replace=False)
            patterns = np.array(np.meshgrid(*[[0, 1]] * n, indexing="ij")).reshape(n, -1).T
            sub = area_subscores(
                bank.params, np.tile(items, (len(patterns), 1)), patterns, local, ("a",)
            )
            shown = zip(
                np.round(report_scale(sub.theta[:, 0])).tolist(),
                np.round(10 * sub.se[:, 0]).tolist(),
                strict=True,
            )
            groups: dict[tuple[float, float], list[np.ndarray]] = {}
            keys = list(shown)
            for key, pat in zip(keys, patterns, strict=True):
                groups.setdefault(key, []).append(pat)
            shares.append(
                np.mean(
                    [
                        (np.array(groups[k]) == p).all(axis=0).mean()
                        for k, p in zip(keys, patterns, strict=True)
                    ]
                )
            )
        return float(np.mean(shares))

    assert settled(1) == 1.0
    assert settled(4) > 0.5
    assert settled(MIN_ITEMS) < 0.05


def test_the_dashboard_shows_no_mean_of_a_few_answers(after_server: AfterServer) -> None:
    """A make-up day with one respondent: the old dashboard printed their
    answers as that day's means."""
    s = after_server
    pool = context(s.server.app).survey_pool
    pool.add(Submission(EXAM, "2025-01-04", {"overall": 1, "staff": 2}))  # alone that day
    for v in (5, 4, 4, 3, 4):
        pool.add(Submission(EXAM, "2025-01-05", {"overall": v}))
    pool.flush()
    page = httpx.get(f"{s.url}/after/{EXAM}/dasbor").text
    table = re.search(r'<table id="satisfaction">(.*?)</table>', page, re.S)
    assert table
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td[^>]*>([^<]+)</td><td", table[1])
    assert ("2025-01-04", "Kepuasan keseluruhan", "–") in rows
    assert ("2025-01-04", "Pelayanan panitia", "–") in rows
    assert ("2025-01-05", "Kepuasan keseluruhan", "4.00") in rows
    assert f"kurang dari {feedback.MIN_SURVEY_CELL} peserta" in page
    svg = re.search(r'<svg[^>]*aria-labelledby="ln-t".*?</svg>', page, re.S)
    assert svg and "2025-01-05" in svg[0] and "2025-01-04" not in svg[0]


def _decision_events(s: AfterServer) -> list[tuple[str, dict[str, object]]]:
    with s.db.connect() as conn:
        return [
            (r.actor, json.loads(r.data_json))
            for r in conn.execute(
                select(AUDIT.c.actor, AUDIT.c.data_json)
                .where(AUDIT.c.kind == store.DECIDED)
                .order_by(AUDIT.c.id)
            )
        ]


def _appeal_page(s: AfterServer, regno: str, field: str) -> int:
    r = httpx.post(
        f"{s.url}/after/{EXAM}/sanggah",
        data={
            "receipt": s.finished.receipts[regno],
            "reason": "Data saya salah tulis.",
            "field": field,
        },
    )
    assert r.status_code == 200, r.text
    return int(re.search(r"Sanggah nomor (\d+)", r.text)[1])  # type: ignore[index]


def _decide(s: AfterServer, appeal_id: int, **body: str) -> httpx.Response:
    return httpx.post(
        f"{s.url}/api/after/appeals/{appeal_id}/decide",
        headers=s.admin(),
        json={"answer": "Diperbaiki.", **body},
    )


def test_decisions_are_audited_and_only_they_are_signed(after_server: AfterServer) -> None:
    s = after_server
    regno = s.finished.registration_numbers[10]
    appeal_id = _appeal_page(s, regno, "name")
    proctor = httpx.post(
        f"{s.url}/api/auth/login", json={"username": "pengawas", "password": "proctor-password"}
    ).json()["token"]
    refused = httpx.post(
        f"{s.url}/api/after/appeals/{appeal_id}/decide",
        headers={"Authorization": f"Bearer {proctor}"},
        json={"status": "rejected", "answer": "tidak"},
    )
    assert refused.status_code == 403
    r = _decide(s, appeal_id, status="accepted", field="name", value="Budi Santoso")
    assert r.status_code == 200, r.text
    old = r.json()["correction_from"]
    actor, data = _decision_events(s)[-1]
    assert actor == "admin:admin"
    assert {k: data[k] for k in ("appeal_id", "registration_number", "status", "field")} == {
        "appeal_id": appeal_id,
        "registration_number": regno,
        "status": "accepted",
        "field": "name",
    }
    assert (data["from"], data["to"]) == (old, "Budi Santoso")

    # A row written past the API: an accepted correction nobody decided.
    before = pub.read_publication(s.results_dir)[pub.MANIFEST]
    other = s.finished.registration_numbers[11]
    now = s.clock.now()
    with writer(s.db).begin() as conn:
        planted = conn.execute(
            insert(APPEAL).values(
                exam_code=EXAM,
                registration_number=other,
                receipt_sha256="0" * 64,
                reason="-",
                evidence="",
                field="name",
                status="accepted",
                submitted_at=now,
                answer_by=now,
                answered_at=now,
                answered_by="admin",
                answer="Diperbaiki.",
                correction_from=f"Peserta {other[:4]}-{int(other[4:])}",
                correction_to="Orang Lain",
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    with pytest.raises(pub.PublicationError, match=rf"appeal {planted}: accepted, but the audit"):
        service.publish_corrections(s.db, EXAM, s.results_dir, SIGNING_KEY, PUBLISHED)
    assert pub.read_publication(s.results_dir)[pub.MANIFEST] == before  # nothing signed
    with writer(s.db).begin() as conn:
        conn.execute(delete(APPEAL).where(APPEAL.c.id == planted))
        # A decided row changed afterwards: another value than the one decided.
        conn.execute(
            update(APPEAL).where(APPEAL.c.id == appeal_id).values(correction_to="Budi Santosa")
        )
    with pytest.raises(pub.PublicationError, match=rf"appeal {appeal_id}: to stored differ"):
        service.publish_corrections(s.db, EXAM, s.results_dir, SIGNING_KEY, PUBLISHED)
    assert pub.read_publication(s.results_dir)[pub.MANIFEST] == before
    with writer(s.db).begin() as conn:
        conn.execute(
            update(APPEAL).where(APPEAL.c.id == appeal_id).values(correction_to="Budi Santoso")
        )

    # As decided: signed, and the version and the candidate's new name chained.
    new = service.publish_corrections(s.db, EXAM, s.results_dir, SIGNING_KEY, PUBLISHED)
    assert new is not None and new.manifest["version"]["number"] == 2
    with s.db.connect() as conn:
        row = conn.execute(
            select(AUDIT.c.actor, AUDIT.c.data_json).where(AUDIT.c.kind == store.PUBLISHED)
        ).one()
    published = json.loads(row.data_json)
    assert row.actor == "cli" and published["version"] == 2 and published["appeals"] == [appeal_id]
    assert published["candidates_changed"] == [
        {"registration_number": regno, "field": "name", "from": old, "to": "Budi Santoso"}
    ]
    import hashlib

    manifest = pub.read_publication(s.results_dir)[pub.MANIFEST]
    assert published["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert verify(s.db).problems == []


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        ({"status": "accepted"}, "status stored differ"),
        ({"answer": "Diterima."}, "answer_sha256 stored differ"),
        ({"answered_by": "admin2"}, "answered_by stored differ"),
        ({"status": "submitted"}, "decided (rejected) by the audit log, stored as open"),
    ],
)
def test_audit_verify_reports_a_decision_changed_after_it_was_made(
    after_server: AfterServer, edit: dict[str, str], said: str
) -> None:
    """Found by a review: only publishing compared an accepted appeal with its
    decision; a rejected appeal turned accepted (or back to open), its answer
    or who gave it rewritten, went unnoticed by audit verify."""
    from exam_server.audit.appeal_records import check_appeals

    s = after_server
    regno = s.finished.registration_numbers[20]  # one rejected appeal, edited each time
    rows = [r for r in store.appeal_rows(s.db, EXAM) if r["registration_number"] == regno]
    appeal_id = rows[0]["id"] if rows else _appeal_page(s, regno, "name")
    if not rows:
        assert _decide(s, appeal_id, status="rejected").status_code == 200
    with writer(s.db).connect() as conn:  # reads, then writes while the server writes
        trans = conn.begin()
        try:
            before = check_appeals(conn)[0]
            conn.execute(update(APPEAL).where(APPEAL.c.id == appeal_id).values(**edit))
            problems = check_appeals(conn)[0]
        finally:
            trans.rollback()
    assert before == []
    assert [p for p in problems if f"appeal {appeal_id} " in p and said in p], problems


def test_a_decided_appeal_inserted_with_a_low_id_or_changed_from_its_baseline_is_reported(
    after_server: AfterServer,
) -> None:
    """Found by a review: a decided appeal without its event passed as one
    from before decisions were audited when its id was below every audited
    one. Old decisions are now the ones the upgrade's appeal_baseline lists
    (with a digest of each); any other is a problem, whatever its id."""
    from exam_server.audit.appeal_records import check_appeals, record_baseline

    s = after_server
    now = s.clock.now()
    planted = {
        "id": 0,
        "exam_code": EXAM,
        "registration_number": s.finished.registration_numbers[30],
        "receipt_sha256": "0" * 64,
        "reason": "-",
        "evidence": "",
        "field": "name",
        "status": "rejected",
        "submitted_at": now,
        "answer_by": now,
        "answered_at": now,
        "answered_by": "admin",
        "answer": "Ditolak.",
    }
    with writer(s.db).connect() as conn:  # reads, then writes while the server writes
        trans = conn.begin()
        try:
            conn.execute(insert(APPEAL).values(**planted))
            problems = check_appeals(conn)[0]
        finally:
            trans.rollback()
    assert any("appeal 0 " in p and "no decision of it" in p for p in problems), problems

    # A database whose decisions predate their events: the upgrade lists them.
    with writer(s.db).connect() as conn:  # reads, then writes while the server writes
        trans = conn.begin()
        try:
            conn.execute(delete(AUDIT).where(AUDIT.c.kind == "appeal_decided"))
            assert record_baseline(conn) is True
            assert record_baseline(conn) is False  # once
            problems, notes = check_appeals(conn)
            assert problems == [] and notes
            (old_id,) = conn.execute(
                select(APPEAL.c.id).where(APPEAL.c.status != "submitted").limit(1)
            ).one()
            conn.execute(update(APPEAL).where(APPEAL.c.id == old_id).values(answer="Lain."))
            changed = check_appeals(conn)[0]
            conn.execute(insert(APPEAL).values(**planted))
            inserted = check_appeals(conn)[0]
        finally:
            trans.rollback()
    assert any(f"appeal {old_id} " in p and "appeal_baseline" in p for p in changed), changed
    assert any("appeal 0 " in p and "no decision of it" in p for p in inserted), inserted


def test_a_field_corrected_and_not_yet_published_is_not_accepted_again(
    after_server: AfterServer,
) -> None:
    """Two accepted corrections of one field, each from the published value:
    the old code stored both, and every later version failed to sign
    ("published value is …, not …") with no way to change a decision."""
    s = after_server
    regno = s.finished.registration_numbers[20]
    first = _appeal_page(s, regno, "name")
    assert (
        _decide(s, first, status="accepted", field="name", value="Citra Lestari").status_code == 200
    )
    second = _appeal_page(s, regno, "name")
    r = _decide(s, second, status="accepted", field="name", value="Citra Lestary")
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {
            "field": "field",
            "message": f"sanggah {first} peserta ini sudah diterima dengan perbaikan 'name' yang "
            "belum diterbitkan: terbitkan versi berikutnya dahulu",
        }
    ]
    assert store.appeal(s.db, second)["status"] == "submitted"  # nothing stored
    assert [d["appeal_id"] for _, d in _decision_events(s)].count(second) == 0
    # The next version carries the first; then the second may be decided.
    new = service.publish_corrections(s.db, EXAM, s.results_dir, SIGNING_KEY, PUBLISHED)
    assert new is not None
    ok = _decide(s, second, status="accepted", field="name", value="Citra Lestary")
    assert ok.status_code == 200, ok.text
    assert ok.json()["correction_from"] == "Citra Lestari"
    assert service.publish_corrections(s.db, EXAM, s.results_dir, SIGNING_KEY, PUBLISHED)


def test_no_feedback_box_for_an_exam_nobody_holds(after_server: AfterServer) -> None:
    s = after_server
    for path in ("/after/SKD-TIDAK-ADA/saran", f"/after/{'X' * 60}/saran"):
        assert httpx.get(s.url + path).status_code == 404
        s.clock.advance(10)
        token = re.search(
            r'name="form" value="([^"]+)"', httpx.get(f"{s.url}/after/{EXAM}/saran").text
        )
        assert token
        s.clock.advance(10)
        sent = httpx.post(
            s.url + path,
            data={"form": token[1], "category": "venue", "text": "spam", "website": ""},
        )
        assert sent.status_code == 404 and "tidak dikenal" in sent.text
    with s.db.connect() as conn:
        fb = am.AfterFeedback.__table__  # type: ignore[attr-defined]
        assert conn.execute(select(func.count()).where(fb.c.exam_code != EXAM)).scalar_one() == 0


def test_audit_verify_takes_a_published_category_correction(after_server: AfterServer) -> None:
    s = after_server
    regno = s.finished.registration_numbers[30]  # "general" (finished_exam.CATEGORIES)
    appeal_id = _appeal_page(s, regno, "category")
    r = _decide(s, appeal_id, status="accepted", field="category", value="disability")
    assert r.status_code == 200, r.text
    assert service.publish_corrections(s.db, EXAM, s.results_dir, SIGNING_KEY, PUBLISHED)
    # The category changed by a published correction is what the chain says.
    assert verify(s.db).problems == []
    # Changed again in the table, past any appeal: still caught.
    cands = m.Candidate.__table__  # type: ignore[attr-defined]
    with writer(s.db).begin() as conn:
        conn.execute(
            update(cands).where(cands.c.registration_number == regno).values(category="general")
        )
    problems = verify(s.db).problems
    assert any(
        "the candidate's category is 'general' stored, 'disability' when the test started "
        "and as corrected on appeal" in p
        for p in problems
    ), problems
