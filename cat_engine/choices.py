"""The record of an adaptive step's choices, to replay the step exactly.

:func:`cat_engine.engine.record` writes to or reads from a :class:`Choices`;
the server stores ``Choices.made`` with the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cat_engine.errors import EngineError


@dataclass
class Choices:
    """The scored items an adaptive :func:`record` chose, to replay the step exactly.

    The live choice depends on the exposure usage of that moment (other
    candidates' tests), which a later replay cannot know. Pass an empty
    ``Choices()`` to :func:`~cat_engine.engine.record` to have each choice of
    the step written to ``made``, as ``(bank index or −1 when the section's
    pool was exhausted, bank indices the exposure lottery refused)`` in the
    order they were made; pass ``Choices(made, replay=True)`` to take those
    choices instead of choosing again (pretest items, estimates and stopping
    rules are computed as always). Linear tests choose nothing here.
    """

    made: list[tuple[int, list[int]]] = field(default_factory=list)
    replay: bool = False
    _next: int = 0

    def take(self) -> tuple[int, list[int]]:
        """The next recorded choice (replay). Raises ``EngineError('replay_mismatch')``."""
        if self._next >= len(self.made):
            raise EngineError("replay_mismatch", "the step chose more items than were recorded")
        out = self.made[self._next]
        self._next += 1
        return out

    def finished(self) -> None:
        """Raise ``EngineError('replay_mismatch')`` unless every recorded choice was taken."""
        if self.replay and self._next != len(self.made):
            raise EngineError("replay_mismatch", "the step chose fewer items than were recorded")
