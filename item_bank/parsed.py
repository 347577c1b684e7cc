"""A parsed import file, before it is checked against the bank's subtests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from item_bank.records import BankDocument, Problem, SubtestSpec
from item_bank.validation import FieldName, RawItem, identity, validate_items, validate_subtests


@dataclass
class ParsedFile:
    """What a parser read: declared subtests, raw items, and format-level problems.

    ``subtests`` and ``raw_items`` pair each entry with its position/row;
    ``field_name`` maps canonical field names to the file's own names.
    """

    subtests: list[tuple[int, SubtestSpec]] = field(default_factory=list)
    raw_items: list[tuple[int, RawItem]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    field_name: FieldName = identity

    def to_document(
        self, existing: Mapping[str, SubtestSpec]
    ) -> tuple[BankDocument, dict[str, SubtestSpec], list[Problem]]:
        """Check everything against ``existing`` subtests (by code).

        Returns the document (only meaningful when there are no problems),
        the merged subtests, and every problem of the file.
        """
        merged, sub_problems = validate_subtests(self.subtests, existing)
        items, item_problems = validate_items(self.raw_items, merged, self.field_name)
        declared = tuple(merged[spec.code] for _, spec in self.subtests if spec.code in merged)
        problems = [*self.problems, *sub_problems, *item_problems]
        return BankDocument(subtests=declared, items=tuple(items)), merged, problems
