"""Interview scheduling rules: slots from a panel's availability, Indonesian time
zones, conflicts and rescheduling.

Times are stored and compared in UTC; a person reads them in their own zone.
Indonesia keeps no daylight saving, so the three zones are fixed offsets
(no time-zone database needed): WIB = UTC+7, WITA = UTC+8, WIT = UTC+9.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ZONES: dict[str, dt.timezone] = {
    "WIB": dt.timezone(dt.timedelta(hours=7), "WIB"),
    "WITA": dt.timezone(dt.timedelta(hours=8), "WITA"),
    "WIT": dt.timezone(dt.timedelta(hours=9), "WIT"),
}
DAYS_ID = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
MONTHS_ID = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip


class ScheduleError(ValueError):
    """A slot, an assignment or a change breaks a scheduling rule (message says which)."""


def zone(name: str) -> dt.timezone:
    try:
        return ZONES[name]
    except KeyError:
        raise ScheduleError(f"time zone {name!r} is not one of {', '.join(ZONES)}") from None


def utc(t: dt.datetime) -> dt.datetime:
    """``t`` in UTC; a naive time is refused (it could be any of three zones)."""
    if t.tzinfo is None:
        raise ScheduleError(f"{t.isoformat()} has no time zone")
    return t.astimezone(dt.UTC)


def local_text(t: dt.datetime, zone_name: str, lang: str = "id") -> str:
    """``t`` as a person in ``zone_name`` reads it, e.g. ``Senin, 12 Mei 2025 09.00 WITA``."""
    lt = utc(t).astimezone(zone(zone_name))
    if lang == "id":
        return (
            f"{DAYS_ID[lt.weekday()]}, {lt.day} {MONTHS_ID[lt.month - 1]} {lt.year} "
            f"{lt:%H.%M} {zone_name}"
        )
    return f"{lt:%A} {lt.day} {lt:%B %Y %H:%M} {zone_name}"


@dataclass(frozen=True)
class Window:
    """A time a panel is available, ``[start, end)`` in UTC."""

    start: dt.datetime
    end: dt.datetime


def generate_slots(
    windows: Iterable[Window], minutes: int, gap_minutes: int = 0
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Back-to-back interview slots of ``minutes`` (with ``gap_minutes`` between)
    filling each availability window; a remainder too short for a slot is left."""
    if minutes < 5 or minutes > 480:
        raise ScheduleError(f"a slot must last 5–480 minutes, got {minutes}")
    if gap_minutes < 0:
        raise ScheduleError(f"the gap between slots cannot be negative, got {gap_minutes}")
    length, step = dt.timedelta(minutes=minutes), dt.timedelta(minutes=minutes + gap_minutes)
    out: list[tuple[dt.datetime, dt.datetime]] = []
    for w in windows:
        start, end = utc(w.start), utc(w.end)
        if end <= start:
            raise ScheduleError(f"availability ends before it starts ({w.start} – {w.end})")
        t = start
        while t + length <= end:
            out.append((t, t + length))
            t += step
    out.sort()
    for (_, e1), (s2, _) in itertools.pairwise(out):
        if s2 < e1:
            raise ScheduleError("the panel's availability windows overlap")
    return out


@dataclass(frozen=True)
class Booking:
    """A slot as the conflict checks see it: who sits in it, when."""

    slot_id: int
    start: dt.datetime
    end: dt.datetime
    assessors: frozenset[str]
    candidates: frozenset[str]


def overlaps(a: Booking, b: Booking) -> bool:
    return a.start < b.end and b.start < a.end


def conflicts(new: Booking, existing: Sequence[Booking]) -> list[str]:
    """Why ``new`` cannot be booked beside ``existing`` (empty: it can).

    An assessor may not sit in two overlapping slots; a candidate may not hold
    two slots of the same interview at all (``existing`` is that interview's).
    """
    out: list[str] = []
    for b in existing:
        if b.slot_id == new.slot_id:
            continue
        if overlaps(new, b):
            for who in sorted(new.assessors & b.assessors):
                out.append(
                    f"assessor {who} is already in slot {b.slot_id} at that time "
                    f"({b.start:%Y-%m-%d %H:%M}–{b.end:%H:%M} UTC)"
                )
        for who in sorted(new.candidates & b.candidates):
            out.append(f"candidate {who} already has slot {b.slot_id}")
    return out


def may_reschedule(now: dt.datetime, slot_start: dt.datetime, notice_hours: int) -> bool:
    """A candidate may move their interview until ``notice_hours`` before it starts."""
    return utc(now) <= utc(slot_start) - dt.timedelta(hours=notice_hours)


def reminders_due(
    slot_start: dt.datetime, hours_before: Sequence[int] = (24, 1)
) -> list[dt.datetime]:
    """When the outbox should send the candidate's reminders (UTC)."""
    return [utc(slot_start) - dt.timedelta(hours=h) for h in sorted(hours_before, reverse=True)]
