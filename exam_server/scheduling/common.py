"""What every setup module shares: :class:`SetupError`, the pattern of a code
(sites, rooms, exams, sessions, formations, usernames) and the one-row lookup."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")


@dataclass
class SetupError(Exception):
    """Bad setup input: ``errors`` = [{"row": n, "field": name, "message": text}]."""

    message: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    status: int = 422

    def __str__(self) -> str:
        lines = [self.message] + [
            f"  row {e.get('row', '-')}, {e.get('field', '-')}: {e['message']}" for e in self.errors
        ]
        return "\n".join(lines)


def _code(value: str, what: str) -> str:
    if not isinstance(value, str) or not CODE_RE.match(value):
        raise SetupError(
            f"{what}: invalid code {value!r}", [{"field": what, "message": "invalid code"}]
        )
    return value


def _one(s: Session, model: Any, **where: Any) -> Any:
    stmt = select(model)
    for k, v in where.items():
        stmt = stmt.where(getattr(model, k) == v)
    return s.execute(stmt).scalars().first()
