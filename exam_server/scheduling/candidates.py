"""Formations and the candidates scheduled into them: formations imported
from rows, candidates from a CSV (each in a formation and a session), all rows
or none."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from exam_server import audit
from exam_server.db import writer
from exam_server.exams import exam_policy
from exam_server.models import Candidate, Exam, ExamSession, Formation
from exam_server.scheduling.common import CODE_RE, SetupError, _one

REG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,39}$")
CSV_COLUMNS = ("registration_number", "name", "category", "formation_code", "session_code")
CSV_OPTIONAL = ("birth_date",)


def create_formations(engine: Engine, rows: list[dict[str, Any]], actor: str = "cli") -> int:
    """Create formations from rows (code, agency, position, location,
    openings), all or none, in a transaction of their own:
    :func:`add_formations`."""
    with Session(writer(engine)) as s:
        n = add_formations(s, rows, actor)
        s.commit()
        return n


def add_formations(s: Session, rows: list[dict[str, Any]], actor: str) -> int:
    """Add formations from rows in the caller's transaction (a need's approval
    makes its formations in the decision's own: a refused decision leaves
    none behind); :class:`SetupError` naming the row and field of every bad
    one, nothing added. Audited as ``create_formations`` with every row as
    stored (``exam_server.audit.formation_records`` compares them: the
    openings decide how many pass)."""
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    out = []
    for i, r in enumerate(rows, start=1):
        code = r.get("code")
        if not isinstance(code, str) or not CODE_RE.match(code):
            errors.append({"row": i, "field": "code", "message": "invalid code"})
            continue
        if code in seen or _one(s, Formation, code=code) is not None:
            errors.append({"row": i, "field": "code", "message": f"formation {code} exists"})
        seen.add(code)
        openings = r.get("openings", 1)
        if isinstance(openings, bool) or not isinstance(openings, int) or openings < 1:
            errors.append({"row": i, "field": "openings", "message": "must be a positive integer"})
            continue
        out.append(
            Formation(
                code=code,
                agency=str(r.get("agency", ""))[:200],
                position=str(r.get("position", ""))[:200],
                location=str(r.get("location", ""))[:200],
                openings=openings,
            )
        )
    if errors:
        raise SetupError("formations not imported", errors)
    s.add_all(out)
    s.flush()
    audit.append(
        s.connection(),
        "create_formations",
        actor,
        data={"formations": [formation_record(f) for f in out]},
    )
    return len(out)


def formation_record(f: Formation) -> dict[str, Any]:
    """What the audit log keeps of a formation (everything the ranking reads)."""
    return {
        "id": f.id,
        "code": f.code,
        "agency": f.agency,
        "position": f.position,
        "location": f.location,
        "openings": f.openings,
    }


def import_candidates_csv(engine: Engine, text: str) -> int:
    """Import candidates from CSV (header: registration_number, name, category,
    formation_code, session_code[, birth_date]). Rows are numbered as in a
    spreadsheet (the header is row 1). All rows or none are stored. A
    category must be one of the ranking policy of the exam the candidate's
    session sits (``Exam.policy_json``)."""
    # A bare CR (old Mac line ends, or pasted text) is a line break, as a
    # spreadsheet would read it; the csv module refuses it otherwise.
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _import_candidate_rows(engine, reader)
    except csv.Error as exc:
        raise SetupError(
            "the CSV cannot be read", [{"row": reader.line_num, "field": "-", "message": str(exc)}]
        ) from None


def _import_candidate_rows(engine: Engine, reader: csv.DictReader[str]) -> int:
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise SetupError(
            "the CSV header is missing columns",
            [{"row": 1, "field": c, "message": "missing column"} for c in missing],
        )
    unknown = [h for h in header if h not in CSV_COLUMNS + CSV_OPTIONAL]
    if unknown:
        raise SetupError(
            "the CSV header has unknown columns",
            [{"row": 1, "field": c, "message": "unknown column"} for c in unknown],
        )
    errors: list[dict[str, Any]] = []
    with Session(writer(engine)) as s:
        formations = {f.code: f.id for f in s.execute(select(Formation)).scalars()}
        sessions = {x.code: x.id for x in s.execute(select(ExamSession)).scalars()}
        # The categories each session's exam defines (its ranking policy).
        categories = {
            code: set(exam_policy(exam).categories)
            for code, exam in s.execute(
                select(col(ExamSession.code), Exam).join(
                    Exam, col(Exam.id) == col(ExamSession.exam_id)
                )
            ).all()
        }
        existing = set(s.execute(select(Candidate.registration_number)).scalars())  # type: ignore[call-overload]
        seen: set[str] = set()
        out: list[Candidate] = []
        for i, raw in enumerate(reader, start=2):
            r = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            if None in raw:
                errors.append({"row": i, "field": "-", "message": "more cells than columns"})
                continue
            row_errors = []
            reg = r.get("registration_number", "")
            if not REG_RE.match(reg):
                row_errors.append(("registration_number", "3–40 letters, digits, '.', '_' or '-'"))
            elif reg in seen:
                row_errors.append(("registration_number", f"{reg} appears twice in the file"))
            elif reg in existing:
                row_errors.append(("registration_number", f"{reg} is already registered"))
            seen.add(reg)
            if not r.get("name") or len(r["name"]) > 200:
                row_errors.append(("name", "required, at most 200 characters"))
            cat = r.get("category", "")
            fcode = r.get("formation_code", "")
            if fcode not in formations:
                row_errors.append(("formation_code", f"no formation {fcode!r}"))
            scode = r.get("session_code", "")
            if scode not in sessions:
                row_errors.append(("session_code", f"no session {scode!r}"))
            allowed = categories.get(scode)
            if not cat or (allowed is not None and cat not in allowed):
                names = ", ".join(sorted(allowed)) if allowed else "a category"
                row_errors.append(("category", f"must be one of: {names}"))
            bd = r.get("birth_date") or None
            if bd is not None and not re.match(r"^\d{4}-\d{2}-\d{2}$", bd):
                row_errors.append(("birth_date", "use YYYY-MM-DD"))
            if row_errors:
                errors.extend({"row": i, "field": f, "message": m} for f, m in row_errors)
                continue
            out.append(
                Candidate(
                    registration_number=reg,
                    name=r["name"],
                    category=cat,
                    formation_id=formations[fcode],
                    session_id=sessions[scode],
                    birth_date=bd,
                )
            )
        if errors:
            raise SetupError(
                f"{len({e['row'] for e in errors})} rows have errors; nothing imported", errors
            )
        if not out:
            raise SetupError(
                "the CSV has no rows", [{"row": 2, "field": "-", "message": "no data"}]
            )
        s.add_all(out)
        s.flush()
        audit.append(s.connection(), "import_candidates", "admin", data={"count": len(out)})
        s.commit()
        return len(out)
