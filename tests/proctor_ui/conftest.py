"""Fixtures of the browser tests: a real server, a cuttable proxy, Debian's chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.proctor_ui.live_server import CuttableProxy, LiveServer, start_server

CHROMIUM = os.environ.get("SELEKSI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(Path(tmp_path_factory.mktemp("ui")))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy(live: LiveServer) -> Iterator[CuttableProxy]:
    port = int(live.url.rsplit(":", 1)[1])
    p = CuttableProxy(port)
    yield p
    p.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"no chromium at {CHROMIUM}: install Debian's chromium "
            "(`sudo apt-get install chromium`) or set SELEKSI_CHROMIUM to its path"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
