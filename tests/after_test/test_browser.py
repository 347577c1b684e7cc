"""After the test in chromium, as people use it: the terminal's survey after the
score, a candidate's diagnostic report, the feedback box, the public dashboard
and the agency's training-needs page; axe-core finds nothing serious."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from after_test import models as am
from exam_server.context import context
from tests.after_test.conftest import EXAM, AfterServer
from tests.browser_checks import expect_patiently, serious_violations
from tests.conftest import ADMIN_PASSWORD
from tests.proctor_ui.conftest import browser  # noqa: F401  (the chromium fixture)
from tests.proctor_ui.live_server import LiveServer, start_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(Path(tmp_path_factory.mktemp("after-ui")))
    yield server
    server.stop()


def test_the_terminal_offers_an_anonymous_survey_after_the_score(
    live: LiveServer,
    browser: Any,  # noqa: F811
) -> None:
    expect = expect_patiently()
    cand = live.seed.candidates[0]
    term = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
    errors: list[str] = []
    term.on("pageerror", lambda exc: errors.append(str(exc)))
    term.goto(live.url + "/terminal.html")
    term.fill("#regno", cand["registration_number"])
    term.fill("#pin", cand["pin"])
    term.fill("#session-token", live.seed.session_token)
    term.click("#login-submit")
    term.click("#identity-ok")
    term.keyboard.press("b")
    expect(term.locator("#save-state")).to_have_text("Jawaban tersimpan")
    term.click("#finish")
    term.click("#finish-confirm")
    expect(term.locator("#screen-result")).to_be_visible()
    survey = term.locator("#survey")
    expect(survey).to_be_visible()
    expect(survey.locator("h2")).to_have_text("Survei singkat (opsional, anonim)")
    assert serious_violations(term) == []
    # Sending nothing chosen says so and stores nothing.
    term.click("text=Kirim survei")
    expect(survey.locator(".survey-status")).to_contain_text("Pilih paling sedikit satu")
    term.check("#survey-overall-4")
    term.check("#survey-staff-5")
    term.click("text=Kirim survei")
    expect(survey.locator(".survey-status")).to_have_text("Terima kasih atas masukan Anda.")
    engine = context(live.app).engine
    pool = context(live.app).survey_pool
    assert pool.pending == 1  # written with a batch of others'
    pool.flush()
    with engine.connect() as conn:
        t = am.AfterSurveyAnswer.__table__  # type: ignore[attr-defined]
        rows = conn.execute(select(t.c.question, t.c.value).order_by(t.c.question)).all()
        done = conn.execute(
            select(func.count()).select_from(am.AfterSurveyDone.__table__)
        ).scalar_one()  # type: ignore[attr-defined]
    assert [tuple(r) for r in rows] == [("overall", 4), ("staff", 5)] and done == 1
    assert errors == []


def test_diagnostic_report_feedback_and_dashboard_in_the_browser(
    after_server: AfterServer,
    browser: Any,  # noqa: F811
) -> None:
    expect = expect_patiently()
    s = after_server
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    page.goto(f"{s.url}/after/{EXAM}/")
    page.click('a:has-text("Laporan diagnostik")')
    # The receipt box says where a lost receipt is found again.
    expect(page.locator("#receipt-lost")).to_contain_text("Pendaftaran saya")
    expect(page.locator("#receipt")).to_have_attribute("aria-describedby", "receipt-lost")
    assert serious_violations(page) == []
    regno = s.finished.registration_numbers[7]
    page.fill("#receipt", s.finished.receipts[regno])
    page.click("text=Tampilkan laporan")
    expect(page.locator("h2")).to_have_text("Laporan diagnostik")
    expect(page.locator("main")).to_contain_text(regno)
    assert page.locator("tbody tr").count() == 6
    assert serious_violations(page) == []
    # English is one click away.
    page.goto(f"{s.url}/after/{EXAM}/diagnostik?lang=en")
    expect(page.locator("h2")).to_have_text("Diagnostic report")

    page.goto(f"{s.url}/after/{EXAM}/saran")
    assert serious_violations(page) == []
    page.select_option("#category", "test")
    page.fill("#text", "Soal numerik terlalu sulit dibaca di layar kecil.")
    s.clock.advance(30)  # a person takes a while to write
    page.click("text=Kirim")
    expect(page.locator("[role=status]")).to_contain_text("Terima kasih. Saran Anda nomor")

    page.goto(f"{s.url}/after/{EXAM}/dasbor")
    expect(page.locator("h2").first).to_have_text("Dasbor publik")
    assert page.locator("svg.plot").count() >= 1
    with s.db.connect() as conn:
        t = am.AfterFeedback.__table__  # type: ignore[attr-defined]
        pending = conn.execute(
            select(func.count()).where(t.c.category == "test", t.c.status == "pending")
        ).scalar_one()
    row = page.locator('#by-category tr[data-category="test"] td.num')
    assert int(row.nth(0).inner_text()) == pending >= 1
    assert serious_violations(page) == []


def test_training_needs_page_for_the_agency(after_server: AfterServer, browser: Any) -> None:  # noqa: F811
    expect = expect_patiently()
    s = after_server
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    ctx.set_extra_http_headers(s.admin())
    page = ctx.new_page()
    page.goto(f"{s.url}/api/after/{EXAM}/training.html")
    expect(page.locator("h2").first).to_have_text("Kebutuhan pelatihan pegawai baru")
    heat = page.locator("svg.plot")
    expect(heat).to_be_visible()
    assert re.search(r"Peta kebutuhan pelatihan", heat.inner_html())
    assert page.locator("#needs tbody tr").count() >= 1
    assert serious_violations(page) == []


def test_staff_page_moderates_feedback_and_decides_an_appeal(
    after_server: AfterServer,
    browser: Any,  # noqa: F811
) -> None:
    expect = expect_patiently()
    s = after_server
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    # A candidate appeals with the receipt (the window is open on the publication day).
    regno = s.finished.registration_numbers[2]
    page.goto(f"{s.url}/after/{EXAM}/sanggah")
    assert serious_violations(page) == []
    page.fill("#receipt", s.finished.receipts[regno])
    page.fill("#reason", "Nama saya salah tulis.")
    page.select_option("#field", "name")
    page.fill("#requested", "Budi Hartono")
    page.click("button[type=submit]")
    expect(page.locator("[role=status]")).to_contain_text("Sanggah nomor")

    page.goto(f"{s.url}/after-admin.html?exam={EXAM}")
    page.fill("#aa-user", "admin")
    page.fill("#aa-pass", ADMIN_PASSWORD)
    page.click("#aa-login-button")
    row = page.locator("#aa-appeals tr[data-appeal]").first
    expect(row).to_contain_text(regno)
    assert serious_violations(page) == []
    row.locator("input[name=answer]").fill("Diterima: salah tulis.")
    row.locator("button", has_text="Terima").click()
    expect(page.locator("#aa-appeals tr[data-appeal]").first).to_contain_text("diterima")
    with s.db.connect() as conn:
        t = am.AfterAppeal.__table__  # type: ignore[attr-defined]
        decided = conn.execute(select(t.c.status, t.c.correction_to)).one()
    assert tuple(decided) == ("accepted", "Budi Hartono")
    # The feedback sent in the earlier test waits for moderation here.
    pending = page.locator("#aa-feedback tr[data-feedback]", has_text="menunggu").first
    item = pending.get_attribute("data-feedback")
    pending.locator("button", has_text="Terbitkan").click()
    expect(page.locator(f'#aa-feedback tr[data-feedback="{item}"]')).to_contain_text("terbit")
    page.click("#aa-training-open")
    frame = page.frame_locator("#aa-training-frame")
    expect(frame.locator("svg.plot")).to_be_visible()


def test_time_to_answer_plot_is_accessible(
    after_server: AfterServer,
    browser: Any,  # noqa: F811
) -> None:
    """The dashboard's time-to-answer plot in chromium: an image with its
    title and description, the same figures in a table, nothing serious for
    axe (run after the staff page published feedback and decided an appeal)."""
    import httpx

    s = after_server
    # One more feedback item, published and answered a day later (with what
    # the earlier tests left, the plot has more than one group).
    s.clock.advance(3600)
    form = httpx.get(f"{s.url}/after/{EXAM}/saran").text
    token = re.search(r'name="form" value="([^"]+)"', form)
    assert token
    s.clock.advance(30)
    sent = httpx.post(
        f"{s.url}/after/{EXAM}/saran",
        data={"form": token.group(1), "category": "venue", "text": "Parkir sempit.", "website": ""},
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
    s.clock.advance(86_400)
    for i in waiting:
        r = httpx.post(
            f"{s.url}/api/after/feedback/{i}/answer", headers=s.admin(), json={"answer": "Ya."}
        )
        assert r.status_code == 200, r.text
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    page.goto(f"{s.url}/after/{EXAM}/dasbor")
    plot = page.locator('svg[aria-labelledby="sp-t sp-d"]')
    assert plot.get_attribute("role") == "img"
    assert plot.locator("title").text_content() == "Waktu menjawab"
    assert "median" in (plot.locator("desc").text_content() or "")
    groups = plot.locator("g[data-group]")
    rows = page.locator("#answer-times tbody tr")
    assert groups.count() == rows.count() >= 1
    assert serious_violations(page) == []
    page.screenshot(path=str(Path("/tmp") / "after-dashboard-answer-times.png"), full_page=True)
    page.goto(f"{s.url}/after/{EXAM}/dasbor?lang=en")
    assert page.locator("svg title#sp-t").text_content() == "Time to answer"
    assert serious_violations(page) == []
