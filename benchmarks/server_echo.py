"""The floor: a bare Starlette WebSocket echo served by uvicorn (uvloop, httptools).

Used by ``benchmarks/server.py`` (saturation) in the same run as the exam
server. ``python -m benchmarks.server_echo PORT`` serves it.
"""

from __future__ import annotations

import sys

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


async def echo(ws: WebSocket) -> None:
    await ws.accept()
    try:
        while True:
            await ws.send_text(await ws.receive_text())
    except WebSocketDisconnect:
        pass


app = Starlette(routes=[WebSocketRoute("/ws", echo)])


def main() -> int:
    if len(sys.argv) < 2:
        print("server_echo is started by benchmarks/server.py (PORT argument)")
        return 0
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
