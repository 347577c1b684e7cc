"""A malformed ranking input document (``seleksi results … --input``) is refused
with an :class:`~exam_server.results.inputs.InputError` naming the record and
field, never another exception (which the command showed as a traceback)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exam_server.results.inputs import INPUT_SCHEMA, InputError, load_input
from seleksi.cli import main

SETTINGS = settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
_keys = st.sampled_from(
    ["registration_number", "formation", "category", "status", "scores", "responses",
     "responses_hash", "name", "gpa", "birth_date", "status_note", "id", "openings", "group",
     "TWK", "TIU", "TKP", "seq", "item", "option", "x"]
)  # fmt: skip
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=5)
    | st.sampled_from(["finished", "absent", "F-001", "TWK", "2024000001", "1999-04-30", "9" * 30]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=5),
    max_leaves=15,
)
formations = values | st.fixed_dictionaries(
    {"id": st.sampled_from(["F-001", ""]), "openings": values, "name": values, "group": values}
)
candidates = values | st.fixed_dictionaries(
    {"registration_number": values, "formation": st.just("F-001"), "category": values,
     "status": values, "scores": values, "gpa": values, "birth_date": values},
    optional={"responses": values, "responses_hash": values, "name": values,
              "status_note": values},
)  # fmt: skip


def _accepted_or_named(text: str) -> None:
    try:
        load_input(text)
    except InputError as exc:
        assert str(exc).startswith("input"), str(exc)  # input.candidates[2] (…).gpa: …


@SETTINGS
@given(
    exam=values | st.fixed_dictionaries({"id": values}, optional={"title": values}),
    formations=st.lists(formations, max_size=2),
    candidates=st.lists(candidates, max_size=3),
)
def test_malformed_documents_are_input_errors(exam: Any, formations: Any, candidates: Any) -> None:
    doc = {"schema": INPUT_SCHEMA, "exam": exam, "formations": formations}
    doc["candidates"] = candidates
    _accepted_or_named(json.dumps(doc))  # NaN and Infinity included


@SETTINGS
@given(
    text=st.text(max_size=200)
    | st.builds(lambda n, s: s * n, st.integers(1, 5000), st.sampled_from(["[", '{"a":', "9"]))
)
def test_any_text_is_accepted_or_an_input_error(text: str) -> None:
    _accepted_or_named(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000, "nested too deeply"),
        ('{"schema": ' + "9" * 5000 + "}", "a number with thousands of digits"),
    ],
)
def test_cli_names_what_the_crashes_were(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    """Each of these ended ``seleksi results export --input`` in a traceback."""
    path = tmp_path / "input.json"
    path.write_text(text)
    assert main(["results", "export", "--input", str(path), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{path}: input: not usable JSON" in err and message in err
