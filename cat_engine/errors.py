"""Errors the engine raises for requests a test state cannot accept."""

from __future__ import annotations


class EngineError(Exception):
    """A request the test state refuses, with a stable machine-readable ``code``.

    Codes: ``not_presented`` (item not on this candidate's test),
    ``already_answered`` (adaptive items are answered once), ``not_current``
    (adaptive: only the current item may be answered), ``complete`` (the test
    is over), ``navigation_not_allowed`` (adaptive tests do not navigate),
    ``invalid_option`` (option index outside the item's options),
    ``bank_mismatch`` (the bank no longer holds the state's items),
    ``design_bank_mismatch`` (the design asks for what the bank lacks),
    ``assembly_infeasible`` (no form meets the blueprint and tolerances).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
