"""``seleksi staff`` on an empty PostgreSQL database: the first administrator is
made from the command line and logs in; a disabled account is refused; the
password never appears in the output."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from exam_server.testing import ThreadServer
from seleksi.cli import main
from tests.conftest import make_settings

PASSWORD = "pertama-kali-16"


def _login(url: str, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{url}/api/auth/login", json={"username": username, "password": password})


@pytest.mark.postgres
def test_first_administrator_on_postgres(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", postgres_url]
    assert main(["staff", "list", *db]) == 1  # empty database: no tables yet, nothing made
    assert "seleksi db migrate" in capsys.readouterr().err
    assert main(["db", "migrate", *db]) == 0
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSWORD + "\n", encoding="utf-8")
    argv = ["staff", "create", "admin", "--role", "admin", "--name", "Admin", "--password-file"]
    assert main([*argv, str(pw), *db]) == 0
    assert main([*argv, str(pw), *db]) == 1  # the same name twice
    assert main(["staff", "list", *db]) == 0
    out, err = capsys.readouterr()
    assert "admin" in out and "active" in out and PASSWORD not in out + err
    short = tmp_path / "short.txt"
    short.write_text("pendek\n", encoding="utf-8")
    assert main(["staff", "reset-password", "admin", "--password-file", str(short), *db]) == 1
    assert "at least 8 characters" in capsys.readouterr().err

    server = ThreadServer(make_settings(postgres_url)).start()
    try:
        assert _login(server.url, "admin", PASSWORD).status_code == 200
        # The only administrator cannot be disabled: nobody could administer
        # (or enable anyone again from the admin pages) afterwards.
        assert main(["staff", "disable", "admin", *db]) == 1
        assert "last enabled administrator" in capsys.readouterr().err
        assert _login(server.url, "admin", PASSWORD).status_code == 200
        two = ["staff", "create", "admin2", "--role", "admin", "--password-file", str(pw)]
        assert main([*two, *db]) == 0
        assert main(["staff", "disable", "admin", *db]) == 0
        refused = _login(server.url, "admin", PASSWORD)
        assert refused.status_code == 403 and refused.json()["error"] == "account_disabled"
        # a wrong password says only that (not whether the account is disabled)
        assert _login(server.url, "admin", "salah-sandi-16").status_code == 401
        assert main(["staff", "enable", "admin", *db]) == 0
        assert _login(server.url, "admin", PASSWORD).status_code == 200
    finally:
        server.stop()
