"""After the test over a real server: diagnostic report by receipt, the
terminal's anonymous survey, the feedback box and its moderation, the public
dashboard's numbers against the database, appeals and the version they make,
training needs of the new hires."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import func, inspect, select

from after_test import models as am
from exam_server.after_test import service, store
from exam_server.audit import verify
from exam_server.context import context
from exam_server.results import publication as pub
from tests.after_test.conftest import EXAM, SIGNING_KEY, AfterServer


def test_the_seeded_exam_passes_the_audit_verifier(after_server: AfterServer) -> None:
    """The finished exam the demo and these tests seed is stored as the server
    stores a sitting: ``seleksi audit verify`` replays every answer and finds
    each stored score (a seeded exam that failed the verifier would teach that
    its PROBLEM lines can be ignored)."""
    report = verify(after_server.db)
    assert report.problems == []
    assert report.scores >= 60  # every seeded attempt was replayed and scored
    assert report.responses >= 60 * 110


def test_diagnostic_report_by_receipt(after_server: AfterServer) -> None:
    s = after_server
    regno = s.finished.registration_numbers[3]
    r = httpx.post(f"{s.url}/after/{EXAM}/diagnostik", data={"receipt": s.finished.receipts[regno]})
    assert r.status_code == 200, r.text
    assert regno in r.text and "Laporan diagnostik" in r.text
    for area in ("Twk a", "Twk b", "Tiu a", "Tkp b"):
        assert area in r.text
    # Every area says whether it is reported and why (PRMSE).
    assert len(re.findall(r'<td class="muted">(?:tidak )?dilaporkan: PRMSE', r.text)) == 6
    bad = httpx.post(f"{s.url}/after/{EXAM}/diagnostik", data={"receipt": "SELEKSI-R1:AAAA"})
    assert bad.status_code == 422 and "Tanda terima tidak sah" in bad.text
    other_exam = httpx.post(
        f"{s.url}/after/SKD-LAIN/diagnostik", data={"receipt": s.finished.receipts[regno]}
    )
    assert other_exam.status_code == 422


def test_subscore_analysis_for_staff(after_server: AfterServer) -> None:
    s = after_server
    r = httpx.get(f"{s.url}/api/after/{EXAM}/subscores", headers=s.admin())
    assert r.status_code == 200
    body = r.json()
    assert body["candidates"] == 60
    assert [d["subtest"] for d in body["subtests"]] == ["TWK", "TIU", "TKP"]
    for d in body["subtests"]:
        for a in d["areas"]:
            assert a["reported"] == (a["prmse_sub"] > a["prmse_total"])
    assert httpx.get(f"{s.url}/api/after/{EXAM}/subscores").status_code == 401


def count(s: AfterServer, model: type) -> int:
    with s.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model.__table__)).scalar_one())  # type: ignore[attr-defined]


def test_survey_is_anonymous_once_and_on_the_scale(after_server: AfterServer) -> None:
    s = after_server
    regno = s.finished.registration_numbers[5]
    h = {"Authorization": f"Bearer {s.candidate_token(regno)}"}
    q = httpx.get(f"{s.url}/api/after/survey", headers=h).json()
    assert q["open"] is True and q["questions"][0]["code"] == "overall"
    before = count(s, am.AfterSurveyAnswer)
    bad = httpx.post(f"{s.url}/api/after/survey", headers=h, json={"answers": {"overall": 9}})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "answers.overall"
    assert count(s, am.AfterSurveyAnswer) == before and count(s, am.AfterSurveyDone) == 0
    ok = httpx.post(
        f"{s.url}/api/after/survey", headers=h, json={"answers": {"overall": 4, "staff": 5}}
    )
    assert ok.status_code == 200 and ok.json() == {"stored": 2}
    again = httpx.post(f"{s.url}/api/after/survey", headers=h, json={"answers": {"overall": 1}})
    assert again.status_code == 409
    assert httpx.get(f"{s.url}/api/after/survey", headers=h).json()["open"] is False
    # The marker at once, the answers only with a batch of other candidates'
    # (exam_server.after_test.survey_pool): nothing written beside the marker.
    assert count(s, am.AfterSurveyDone) == 1 and count(s, am.AfterSurveyAnswer) == before
    pool = context(s.server.app).survey_pool
    assert pool.pending == 1
    # Counted for an administrator only: public, its rise named who had just
    # answered (the board shows who finished when).
    assert "survey_answers_waiting" not in httpx.get(f"{s.url}/healthz").json()
    assert httpx.get(f"{s.url}/healthz", headers=s.admin()).json()["survey_answers_waiting"] == 1
    assert pool.flush() == 1
    assert count(s, am.AfterSurveyAnswer) == before + 2
    # Anonymous: the answers' table has no column that could name the candidate or the time.
    cols = {c["name"] for c in inspect(s.db).get_columns("after_survey_answer")}
    assert cols == {"submission", "question", "exam_code", "day", "value"}
    # Nor one that keeps the order answers came in (SQLite's rowid).
    with s.db.connect() as conn:
        ddl = conn.exec_driver_sql(
            "SELECT group_concat(sql) FROM sqlite_master WHERE name LIKE 'after_survey_%'"
        ).scalar_one()
    assert ddl.count("WITHOUT ROWID") == 2


def form_token(html: str) -> str:
    m = re.search(r'name="form" value="([^"]+)"', html)
    assert m
    return m.group(1)


def test_feedback_box_spam_rules_moderation_and_dashboard(after_server: AfterServer) -> None:
    s = after_server
    page = httpx.get(f"{s.url}/after/{EXAM}/saran")
    token = form_token(page.text)
    data = {
        "form": token,
        "category": "venue",
        "text": "Antrean masuk terlalu panjang.",
        "website": "",
    }
    too_fast = httpx.post(f"{s.url}/after/{EXAM}/saran", data=data)
    assert too_fast.status_code == 422 and "terlalu cepat" in too_fast.text
    s.clock.advance(10)
    robot = httpx.post(f"{s.url}/after/{EXAM}/saran", data={**data, "website": "http://x"})
    assert robot.status_code == 422
    assert count(s, am.AfterFeedback) == 0
    ids = []
    for i in range(5):  # the policy's limit per sender and hour
        r = httpx.post(f"{s.url}/after/{EXAM}/saran", data={**data, "text": f"Saran {i}"})
        assert r.status_code == 200, r.text
        ids.append(int(re.search(r"nomor (\d+)", r.text).group(1)))  # type: ignore[union-attr]
    limited = httpx.post(f"{s.url}/after/{EXAM}/saran", data=data)
    assert limited.status_code == 429 and count(s, am.AfterFeedback) == 5
    # Moderation: publish two, reject one; a published item cannot be edited.
    for i, decision in zip(ids[:3], ["published", "published", "rejected"], strict=True):
        r = httpx.post(
            f"{s.url}/api/after/feedback/{i}/moderate",
            headers=s.admin(),
            json={"decision": decision},
        )
        assert r.status_code == 200
    edit = httpx.post(
        f"{s.url}/api/after/feedback/{ids[0]}/edit", headers=s.admin(), json={"text": "diubah"}
    )
    assert edit.status_code == 422 and "moderated" in edit.json()["message"]
    s.clock.advance(2 * 86_400)
    ans = httpx.post(
        f"{s.url}/api/after/feedback/{ids[0]}/answer",
        headers=s.admin(),
        json={"answer": "Ditambah loket."},
    )
    assert ans.status_code == 200
    dash = httpx.get(f"{s.url}/after/{EXAM}/dasbor")
    assert dash.status_code == 200 and "<svg" in dash.text
    # The dashboard's numbers are the database's.
    with s.db.connect() as conn:
        t = am.AfterFeedback.__table__  # type: ignore[attr-defined]
        rows = conn.execute(
            select(t.c.category, t.c.status, func.count()).group_by(t.c.category, t.c.status)
        ).all()
    row = re.search(r'<tr data-category="venue">(.*?)</tr>', dash.text, re.S)
    assert row
    cells = [int(x) for x in re.findall(r'<td class="num">(\d+)</td>', row.group(1))]
    db = {st: n for c, st, n in rows if c == "venue"}
    assert cells == [
        db.get("pending", 0),
        db.get("published", 0),
        db.get("rejected", 0),
        sum(db.values()),
    ]
    assert "Saran 0" in dash.text and "Ditambah loket." in dash.text  # published + answer
    assert "Saran 4" not in dash.text  # still pending
    assert re.search(r'id="median-answer">2\.0 hari', dash.text)


def test_appeal_in_window_then_accepted_and_signed_as_version_2(after_server: AfterServer) -> None:
    s = after_server
    regno = s.finished.registration_numbers[0]
    receipt = s.finished.receipts[regno]
    form = {
        "receipt": receipt,
        "reason": "Nama saya salah tulis.",
        "evidence": "KTP",
        "field": "name",
    }
    bad_field = httpx.post(f"{s.url}/after/{EXAM}/sanggah", data={**form, "field": "scores"})
    assert bad_field.status_code == 422 and "administratif" in bad_field.text
    no_receipt = httpx.post(f"{s.url}/after/{EXAM}/sanggah", data={**form, "receipt": "x"})
    assert no_receipt.status_code == 422
    assert count(s, am.AfterAppeal) == 0
    ok = httpx.post(f"{s.url}/after/{EXAM}/sanggah", data=form)
    assert ok.status_code == 200, ok.text
    appeal_id = int(re.search(r"Sanggah nomor (\d+)", ok.text).group(1))  # type: ignore[union-attr]
    second = httpx.post(f"{s.url}/after/{EXAM}/sanggah", data=form)
    assert second.status_code == 422 and "belum dijawab" in second.text
    # The agency accepts it with a clerical correction.
    decided = httpx.post(
        f"{s.url}/api/after/appeals/{appeal_id}/decide",
        headers=s.admin(),
        json={
            "status": "accepted",
            "answer": "Diperbaiki.",
            "field": "name",
            "value": "Ani Santoso",
        },
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["correction_from"].startswith("Peserta")
    twice = httpx.post(
        f"{s.url}/api/after/appeals/{appeal_id}/decide",
        headers=s.admin(),
        json={"status": "rejected", "answer": "x"},
    )
    assert twice.status_code == 422
    new = service.publish_corrections(s.db, EXAM, s.results_dir, SIGNING_KEY, "2025-01-10")
    assert new is not None
    files = pub.read_publication(s.results_dir)
    rep = pub.verify_publication(files, SIGNING_KEY.public_key())
    assert rep.ok, rep.problems
    assert any(c.startswith("version 2 = version 1") for c in rep.checks)
    assert b"Ani Santoso" in b"".join(v for k, v in files.items() if k.startswith("skd/"))
    # The public results page says which version it is and what it corrects.
    page = httpx.get(f"{s.url}/results/").text
    assert "Versi 2" in page and "Ani Santoso" in page
    # Outside the window (3 days from the publication day): refused, nothing stored.
    s.clock.set(s.clock.now() + 5 * 86_400)
    late = httpx.post(f"{s.url}/after/{EXAM}/sanggah", data=form)
    assert late.status_code == 422 and "ditutup" in late.text
    assert count(s, am.AfterAppeal) == 1
    stats = httpx.get(f"{s.url}/after/{EXAM}/dasbor").text
    assert re.search(r"Diterima</th><td class=\"num\">1<", stats)


def test_time_to_answer_plot_and_table_are_the_databases(after_server: AfterServer) -> None:
    """The dashboard's time to answer: one row per feedback category with
    answers and one for appeals, in the SVG (dots, median) and in its table,
    each figure computed here from the database rows with numpy."""
    s = after_server
    # An item of another category, published now and answered below.
    s.clock.advance(3600)  # past the sender's hourly limit
    token = form_token(httpx.get(f"{s.url}/after/{EXAM}/saran").text)
    s.clock.advance(10)
    sent = httpx.post(
        f"{s.url}/after/{EXAM}/saran",
        data={"form": token, "category": "test", "text": "Layar redup.", "website": ""},
    )
    assert sent.status_code == 200, sent.text
    new = int(re.search(r"nomor (\d+)", sent.text).group(1))  # type: ignore[union-attr]
    r = httpx.post(
        f"{s.url}/api/after/feedback/{new}/moderate",
        headers=s.admin(),
        json={"decision": "published"},
    )
    assert r.status_code == 200, r.text
    with s.db.connect() as conn:
        t = am.AfterFeedback.__table__  # type: ignore[attr-defined]
        waiting = list(
            conn.execute(
                select(t.c.id).where(t.c.status == "published", t.c.answered_at.is_(None))
            ).scalars()
        )
    s.clock.advance(1.5 * 86_400)
    for i in waiting:
        r = httpx.post(
            f"{s.url}/api/after/feedback/{i}/answer", headers=s.admin(), json={"answer": "Ya."}
        )
        assert r.status_code == 200, r.text
    dash = httpx.get(f"{s.url}/after/{EXAM}/dasbor").text

    with s.db.connect() as conn:
        f = am.AfterFeedback.__table__  # type: ignore[attr-defined]
        a = am.AfterAppeal.__table__  # type: ignore[attr-defined]
        fb = conn.execute(
            select(f.c.category, f.c.created_at, f.c.answered_at).where(
                f.c.answered_at.is_not(None)
            )
        ).all()
        ap = conn.execute(
            select(a.c.submitted_at, a.c.answered_at).where(a.c.answered_at.is_not(None))
        ).all()
    groups: dict[str, list[float]] = {}
    for cat, created, answered in fb:
        groups.setdefault(cat, []).append((answered - created) / 86_400)
    labels = store.policy_of(s.db, EXAM).feedback.categories
    expected = {labels[c].id: d for c, d in groups.items()}
    if ap:
        expected["Sanggah hasil"] = [(x - y) / 86_400 for y, x in ap]

    table = re.search(r'<table id="answer-times">(.*?)</table>', dash, re.S)
    assert table, "no time-to-answer table"
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th>(.*?)</tr>', table.group(1), re.S)
    got = {label: re.findall(r'<td class="num">([^<]+)</td>', cells) for label, cells in rows}
    want = {
        label: [str(len(d))] + [f"{v:.1f}" for v in np.percentile(d, [0, 25, 50, 75, 100])]
        for label, d in expected.items()
    }
    assert got == want
    # The plot: one group per row, a dot per answer, the same median; title and desc.
    svg = re.search(r'<svg[^>]*aria-labelledby="sp-t sp-d".*?</svg>', dash, re.S)
    assert svg and '<title id="sp-t">Waktu menjawab</title>' in svg.group(0)
    plotted = re.findall(
        r'<g data-group="([^"]+)" data-n="(\d+)" data-median="([^"]+)">(.*?)</g>',
        svg.group(0),
        re.S,
    )
    assert len(plotted) == len(want)
    for label, n, median, body in plotted:
        assert int(n) == body.count("<circle") == int(got[label][0])
        assert median == got[label][3]
        assert f"median {median} hari" in svg.group(0)


def test_training_needs_page_and_csv(after_server: AfterServer) -> None:
    s = after_server
    page = httpx.get(f"{s.url}/api/after/{EXAM}/training.html", headers=s.admin())
    assert page.status_code == 200
    assert "<svg" in page.text and "Kebutuhan pelatihan" in page.text
    r = httpx.get(f"{s.url}/api/after/{EXAM}/training.csv", headers=s.admin())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["area"] for row in rows} == {"twk_a", "twk_b", "tiu_a", "tiu_b", "tkp_a", "tkp_b"}
    for row in rows:
        need = max(0.0, float(row["standard"]) - float(row["mean"]))
        assert float(row["need"]) == pytest.approx(need, abs=0.06)
    assert httpx.get(f"{s.url}/api/after/{EXAM}/training.csv").status_code == 401


def test_cli_publishes_the_next_version_and_results_verify_checks_the_chain(
    after_server: AfterServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from exam_server.after_test import store
    from seleksi.cli import main

    s = after_server
    regno = s.finished.registration_numbers[1]
    url = str(s.db.url)
    key = tmp_path / "k.pem"
    key.write_bytes(pub.private_key_pem(SIGNING_KEY))
    pem = tmp_path / "k.pub"
    pem.write_bytes(pub.public_key_pem(SIGNING_KEY.public_key()))
    args = ["--db", url, "--exam", EXAM, "--key", str(key), "--dir", str(s.results_dir)]
    assert main(["after", "publish-version", *args, "--published-at", "2025-01-12"]) == 0
    assert "no accepted appeal" in capsys.readouterr().out
    appeal_id = store.add_appeal(
        s.db,
        exam_code=EXAM,
        registration_number=regno,
        receipt_sha256="0" * 64,
        reason="kategori salah",
        submitted_at=s.clock.now(),
        answer_by=s.clock.now() + 86_400,
    )
    store.decide_appeal(
        s.db,
        appeal_id,
        status="accepted",
        answer="Diperbaiki.",
        answered_at=s.clock.now(),
        field="category",
        correction_from=dict(
            (e["registration_number"], e["category"])
            for p, b in pub.read_publication(s.results_dir).items()
            if p.startswith("skd/") and p.endswith(".json")
            for e in json.loads(b)["entries"]
        )[regno],
        correction_to="general",
    )
    assert main(["after", "publish-version", *args, "--published-at", "2025-01-12"]) == 0
    assert "version" in capsys.readouterr().out
    assert main(["results", "verify", str(s.results_dir), "--public-key", str(pem)]) == 0
    out = capsys.readouterr().out
    assert "version 3 = version 2" in out and "version 2 = version 1" in out
