"""The detectors Seleksi ships with.

Each watches one attempt (see :mod:`exam_server.proctoring.base`); settings
are checked in the constructor. ``default_factories()`` gives the set the
server runs unless told otherwise.

Events read (kinds of ``exam_server.events.LiveEvent``): ``connect``,
``disconnect``, ``login``, ``second_login``, ``focus_lost``,
``fullscreen_exit``, ``navigate``, ``answer``, ``resume``, ``finish``.
In ``answer`` and ``navigate`` events the item is ``data["item"]`` (bank
index) or ``data["item_id"]`` (bank item id) and the chosen option ``data["option"]``
(−1 = cleared); the rapid-guessing detector keys items by
``data["number"]`` (position in the candidate's test) when present;
``data["elapsed"]`` (seconds on the item, as the terminal
measured it) is used by the rapid-guessing detector when present.
"""

from __future__ import annotations

import math
from collections import deque
from functools import partial
from typing import Any

import numpy as np

from cat_engine.bank import BankArrays, bank_extra
from cat_engine.irt import Model
from exam_server.proctoring.base import (
    Alert,
    AttemptContext,
    Detector,
    DetectorFactory,
    EventLike,
    Severity,
)
from exam_server.proctoring.personfit import lz_star_one


def _item_key(data: Any) -> object | None:
    """Any stable key of the item of an event: position, bank index or id."""
    for name in ("number", "item", "item_id"):
        value = data.get(name)
        if isinstance(value, int | str) and not isinstance(value, bool):
            return (name, value)
    return None


def _item_index(data: Any, bank: BankArrays | None = None) -> int | None:
    """The bank index of ``data["item"]`` (int index or string id), None if absent/unknown."""
    item = data.get("item", data.get("item_id")) if hasattr(data, "get") else None
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return item
    if isinstance(item, str) and bank is not None:
        try:
            return bank.index_of(item)
        except KeyError:
            return None
    return None


class FocusDetector(Detector):
    """The terminal page lost focus or left full screen (the page reports both).

    One alert per report, so the proctor sees each; from the
    ``critical_after``-th report on the alert is critical (a habit, not a
    slip of the hand).
    """

    name = "focus"

    def __init__(self, context: AttemptContext, *, critical_after: int = 3) -> None:
        if critical_after < 1:
            raise ValueError(f"FocusDetector.critical_after must be ≥ 1, got {critical_after}")
        self.critical_after = critical_after
        self.count = 0

    def observe(self, event: EventLike) -> list[Alert]:
        if event.kind not in ("focus_lost", "fullscreen_exit"):
            return []
        self.count += 1
        severity: Severity = "critical" if self.count >= self.critical_after else "warning"
        if event.kind == "focus_lost":
            msg_id, msg_en = "Terminal kehilangan fokus", "Terminal lost focus"
        else:
            msg_id, msg_en = "Terminal keluar dari layar penuh", "Terminal left full screen"
        return [
            Alert(
                self.name,
                event.kind,
                severity,
                f"{msg_id} ({self.count}×)",
                f"{msg_en} ({self.count}×)",
                event.at,
                {"count": self.count},
            )
        ]


class ConnectionDetector(Detector):
    """The terminal's connection dropped while the test was running."""

    name = "connection"

    def __init__(self, context: AttemptContext) -> None:
        self.finished = False
        self.drops = 0

    def observe(self, event: EventLike) -> list[Alert]:
        if event.kind in ("finish", "void"):
            self.finished = True
            return []
        if event.kind != "disconnect" or self.finished:
            return []
        self.drops += 1
        return [
            Alert(
                self.name,
                "connection_lost",
                "warning",
                f"Koneksi terminal terputus ({self.drops}×)",
                f"Terminal connection lost ({self.drops}×)",
                event.at,
                {"count": self.drops},
            )
        ]


class SecondLoginDetector(Detector):
    """Someone tried to log in to an attempt that is already in use.

    The server refuses the second terminal and reports ``second_login``; a
    ``login`` from a different terminal while one is connected is treated the
    same way (a stand-in candidate, or a shared PIN).
    """

    name = "second_login"

    def __init__(self, context: AttemptContext) -> None:
        self.connected_terminal: str | None = None

    def observe(self, event: EventLike) -> list[Alert]:
        raw = event.data.get("terminal_id", event.data.get("terminal"))
        terminal = str(raw) if raw is not None else None
        if event.kind == "connect":
            self.connected_terminal = terminal or "?"
            return []
        if event.kind in ("disconnect", "release"):
            self.connected_terminal = None
            return []
        second = event.kind == "second_login" or (
            event.kind == "login"
            and self.connected_terminal is not None
            and terminal is not None
            and terminal != self.connected_terminal
        )
        if not second:
            return []
        return [
            Alert(
                self.name,
                "second_login",
                "critical",
                "Percobaan login kedua untuk peserta ini",
                "Second login attempt for this candidate",
                event.at,
                {"terminal": terminal},
            )
        ]


class RapidGuessingDetector(Detector):
    """Answers given faster than anyone can read the item (rapid guessing).

    Only the first answer to each item counts (changing an answer on a
    revisit is legitimately quick). The response time is the terminal's
    ``elapsed`` when it reports one, else the time since the item was shown
    (its ``navigate`` event, or the previous activity). An alert is raised
    when at least ``min_rapid`` of the last ``window`` first answers took
    less than ``min_seconds``; after an alert the next one needs ``window``
    more answers, so a candidate who keeps guessing raises one alert per
    ``window`` answers, not one per answer.
    """

    name = "rapid_guessing"

    def __init__(
        self,
        context: AttemptContext,
        *,
        min_seconds: float = 4.0,
        window: int = 10,
        min_rapid: int = 5,
    ) -> None:
        if not min_seconds > 0:
            raise ValueError(f"RapidGuessingDetector.min_seconds must be > 0, got {min_seconds}")
        if window < 1:
            raise ValueError(f"RapidGuessingDetector.window must be ≥ 1, got {window}")
        if not 1 <= min_rapid <= window:
            raise ValueError(
                f"RapidGuessingDetector.min_rapid must be in 1..window ({window}), got {min_rapid}"
            )
        self.min_seconds = min_seconds
        self.window = window
        self.min_rapid = min_rapid
        self.bank = context.bank
        self.shown_at: dict[object, float] = {}
        self.answered: set[object] = set()
        self.last_activity: float | None = None
        self.recent: deque[float] = deque(maxlen=window)
        self.since_alert = window

    def observe(self, event: EventLike) -> list[Alert]:
        if event.kind in ("connect", "resume"):
            # Time while disconnected or paused is not reading time.
            self.last_activity = event.at
            self.shown_at.clear()
            return []
        item = _item_key(event.data)
        if event.kind == "navigate":
            self.last_activity = event.at
            if item is not None:
                self.shown_at[item] = event.at
            return []
        if event.kind != "answer" or item is None:
            return []
        option = event.data.get("option")
        first = item not in self.answered and isinstance(option, int) and option >= 0
        since = self.shown_at.pop(item, self.last_activity)
        self.last_activity = event.at
        if not first:
            return []
        self.answered.add(item)
        elapsed = event.data.get("elapsed")
        if isinstance(elapsed, int | float) and not isinstance(elapsed, bool) and elapsed > 0:
            seconds = float(elapsed)
        elif since is not None:
            seconds = event.at - since
        else:
            return []
        self.recent.append(seconds)
        self.since_alert += 1
        rapid = sum(1 for s in self.recent if s < self.min_seconds)
        if rapid < self.min_rapid or self.since_alert < self.window:
            return []
        times = sorted(self.recent)
        median = times[len(times) // 2]
        self.since_alert = 0
        return [
            Alert(
                self.name,
                "rapid_guessing",
                "warning",
                f"{rapid} jawaban terlalu cepat (< {self.min_seconds:g} detik)",
                f"{rapid} answers too fast (< {self.min_seconds:g} s)",
                event.at,
                {"rapid": rapid, "window": len(times), "median_seconds": round(median, 2)},
            )
        ]


def _fit_tables(bank: BankArrays) -> tuple[list[bool], list[int], list[list[int]]]:
    """Per item, as Python lists (built once per bank): whether lz* can use
    it (dichotomous, up to 4PL), its number of options, its options' IRT
    categories. Indexing a list is a tenth of the cost of a numpy scalar (and
    of comparing one with an enum), and this runs on every answer."""

    def build() -> tuple[list[bool], list[int], list[list[int]]]:
        usable = (bank.params.model <= int(Model.FOUR_PL)).tolist()
        return usable, bank.n_options.tolist(), bank.option_category.tolist()

    tables: tuple[list[bool], list[int], list[list[int]]] = bank_extra(
        bank, "person_fit_tables", build
    )
    return tables


class PersonFitDetector(Detector):
    """An aberrant answer pattern by Snijders' lz* on the dichotomous items.

    After each answer (from ``min_items`` dichotomous items on) lz* is
    computed from the bank's IRT parameters (see
    :mod:`exam_server.proctoring.personfit`); an alert is raised when it
    falls below ``threshold``, and again only after it has come back above
    it. The default −2.33 is the one-sided 1 % point of N(0, 1): the check
    runs after every answer, so a looser cut would flag honest candidates.
    Option-scored (polytomous, TKP) items are left out.
    """

    name = "person_fit"

    def __init__(
        self,
        context: AttemptContext,
        *,
        threshold: float = -2.33,
        min_items: int = 20,
        bank: BankArrays | None = None,
    ) -> None:
        if not math.isfinite(threshold) or threshold >= 0:
            raise ValueError(f"PersonFitDetector.threshold must be < 0, got {threshold}")
        if min_items < 2:
            raise ValueError(f"PersonFitDetector.min_items must be ≥ 2, got {min_items}")
        bank = bank if bank is not None else context.bank
        if bank is None:
            raise ValueError("PersonFitDetector needs the exam's bank (IRT parameters)")
        self.bank = bank
        self._usable, self._n_options, self._category = _fit_tables(bank)
        self.threshold = threshold
        self.min_items = min_items
        self.correct: dict[int, int] = {}
        self.armed = True
        self.last_lz: float | None = None
        self.theta = 0.0  # warm start of the next estimate
        # The answered dichotomous items as packed arrays kept up to date per
        # answer (row k of _x/_abcd is the item at _pos == k), so a check
        # costs one lz* evaluation and no gathering from the bank.
        self._pos: dict[int, int] = {}
        self._x = np.zeros(32)
        self._abcd = np.zeros((4, 32))

    def _put(self, item: int, right: int) -> None:
        k = self._pos.get(item)
        if k is None:
            k = len(self._pos)
            if k == self._x.shape[0]:  # grow by doubling
                self._x = np.concatenate([self._x, np.zeros(k)])
                self._abcd = np.concatenate([self._abcd, np.zeros((4, k))], axis=1)
            p = self.bank.params
            self._abcd[:, k] = (p.a[item], p.b[item], p.c[item], p.d[item])
            self._pos[item] = k
        self._x[k] = right

    def _drop(self, item: int) -> None:
        k = self._pos.pop(item, None)
        if k is None:
            return
        last = len(self._pos)  # move the last row into the hole
        if k != last:
            moved = next(i for i, j in self._pos.items() if j == last)
            self._pos[moved] = k
            self._x[k] = self._x[last]
            self._abcd[:, k] = self._abcd[:, last]

    def observe(self, event: EventLike) -> list[Alert]:
        if event.kind != "answer":
            return []
        item = _item_index(event.data, self.bank)
        option = event.data.get("option")
        if item is None or not 0 <= item < len(self._usable) or not isinstance(option, int):
            return []
        if not self._usable[item]:
            return []
        if option < 0:
            self.correct.pop(item, None)
            self._drop(item)
            return []
        if option >= self._n_options[item]:
            return []
        self.correct[item] = 1 if self._category[item][option] >= 1 else 0
        self._put(item, self.correct[item])
        n = len(self._pos)
        if n < self.min_items:
            return []
        a, b, c, d = self._abcd[:, :n]
        value, theta = lz_star_one(self._x[:n], a, b, c, d, theta0=self.theta)
        self.theta = theta
        self.last_lz = value
        if not math.isfinite(value):
            return []
        if value >= self.threshold:
            self.armed = True
            return []
        if not self.armed:
            return []
        self.armed = False
        return [
            Alert(
                self.name,
                "aberrant_pattern",
                "warning",
                f"Pola jawaban tidak wajar (lz* = {value:.2f})",
                f"Aberrant answer pattern (lz* = {value:.2f})",
                event.at,
                {"lz_star": round(value, 3), "theta": round(theta, 3), "n": n},
            )
        ]


def _person_fit_factory(context: AttemptContext, **settings: Any) -> Detector | None:
    if context.bank is None:
        return None
    return PersonFitDetector(context, **settings)


def default_factories() -> list[DetectorFactory]:
    """The detectors the server runs on every attempt, with default settings."""
    return [
        FocusDetector,
        ConnectionDetector,
        SecondLoginDetector,
        partial(RapidGuessingDetector),
        partial(_person_fit_factory),
    ]
