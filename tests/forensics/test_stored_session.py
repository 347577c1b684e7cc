"""``seleksi forensics`` on a session stored in the database, with planted cheaters.

A seeded SKD exam (one 110-item form) gets 80 finished attempts written as the
server writes them (``stored.py``): honest simulees, two copiers seated next
to their sources, three with preknowledge of a leaked set and two whose wrong
answers were changed to the key afterwards. The seating layout is loaded from
CSV, the items' time parameters are fitted by ``seleksi calibrate
--response-times``, and the report ranks the planted candidates at the top.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from exam_server.db import make_engine
from exam_server.demo import SeedSummary
from forensics.simulate import ROLES, Cheating, SimulatedSession, simulate_session, skd_form
from seleksi.cli import main
from tests.forensics.stored import skd_exam, store_sittings, write_seats_csv

N = 80


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, SeedSummary, SimulatedSession]:
    tmp = tmp_path_factory.mktemp("forensics")
    url = f"sqlite:///{tmp / 'exam.db'}"
    seed = skd_exam(url, N)
    cheat = Cheating(copiers=2, copy_fraction=0.5, preknowledge=3, changers=2)
    sim = simulate_session(skd_form(seed=0), N, cheat, seed=31, rows=10, cols=8)
    engine = make_engine(url)
    try:
        store_sittings(engine, seed, sim)
    finally:
        engine.dispose()
    assert main(["forensics", "--db", url, "--seats", str(write_seats_csv(
        tmp / "seats.csv", seed.room_code, sim))]) == 0  # fmt: skip
    assert main(["calibrate", "--response-times", "--db", url]) == 0
    return url, seed, sim


def test_planted_cheaters_rank_at_the_top_of_the_stored_session_report(
    stored: tuple[str, SeedSummary, SimulatedSession], tmp_path: Path
) -> None:
    url, seed, sim = stored
    leaked = [iid for iid, c in zip(sim.data.items.item_ids, sim.compromised, strict=True) if c]
    report, js = tmp_path / "r.html", tmp_path / "r.json"
    code = main(
        [
            "forensics", "--db", url, "--session", seed.session_code,
            "--report", str(report), "--json", str(js), "--compromised", ",".join(leaked),
        ]
    )  # fmt: skip
    assert code == 0
    out = json.loads(js.read_text(encoding="utf-8"))
    assert out["candidates"] == N and out["items"] == 110
    assert out["items_timed"] == 110 and out["seated"] == N
    regs = [c["registration_number"] for c in seed.candidates]
    planted = {regs[i] for i in np.flatnonzero(sim.role != ROLES.index("honest"))}
    top = [r["registration_number"] for r in out["rows"][: len(planted)]]
    assert len(set(top) & planted) >= len(planted) - 1
    flagged = {r["registration_number"] for r in out["rows"] if r["review"]}
    assert len(flagged & planted) >= len(planted) - 1
    # The list's false-discovery rate is 5 %: with nine planted, about half an
    # honest candidate is expected among those marked; one is allowed.
    assert len(flagged - planted) <= 1
    # A copier is named with the neighbour whose answers they share.
    by_reg = {r["registration_number"]: r for r in out["rows"]}
    for i in np.flatnonzero(sim.is_("copier")):
        assert by_reg[regs[i]]["partner"] == regs[int(sim.source[i])]
    # Preknowledge shows response by response: right and very fast, on leaked items.
    # (Their speed estimate is pulled by the fast part, so only some leaked
    # items cross z < −2.33 — about 2 of 44 on average in forensics.simulate
    # — while an honest candidate has ~0.4 such answers.)
    pk = np.flatnonzero(sim.is_("preknowledge"))
    fast = [f for i in pk for f in by_reg[regs[i]]["fast_items"]]
    honest = np.flatnonzero(sim.is_("honest"))
    n_honest = sum(len(by_reg[regs[i]]["fast_items"]) for i in honest)
    assert np.mean([f in leaked for f in fast]) >= 0.8
    assert len(fast) / len(pk) > 2 * n_honest / len(honest)
    html = report.read_text(encoding="utf-8")
    assert f"{N} peserta, 110 soal (110 dengan parameter waktu)" in html
    assert "Tinjau" in html and "Review" in html
    assert "cheated" not in html.lower()
    assert "Benjamini" in html


def test_an_unknown_session_is_a_clear_error(
    stored: tuple[str, SeedSummary, SimulatedSession],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, _, _ = stored
    code = main(["forensics", "--db", url, "--session", "NOPE", "--report", str(tmp_path / "x")])
    assert code == 1
    assert "no session 'NOPE'" in capsys.readouterr().err


def test_a_bad_seating_row_names_its_line(
    stored: tuple[str, SeedSummary, SimulatedSession],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, seed, _ = stored
    bad = tmp_path / "seats.csv"
    bad.write_text(f"room,terminal_id,row,col\n{seed.room_code},T-9,1,x\n", encoding="utf-8")
    assert main(["forensics", "--db", url, "--seats", str(bad)]) == 1
    assert "line 2: row and col must be whole numbers" in capsys.readouterr().err


def test_the_review_workflow_from_the_command_line(
    stored: tuple[str, SeedSummary, SimulatedSession], capsys: pytest.CaptureFixture[str]
) -> None:
    url, seed, sim = stored
    item = sim.data.items.item_ids[7]
    assert main(["forensics", "--db", url, "--watch"]) == 0
    assert f"{N} attempts" in capsys.readouterr().out
    assert main(["forensics", "--db", url, "--retire", item]) == 1
    assert "--reason is required" in capsys.readouterr().err
    assert main(["forensics", "--db", url, "--retire", item, "--reason", "x"]) == 1
    assert "only a flagged item is decided" in capsys.readouterr().err
    assert main(["forensics", "--db", url, "--flag", item, "--reason", "seen online"]) == 0
    assert main(["forensics", "--db", url, "--retire", item, "--reason", "confirmed"]) == 0
    assert f"withdrawn from exams {seed.exam_id}" in capsys.readouterr().out
    assert main(["forensics", "--db", url, "--items"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(item))
    assert "\tretired\t" in line and "confirmed" in line
    assert main(["forensics", "--db", url, "--clear", item, "--reason", "no"]) == 1
    assert "is retired" in capsys.readouterr().err
