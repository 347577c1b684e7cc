"""Property test: the candidate CSV import stores all rows or none, and every
refusal names a row and a field."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exam_server.db import make_engine
from exam_server.scheduling import CSV_COLUMNS, CSV_OPTIONAL, SetupError, import_candidates_csv
from tests.conftest import seed_small

# The categories of the 2024 policy, which seed_small's exam stores.
CATEGORIES = {"general", "cumlaude", "diaspora", "disability", "papua"}

cell = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["general", "papua", "F-GURU-MAT", "SESI-1", "NOPE", "", "1999-02-30x"]),
)
row = st.fixed_dictionaries(
    {
        "reg_ok": st.booleans(),
        "name": st.one_of(st.just("Nama Peserta"), cell),
        "category": st.one_of(st.sampled_from(sorted(CATEGORIES)), cell),
        "formation_code": st.one_of(st.just("F-GURU-MAT"), cell),
        "session_code": st.one_of(st.just("SESI-1"), cell),
        "birth_date": st.one_of(st.just("1995-04-01"), st.just(""), cell),
    }
)


def test_import_is_all_or_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'imp.db'}"
    seed_small(url, n_candidates=1)
    engine = make_engine(url)
    counter = itertools.count()

    def count() -> int:
        with engine.connect() as c:
            return int(c.exec_driver_sql("SELECT count(*) FROM exam_candidate").scalar() or 0)

    @given(st.lists(row, min_size=1, max_size=8), st.booleans())
    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def check(rows: list[dict[str, object]], with_birth: bool) -> None:
        batch = next(counter)
        out = io.StringIO()
        cols = list(CSV_COLUMNS) + (list(CSV_OPTIONAL) if with_birth else [])
        w = csv.writer(out)
        w.writerow(cols)
        for i, r in enumerate(rows):
            reg = f"P{batch:04d}{i:02d}" if r["reg_ok"] else str(r["name"])[:3]
            values = [reg, r["name"], r["category"], r["formation_code"], r["session_code"]]
            if with_birth:
                values.append(r["birth_date"])
            w.writerow(values)
        before = count()
        try:
            n = import_candidates_csv(engine, out.getvalue())
        except SetupError as exc:
            assert count() == before  # nothing half-imported
            assert exc.errors
            for e in exc.errors:
                assert isinstance(e["row"], int) and 1 <= e["row"] <= len(rows) + 1
                assert e["field"] in (*cols, "-")
                assert e["message"]
        else:
            assert n == len(rows) and count() == before + n

    try:
        check()
    finally:
        engine.dispose()
