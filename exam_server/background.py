"""Stopping the server's background tasks: one way for every part.

Each long-lived part (the GC freezer, the checkpoint writer, the proctoring
consumer, the disabled-staff reader, a site's sync, the survey pool) runs a
task of its own and ends it the same way when the app stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancelled(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (None: nothing) and wait until it has ended; its
    ``CancelledError`` is the expected end and is not raised."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
