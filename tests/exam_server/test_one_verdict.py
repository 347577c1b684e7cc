"""One verdict everywhere (issue 13): a candidate of a special category, under
the exam's own ranking policy, gets the same pass/fail on the terminal, in the
stored attempt (``score_json`` carries points, not verdicts), in the audit
``finish`` event, in the admin API, on the public board and in the signed
publication; an exam made with a non-2024 policy (and a category the 2024 rules
do not know) is judged by that policy on the terminal and in the publication,
and ``seleksi results publish --policy`` with other rules is refused."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import select

from cat_engine import engine as cat
from exam_server.attempts.storage import read_state
from exam_server.db import make_engine
from exam_server.demo import seed_exam
from exam_server.models import Attempt, AuditEvent, Candidate, Exam
from exam_server.results.rules import RankingPolicy
from exam_server.snapshot import bank_from_json
from exam_server.testing import Terminal, ThreadServer, small_bank, small_design
from seleksi.cli import CommandError
from seleksi.commands import results as results_cmd
from tests.conftest import (
    ADMIN_PASSWORD,
    PROCTOR_PASSWORD,
    TEST_SCRYPT_N,
    TEST_SECRET,
    make_settings,
)


def small_policy() -> dict[str, Any]:
    """The 2024 document with thresholds for the small test exam (TWK/TIU 3
    items of 0/5 points, TKP 4 items of 1–5) and a new category."""
    doc = RankingPolicy.default_2024().to_dict()
    doc["version"] = "2026-test"
    cats = doc["categories"]
    cats["general"]["minimums"] = {"TWK": 5, "TIU": 10, "TKP": 12}
    cats["cumlaude"].update(minimums={"TIU": 10}, total=30)
    cats["disability"].update(minimums={"TIU": 5}, total=25)
    # A category the 2024 rules do not have: importable because the exam's
    # policy defines it.
    cats["tertinggal"] = {
        "minimums": {"TIU": 10},
        "name_en": "remote regions",
        "name_id": "daerah tertinggal",
        "total": 40,
    }
    return doc


CATEGORIES = ("cumlaude", "disability", "tertinggal")
# Answered below: TWK all wrong (0), TIU all right (15), TKP best (20) = 35.
# general would fail (TWK < 5); cumlaude (≥ 30, TIU ≥ 10) and disability
# (≥ 25, TIU ≥ 5) pass; tertinggal (≥ 40) does not.
EXPECTED = {"cumlaude": True, "disability": True, "tertinggal": False}


def _answers(db: Any, attempt_id: int) -> list[tuple[int, int]]:
    """(number, option) for every item of the attempt's form: the worst option
    of each TWK item, the best of each TIU and TKP item."""
    with db.connect() as c:
        bank = bank_from_json(c.execute(select(Exam.bank_json)).scalar_one())
        state = read_state(c, attempt_id, bank)
    out = []
    for number, idx in enumerate(cat.presented(state), 1):
        pts = bank.option_points[idx, : bank.n_options[idx]]
        sub = bank.subtest_codes[int(bank.subtest[idx])]
        out.append((number, int(pts.argmin() if sub == "TWK" else pts.argmax())))
    return out


async def test_special_categories_get_one_verdict_everywhere(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'verdict.db'}"
    engine = make_engine(url)
    bank, items = small_bank()
    seed = seed_exam(
        engine,
        TEST_SECRET,
        design=small_design("linear"),
        bank=bank,
        items=items,
        n_candidates=len(CATEGORIES),
        scrypt_n=TEST_SCRYPT_N,
        admin_password=ADMIN_PASSWORD,
        proctor_password=PROCTOR_PASSWORD,
        policy=RankingPolicy.from_dict(small_policy()),
        categories=CATEGORIES,
    )
    server = ThreadServer(make_settings(url)).start()
    try:
        board = await websockets.connect(
            f"ws://127.0.0.1:{server.settings.port}/ws/board/{seed.session_id}"
        )
        finals: dict[str, dict[str, Any]] = {}
        for person in seed.candidates:
            r = httpx.post(
                server.url + "/api/candidate/login",
                json={
                    "registration_number": person["registration_number"],
                    "pin": person["pin"],
                    "session_token": seed.session_token,
                    "terminal_id": f"T-{person['registration_number']}",
                },
            )
            assert r.status_code == 200, r.text
            body = r.json()
            t = await Terminal.open(
                server.ws_url, body["token"], f"T-{person['registration_number']}"
            )
            for number, option in _answers(engine, body["attempt_id"]):
                (ack,) = await t.answer(number, option)
                assert ack["type"] == "ack", ack
            final = await t.request({"type": "finish", "confirm": True})
            assert final["type"] == "final", final
            finals[person["category"]] = final
            await t.close()

        # The terminal: the exam's policy, in both languages.
        for category, final in finals.items():
            assert final["total"] == pytest.approx(35.0)
            assert final["passed"] is EXPECTED[category], (category, final)
        assert "tidak memenuhi" in finals["tertinggal"]["pass_reasons"]["id"]
        assert "daerah tertinggal" in finals["tertinggal"]["pass_reasons"]["id"]
        assert "remote regions" in finals["tertinggal"]["pass_reason"]

        # The stored attempt and the audit event carry the same verdict; the
        # engine's score carries points only (no per-section "passed").
        with engine.connect() as c:
            rows = c.execute(
                select(Candidate.category, Attempt.passed, Attempt.score_json, Attempt.id).join(
                    Attempt,
                    Attempt.candidate_id == Candidate.id,  # type: ignore[arg-type]
                )
            ).all()
            events = {
                aid: json.loads(data)
                for aid, data in c.execute(
                    select(AuditEvent.attempt_id, AuditEvent.data_json).where(
                        AuditEvent.kind == "finish"
                    )
                ).all()
            }
        for category, passed, score_json, aid in rows:
            assert passed is EXPECTED[category]
            assert all("passed" not in s for s in json.loads(score_json)["sections"])
            assert events[aid]["passed"] is EXPECTED[category]

        # The admin API.
        token = httpx.post(
            server.url + "/api/auth/login",
            json={"username": "admin", "password": ADMIN_PASSWORD},
        ).json()["token"]
        api = httpx.get(
            f"{server.url}/api/admin/sessions/{seed.session_id}/attempts",
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        by_reg = {c["registration_number"]: c["category"] for c in seed.candidates}
        for row in api:
            assert row["passed"] is EXPECTED[by_reg[row["registration_number"]]], row

        # The public board's final rows.
        seen: dict[str, Any] = {}
        while len(seen) < len(CATEGORIES):
            frame = json.loads(await board.recv())
            for row in frame.get("rows", []):
                if row.get("final"):
                    seen[row["registration_number"]] = row["passed"]
        await board.close()
        for reg, passed in seen.items():
            assert passed is EXPECTED[by_reg[reg]]
    finally:
        server.stop()

    # The publication ranks with the exam's stored policy: same verdicts.
    keys, out = tmp_path / "keys", tmp_path / "pub"
    assert run_results("keygen", "--out", str(keys)) == 0
    publish = [
        "publish",
        "--db",
        url,
        "--exam",
        seed.exam_code,
        "--key",
        str(keys / "results-signing.key"),
        "--out",
        str(out),
        "--published-at",
        "2026-12-06",
    ]
    assert run_results(*publish) == 0
    codes = {}
    for f in (out / "skd").glob("*.json"):
        for entry in json.loads(f.read_text())["entries"]:
            codes[entry["registration_number"]] = entry["code"]
    assert len(codes) == len(CATEGORIES)
    for reg, code in codes.items():
        assert (code in ("P/L", "P")) is EXPECTED[by_reg[reg]], (reg, code)

    # Other rules on the command line are refused, naming both versions.
    other = tmp_path / "policy-2024.json"
    other.write_text(RankingPolicy.default_2024().to_json())
    with pytest.raises(CommandError, match="2026-test"):
        run_results(*publish, "--policy", str(other), "--out", str(out / "x"))
    engine.dispose()


def run_results(*argv: str) -> int:
    """``seleksi results ARGV`` as the command line runs it."""
    parser = argparse.ArgumentParser(prog="seleksi")
    results_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["results", *argv])
    code: int = args.func(args)
    return code
