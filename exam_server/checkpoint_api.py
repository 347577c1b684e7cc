"""``GET /api/v1/checkpoints/latest``: the latest signed checkpoint's fingerprint.

The proctor console shows it so a proctor can copy it into the session
report at close; ``seleksi audit verify --checkpoints FILE --expect
FINGERPRINT`` later proves that the checkpoint file still holds that line
(``exam_server.checkpoints``).
"""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exam_server.context import context
from exam_server.http import Endpoint
from exam_server.receipts import key_id


async def latest_checkpoint(request: Request) -> Response:
    """``{"fingerprint", "n", "at", "reason", "session_id", "key_id"}``; all
    null but ``key_id`` before the first checkpoint (or when checkpoints are off)."""
    cps = context(request.app).checkpoints
    if cps.key is None:
        return JSONResponse({"fingerprint": None, "n": None, "at": None, "key_id": None})
    cp = await anyio.to_thread.run_sync(cps.latest)
    kid = key_id(cps.public_key)
    if cp is None:
        return JSONResponse({"fingerprint": None, "n": None, "at": None, "key_id": kid})
    return JSONResponse(
        {
            "fingerprint": cp.fingerprint,
            "n": cp.n,
            "at": cp.at,
            "reason": cp.reason,
            "session_id": cp.session_id,
            "key_id": kid,
        }
    )


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "GET",
        "/api/v1/checkpoints/latest",
        latest_checkpoint,
        "the latest signed checkpoint of the chain heads: its fingerprint for the session report",
        ("proctor", "admin"),
        tag="proctor",
    ),
]
