"""``seleksi terminal``: passes issued, listed and revoked from the command line
are the passes a running server counts (the audit chain is their record)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from exam_server import terminal_passes as tp
from exam_server.db import make_engine
from exam_server.testing import ThreadServer
from seleksi.cli import main
from tests.conftest import TEST_SECRET, make_settings, seed_small

CODE = re.compile(r"^\s*\d+\s+(TP-[A-Z0-9-]+)\s+\(id ([A-Z0-9]{10})\)$", re.MULTILINE)


def test_issue_list_revoke_on_a_running_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'exam.db'}"
    seed = seed_small(url, n_candidates=2)
    db = ["--db", url]
    server = ThreadServer(make_settings(url, staff_refresh_seconds=0.1)).start()
    check = server.url + "/api/candidate/terminal-pass"
    try:
        # Without the server's key no pass is signed (and nothing is written).
        monkeypatch.delenv("SELEKSI_SECRET_KEY", raising=False)
        assert main(["terminal", "issue", "--room", f"{seed.site_code}/R1", *db]) == 1
        assert "SELEKSI_SECRET_KEY" in capsys.readouterr().err
        monkeypatch.setenv("SELEKSI_SECRET_KEY", TEST_SECRET)
        assert main(["terminal", "issue", "--room", "NOWHERE/R1", *db]) == 1
        assert "no room" in capsys.readouterr().err
        assert main(["terminal", "issue", "--room", "R1", *db]) == 1
        assert "SITE/ROOM" in capsys.readouterr().err
        assert main(["terminal", "issue", "--site", seed.site_code, "--count", "0", *db]) == 1
        capsys.readouterr()

        argv = ["terminal", "issue", "--room", f"{seed.site_code}/R1", "--count", "3"]
        assert main([*argv, "--label", "lab 1", *db]) == 0
        out = capsys.readouterr().out
        made = CODE.findall(out)
        assert len(made) == 3, out
        for code, pass_id in made:
            p = tp.verify(TEST_SECRET, code, time.time())
            assert p is not None and p.id == pass_id
            assert httpx.post(check, json={"terminal_pass": code}).json()["valid"] is True

        assert main(["terminal", "list", *db]) == 0
        listed = capsys.readouterr().out
        assert all(pass_id in listed for _, pass_id in made)
        assert "active" in listed and "lab 1" in listed and f"{seed.site_code}/R1" in listed

        code, pass_id = made[0]
        assert main(["terminal", "revoke", pass_id.lower(), "--reason", "PC stolen", *db]) == 0
        assert main(["terminal", "revoke", pass_id, "--reason", "again", *db]) == 1
        assert "already revoked" in capsys.readouterr().err
        assert main(["terminal", "revoke", "ABCDEFGHJK", "--reason", "x", *db]) == 1
        # The running server counts the revocation within its refresh interval.
        deadline = time.monotonic() + 10
        while httpx.post(check, json={"terminal_pass": code}).json()["valid"]:
            assert time.monotonic() < deadline, "the server never saw the revocation"
            time.sleep(0.05)
        assert httpx.post(check, json={"terminal_pass": made[1][0]}).json()["valid"] is True
        capsys.readouterr()
        assert main(["terminal", "list", *db]) == 0
        assert re.search(rf"{pass_id}\s+revoked", capsys.readouterr().out)
    finally:
        server.stop()

    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT kind, actor, reason, data_json FROM exam_audit"
                " WHERE kind LIKE 'terminal%' ORDER BY id"
            )
        ).all()
    engine.dispose()
    assert [r[0] for r in rows] == [tp.ISSUED, tp.REVOKED]
    assert all(r[1].startswith("cli") for r in rows)
    assert json.loads(rows[1][3]) == {"pass_id": pass_id} and rows[1][2] == "PC stolen"
    assert all(c not in rows[0][3] for c, _ in made)  # ids only, never the codes
