"""An exam's operating options: the document beside its test design and its
ranking policy (``Exam.options_json``).

The design (``cat_engine.design``) says what is asked and how it is scored;
the ranking policy (``exam_server.results.rules``) says who passes and how
candidates are ranked; these options say how the exam is run and shown
(today: the public live board's cadence). Validated with pydantic, with
safe defaults; stored with the exam and immutable once a session has opened.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

SCHEMA = "seleksi/exam-options/1"


class BoardOptions(BaseModel):
    """What the public live board shows while candidates work.

    A running score that moves with every answer tells anyone watching which
    option of an item scores (a candidate cycling through the options of one
    item reveals its key). The board therefore shows a candidate's running
    points per subtest only in batches: each release of a subtest adds at
    least ``batch_answers`` of its items never shown before, each frozen at
    its answer then (a later change shows only in the final score); releases
    are at least ``min_interval_seconds`` apart, and the final score appears
    at finish (:mod:`exam_server.live.release`). A
    subtest with fewer items than ``batch_answers`` shows no running figure.
    Settings below the defaults' order of magnitude (``batch_answers`` < 3 or
    ``min_interval_seconds`` < 60) can reveal single answers: :meth:`warnings`
    says so.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    show_running: bool = Field(
        default=True, description="show running points at all (False: final scores only)"
    )
    batch_answers: int = Field(
        default=5,
        ge=1,
        le=200,
        description="a subtest's running figure is a sum over at least this many answered "
        "items and differs in at least this many items from each earlier one",
    )
    min_interval_seconds: float = Field(
        default=180.0, ge=0, le=7200, description="seconds between two releases"
    )

    def warnings(self) -> list[str]:
        """Why these settings may reveal single answers (empty: they do not)."""
        out: list[str] = []
        if self.show_running and self.batch_answers < 3:
            out.append(
                f"board.batch_answers={self.batch_answers}: a release after fewer than "
                "3 answers can be attributed to a single answer (it reveals item keys)"
            )
        if self.show_running and self.min_interval_seconds < 60:
            out.append(
                f"board.min_interval_seconds={self.min_interval_seconds:g}: releases less "
                "than a minute apart let a watcher follow single answers"
            )
        return out


class ExamOptions(BaseModel):
    """The operating options of one exam (``Exam.options_json``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: str = Field(default=SCHEMA, alias="schema")
    board: BoardOptions = Field(default_factory=BoardOptions)

    def warnings(self) -> list[str]:
        return self.board.warnings()

    @classmethod
    def from_json(cls, text: str | None) -> ExamOptions:
        """The options stored with an exam (None or empty: the defaults)."""
        if not text:
            return cls()
        return cls.model_validate_json(text)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)
