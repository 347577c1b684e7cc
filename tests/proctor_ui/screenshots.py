"""Screenshots of the pages for docs/screenshots/ (not a test).

    python -m tests.proctor_ui.screenshots docs/screenshots

Starts a seeded server, lets a few scripted terminals answer over the
candidate protocol (one finishes, one is paused, one reports lost focus),
and photographs the terminal, the proctor console, the live board and the
admin results in Debian's chromium.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from tests.proctor_ui.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.proctor_ui.live_server import PASSWORD, LiveServer, start_server


class ScriptedTerminal:
    """A candidate answering over the real protocol (no browser)."""

    def __init__(self, live: LiveServer, index: int) -> None:
        cand = live.seed.candidates[index]
        self.regno = cand["registration_number"]
        r = httpx.post(
            live.url + "/api/candidate/login",
            json={
                "registration_number": self.regno,
                "pin": cand["pin"],
                "session_token": live.seed.session_token,
                "terminal_id": f"T-shot-{index}",
            },
        )
        r.raise_for_status()
        self.token = r.json()["token"]
        self.ws: ClientConnection = connect(
            live.url.replace("http", "ws") + "/ws/candidate"
        ).__enter__()
        self.ws.send(
            json.dumps({"type": "hello", "token": self.token, "terminal_id": f"T-shot-{index}"})
        )
        self.state = self._until("state")
        self.seq = self.state["last_seq"]

    def _until(self, kind: str) -> dict[str, Any]:
        while True:
            msg = json.loads(self.ws.recv(timeout=10))
            if msg["type"] == kind:
                return msg

    def answer(self, number: int, option: int, flagged: bool = False) -> None:
        self.seq += 1
        self.ws.send(
            json.dumps(
                {
                    "type": "answer",
                    "seq": self.seq,
                    "number": number,
                    "option": option,
                    "flagged": flagged,
                    "elapsed": 20.0,
                }
            )
        )
        self._until("ack")

    def finish(self) -> None:
        self.ws.send(json.dumps({"type": "finish", "confirm": True}))
        self._until("final")


def shoot_exam_documents(live: LiveServer, page: Any, out: Path) -> None:
    """The exams tab: an exam made from an uploaded design and another year's
    policy with board options that reveal single answers (the server's
    warnings shown), and its documents opened."""
    from exam_server.context import context
    from exam_server.results.rules import RankingPolicy
    from item_bank.demo import seed_demo_bank

    seed_demo_bank(context(live.app).engine, per_subtest=12)
    tmp = Path(tempfile.mkdtemp())
    design = {
        "name": "SKD mini (unggah)",
        "mode": "linear",
        "time_limit_seconds": 900,
        "sections": [{"code": c, "n_items": 4, "blueprint": {}} for c in ("TWK", "TIU", "TKP")],
        "exposure": {"method": "none"},
    }
    policy = RankingPolicy.default_2024().to_dict()
    policy["version"], policy["name"] = "2025.1", "Seleksi CPNS 2025"
    (tmp / "desain.json").write_text(json.dumps(design))
    (tmp / "aturan-2025.json").write_text(json.dumps(policy))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click('#tabs button[data-tab="exams"]')
    page.fill("#exam-code", "SKD-2025")
    page.fill("#exam-name", "SKD CPNS 2025")
    page.select_option("#exam-design", "upload")
    page.set_input_files("#exam-design-file", str(tmp / "desain.json"))
    page.select_option("#exam-policy", "upload")
    page.set_input_files("#exam-policy-file", str(tmp / "aturan-2025.json"))
    page.fill("#exam-batch", "1")
    page.fill("#exam-interval", "10")
    page.click("#exam-form button[type=submit]")
    page.wait_for_selector('#exam-rows tr[data-code="SKD-2025"]')
    page.locator('#exam-rows tr[data-code="SKD-2025"]').get_by_role("button").click()
    page.wait_for_selector("#exam-docs:not(.hidden)")
    page.screenshot(path=str(out / "admin-exams.png"), full_page=True)


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    live = start_server(Path(tempfile.mkdtemp()), n_candidates=9)
    sid = live.seed.session_id
    rng = random.Random(4)
    staff = httpx.post(
        live.url + "/api/auth/login", json={"username": "pengawas", "password": PASSWORD}
    ).json()["token"]
    admin = httpx.post(
        live.url + "/api/auth/login", json={"username": "admin", "password": PASSWORD}
    ).json()["token"]
    terminals = []
    for index in range(1, 7):
        t = ScriptedTerminal(live, index)
        for number in range(1, rng.randint(4, 12) + 1):
            t.answer(number, rng.randint(0, 3), flagged=rng.random() < 0.15)
        terminals.append(t)
    terminals[0].finish()
    terminals[1].finish()
    terminals[5].ws.close()  # a terminal that dropped
    httpx.post(
        f"{live.url}/api/proctor/attempts/{terminals[2].state['attempt_id']}/pause",
        json={"reason": "Peserta izin ke toilet"},
        headers={"Authorization": f"Bearer {staff}"},
    ).raise_for_status()
    httpx.post(
        live.url + "/api/candidate/report",
        json={"kind": "focus_lost"},
        headers={"Authorization": f"Bearer {terminals[3].token}"},
    )

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        cand = live.seed.candidates[0]
        term = browser.new_page(viewport={"width": 1024, "height": 768})
        term.goto(live.url + "/terminal.html")
        term.fill("#regno", cand["registration_number"])
        term.fill("#pin", cand["pin"])
        term.fill("#session-token", live.seed.session_token)
        term.screenshot(path=str(out / "terminal-login.png"))
        term.click("#login-submit")
        term.wait_for_selector("#identity-ok")
        term.click("#identity-ok")
        for key in ("b", "ArrowRight", "d", "ArrowRight", "a"):
            term.keyboard.press(key)
            term.wait_for_timeout(150)
        term.click("#doubtful")
        term.keyboard.press("ArrowRight")
        term.wait_for_timeout(300)
        term.keyboard.press("c")
        term.wait_for_timeout(400)
        term.screenshot(path=str(out / "terminal.png"))

        zoom = browser.new_context(
            viewport={"width": 512, "height": 384}, device_scale_factor=2
        ).new_page()
        other = live.seed.candidates[7]
        zoom.goto(live.url + "/terminal.html")
        zoom.fill("#regno", other["registration_number"])
        zoom.fill("#pin", other["pin"])
        zoom.fill("#session-token", live.seed.session_token)
        zoom.click("#login-submit")
        zoom.click("#identity-ok")
        zoom.wait_for_selector("#options .option")
        zoom.wait_for_timeout(500)
        zoom.screenshot(path=str(out / "terminal-zoom200.png"), full_page=True)

        proctor = browser.new_page(viewport={"width": 1600, "height": 1000})
        proctor.goto(f"{live.url}/proctor.html?session={sid}")
        proctor.fill("#username", "pengawas")
        proctor.fill("#password", PASSWORD)
        proctor.click("#login-form button[type=submit]")
        proctor.wait_for_selector("#grid-body tr")
        proctor.wait_for_timeout(1500)
        proctor.screenshot(path=str(out / "proctor.png"))

        term.click("#finish")
        term.wait_for_timeout(300)
        term.screenshot(path=str(out / "terminal-finish.png"))
        term.click("#finish-confirm")
        term.wait_for_selector("#screen-result:not(.hidden)")
        # The signed receipt under the score, once its QR code has loaded.
        term.wait_for_function("document.getElementById('receipt-qr').naturalWidth > 0")
        term.screenshot(path=str(out / "terminal-result.png"), full_page=True)

        board = browser.new_page(viewport={"width": 1600, "height": 900})
        board.goto(f"{live.url}/board.html?session={sid}")
        board.wait_for_selector("#board-body tr")
        board.wait_for_timeout(800)
        board.screenshot(path=str(out / "board.png"))

        admin_page = browser.new_page(viewport={"width": 1280, "height": 800})
        admin_page.goto(live.url + "/admin.html")
        admin_page.evaluate("(t) => sessionStorage.setItem('seleksi.admin', t)", admin)
        admin_page.goto(live.url + "/admin.html")
        admin_page.click('#tabs button[data-tab="results"]')
        admin_page.wait_for_selector("#result-rows tr")
        admin_page.screenshot(path=str(out / "admin-results.png"))
        shoot_exam_documents(live, admin_page, out)
        browser.close()
    for t in terminals:
        t.ws.close()
    live.stop()
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
