"""Sanitising Markdown stems before they are stored.

Stems in Markdown are rendered as HTML by the terminal, so anything that
could run or load code there is neutralised on import:

* raw HTML: every ``<`` and ``>`` is replaced by ``&lt;`` / ``&gt;``, so no tag
  (``<script>``, ``<img onerror=…>``, ``<iframe>``) survives rendering;
* link and image targets: only ``http:``, ``https:``, ``mailto:``, relative
  paths and ``data:image/{png,jpeg,gif,webp}`` are kept; any other scheme
  (``javascript:``, ``vbscript:``, ``data:text/html`` …) becomes ``#``;
* control characters other than tab and newline are dropped, and line ends
  are normalised to ``\\n``.

The function is idempotent (sanitising twice changes nothing), which the
import→export→import round trip relies on.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# ](target) or ](target "title") — the target is the first token; it may hold
# one level of balanced parentheses, as CommonMark allows (``alert(1)``).
_LINK_TARGET = re.compile(r"\]\(\s*((?:[^()\s]|\([^()\s]*\))*)")
_SAFE_TARGET = re.compile(
    r"^(?:https?:|mailto:|data:image/(?:png|jpeg|gif|webp)[;,]|[#/.?]|[^:]*$)",
    re.IGNORECASE,
)


def normalise_text(text: str) -> str:
    """Line ends → ``\\n``, control characters dropped, outer whitespace stripped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).strip()


def sanitise_markdown(text: str) -> str:
    """A Markdown stem with raw HTML escaped and unsafe link targets removed."""
    text = normalise_text(text).replace("<", "&lt;").replace(">", "&gt;")

    def _target(match: re.Match[str]) -> str:
        target = match.group(1)
        # Entity-encoded or whitespace-obfuscated schemes ("java&#115;cript:")
        # are judged on the decoded-ish form: any "&" or unusual character
        # before the first ":" makes the target unsafe.
        if _SAFE_TARGET.match(target) and "&" not in target.split(":", 1)[0]:
            return match.group(0)
        return match.group(0)[: match.start(1) - match.start(0)] + "#"

    return _LINK_TARGET.sub(_target, text)
