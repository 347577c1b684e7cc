"""``seleksi loadtest`` against a real server: the report a user reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seleksi.cli import main as seleksi_main
from tests.conftest import ServerHandle


def test_loadtest_command_reports_and_checks_the_database(
    live_server: ServerHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = live_server
    creds = tmp_path / "creds.csv"
    creds.write_text(
        "registration_number,pin\n"
        + "".join(f"{c['registration_number']},{c['pin']}\n" for c in h.seed.candidates)
    )
    db = h.settings.database_url
    args = ["loadtest", "--url", h.url, "--terminals", "4", "--pace", "0.2"]
    args += ["--login-window", "0.3", "--duration", "2.5", "--candidates", str(creds)]
    args += ["--session-token", h.seed.session_token, "--db", db, "--json"]
    assert seleksi_main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["logins_ok"] == 4 and report["connections_max"] == 4
    assert report["answers_acked"] >= 4
    assert report["db"]["acknowledged"] == report["db"]["found"] == report["answers_acked"]
    assert report["db"]["missing"] == 0 and report["db"]["duplicated"] == 0
    assert set(report["ack_latency_ms"]) == {"p50", "p95", "p99", "max"}
    # The generator's own pauses are reported beside the latencies they would
    # inflate: it ran ~2.5 s, waking every 50 ms to measure its lag.
    own = report["generator"]
    assert own["loop_lag_ms"]["n"] >= 20 and own["loop_lag_ms"]["max"] >= 0.0
    assert "max" in own["gc_pause_ms"]


def test_loadtest_command_refuses_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert seleksi_main(["loadtest", "--url", "localhost:1", "--terminals", "1"]) == 1
    assert "http" in capsys.readouterr().err
    assert seleksi_main(["loadtest", "--url", "http://127.0.0.1:1", "--terminals", "2"]) == 1
    assert "--candidates" in capsys.readouterr().err
