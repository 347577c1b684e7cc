"""The live channels: the proctor console and the public board, read-only
views of the event bus, and the small HTTP endpoints their pages need.

Where things are:

* :mod:`~exam_server.live.proctor_channel` — ``/ws/proctor/{session_id}``,
  the proctor console (staff login; every answer live);
* :mod:`~exam_server.live.board` — ``/ws/board/{session_id}``, the public
  board (no login; running points only in released batches);
* :mod:`~exam_server.live.release` — the board's release rule (pure);
* :mod:`~exam_server.live.queries` — what the channels read from the
  database (session, grid, attempts, exam options);
* :mod:`~exam_server.live.serving` — waiting for events, serving a socket;
* :mod:`~exam_server.live.reports` — ``POST /api/candidate/report``;
* :mod:`~exam_server.live.sessions` — the session lists of the pages;
* :mod:`~exam_server.live.detectors` — the proctoring detectors of an app.

What the candidate socket shares with these channels (origin check, frame
encoding, staff authentication of a socket) is :mod:`exam_server.channels`.
Every server frame is a JSON object with ``type`` and ``now`` (the server's
clock, epoch seconds); a malformed client frame gets
``{"type": "error", "code": ...}``, never a crash. The frames are described
in ``docs/proctoring.md`` and the board's cadence in ``docs/protocol.md``.

``start(app)`` / ``stop(app)`` run the proctoring detectors on the app's bus
(the proctor channel also starts them on first use).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.types import ASGIApp

from exam_server.context import context
from exam_server.http import Endpoint, openapi
from exam_server.live.board import board_channel
from exam_server.live.detectors import make_proctoring
from exam_server.live.proctor_channel import proctor_channel
from exam_server.live.reports import candidate_report
from exam_server.live.sessions import live_sessions, public_sessions

__all__ = ["ENDPOINTS", "make_proctoring", "routes", "start", "stop"]

ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/api/candidate/report",
        candidate_report,
        "the terminal page reports focus_lost or fullscreen_exit (candidate bearer token)",
        body={"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}}},
        tag="candidate",
        responses={"401": "no or bad candidate token", "422": "unknown kind", "429": "too often"},
    ),
    Endpoint(
        "GET",
        "/api/live/sessions",
        live_sessions,
        "sessions with exam and room, for the proctor console",
        ("admin", "proctor"),
        tag="proctor",
    ),
    Endpoint(
        "GET",
        "/api/live/board-sessions",
        public_sessions,
        "sessions that have a public live board",
        tag="board",
    ),
]


def routes() -> list[BaseRoute]:
    """The proctor and board channels and their helper endpoints, for the app factory."""
    return [
        WebSocketRoute("/ws/proctor/{session_id:int}", proctor_channel),
        WebSocketRoute("/ws/board/{session_id:int}", board_channel),
        *(ep.route() for ep in ENDPOINTS),
    ]


async def start(app: ASGIApp) -> None:
    """Start the proctoring detectors on the app's bus (call in the lifespan),
    and add this package's endpoints to the app's OpenAPI schema."""
    context(app).proctoring.start()
    schema = getattr(app.state, "openapi", None)  # type: ignore[attr-defined]
    if isinstance(schema, dict) and isinstance(schema.get("paths"), dict):
        ours = openapi(ENDPOINTS, "Seleksi live channels", "1")["paths"]
        schema["paths"].update({k: v for k, v in ours.items() if k not in schema["paths"]})


async def stop(app: ASGIApp) -> None:
    await context(app).proctoring.stop()
