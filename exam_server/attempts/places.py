"""Giving items under the exam's exposure control.

An engine step (a test's start, an adaptive answer) chooses items with the
usage counts this process has (``exam_server.usage.UsageCache``). Its items
count at once for the next choice in this process; with several processes
(PostgreSQL) and a hard rate limit (``exposure.max_rate``) each item's place
is also taken in the database, atomically across processes
(``exam_server.usage.reserve``): an item another process filled meanwhile is
refused, marked full here, and the step chooses again. A step that is not
stored gives its places back (:func:`forget`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from cat_engine.exposure import ExposureUsage
from cat_engine.state import TestState
from exam_server.exams import ExamData
from exam_server.usage import Administered

if TYPE_CHECKING:
    from exam_server.attempts.service import AttemptService

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Choices a step may make before it gives up on the database's limit (each
#: refusal marks an item full, so a second refusal is already rare).
MAX_TRIES = 8

Step = Callable[[ExposureUsage | None], Awaitable[tuple[TestState, T]]]
"""An engine step given the usage counts: the new state and what else it returns."""


async def administer(
    svc: AttemptService,
    exam: ExamData,
    before: TestState | None,
    step: Step[T],
    tests: int = 0,
) -> tuple[TestState, T, Administered]:
    """Run ``step`` under the exam's exposure control; return its state, its
    extra result and the items it gave (counted here; reserved in the
    database when several processes share a hard limit)."""
    reserve = svc.reserves(exam)
    for _ in range(MAX_TRIES):
        state, extra = await step(svc.usage.usage(exam.exam_id))
        given = svc.administered(exam, before, state, tests)
        svc.usage.count(given)
        if not reserve or not given.indices:
            return state, extra, given
        try:
            refused = await svc.take_places(exam, given.indices)
        except BaseException:
            svc.usage.uncount(given)
            raise
        if not refused:
            return state, extra, dataclasses.replace(given, reserved=True)
        svc.usage.uncount(given)
        svc.usage.mark_full(exam.exam_id, refused)
        taken = [i for i in given.indices if i not in set(refused)]
        if taken:
            await svc.give_back(exam, taken)
    log.warning(
        "exam %s: items refused at the exposure limit %d times in a row; "
        "giving the last choice without a place",
        exam.code,
        MAX_TRIES,
    )
    svc.usage.count(given)
    return state, extra, given


async def forget(svc: AttemptService, exam: ExamData, given: Administered | None) -> None:
    """A step that was not stored: take its items back (counts and places)."""
    if given is None:
        return
    svc.usage.uncount(given)
    if given.reserved and given.indices:
        try:
            await svc.give_back(exam, given.indices)
        except Exception:  # the database is down: the place stays taken (the safe side)
            log.warning("exam %s: places of an unstored step not given back", exam.code)
