"""The tables of forensics and the item watch (issue 21);
revision ``exam_server/migrations/versions/0008_forensics.py``.

* :class:`RoomSeat` — a room's seating layout: which terminal sits at which
  row and column (a candidate's seat is their attempt's terminal);
* :class:`ItemTime` — each bank item's lognormal response-time parameters,
  fitted by ``seleksi calibrate --response-times`` (``calibration.rt``);
* :class:`ItemWatchState` — each item's CUSUM (``forensics.drift``) and
  :class:`WatchedAttempt` — the attempts already fed to it;
* :class:`ItemReview` — the review workflow, one row per step (flagged,
  retired, cleared) with its reason; every step is also in the audit chain;
* :class:`WithdrawnItem` — a retired item's index in each exam that holds
  it, which the engine's selection leaves out (``exam_server.usage``).
"""

from __future__ import annotations

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class RoomSeat(SQLModel, table=True):
    """Where a terminal of a room sits: row and column (0-based, from the front left)."""

    __tablename__ = "forensics_room_seat"
    room_id: int = Field(primary_key=True, foreign_key="exam_room.id")
    terminal_id: str = Field(primary_key=True, max_length=80)
    row: int
    col: int


class ItemTime(SQLModel, table=True):
    """An item's time intensity β (mean ln seconds at average speed) and time
    discrimination α (1 / sd of ln seconds), fitted from ``n`` stored times."""

    __tablename__ = "forensics_item_time"
    item_id: str = Field(primary_key=True, max_length=80)
    alpha: float
    beta: float
    n: int = 0
    fitted_at: float = 0.0


class ItemWatchState(SQLModel, table=True):
    """An item's CUSUM: its value, the administrations seen, and when it crossed
    the threshold (``flagged_count``: the administration count then; NULL: not)."""

    __tablename__ = "forensics_item_watch"
    item_id: str = Field(primary_key=True, max_length=80)
    cusum: float = 0.0
    count: int = 0
    flagged_count: int | None = None
    updated_at: float = 0.0
    # What was observed against what the parameters predict: right/wrong
    # answers scored, right, expected right (Σ P(θ̂)); timed answers, Σ of
    # their time residuals z (negative = faster than predicted).
    n_scored: int = 0
    sum_right: float = 0.0
    sum_expected: float = 0.0
    n_timed: int = 0
    sum_time_z: float = 0.0


class WatchedAttempt(SQLModel, table=True):
    """A finished attempt whose answers the item watch has taken in."""

    __tablename__ = "forensics_watched_attempt"
    attempt_id: int = Field(primary_key=True, foreign_key="exam_attempt.id")
    at: float = 0.0


class ItemReview(SQLModel, table=True):
    """One step of an item's review: status flagged | retired | cleared, who, why.
    The item's current status is its latest row."""

    __tablename__ = "forensics_item_review"
    id: int | None = Field(default=None, primary_key=True)
    item_id: str = Field(max_length=80, index=True)
    status: str = Field(max_length=16)
    actor: str = Field(max_length=120)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    evidence_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    at: float = 0.0


class WithdrawnItem(SQLModel, table=True):
    """A retired item at ``item_index`` of exam ``exam_id``'s frozen bank: no
    later selection in that exam gives it."""

    __tablename__ = "forensics_withdrawn_item"
    exam_id: int = Field(primary_key=True, foreign_key="exam_exam.id")
    item_index: int = Field(primary_key=True)
    item_id: str = Field(max_length=80)
    at: float = 0.0
