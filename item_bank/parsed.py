"""A parsed import file, before it is checked against the bank's subtests."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from item_bank.records import BankDocument, MediaFile, Problem, SubtestSpec
from item_bank.validation import FieldName, RawItem, identity, validate_items, validate_subtests


@dataclass
class ParsedFile:
    """What a parser read: declared subtests, raw items, and format-level problems.

    ``subtests`` and ``raw_items`` pair each entry with its position/row;
    ``field_name`` maps canonical field names to the file's own names.
    ``media``: images the file brought (QTI packages), by SHA-256. ``finish``,
    if set, completes the raw items once the subtests are known (a QTI item
    carries both a key and option points; its subtest's scoring picks one).
    """

    subtests: list[tuple[int, SubtestSpec]] = field(default_factory=list)
    raw_items: list[tuple[int, RawItem]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    field_name: FieldName = identity
    media: dict[str, MediaFile] = field(default_factory=dict)
    finish: Callable[[Mapping[str, SubtestSpec]], None] | None = None

    def to_document(
        self, existing: Mapping[str, SubtestSpec], bank_media: Collection[str] = ()
    ) -> tuple[BankDocument, dict[str, SubtestSpec], list[Problem]]:
        """Check everything against ``existing`` subtests (by code).

        ``bank_media``: SHA-256 digests of the images already in the bank
        (with the file's own, the ones HTML items may show). Returns the
        document (only meaningful when there are no problems), the merged
        subtests, and every problem of the file.
        """
        merged, sub_problems = validate_subtests(self.subtests, existing)
        if self.finish is not None:
            self.finish(merged)
        known_media = set(bank_media) | set(self.media)
        items, item_problems = validate_items(
            self.raw_items, merged, self.field_name, media=known_media
        )
        declared = tuple(merged[spec.code] for _, spec in self.subtests if spec.code in merged)
        problems = [*self.problems, *sub_problems, *item_problems]
        return BankDocument(subtests=declared, items=tuple(items)), merged, problems
