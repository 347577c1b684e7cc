"""An administrator runs a whole exam day from the browser, in Debian's chromium.

From an empty server holding only the demo item bank (``seleksi bank demo``)
and an admin account: an exam from an uploaded design, a site and a room, a
proctor account for that room, a formation, candidates imported from CSV
(a bad file first: its errors in Bahasa Indonesia), a session scheduled,
opened and closed, the results published and verified — all in the admin
page. Candidates sit over the real protocol: one finishes, one is voided by
the proctor with a free-text reason, one never comes. Then: the absent
candidate is TH on the admin page, the proctor console and the board; the
public results page uses the shared look, shows the policy's Indonesian
title, never the proctor's reason, and remembers the language chosen on any
page. axe-core finds no serious or critical violation on any page.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.sync.client import connect

from exam_server import scheduling as sch
from exam_server.app import create_app
from exam_server.db import create_schema, make_engine
from exam_server.results import publication as pubm
from exam_server.settings import Settings
from item_bank.demo import seed_demo_bank
from tests.browser_checks import expect_patiently, serious_violations
from tests.proctor_ui.live_server import SECRET, free_port

pytestmark = pytest.mark.browser

ADMIN_PW = "admin-hari-123"
PROCTOR_PW = "pengawas-hari-123"
REASON = "joki: wajah tidak sesuai foto KTP"
# A checkpoint fingerprint: ten Crockford base32 characters in two groups.
FINGERPRINT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$")


@dataclass
class Empty:
    url: str
    server: uvicorn.Server
    thread: threading.Thread
    key_path: Path


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Empty]:
    """A server with the demo item bank and one admin account, nothing else."""
    tmp = tmp_path_factory.mktemp("day")
    db_url = f"sqlite:///{tmp / 'day.db'}"
    engine = make_engine(db_url)
    create_schema(engine)
    seed_demo_bank(engine, per_subtest=12)
    sch.create_staff(engine, "admin", "Admin Hari", "admin", ADMIN_PW, scrypt_n=2**10)
    engine.dispose()
    key_path = tmp / "results-signing.key"
    key_path.write_bytes(pubm.private_key_pem(pubm.generate_key()))
    port = free_port()
    settings = Settings(
        database_url=db_url,
        secret_key=SECRET,
        port=port,
        scrypt_n=2**10,
        sqlite_synchronous="NORMAL",
        results_dir=str(tmp / "hasil"),
        results_key_path=str(key_path),
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield Empty(f"http://127.0.0.1:{port}", server, thread, key_path)
    server.should_exit = True
    thread.join(timeout=10)


def _sit(
    sockets: contextlib.ExitStack, url: str, regno: str, pin: str, token: str, *, finish: bool
) -> int:
    """A candidate's terminal over the real protocol: log in, answer 3 items,
    finish or stay; returns the attempt id. The socket stays open until
    ``sockets`` closes it."""
    r = httpx.post(
        url + "/api/candidate/login",
        json={
            "registration_number": regno,
            "pin": pin,
            "session_token": token,
            "terminal_id": regno,
        },
    )
    r.raise_for_status()
    ws = sockets.enter_context(connect(url.replace("http", "ws") + "/ws/candidate"))
    ws.send(json.dumps({"type": "hello", "token": r.json()["token"], "terminal_id": regno}))

    def until(kind: str) -> dict[str, Any]:
        while True:
            msg = json.loads(ws.recv(timeout=10))
            if msg["type"] == kind:
                return msg

    state = until("state")
    seq = state["last_seq"]
    for number in (1, 2, 3):
        seq += 1
        ws.send(json.dumps({"type": "answer", "seq": seq, "number": number, "option": 1}))
        until("ack")
    if finish:
        ws.send(json.dumps({"type": "finish", "confirm": True}))
        until("final")
    return int(state["attempt_id"])


def test_an_admin_runs_the_day_from_bank_to_publication(
    empty: Empty, browser: Any, tmp_path: Path
) -> None:
    expect = expect_patiently()
    url = empty.url
    # One browser context: its pages share what the browser remembers (the language).
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + "/admin.html")
    page.fill("#username", "admin")
    page.fill("#password", "salah-sekali")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("Nama pengguna atau kata sandi salah.")
    page.fill("#password", ADMIN_PW)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#tab-exams")).to_be_visible()
    assert serious_violations(page) == []

    # The exam, from the demo bank and an uploaded design (4 items per subtest).
    design = {
        "name": "SKD hari uji",
        "mode": "linear",
        "time_limit_seconds": 900,
        "sections": [{"code": c, "n_items": 4, "blueprint": {}} for c in ("TWK", "TIU", "TKP")],
        "exposure": {"method": "none"},
    }
    (tmp_path / "desain.json").write_text(json.dumps(design))
    page.fill("#exam-code", "SKD-HARI")
    page.fill("#exam-name", "SKD CPNS hari uji")
    page.select_option("#exam-design", "upload")
    page.set_input_files("#exam-design-file", str(tmp_path / "desain.json"))
    page.click("#exam-form button[type=submit]")
    expect(page.locator('#exam-rows tr[data-code="SKD-HARI"]')).to_be_visible()

    # A site and a room.
    page.click('#tabs button[data-tab="rooms"]')
    page.fill("#site-code", "TILOK-9")
    page.fill("#site-name", "Kantor Regional uji")
    page.click("#site-form button[type=submit]")
    expect(page.locator("#site-done")).to_have_text("Tilok TILOK-9 dibuat.")
    page.fill("#room-code", "R9")
    page.fill("#room-name", "Ruang CAT 9")
    page.click("#room-form button[type=submit]")
    expect(page.locator('#room-rows tr[data-room="R9"]')).to_contain_text("Ruang CAT 9")
    assert serious_violations(page) == []

    # A proctor for that room.
    page.click('#tabs button[data-tab="staff"]')
    page.fill("#staff-username", "pengawas9")
    page.fill("#staff-name", "Pengawas Ruang 9")
    page.fill("#staff-password", "pendek")
    page.locator("#staff-room-choices").get_by_label(re.compile("R9 · Ruang CAT 9")).check()
    page.click("#staff-form button[type=submit]")
    expect(page.locator("#staff-error")).to_have_text(
        "Kata sandi terlalu pendek (minimal 8 karakter)."
    )
    page.fill("#staff-password", PROCTOR_PW)
    page.click("#staff-form button[type=submit]")
    staff_row = page.locator('#staff-rows tr[data-username="pengawas9"]')
    expect(staff_row).to_contain_text("Pengawas")
    expect(staff_row).to_contain_text("TILOK-9 / R9 · Ruang CAT 9")
    assert serious_violations(page) == []

    # A formation.
    page.click('#tabs button[data-tab="formations"]')
    page.fill("#formation-code", "F-UJI")
    page.fill("#formation-agency", "Kementerian Uji")
    page.fill("#formation-position", "Analis")
    page.fill("#formation-openings", "1")
    page.click("#formation-form button[type=submit]")
    expect(page.locator('#formation-rows tr[data-code="F-UJI"]')).to_contain_text("Analis")

    # The session, scheduled from lists (exam, room).
    page.click('#tabs button[data-tab="sessions"]')
    page.fill("#session-code", "SESI-9")
    page.select_option("#session-exam", "SKD-HARI")
    page.select_option("#session-room", "TILOK-9/R9")
    page.click("#session-form button[type=submit]")
    session_row = page.locator('#session-rows tr[data-code="SESI-9"]')
    expect(session_row).to_contain_text("terjadwal")

    # Candidates: a bad file is refused with its errors in Bahasa Indonesia.
    page.click('#tabs button[data-tab="candidates"]')
    head = "registration_number,name,category,formation_code,session_code\n"
    page.fill("#csv-text", head + "H0001,Ani,general,NOPE,SESI-9\n")
    page.click("#import-form button[type=submit]")
    expect(page.locator("#import-error")).to_have_text(
        "1 baris bermasalah; tidak ada yang diimpor."
    )
    expect(page.locator("#import-errors")).to_contain_text(
        "Baris 2, kolom formation_code: formasi NOPE tidak ada"
    )
    rows = [f"H000{i},{n},general,F-UJI,SESI-9" for i, n in ((1, "Ani"), (2, "Budi"), (3, "Citra"))]
    page.fill("#csv-text", head + "\n".join(rows) + "\n")
    page.click("#import-form button[type=submit]")
    expect(page.locator("#import-result")).to_have_text("3 peserta diimpor.")
    assert serious_violations(page) == []

    # Open the session: the token is shown.
    page.click('#tabs button[data-tab="sessions"]')
    session_row.locator('button[data-act="open"]').click()
    expect(page.locator("#session-result")).to_contain_text("Token sesi:")
    token = page.locator("#session-result").text_content().rsplit(": ", 1)[1].strip()
    expect(session_row).to_contain_text("dibuka")
    sid = int(session_row.locator("td").first.text_content())

    # The proctor of room 9 checks the candidates in; two sit, one never comes.
    proctor = httpx.post(
        url + "/api/auth/login", json={"username": "pengawas9", "password": PROCTOR_PW}
    ).json()["token"]
    auth = {"Authorization": f"Bearer {proctor}"}

    def pin(regno: str) -> str:
        r = httpx.post(
            f"{url}/api/proctor/sessions/{sid}/checkin",
            json={"registration_number": regno},
            headers=auth,
        )
        r.raise_for_status()
        return str(r.json()["pin"])

    with contextlib.ExitStack() as sockets:
        _sit(sockets, url, "H0001", pin("H0001"), token, finish=True)
        voided = _sit(sockets, url, "H0002", pin("H0002"), token, finish=False)
        httpx.post(
            f"{url}/api/proctor/attempts/{voided}/void", json={"reason": REASON}, headers=auth
        ).raise_for_status()

    # Close the session from the admin page: final, with the code typed.
    session_row.locator('button[data-act="close"]').click()
    expect(page.locator("#close-dialog")).to_contain_text("FINAL")
    page.fill("#close-reason", "Sesi selesai")
    page.fill("#close-confirm", "SESI-8")
    page.click("#close-submit")
    expect(page.locator("#close-error")).to_contain_text("SESI-9")
    page.fill("#close-confirm", "SESI-9")
    page.click("#close-submit")
    expect(session_row).to_contain_text("ditutup")

    # Results: one status everywhere — TH for the candidate who never came.
    page.click('#tabs button[data-tab="results"]')
    page.select_option("#result-session", str(sid))
    expect(page.locator('#result-rows tr[data-regno="H0003"]')).to_contain_text("Tidak hadir (TH)")
    expect(page.locator('#result-rows tr[data-regno="H0003"] td').last).to_have_text("TH")
    expect(page.locator('#result-rows tr[data-regno="H0002"]')).to_contain_text("Didiskualifikasi")
    expect(page.locator('#result-rows tr[data-regno="H0001"]')).to_contain_text("Selesai")
    assert serious_violations(page) == []

    # Publish and verify, as `seleksi results publish/verify` would.
    page.select_option("#publish-exam", "SKD-HARI")
    page.fill("#publish-at", "2026-12-06")
    page.click("#publish-form button[type=submit]")
    expect(page.locator("#publish-report")).to_contain_text(
        "Hasil SKD-HARI diumumkan: 3 peserta dalam 1 formasi."
    )
    page.click("#verify-results")
    expect(page.locator("#publish-report")).to_contain_text("TERVERIFIKASI")
    expect(page.locator("#results-published")).to_contain_text("SKD-HARI, diumumkan 2026-12-06")
    key = pubm.load_private_key(empty.key_path.read_bytes())
    fingerprint = pubm.public_key_fingerprint(key.public_key())
    expect(page.locator("#results-key")).to_have_text(fingerprint)
    assert serious_violations(page) == []

    # The public page: the shared look, the Indonesian title, no free text.
    public = context.new_page()
    public.on("pageerror", lambda exc: errors.append(str(exc)))
    public.goto(url + "/results/formation/skd/F-UJI")
    expect(public.locator("header.topbar")).to_have_css("background-color", "rgb(11, 74, 134)")
    expect(public.locator(".results-sub")).to_contain_text("integrasi SKD dan SKB")
    absent = public.locator("tr", has_text="H0003")
    voided_row = public.locator("tr", has_text="H0002")
    expect(absent.locator("td.code")).to_have_text("TH")
    expect(voided_row.locator("td.code")).to_have_text("DIS")
    expect(voided_row).to_contain_text("hasil tes dibatalkan oleh pengawas")
    for path in ("/results/formation/skd/F-UJI", "/results/search?regno=H0002"):
        for lang in ("id", "en"):
            body = httpx.get(f"{url}{path}{'&' if '?' in path else '?'}lang={lang}").text
            assert "joki" not in body and "KTP" not in body, (path, lang)
    for f in (empty.key_path.parent / "hasil").rglob("*"):
        if f.is_file():
            assert b"joki" not in f.read_bytes(), f
    assert serious_violations(public) == []

    # The language chosen on the results page is remembered everywhere.
    public.click("header .lang-switch")
    expect(public.locator(".results-sub")).to_contain_text("SKD and SKB integration")
    public.goto(url + "/results/")
    expect(public.locator("html")).to_have_attribute("lang", "en")
    expect(public.locator("header h1")).to_have_text("Selection results")
    assert serious_violations(public) == []
    page.reload()
    expect(page.locator("header h1")).to_have_text("Administration")
    expect(page.locator('#tabs button[data-tab="rooms"]')).to_have_text("Sites & rooms")
    page.click(".lang-switch")  # back to Bahasa Indonesia, remembered too
    public.goto(url + "/results/")
    expect(public.locator("header h1")).to_have_text("Hasil Seleksi")

    # The board and the proctor console of the closed session: TH as well.
    board = context.new_page()
    board.goto(f"{url}/board.html?session={sid}")
    expect(board.locator('tr[data-regno="H0003"]')).to_contain_text("TH · Tidak hadir")
    # The latest checkpoint's fingerprint, for anyone to copy.
    expect(board.locator("#board-checkpoint")).to_contain_text("Sidik jari catatan ujian")
    expect(board.locator("#board-checkpoint .fp")).to_have_text(FINGERPRINT)
    assert serious_violations(board) == []
    console = context.new_page()
    console.goto(f"{url}/proctor.html?session={sid}")
    console.fill("#username", "pengawas9")
    console.fill("#password", PROCTOR_PW)
    console.click("#login-form button[type=submit]")
    expect(console.locator('#grid-body tr[data-regno="H0003"]')).to_contain_text("Tidak hadir (TH)")
    expect(console.locator('#grid-body tr[data-regno="H0002"]')).to_contain_text("Didiskualifikasi")
    assert serious_violations(console) == []
    assert errors == []
    context.close()
