"""The input document of a ranking: an exam's formations and candidates' outcomes as JSON.

``seleksi results export`` writes it from the database; ``seleksi results
publish --input`` reads it, so a ranking can be recomputed and audited
without the server. Errors name the candidate (by position and registration
number) and the field.

.. code-block:: json

    {"schema": "seleksi/results-input/1",
     "exam": {"id": "SKD-2024-DEMO", "title": "…", "published_at": "2024-12-01"},
     "formations": [{"id": "F-001", "openings": 2, "name": "…", "group": null}],
     "candidates": [{"registration_number": "2024000001", "formation": "F-001",
                     "category": "general", "status": "finished",
                     "scores": {"TWK": 85, "TIU": 100, "TKP": 180},
                     "responses": [{"seq": 1, "item": "TWK-0001", "option": 2}],
                     "name": "…", "gpa": 3.51, "birth_date": "1999-04-30"}]}

``responses`` (hashed here with :func:`responses_digest`) or
``responses_hash`` may be given; ``name``, ``gpa``, ``birth_date`` and
``status_note`` are optional.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from exam_server.results.outcomes import CandidateOutcome, Formation, responses_digest
from exam_server.results.rules import json_number, parse_date

INPUT_SCHEMA = "seleksi/results-input/1"
_CANDIDATE_FIELDS = {
    "registration_number",
    "formation",
    "category",
    "status",
    "scores",
    "responses",
    "responses_hash",
    "name",
    "gpa",
    "birth_date",
    "status_note",
}


class InputError(ValueError):
    """The input document is invalid; the message names the record and field."""


def load_input(text: str) -> tuple[dict[str, Any], list[Formation], list[CandidateOutcome]]:
    """``(exam, formations, outcomes)``; ``exam`` has ``id``, ``title``, maybe ``published_at``."""
    try:
        doc = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise InputError(f"input: not valid JSON ({exc})") from None
    except ValueError:  # Python's limit on integer digits (4,300): no score is that long
        raise InputError("input: not usable JSON (a number with thousands of digits)") from None
    except RecursionError:
        raise InputError("input: not usable JSON (arrays or objects nested too deeply)") from None
    if not isinstance(doc, dict) or doc.get("schema") != INPUT_SCHEMA:
        raise InputError(f"input.schema: expected {INPUT_SCHEMA!r}")
    exam = doc.get("exam")
    if not isinstance(exam, dict) or not isinstance(exam.get("id"), str) or not exam["id"]:
        raise InputError("input.exam.id: required (a non-empty string)")
    if not isinstance(exam.get("title", ""), str):
        raise InputError("input.exam.title: must be a string")
    formations: list[Formation] = []
    for i, f in enumerate(_list(doc, "formations")):
        where = f"input.formations[{i}]"
        if not isinstance(f, dict):
            raise InputError(f"{where}: must be an object")
        try:
            formations.append(
                Formation(
                    id=f.get("id", ""),
                    openings=f.get("openings"),  # type: ignore[arg-type]  # validated there
                    name=str(f.get("name", "")),
                    group=f.get("group"),
                )
            )
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
    outcomes: list[CandidateOutcome] = []
    for i, c in enumerate(_list(doc, "candidates")):
        where = f"input.candidates[{i}]"
        if not isinstance(c, dict):
            raise InputError(f"{where}: must be an object")
        regno = c.get("registration_number")
        if isinstance(regno, str):
            where += f" ({regno})"
        unknown = sorted(set(c) - _CANDIDATE_FIELDS)
        if unknown:
            raise InputError(f"{where}: unknown field(s) {', '.join(unknown)}")
        scores = c.get("scores") or {}
        if not isinstance(scores, dict):
            raise InputError(f"{where}.scores: must be an object of subtest → points")
        responses_hash = c.get("responses_hash", "")
        if "responses" in c:
            if not isinstance(c["responses"], list) or not all(
                isinstance(r, dict) for r in c["responses"]
            ):
                raise InputError(f"{where}.responses: must be a list of objects")
            responses_hash = responses_digest(_plain(c["responses"]))
        try:
            outcomes.append(
                CandidateOutcome(
                    registration_number=regno,  # type: ignore[arg-type]  # validated there
                    formation=str(c.get("formation", "")),
                    category=str(c.get("category", "")),
                    status=str(c.get("status", "")),
                    scores=scores,
                    responses_hash=responses_hash,
                    name=str(c.get("name", "")),
                    gpa=c.get("gpa"),
                    birth_date=parse_date(c.get("birth_date"), f"{where}.birth_date"),
                    status_note=str(c.get("status_note", "")),
                )
            )
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
    return exam, formations, outcomes


def _list(doc: dict[str, Any], key: str) -> list[Any]:
    v = doc.get(key)
    if not isinstance(v, list):
        raise InputError(f"input.{key}: required (a list)")
    return v


def _plain(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return json_number(obj)
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def dump_input(
    exam: dict[str, Any], formations: Sequence[Formation], outcomes: Sequence[CandidateOutcome]
) -> str:
    """The input document (canonical JSON) for these records; responses as their hash."""

    def num(v: Any) -> Any:
        return (
            None
            if v is None
            else json_number(Decimal(repr(v)) if isinstance(v, float) else Decimal(v))
        )

    doc = {
        "schema": INPUT_SCHEMA,
        "exam": exam,
        "formations": [
            {"id": f.id, "openings": f.openings, "name": f.name, "group": f.group}
            for f in sorted(formations, key=lambda f: f.id)
        ],
        "candidates": [
            {
                "registration_number": c.registration_number,
                "formation": c.formation,
                "category": c.category,
                "status": c.status,
                "scores": {k: num(v) for k, v in c.scores.items()},
                "responses_hash": c.responses_hash,
                "name": c.name,
                "gpa": num(c.gpa),
                "birth_date": None if c.birth_date is None else c.birth_date.isoformat(),
                "status_note": c.status_note,
            }
            for c in sorted(outcomes, key=lambda c: c.registration_number)
        ],
    }
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
