"""Small clients for the scale-out tests: a proctor/board channel reader."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


class Channel:
    """A proctor (``/ws/proctor/N``) or board (``/ws/board/N``) connection."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, base_ws: str, path: str, token: str | None = None) -> Channel:
        ws = await connect(base_ws + path, open_timeout=10)
        ch = cls(ws)
        if token is not None:
            await ws.send(json.dumps({"type": "auth", "token": token}))
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert first["type"] == "snapshot", first
        ch.frames.append(first)
        return ch

    async def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        """The first row (terminal or board row) of an update satisfying ``pred``."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching update")
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            self.frames.append(frame)
            for row in frame.get("terminals", []) + frame.get("rows", []):
                if pred(row):
                    return dict(row)

    async def close(self) -> None:
        await self.ws.close()
