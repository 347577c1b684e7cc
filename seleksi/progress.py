"""Progress of long work on standard error, the same way in every command.

On a terminal, a tqdm bar (a maintained library: rate, elapsed and remaining
time, redrawn in place). When standard error is not a terminal (a log file,
CI), plain lines instead, one every tenth of the way and at least every
``every_seconds``, so a log reads "simulate: 250/1000 simulees (25%), 31 s".
``--quiet`` (``quiet=True``) shows nothing. Lines about the work
(:meth:`Progress.note`) go above the bar.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, TextIO


class Progress:
    """A count towards ``total`` (None: unknown) of ``unit``, labelled ``desc``."""

    def __init__(
        self,
        desc: str,
        total: int | None,
        unit: str,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        every_seconds: float = 30.0,
    ) -> None:
        self.desc, self.total, self.unit = desc, total, unit
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.every_seconds = every_seconds
        self.n = 0
        self.postfix = ""
        self._started = time.monotonic()
        self._last_line = self._started
        self._last_tenth = 0
        self._bar: Any = None
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        if not quiet and self.tty:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, desc=desc, unit=f" {unit}", file=self.stream, dynamic_ncols=True
            )

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(done=exc_type is None)

    def update(self, n: int = 1, postfix: str | None = None) -> None:
        """Add ``n`` to the count (and replace the text after it)."""
        self.set(self.n + n, postfix)

    def set(self, n: int, postfix: str | None = None) -> None:
        """Set the count to ``n``."""
        step, self.n = n - self.n, n
        if postfix is not None:
            self.postfix = postfix
        if self.quiet:
            return
        if self._bar is not None:
            if postfix is not None:
                self._bar.set_postfix_str(postfix, refresh=False)
            self._bar.update(step)
            return
        now = time.monotonic()
        tenth = int(10 * n / self.total) if self.total else 0
        if tenth > self._last_tenth or now - self._last_line >= self.every_seconds:
            self._last_tenth, self._last_line = tenth, now
            self._line()

    def note(self, text: str) -> None:
        """A line about the work (printed above a bar), unless quiet."""
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def _line(self) -> None:
        of = f"/{self.total}" if self.total else ""
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        secs = time.monotonic() - self._started
        extra = f", {self.postfix}" if self.postfix else ""
        print(
            f"{self.desc}: {self.n}{of} {self.unit}{pct}, {secs:.0f} s{extra}",
            file=self.stream,
            flush=True,
        )

    def close(self, *, done: bool = True) -> None:
        """End the bar (or print the last plain line, when the work finished)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif done and not self.quiet and self.n and self._last_tenth < 10:
            self._last_tenth = 10
            self._line()
