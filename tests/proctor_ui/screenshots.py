"""Screenshots of the candidate terminal and the board for docs/screenshots/ (not a test).

    python -m tests.proctor_ui.screenshots docs/screenshots

Builds what ``seleksi demo`` builds (the demo bank, the SKD design of 110
items, 50 candidates), lets scripted terminals answer over the candidate
protocol (two finish, one is paused), and
photographs in Debian's chromium at 1024×768: the terminal (login, the
test with its whole map, 200 % zoom, the finish dialog, the score with the
receipt), the reconnecting screen after a reload while the server is down,
the screens after a void and a release, the adaptive (CAT) screen and its
score, and the live board. The proctor console and the admin pages are
photographed by ``tests.proctor_ui.screenshots_room``.
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
from tests.proctor_ui.demo_server import DemoServer, demo_server


class ScriptedTerminal:
    """A candidate answering over the real protocol (no browser)."""

    def __init__(self, live: DemoServer, index: int) -> None:
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


def _login(page: Any, server: DemoServer, index: int) -> None:
    cand = server.seed.candidates[index]
    page.goto(server.url + "/terminal.html")
    page.fill("#regno", cand["registration_number"])
    page.fill("#pin", cand["pin"])
    page.fill("#session-token", server.seed.session_token)
    page.click("#login-submit")
    page.click("#identity-ok")
    page.wait_for_selector("#options .option")


def _act(server: DemoServer, attempt_id: int, act: str, reason: str) -> None:
    user, password = server.seed.proctor
    token = httpx.post(
        server.url + "/api/auth/login", json={"username": user, "password": password}
    ).json()["token"]
    httpx.post(
        f"{server.url}/api/proctor/attempts/{attempt_id}/{act}",
        json={"reason": reason},
        headers={"Authorization": f"Bearer {token}"},
    ).raise_for_status()


def _settle(page: Any) -> None:
    """Wait until every answer is stored (nothing in the outbox)."""
    page.wait_for_function("window.SeleksiTerminal.outbox.length === 0")
    page.wait_for_timeout(300)


def shoot_linear(browser: Any, out: Path) -> None:
    live = demo_server(Path(tempfile.mkdtemp()), n_candidates=50)
    rng = random.Random(4)
    terminals = []
    for index in range(10, 30):
        t = ScriptedTerminal(live, index)
        # At most 35 answers: within the 40-frame burst a terminal may send at once.
        for number in range(1, rng.randint(5, 35) + 1):
            t.answer(number, rng.randint(0, 3), flagged=rng.random() < 0.1)
        terminals.append(t)
    terminals[0].finish()
    terminals[1].finish()
    user, password = live.seed.proctor
    staff = httpx.post(
        live.url + "/api/auth/login", json={"username": user, "password": password}
    ).json()["token"]
    httpx.post(
        f"{live.url}/api/proctor/attempts/{terminals[2].state['attempt_id']}/pause",
        json={"reason": "Peserta izin ke toilet"},
        headers={"Authorization": f"Bearer {staff}"},
    ).raise_for_status()

    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    term = ctx.new_page()
    cand = live.seed.candidates[0]
    term.goto(live.url + "/terminal.html")
    term.fill("#regno", cand["registration_number"])
    term.fill("#pin", cand["pin"])
    term.fill("#session-token", live.seed.session_token)
    term.screenshot(path=str(out / "terminal-login.png"))
    term.click("#login-submit")
    term.click("#identity-ok")
    term.wait_for_selector("#options .option")
    # Items 1–23 answered, a few doubtful, then item 24 on screen.
    for number in range(1, 24):
        term.keyboard.press("abcde"[rng.randint(0, 4)])
        if number in (4, 17):
            term.click("#doubtful")
        term.keyboard.press("ArrowRight")
        term.wait_for_function(f"window.SeleksiTerminal.current === {number + 1}")
    term.locator('#map button[data-number="24"]').click()
    _settle(term)
    term.screenshot(path=str(out / "terminal.png"))

    zoom = browser.new_context(viewport={"width": 512, "height": 384}, device_scale_factor=2)
    zpage = zoom.new_page()
    _login(zpage, live, 7)
    zpage.wait_for_timeout(500)
    zpage.screenshot(path=str(out / "terminal-zoom200.png"), full_page=True)
    zoom.close()

    board = browser.new_page(viewport={"width": 1600, "height": 900})
    board.goto(f"{live.url}/board.html?session={live.seed.session_id}")
    board.wait_for_selector("#board-body tr")
    board.wait_for_timeout(800)
    board.screenshot(path=str(out / "board.png"))
    board.close()

    # A reload while the server is down: the reconnecting screen.
    term.keyboard.press("b")
    _settle(term)
    live.stop()
    term.wait_for_selector("#banner:not(.hidden)")
    term.keyboard.press("c")  # waits on the terminal
    term.reload()
    term.wait_for_selector("#screen-reconnect:not(.hidden)")
    term.wait_for_timeout(300)
    term.screenshot(path=str(out / "terminal-reconnect.png"))
    live.start()
    term.wait_for_selector("#screen-test:not(.hidden)")
    _settle(term)

    term.click("#finish")
    term.wait_for_timeout(300)
    term.screenshot(path=str(out / "terminal-finish.png"))
    term.click("#finish-confirm")
    term.wait_for_selector("#screen-result:not(.hidden)")
    # The signed receipt under the score, once its QR code has loaded.
    term.wait_for_function("document.getElementById('receipt-qr').naturalWidth > 0")
    term.screenshot(path=str(out / "terminal-result.png"), full_page=True)
    ctx.close()

    for index, act, name in (
        (8, "void", "terminal-void.png"),
        (9, "release", "terminal-moved.png"),
    ):
        c = browser.new_context(viewport={"width": 1024, "height": 768})
        page = c.new_page()
        _login(page, live, index)
        page.keyboard.press("a")
        _settle(page)
        reason = "Membawa catatan" if act == "void" else "Komputer 12 rusak"
        _act(live, page.evaluate("window.SeleksiTerminal.st.attempt_id"), act, reason)
        page.wait_for_selector("#screen-ended:not(.hidden)")
        page.wait_for_timeout(300)
        page.screenshot(path=str(out / name))
        c.close()
    for t in terminals:
        t.ws.close()
    live.stop()


def shoot_adaptive(browser: Any, out: Path) -> None:
    live = demo_server(Path(tempfile.mkdtemp()), mode="adaptive", n_candidates=1)
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    term = ctx.new_page()
    _login(term, live, 0)
    for number in range(1, 13):
        term.keyboard.press("abcd"[number % 4])
        term.wait_for_function(f"window.SeleksiTerminal.current === {number + 1}")
    _settle(term)
    term.screenshot(path=str(out / "terminal-cat.png"))
    term.click("#finish")
    term.click("#finish-confirm")
    term.wait_for_selector("#screen-result:not(.hidden)")
    term.wait_for_function("document.getElementById('receipt-qr').naturalWidth > 0")
    term.screenshot(path=str(out / "terminal-cat-result.png"), full_page=True)
    ctx.close()
    live.stop()


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        shoot_linear(browser, out)
        shoot_adaptive(browser, out)
        browser.close()
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
