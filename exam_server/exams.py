"""An exam as the running server holds it: its documents (test design,
ranking policy, options), bank arrays and public items.

Loaded once per process from the ``Exam`` row (the frozen snapshot) and
shared by every attempt of that exam. Every verdict the server gives about
a candidate of this exam comes from :attr:`ExamData.policy`
(``exam_server.results.rules``), the same document ``seleksi results
publish`` ranks with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cat_engine.bank import BankArrays
from cat_engine.design import TestDesign
from exam_server.exam_options import ExamOptions
from exam_server.models import Exam
from exam_server.results.rules import RankingPolicy
from exam_server.snapshot import PublicItemContent, bank_from_json, items_from_json


@dataclass(frozen=True)
class ExamData:
    exam_id: int
    code: str
    name: str
    design: TestDesign
    bank: BankArrays
    items: tuple[PublicItemContent, ...]  # aligned with bank indices
    policy: RankingPolicy
    options: ExamOptions

    @property
    def mode(self) -> str:
        return str(self.design.mode)

    @property
    def time_limit_seconds(self) -> float:
        """The whole test's limit (seconds); exams without one are refused at creation."""
        return float(self.design.time_limit_seconds or 0.0)

    @property
    def n_items(self) -> int:
        return int(sum(s.n_items for s in self.design.sections))

    def sections(self) -> list[dict[str, object]]:
        return [{"code": s.code, "n_items": int(s.n_items)} for s in self.design.sections]

    @classmethod
    def from_row(cls, row: Exam) -> ExamData:
        assert row.id is not None
        bank = bank_from_json(row.bank_json)
        items = tuple(items_from_json(row.items_json))
        if len(items) != bank.n_items:
            raise ValueError(f"exam {row.code}: {len(items)} item texts for {bank.n_items} items")
        return cls(
            exam_id=row.id,
            code=row.code,
            name=row.name,
            design=TestDesign.from_dict(json.loads(row.design_json)),
            bank=bank,
            items=items,
            policy=exam_policy(row),
            options=ExamOptions.from_json(row.options_json),
        )


def exam_policy(row: Exam) -> RankingPolicy:
    """The ranking policy an exam runs under: its stored document, or for an
    exam made before exams stored one, the 2024 rules it ran under then."""
    return RankingPolicy.of_exam(row.policy_json)
