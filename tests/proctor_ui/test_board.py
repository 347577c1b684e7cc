"""The public board against the key-harvesting attack (issue 14, hole 1), over a real server.

Time is the server's injected :class:`~exam_server.clock.ManualClock`: the
tests move it instead of waiting for the release interval to pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import text

from exam_server.clock import ManualClock
from exam_server.db import make_engine
from exam_server.demo import SeedSummary
from exam_server.exam_options import BoardOptions, ExamOptions
from exam_server.testing import SUBTESTS, Terminal, ThreadServer, small_bank, staff_token
from tests.conftest import make_settings, seed_small

# Everything a board row may show: the public contract (docs/protocol.md, section 6).
BOARD_FIELDS = {
    "registration_number",
    "name",
    "formation",
    "status",
    "sections",
    "total",
    "final",
    "passed",
    "as_of",
}


class Board:
    """A board socket that keeps every frame it received."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.raw: list[str] = []

    async def frame(self, timeout: float = 15.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        self.raw.append(raw)
        msg: dict[str, Any] = json.loads(raw)
        self.frames.append(msg)
        for row in msg.get("rows", []):
            assert set(row) == BOARD_FIELDS, row
        return msg

    async def row(self, regno: str) -> dict[str, Any]:
        """The next row of ``regno`` the board sends (skipping ticks and others)."""
        end = time.monotonic() + 20.0
        while time.monotonic() < end:
            msg = await self.frame()
            for row in msg.get("rows", []):
                if row["registration_number"] == regno:
                    return dict(row)
        raise AssertionError(f"no row for {regno} in 20 s: {self.frames[-3:]}")


class Exam:
    """A real server on a manual clock, seeded with a small exam (linear
    unless ``mode``; ``lengths``: items of TWK, TIU, TKP)."""

    def __init__(
        self,
        url: str,
        options: ExamOptions,
        n_candidates: int = 4,
        lengths: tuple[int, int, int] = (3, 3, 4),
        mode: str = "linear",
    ) -> None:
        self.seed: SeedSummary = seed_small(url, mode, n_candidates, 7200.0, lengths)
        self.db = make_engine(url)
        with self.db.begin() as conn:
            conn.execute(text("UPDATE exam_exam SET options_json = :o"), {"o": options.to_json()})
        self.clock = ManualClock(time.time())
        self.database_url = url
        self.server = ThreadServer(make_settings(url), clock=self.clock).start()
        self.others: list[ThreadServer] = []
        self.url = self.server.url
        self.ws = self.url.replace("http://", "ws://")

    def worker(self) -> str:
        """Another server on the same database and clock (a second worker);
        its WebSocket base URL."""
        other = ThreadServer(make_settings(self.database_url), clock=self.clock).start()
        self.others.append(other)
        return other.url.replace("http://", "ws://")

    def regno(self, i: int) -> str:
        return str(self.seed.candidates[i]["registration_number"])

    async def terminal(self, i: int) -> Terminal:
        reg = self.regno(i)
        async with httpx.AsyncClient(base_url=self.url) as client:
            r = await client.post(
                "/api/candidate/login",
                json={
                    "registration_number": reg,
                    "pin": self.seed.pins()[reg],
                    "session_token": self.seed.session_token,
                    "terminal_id": f"T-{i}",
                },
            )
        assert r.status_code == 200, r.text
        return await Terminal.open(self.server.ws_url, r.json()["token"], f"T-{i}")

    @contextlib.asynccontextmanager
    async def board(self, base: str | None = None) -> AsyncIterator[Board]:
        """A board socket (on this server, or on the worker at ``base``)."""
        path = f"{base or self.ws}/ws/board/{self.seed.session_id}"
        async with websockets.connect(path) as ws:
            yield Board(ws)

    def stored_points(self, attempt_id: int, upto_seq: int) -> dict[str, float]:
        """Points per subtest of the answers stored up to ``upto_seq``, from the
        bank's option points (an oracle independent of the board's code)."""
        bank, _ = small_bank()
        with self.db.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT number, item_id, option FROM exam_response WHERE attempt_id = :a "
                    "AND kind = 'answer' AND seq <= :s ORDER BY seq"
                ),
                {"a": attempt_id, "s": upto_seq},
            ).all()
        last = {number: (item_id, option) for number, item_id, option in rows}
        out = dict.fromkeys(SUBTESTS, 0.0)
        for item_id, option in last.values():
            if option >= 0:
                idx = bank.item_ids.index(item_id)
                out[SUBTESTS[int(bank.subtest[idx])]] += float(bank.option_points[idx, option])
        return out

    def stop(self) -> None:
        for server in (*self.others, self.server):
            server.stop()
        self.db.dispose()


@pytest.fixture
def exam_factory(tmp_path: Path) -> Iterator[Callable[..., Exam]]:
    made: list[Exam] = []

    def make(
        options: ExamOptions | None = None,
        n_candidates: int = 4,
        database_url: str | None = None,
        lengths: tuple[int, int, int] = (3, 3, 4),
        mode: str = "linear",
    ) -> Exam:
        url = database_url or f"sqlite:///{tmp_path / f'exam-{len(made)}.db'}"
        exam = Exam(url, options or ExamOptions(), n_candidates, lengths, mode)
        made.append(exam)
        return exam

    yield make
    for exam in made:
        exam.stop()


async def _answer(t: Terminal, clock: ManualClock, number: int, option: int) -> float:
    """Answer one item one second later; the server time the answer was stored at."""
    at = clock.advance(1.0)
    (ack,) = await t.answer(number, option)
    assert ack["type"] == "ack" and not ack["duplicate"], ack
    return at


async def test_cycling_the_options_of_an_item_reveals_nothing_until_a_batch(
    exam_factory: Callable[..., Exam],
) -> None:
    # Six items per subtest, so items 1–5 are all TWK; the defaults: batches
    # of 5 changed answers of a subtest, 180 s apart.
    exam = exam_factory(lengths=(6, 6, 6))
    clock, reg = exam.clock, exam.regno(0)
    async with exam.board() as board:
        snap = await board.frame()
        assert snap["type"] == "snapshot" and snap["rows"] == []  # nobody has come yet
        assert snap["session"]["board"] == {
            "show_running": True,
            "batch_answers": 5,
            "min_interval_seconds": 180.0,
        }
        t = await exam.terminal(0)
        attempt_id = int(t.state["attempt_id"])
        row = await board.row(reg)
        assert (row["status"], row["total"], row["as_of"]) == ("running", 0.0, None)

        # The attack: the candidate (or a modified terminal) cycles through
        # every option of item 1, slowly enough for the interval to pass.
        clock.advance(200.0)
        for option in range(5):
            await _answer(t, clock, 1, option)
            clock.advance(200.0)
        # Three more answers: four items changed in all, still no batch.
        for number in (2, 3, 4):
            await _answer(t, clock, number, 0)
        # The fifth changed item completes a batch: the first thing the board
        # shows of this candidate since the login is this release.
        released_at = await _answer(t, clock, 5, 0)
        row = await board.row(reg)
        assert row["as_of"] == pytest.approx(released_at, abs=1e-5)
        assert row["status"] == "running" and row["final"] is False and row["passed"] is None
        # It is the sum over the five items as they stood (item 1 at its last
        # option): a figure no single answer of the cycle can be read from.
        expected = exam.stored_points(attempt_id, upto_seq=9)
        assert row["sections"] == pytest.approx(expected)
        assert row["total"] == pytest.approx(sum(expected.values()))

        # Cycling again after the release changes nothing on the board, however
        # long it takes; the final score appears at finish.
        for option in (0, 1, 2, 3, 4):
            clock.advance(200.0)
            await _answer(t, clock, 1, option)
        final = await t.request({"type": "finish", "confirm": True})
        final_row = await board.row(reg)
        assert final_row["final"] is True and final_row["status"] == "finished"
        assert isinstance(final_row["passed"], bool)
        assert final_row["total"] == pytest.approx(float(final["total"]))
        await t.close()
        # Every frame the board got: no item, option, key or alert, ever.
        for raw in board.raw:
            for word in ('"option"', '"item', '"key', '"alert', '"number"'):
                assert word not in raw


async def test_one_answered_item_per_subtest_never_reaches_the_board(
    exam_factory: Callable[..., Exam],
) -> None:
    """A colluding candidate keeps exactly one answered item in TWK and one in
    TKP; each round (after the interval) clears the old probes, answers new
    ones and changes every TIU item, so far more than five items differ from
    the last release. Counted over the whole test that made a release each
    round whose TWK and TKP figures were one option's points each: the key
    on a public page. Counted per subtest, only TIU is released, and only
    once: at the fifth TIU item of the first round (items released before
    are frozen, so changing them later releases nothing); TWK and TKP stay
    at their start figure. The next row the board sends is the final one."""
    exam = exam_factory(lengths=(6, 6, 6))  # the defaults: batches of 5, 180 s apart
    clock, reg = exam.clock, exam.regno(0)
    async with exam.board() as board:
        await board.frame()
        t = await exam.terminal(0)
        attempt_id = int(t.state["attempt_id"])
        await board.row(reg)
        by_sub: dict[str, list[int]] = {}
        for m in t.state["map"]:
            by_sub.setdefault(m["subtest"], []).append(m["number"])
        twk, tiu, tkp = by_sub["TWK"], by_sub["TIU"], by_sub["TKP"]
        probes = [(twk[0], 0, tkp[0], 0), (twk[1], 0, tkp[1], 0), (twk[0], 1, tkp[0], 1)]
        probes += [(twk[1], 1, tkp[1], 1), (twk[0], 2, tkp[0], 2)]
        held: list[int] = []
        shown: dict[str, Any] = {}
        for k, (w, wo, p, po) in enumerate(probes):
            await asyncio.sleep(0.6)  # stay under the terminal's message rate limit
            clock.advance(200.0)
            for number in held:
                await _answer(t, clock, number, -1)
            await _answer(t, clock, w, wo)
            await _answer(t, clock, p, po)
            held = [w, p]
            tiu_at: list[tuple[float, int]] = []
            for number in tiu:
                tiu_at.append((await _answer(t, clock, number, k % 5), t.seq))
            if k:
                continue  # no release: the board sends no row (checked at the finish)
            shown = await board.row(reg)
            # TKP options are worth 1–5 points: a released single probe is never 0.
            assert shown["sections"]["TWK"] == 0.0 and shown["sections"]["TKP"] == 0.0, shown
            # The TIU release, at the fifth TIU answer (five never-shown TIU
            # items): the TIU points as of it.
            (released_seq,) = [s for at, s in tiu_at if abs(at - shown["as_of"]) < 1e-5]
            assert released_seq == tiu_at[4][1]
            tiu_points = exam.stored_points(attempt_id, upto_seq=released_seq)["TIU"]
            assert shown["sections"]["TIU"] == pytest.approx(tiu_points)
            assert shown["total"] == pytest.approx(shown["sections"]["TIU"])
        # The final score at finish is the whole score, probes included; any
        # row before it (a reload) still shows the first round's release.
        final = await t.request({"type": "finish", "confirm": True})
        final_row = await board.row(reg)
        while not final_row["final"]:
            assert final_row == shown, final_row
            final_row = await board.row(reg)
        assert final_row["total"] == pytest.approx(float(final["total"]))
        expected = exam.stored_points(attempt_id, upto_seq=t.seq)
        assert final_row["sections"] == pytest.approx(expected)
        await t.close()


async def test_adaptive_releases_follow_the_form_as_it_grows(
    exam_factory: Callable[..., Exam],
) -> None:
    """An adaptive test's form grows with each item given: the board learns
    each new item's subtest from the stored state and releases a subtest
    once it has a batch of responses, leaving the others at their start."""
    options = ExamOptions(board=BoardOptions(batch_answers=3, min_interval_seconds=60))
    exam = exam_factory(options, mode="adaptive")  # 3 TWK, 3 TIU, 4 TKP, in that order
    clock, reg = exam.clock, exam.regno(0)
    async with exam.board() as board:
        await board.frame()
        t = await exam.terminal(0)
        assert t.state["mode"] == "adaptive"
        await board.row(reg)
        clock.advance(100.0)
        seen: list[dict[str, Any]] = []
        for number in range(1, 10):
            at = clock.advance(1.0)
            ack, *_ = await t.answer(number, number % 2)
            assert ack["type"] == "ack", ack
            if number % 3 == 0:  # the last item of TWK, of TIU, the third of TKP
                row = await board.row(reg)
                assert row["as_of"] == pytest.approx(at, abs=1e-5)
                seen.append(row["sections"])
            if number < 9:
                clock.advance(60.0)
        assert [s["TWK"] > 0 for s in seen] == [True, True, True]
        assert [s["TIU"] == 0.0 for s in seen] == [True, False, False]
        assert [s["TKP"] == 0.0 for s in seen] == [True, True, False]
        assert seen[0]["TWK"] == seen[1]["TWK"] == seen[2]["TWK"]
        assert seen[1]["TIU"] == seen[2]["TIU"]
        await t.close()


async def test_adaptive_blanks_do_not_make_up_a_batch(
    exam_factory: Callable[..., Exam],
) -> None:
    """The colluder's filler on an adaptive test: after a release, two items
    left blank and one answered (batches of three). A blank scores nothing and
    whoever left it knows that, so a release there would be one answer's
    difference from the last: a rise would say its option is the key. The
    board shows nothing new until three new answers have an option chosen
    (the blanks around them still count in the figure, as in the score)."""
    options = ExamOptions(board=BoardOptions(batch_answers=3, min_interval_seconds=60))
    exam = exam_factory(options, mode="adaptive", lengths=(8, 3, 4))
    clock, reg = exam.clock, exam.regno(0)
    async with exam.board() as board:
        await board.frame()
        t = await exam.terminal(0)
        assert t.state["mode"] == "adaptive"
        await board.row(reg)
        clock.advance(100.0)
        at = [0.0]

        async def give(options: tuple[int, ...]) -> None:
            for option in options:
                at.append(clock.advance(1.0))
                ack, *_ = await t.answer(len(at) - 1, option)
                assert ack["type"] == "ack", ack

        await give((1, 2, 0))
        first = await board.row(reg)
        assert first["as_of"] == pytest.approx(at[3], abs=1e-5)
        clock.advance(60.0)  # the interval has passed at the probe (item 6)
        await give((-1, -1, 3, 4, 1))
        # Not at item 6 (two blanks and one answer since the release): at item 8,
        # the third new answer with an option.
        second = await board.row(reg)
        assert second["as_of"] == pytest.approx(at[8], abs=1e-5)
        assert second["sections"]["TWK"] != first["sections"]["TWK"]
        # TWK is complete at item 8: the figure is its score, blanks included.
        final = await t.request({"type": "finish", "confirm": True})
        final_row = await board.row(reg)
        assert final_row["final"] is True
        assert final_row["total"] == pytest.approx(float(final["total"]))
        assert second["sections"]["TWK"] == pytest.approx(final_row["sections"]["TWK"])
        await t.close()


async def test_absent_voided_and_closed(exam_factory: Callable[..., Exam]) -> None:
    exam = exam_factory(n_candidates=3)
    clock = exam.clock
    present, voided, absent = exam.regno(0), exam.regno(1), exam.regno(2)
    reason = "Peserta kedapatan membawa ponsel ke ruang ujian"
    proctor = {"Authorization": f"Bearer {staff_token(exam.url, *exam.seed.proctor)}"}
    async with exam.board() as board:
        await board.frame()
        t = await exam.terminal(0)
        await board.row(present)
        await _answer(t, clock, 1, 2)
        cheat = await exam.terminal(1)
        await board.row(voided)
        async with httpx.AsyncClient(base_url=exam.url, headers=proctor) as client:
            r = await client.post(
                f"/api/proctor/attempts/{cheat.state['attempt_id']}/void", json={"reason": reason}
            )
            assert r.status_code == 200, r.text
            row = await board.row(voided)
            # A void is shown as such (DIS on the page): no points, no reason.
            assert (row["status"], row["final"], row["passed"]) == ("void", True, None)
            assert row["sections"] == {} and row["total"] is None
            assert all("ponsel" not in raw for raw in board.raw)

            # Closing the session: the candidate who never came is absent, not failing.
            r = await client.post(
                f"/api/sessions/{exam.seed.session_id}/close", json={"reason": "selesai"}
            )
            assert r.status_code == 200, r.text
            rows: dict[str, dict[str, Any]] = {}
            while absent not in rows or present not in rows or not rows[present]["final"]:
                msg = await board.frame()
                rows.update({r["registration_number"]: r for r in msg.get("rows", [])})
        assert rows[absent]["status"] == "absent" and rows[absent]["passed"] is None
        assert rows[absent]["total"] is None and rows[absent]["final"] is True
        assert rows[present]["status"] == "finished"
        await t.close()
    # A board opened later shows the same.
    async with exam.board() as late:
        snap = await late.frame()
        by_reg = {r["registration_number"]: r for r in snap["rows"]}
        assert snap["session"]["status"] == "closed"
        assert by_reg[absent]["status"] == "absent" and by_reg[voided]["status"] == "void"
        assert all("ponsel" not in raw for raw in late.raw)


async def test_the_board_shows_the_latest_checkpoint_for_anyone_to_copy(
    exam_factory: Callable[..., Exam],
) -> None:
    """The board carries the fingerprint of the latest signed checkpoint (the
    one the proctor copies into the session report), so anyone watching
    holds a witness of the records outside the server; a new line reaches
    open boards, the one written at the session's close included."""
    exam = exam_factory(n_candidates=2)
    proctor = {"Authorization": f"Bearer {staff_token(exam.url, *exam.seed.proctor)}"}
    async with httpx.AsyncClient(base_url=exam.url, headers=proctor) as client:
        first = (await client.get("/api/v1/checkpoints/latest")).json()
        assert first["fingerprint"]  # the server's line at start
        async with exam.board() as board:
            snap = await board.frame()
            assert snap["checkpoint"] == {k: first[k] for k in ("n", "at", "fingerprint")}
            t = await exam.terminal(0)
            await _answer(t, exam.clock, 1, 2)
            r = await client.post(
                f"/api/sessions/{exam.seed.session_id}/close", json={"reason": "selesai"}
            )
            assert r.status_code == 200, r.text
            closed = r.json()["checkpoint"]
            assert closed and closed != first["fingerprint"]
            shown = snap["checkpoint"]
            end = time.monotonic() + 20.0  # the board reads the file again every 5 s
            while shown["fingerprint"] != closed and time.monotonic() < end:
                msg = await board.frame()
                shown = msg.get("checkpoint", shown)
            assert shown["fingerprint"] == closed and shown["n"] > first["n"]
            await t.close()


async def test_final_scores_only_and_warnings_for_revealing_settings(
    exam_factory: Callable[..., Exam], caplog: pytest.LogCaptureFixture
) -> None:
    quiet = exam_factory(ExamOptions(board=BoardOptions(show_running=False)))
    reg = quiet.regno(0)
    async with quiet.board() as board:
        await board.frame()
        t = await quiet.terminal(0)
        assert (await board.row(reg))["total"] == 0.0
        for number in range(1, 10):
            quiet.clock.advance(300.0)
            await _answer(t, quiet.clock, number, 1)
        final = await t.request({"type": "finish", "confirm": True})
        row = await board.row(reg)  # nothing between the login and the finish
        assert row["final"] is True and row["total"] == pytest.approx(float(final["total"]))
        await t.close()

    caplog.set_level(logging.WARNING, logger="exam_server.live.board")
    leaky = exam_factory(ExamOptions(board=BoardOptions(batch_answers=1, min_interval_seconds=0)))
    async with leaky.board() as board:
        await board.frame()
    warned = [r.getMessage() for r in caplog.records if r.name == "exam_server.live.board"]
    assert any("batch_answers=1" in m for m in warned), warned
    assert any("min_interval_seconds=0" in m for m in warned), warned


@pytest.mark.postgres
async def test_boards_on_two_workers_show_the_same_releases(
    exam_factory: Callable[..., Exam], postgres_url: str
) -> None:
    """A terminal on worker A; boards on A and on B (events reach B through
    PostgreSQL): both show nothing while one item is cycled, then the same
    release at the same answer; a board opened later on B shows it too."""
    options = ExamOptions(board=BoardOptions(batch_answers=3, min_interval_seconds=60))
    exam = exam_factory(options, database_url=postgres_url)
    worker_b = exam.worker()
    clock, reg = exam.clock, exam.regno(0)
    async with exam.board() as on_a, exam.board(worker_b) as on_b:
        for board in (on_a, on_b):
            assert (await board.frame())["rows"] == []
        t = await exam.terminal(0)
        for board in (on_a, on_b):
            assert (await board.row(reg))["as_of"] is None
        clock.advance(100.0)
        for option in range(5):
            await _answer(t, clock, 1, option)
        await _answer(t, clock, 2, 1)
        released_at = await _answer(t, clock, 3, 1)
        seen = [await board.row(reg) for board in (on_a, on_b)]
        assert seen[0] == seen[1]
        assert seen[0]["as_of"] == pytest.approx(released_at, abs=1e-5)
        expected = exam.stored_points(int(t.state["attempt_id"]), upto_seq=7)
        assert seen[0]["sections"] == pytest.approx(expected)
        await t.close()
    async with exam.board(worker_b) as late:
        snap = await late.frame()
        (row,) = [r for r in snap["rows"] if r["registration_number"] == reg]
        assert row == seen[0]
