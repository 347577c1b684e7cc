"""Screenshots of the proctor room view from the real demo (not a test).

    python -m tests.proctor_ui.screenshots_room docs/screenshots

Builds what ``seleksi demo`` builds (the 1,800-item demo bank, the SKD design
of 110 items, 50 candidates in one room), lets 30 scripted terminals answer
over the candidate protocol (a few fast, some slow, one finishes, one drops,
one is paused, one tries a second login and loses focus), and photographs
the proctor console at 1366×768: the room view, a candidate's alert history,
the void dialog; then the admin page's results and the public results after
the session is closed and published.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from websockets.sync.client import ClientConnection, connect

from exam_server.app import create_app
from exam_server.db import make_engine
from exam_server.demo import SeedSummary, seed_demo_exam
from exam_server.results import publication as pubm
from exam_server.settings import Settings
from item_bank.demo import seed_demo_bank
from tests.proctor_ui.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.proctor_ui.live_server import SECRET, free_port


class Terminal:
    """One candidate over the real protocol (no browser)."""

    def __init__(self, url: str, seed: SeedSummary, index: int) -> None:
        cand = seed.candidates[index]
        self.regno, self.pin = cand["registration_number"], cand["pin"]
        r = httpx.post(
            url + "/api/candidate/login",
            json={
                "registration_number": self.regno,
                "pin": self.pin,
                "session_token": seed.session_token,
                "terminal_id": f"PC-{index + 1:02d}",
            },
        )
        r.raise_for_status()
        self.token = r.json()["token"]
        self.ws: ClientConnection = connect(url.replace("http", "ws") + "/ws/candidate")
        self.ws.send(
            json.dumps({"type": "hello", "token": self.token, "terminal_id": f"PC-{index + 1:02d}"})
        )
        self.state = self._until("state")
        self.seq = self.state["last_seq"]

    def _until(self, kind: str) -> dict[str, Any]:
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg["type"] == kind:
                return msg
            if msg["type"] == "error":
                raise RuntimeError(f"{self.regno}: {msg}")

    def answer(self, number: int, option: int, flagged: bool = False) -> None:
        self.seq += 1
        body = {"type": "answer", "seq": self.seq, "number": number, "option": option}
        self.ws.send(json.dumps({**body, "flagged": flagged, "elapsed": 25.0}))
        self._until("ack")

    def finish(self) -> None:
        self.ws.send(json.dumps({"type": "finish", "confirm": True}))
        self._until("final")


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    db_url = f"sqlite:///{tmp / 'seleksi.db'}"
    engine = make_engine(db_url)
    seed_demo_bank(engine)
    seed = seed_demo_exam(engine, SECRET)
    engine.dispose()
    key = tmp / "results-signing.key"
    key.write_bytes(pubm.private_key_pem(pubm.generate_key()))
    port = free_port()
    settings = Settings(
        database_url=db_url,
        secret_key=SECRET,
        port=port,
        sqlite_synchronous="NORMAL",
        results_dir=str(tmp / "hasil"),
        results_key_path=str(key),
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    staff = httpx.post(
        url + "/api/auth/login", json={"username": seed.proctor[0], "password": seed.proctor[1]}
    ).json()["token"]
    auth = {"Authorization": f"Bearer {staff}"}

    rng = random.Random(15)
    terminals = [Terminal(url, seed, i) for i in range(30)]
    # Round by round (each terminal one answer a round): under the server's
    # per-terminal message limit, as people answer.
    goal = {t.regno: rng.randint(6, 60) for t in terminals}
    for number in range(1, max(goal.values()) + 1):
        for t in terminals:
            if number <= goal[t.regno]:
                t.answer(number, rng.randint(0, 3), flagged=rng.random() < 0.08)
    terminals[0].finish()
    terminals[0].ws.close()
    terminals[5].ws.close()  # a terminal that dropped
    httpx.post(
        f"{url}/api/proctor/attempts/{terminals[8].state['attempt_id']}/pause",
        json={"reason": "Peserta izin ke toilet"},
        headers=auth,
    ).raise_for_status()
    watched = terminals[3]
    for kind in ("focus_lost", "fullscreen_exit"):
        httpx.post(
            url + "/api/candidate/report",
            json={"kind": kind},
            headers={"Authorization": f"Bearer {watched.token}"},
        )
        time.sleep(1.1)  # the server accepts one report a second per attempt
    httpx.post(
        url + "/api/candidate/login",
        json={
            "registration_number": watched.regno,
            "pin": watched.pin,
            "session_token": seed.session_token,
            "terminal_id": "PC-99",
        },
    )

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 1366, "height": 768})
        proctor = ctx.new_page()
        proctor.goto(f"{url}/proctor.html?session={seed.session_id}")
        proctor.fill("#username", seed.proctor[0])
        proctor.fill("#password", seed.proctor[1])
        proctor.click("#login-form button[type=submit]")
        proctor.wait_for_selector("#room button.tile")
        proctor.wait_for_timeout(1500)
        proctor.screenshot(path=str(out / "proctor.png"))
        proctor.click(f'#room button.tile[data-regno="{watched.regno}"]')
        proctor.wait_for_timeout(300)
        proctor.screenshot(path=str(out / "proctor-alerts.png"))
        voided = terminals[12]
        proctor.click(f'#room button.tile[data-regno="{voided.regno}"]')
        proctor.click('#detail button[data-action="void"]')
        proctor.fill("#action-reason", "Membuka catatan di bawah meja (dilihat dua pengawas)")
        proctor.wait_for_timeout(200)
        proctor.screenshot(path=str(out / "proctor-void.png"))
        proctor.fill("#action-confirm-text", voided.regno)
        proctor.click("#action-submit")
        proctor.wait_for_timeout(500)

        # The day ends: the session is closed, the results published.
        httpx.post(
            f"{url}/api/sessions/{seed.session_id}/close",
            json={"reason": "Sesi selesai"},
            headers=auth,
        ).raise_for_status()
        admin = ctx.new_page()
        admin.set_viewport_size({"width": 1366, "height": 900})
        admin.goto(url + "/admin.html")
        admin.fill("#username", seed.admin[0])
        admin.fill("#password", seed.admin[1])
        admin.click("#login-form button[type=submit]")
        admin.click('#tabs button[data-tab="results"]')
        admin.wait_for_selector("#result-rows tr")
        admin.fill("#publish-at", "2026-12-06")
        admin.click("#publish-form button[type=submit]")
        admin.wait_for_selector("#publish-report p")
        admin.click("#verify-results")
        admin.wait_for_selector("#publish-report .verdict-line")
        admin.screenshot(path=str(out / "admin-results.png"), full_page=True)
        proctor.wait_for_timeout(1500)
        proctor.screenshot(path=str(out / "proctor-closed.png"))
        public = ctx.new_page()
        public.set_viewport_size({"width": 1366, "height": 900})
        public.goto(url + "/results/formation/skd/F-ANALIS-KEU")
        public.screenshot(path=str(out / "results.png"), full_page=True)
        browser.close()
    for t in terminals:
        t.ws.close()
    server.should_exit = True
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
