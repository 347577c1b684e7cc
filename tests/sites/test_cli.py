"""``seleksi site`` as an operator uses it: package at the centre, install
at the site (a changed byte refused), the sealed key typed in, status."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from seleksi.cli import main
from tests.sites.conftest import Centre


def test_package_install_key_status(
    centre: Centre, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pkg"
    key = tmp_path / "centre-key.pem"
    site_db = str(tmp_path / "site.db")
    args = ["site", "package", "--db", centre.url, "--site", "TILOK-01", "--key", str(key)]
    assert main([*args, "--out", str(out)]) == 0
    pkg = out / "TILOK-01.seleksi-site"
    sheet = (out / "TILOK-01.sealed-keys.txt").read_text()
    assert stat.S_IMODE(os.stat(out / "TILOK-01.token").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(out / "TILOK-01.sealed-keys.txt").st_mode) == 0o600

    tampered = tmp_path / "tampered.seleksi-site"
    data = bytearray(pkg.read_bytes())
    data[-10] ^= 0x01
    tampered.write_bytes(bytes(data))
    pub = str(out / "centre.pub.pem")
    assert main(["site", "install", str(tampered), "--centre-key", pub, "--db", site_db]) == 1
    assert "refused" in capsys.readouterr().err
    assert main(["site", "install", str(pkg), "--centre-key", pub, "--db", site_db]) == 0
    assert "installed site TILOK-01" in capsys.readouterr().out

    assert main(["site", "status", "--db", site_db]) == 0
    shown = capsys.readouterr().out
    assert "SESI-1: scheduled, key NOT released (the centre gives it from" in shown
    assert "signed by centre key" in shown and "sessions SESI-1" in shown
    sealed = next(line for line in sheet.splitlines() if line.startswith("SESI-1: "))[8:]
    assert main(["site", "key", "SESI-1", "--sealed", sealed[:-1] + "?", "--db", site_db]) == 1
    assert "not in it" in capsys.readouterr().err
    assert main(["site", "key", "SESI-1", "--sealed", sealed, "--db", site_db]) == 0
    assert "36 items opened (key from the sealed)" in capsys.readouterr().out
    assert main(["site", "status", "--db", site_db, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [
        (s["code"], s["status"], s["key_released"], s["released_how"]) for s in report["sessions"]
    ] == [("SESI-1", "scheduled", True, "sealed")]
    # Nothing synced yet: the install's and the release's audit events wait.
    assert report["sync"]["waiting"] == 2 and report["sync"]["last_ok_at"] is None
    # The centre lists the site it made a link for, not yet heard from.
    assert main(["site", "status", "--db", centre.url, "--verify"]) == 0
    shown = capsys.readouterr().out
    assert "TILOK-01: OFFLINE, last contact never" in shown
    assert "chains verified again: 0 problem(s)" in shown
    # The centre cannot be reached: sync says so and fails.
    token = str(out / "TILOK-01.token")
    sync = ["site", "sync", "--db", site_db, "--centre", "http://127.0.0.1:9", "--token-file"]
    assert main([*sync, token]) == 1
    assert "cannot be reached" in capsys.readouterr().err
