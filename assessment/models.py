"""The tables of the SKB assessment (issue 19); revision ``0009_assessment`` in
``exam_server/migrations/versions`` makes them.

Table names start with ``skb_``. Times are epoch seconds (UTC floats), JSON
documents and decimal scores text (scores keep their exact decimals, e.g.
``"57.500"``, as the publication prints them). Candidates, formations and
assessors are the exam server's rows (``exam_candidate``, ``exam_formation``,
``exam_staff`` with role ``assessor``).
"""

from __future__ import annotations

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class SkbPlanRow(SQLModel, table=True):
    """A formation's SKB plan (``assessment.components.SkbPlan`` as JSON), checked
    against the caps of ``caps_version`` when stored."""

    __tablename__ = "skb_plan"
    id: int | None = Field(default=None, primary_key=True)
    formation_id: int = Field(foreign_key="exam_formation.id", unique=True)
    plan_json: str = Field(sa_column=Column(Text, nullable=False))
    caps_version: str = Field(max_length=40)


class SkbPanel(SQLModel, table=True):
    """Assessors who score one component of one formation's SKB together."""

    __tablename__ = "skb_panel"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=40)
    formation_id: int = Field(foreign_key="exam_formation.id", index=True)
    component: str = Field(max_length=40)


class SkbPanelMember(SQLModel, table=True):
    """An assessor on a panel; the chair adjudicates and sees agreement and severity."""

    __tablename__ = "skb_panel_member"
    __table_args__ = (UniqueConstraint("panel_id", "staff_id"),)
    id: int | None = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="skb_panel.id", index=True)
    staff_id: int = Field(foreign_key="exam_staff.id", index=True)
    chair: bool = False


class SkbSlot(SQLModel, table=True):
    """An interview slot of a panel, ``[starts_at, ends_at)``; at most one candidate.

    meeting_url: the video meeting (Seleksi hosts no video); zone: the zone the
    candidate reads times in (WIB, WITA, WIT)."""

    __tablename__ = "skb_slot"
    id: int | None = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="skb_panel.id", index=True)
    starts_at: float
    ends_at: float
    meeting_url: str = Field(default="", max_length=500)
    candidate_id: int | None = Field(default=None, foreign_key="exam_candidate.id", index=True)
    zone: str = Field(default="WIB", max_length=8)
    # When the reminder went to the outbox (None: not yet); a move clears it.
    reminded_at: float | None = None


class SkbDeclaration(SQLModel, table=True):
    """An assessor's conflict-of-interest declaration about one candidate on a panel;
    ``conflict`` recuses them from scoring that candidate."""

    __tablename__ = "skb_declaration"
    __table_args__ = (UniqueConstraint("panel_id", "staff_id", "candidate_id"),)
    id: int | None = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="skb_panel.id", index=True)
    staff_id: int = Field(foreign_key="exam_staff.id")
    candidate_id: int = Field(foreign_key="exam_candidate.id")
    conflict: bool
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    at: float


class SkbSheet(SQLModel, table=True):
    """One assessor's rubric sheet for one candidate on a panel's component.

    points_json: ``{criterion: level points}``; score: the component score 0–100."""

    __tablename__ = "skb_sheet"
    __table_args__ = (UniqueConstraint("panel_id", "staff_id", "candidate_id"),)
    id: int | None = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="skb_panel.id", index=True)
    staff_id: int = Field(foreign_key="exam_staff.id")
    candidate_id: int = Field(foreign_key="exam_candidate.id", index=True)
    points_json: str = Field(sa_column=Column(Text, nullable=False))
    score: str = Field(max_length=16)
    submitted_at: float


class SkbComponentScore(SQLModel, table=True):
    """A candidate's final score on one component (0–100).

    source: ``panel`` (finalised from the sheets), ``adjudicated`` (by the
    chair) or ``cat`` (the field test's score from the exam server)."""

    __tablename__ = "skb_component_score"
    __table_args__ = (UniqueConstraint("candidate_id", "component"),)
    id: int | None = Field(default=None, primary_key=True)
    candidate_id: int = Field(foreign_key="exam_candidate.id", index=True)
    component: str = Field(max_length=40)
    score: str = Field(max_length=16)
    source: str = Field(max_length=16)
    by: str = Field(default="", max_length=120)
    at: float
