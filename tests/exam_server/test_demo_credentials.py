"""``seleksi demo`` run again prints, and accepts, the same credentials; ``--reset`` starts over."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from exam_server.auth import check_pin, verify_password
from exam_server.db import make_engine
from seleksi.cli import main

# 80 items per subtest leave enough operational TKP items for the demo exam's 45.
ARGV = ["demo", "--no-serve", "--per-subtest", "80"]


def _credentials(out: str) -> str:
    """The printed exam-day block: session token, staff passwords, every PIN."""
    start = out.index("Exam SKD-DEMO")
    return out[start:].strip()


def _works(data_dir: Path, printed: str) -> None:
    """Every printed PIN and staff password matches what the database checks at login."""
    secret = (data_dir / "server-secret.key").read_text().strip()
    engine = make_engine(f"sqlite:///{data_dir / 'seleksi.db'}")
    try:
        with engine.connect() as c:
            sid = int(re.search(r"\(id (\d+)\)", printed).group(1))  # type: ignore[union-attr]
            macs: dict[str, str] = dict(
                c.execute(
                    text(
                        "SELECT ca.registration_number, ci.candidate_id || '|' || ci.pin_mac "
                        "FROM exam_checkin ci JOIN exam_candidate ca ON ca.id = ci.candidate_id "
                        "WHERE ci.session_id = :s"
                    ),
                    {"s": sid},
                ).all()
            )
            hashes: dict[str, str] = dict(
                c.execute(text("SELECT username, password_hash FROM exam_staff")).all()
            )
    finally:
        engine.dispose()
    pins = re.findall(r"^  (\d{8})  (\d{6}) ", printed, flags=re.MULTILINE)
    assert len(pins) == 50
    for regno, pin in pins:
        cid, mac = macs[regno].split("|")
        assert check_pin(secret, sid, int(cid), pin, mac), regno
    for role in ("Admin", "Proctor"):
        user, pw = re.search(rf"^{role}: +(\S+) / (\S+)$", printed, re.M).groups()  # type: ignore[union-attr]
        assert verify_password(pw, hashes[user]), role


def test_demo_again_prints_the_same_credentials_and_reset_starts_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SELEKSI_DATABASE_URL", raising=False)
    data = tmp_path / "seleksi-data"
    assert main(ARGV) == 0
    first = _credentials(capsys.readouterr().out)
    _works(data, first)
    # The kept credentials are readable by their owner only.
    mode = stat.S_IMODE((data / "demo-credentials.json").stat().st_mode)
    assert mode == 0o600

    # A restart of the demo: the slips printed the first time still work.
    assert main(ARGV) == 0
    second = _credentials(capsys.readouterr().out)
    assert second == first
    _works(data, second)

    # A PIN the proctor re-issued meanwhile (or a lost credentials file for
    # one person) is issued anew; every other one stays.
    cred = data / "demo-credentials.json"
    cred.write_text(cred.read_text().replace('"20240001": "', '"20240001": "x'))
    assert main(ARGV) == 0
    third = _credentials(capsys.readouterr().out)
    _works(data, third)
    changed = [a for a, b in zip(first.splitlines(), third.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and changed[0].startswith("  20240001  ")

    # --reset: a new database, new PINs and passwords, and they work.
    (data / "notes.txt").write_text("mine")
    leftovers = [data / "after-test-preparing.json"]  # a killed demo's marker
    leftovers[0].write_text('{"pid": 1, "exam": "SKD-HASIL"}')
    assert main([*ARGV, "--reset"]) == 0
    assert not any(p.exists() for p in leftovers)
    out = capsys.readouterr().out
    assert "started over" in out and "240 new item(s)" in out
    fresh = _credentials(out)
    assert fresh != first
    _works(data, fresh)
    # Only the demo's own files went away.
    assert (data / "notes.txt").read_text() == "mine"
