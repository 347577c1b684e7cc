"""Ending a test: the candidate submits, or its testing time runs out."""

from __future__ import annotations

from cat_engine.state import TestState


def _check_time(state: TestState) -> None:
    limit = state.design.time_limit_seconds
    if limit is not None and state.time_used >= limit and not state.finished:
        state.finished = True
        state.finish_reason = "time"
        state.current = None


def finish(state: TestState, reason: str = "submitted") -> TestState:
    """End the test now (the candidate submits, or the server's clock runs out)."""
    new = state.copy()
    if not new.finished:
        new.finished = True
        new.finish_reason = reason
        new.current = None
        for sec in new.sections:
            if not sec.complete:
                sec.complete = True
                sec.stop_reason = reason
    return new


def add_time(state: TestState, seconds: float) -> TestState:
    """Count ``seconds`` more of testing time (no answer); finishes the test at its limit."""
    if not (isinstance(seconds, int | float) and seconds >= 0):
        raise ValueError(f"seconds must be a non-negative number, got {seconds!r}")
    new = state.copy()
    new.time_used += float(seconds)
    new.sections[new.section_index].time_used += float(seconds)
    _check_time(new)
    return new
