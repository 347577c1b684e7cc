"""The static pages: scripts parse, every text key exists in both languages."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.proctor_ui.texts import all_keys

STATIC = Path(__file__).resolve().parents[2] / "proctor_ui" / "static"
SCRIPTS = sorted((STATIC / "js").glob("*.js"))


def dictionaries() -> dict[str, set[str]]:
    """The keys of each language: i18n.js's tables and every page's own."""
    return all_keys()


def test_both_languages_have_the_same_texts() -> None:
    tables = dictionaries()
    assert set(tables) == {"id", "en"}
    assert len(tables["id"]) > 100
    assert tables["id"] ^ tables["en"] == set()


def test_every_key_used_by_a_page_exists() -> None:
    known = dictionaries()["id"]
    used: set[str] = set()
    for page in STATIC.glob("*.html"):
        used |= set(re.findall(r'data-i18n(?:-\w+)?="([\w.]+)"', page.read_text("utf-8")))
    for script in SCRIPTS:
        # Whole keys only: S.t("status." + x) builds its key at run time.
        used |= set(re.findall(r'S\.t\("([\w.]*\w)"\s*[,)]', script.read_text("utf-8")))
    missing = sorted(used - known)
    assert not missing, f"texts missing from i18n.js: {missing}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses(script: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the browser tests still load every script)")
    result = subprocess.run([node, "--check", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
