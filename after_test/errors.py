"""The one error every after-the-test rule raises: what was refused and why,
in Bahasa Indonesia and English, naming the field."""

from __future__ import annotations


class Refused(ValueError):
    """Bad input or a forbidden step; ``field`` names what is wrong. Nothing is stored."""

    def __init__(self, field: str, message_id: str, message_en: str) -> None:
        super().__init__(message_en)
        self.field = field
        self.message_id = message_id
        self.message_en = message_en
