"""Schema migrations (``exam_server/migrations``), on SQLite and on PostgreSQL.

A database made by the code before Alembic is adopted by ``seleksi db
migrate`` and keeps its data; the revisions make exactly the models' schema
(the test that keeps later revisions honest); migrating twice does nothing;
a database the code cannot migrate is refused in one line.

The pre-Alembic databases are made from ``data/pre_alembic.<dialect>.sql``:
the DDL that ``create_all`` emitted for the models of commit c1f25ab, frozen,
so that these tests keep describing the databases in the field while the
models move on.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from exam_server import state_codec
from exam_server.db import create_schema, make_engine
from exam_server.migrations import (
    BASELINE,
    LEGACY_VERSION_TABLE,
    Upgrade,
    alembic_config,
    current_revision,
    head_revision,
    upgrade,
)
from exam_server.results.rules import RankingPolicy
from seleksi.cli import main as seleksi_main
from tests.conftest import fresh_postgres_schema

DATA = Path(__file__).parent / "data"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema named by the
    URL's search_path (``temporary_schema``), dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
    else:
        yield from fresh_postgres_schema("mig")


# Rows as the code before Alembic wrote them (columns named: the tables are frozen here).
ROWS: dict[str, list[dict[str, Any]]] = {
    "exam_site": [{"id": 1, "code": "TILOK-01", "name": "Kantor Regional"}],
    "exam_room": [{"id": 1, "site_id": 1, "code": "R1", "name": "Ruang 1", "capacity": 60}],
    "exam_exam": [
        {
            "id": 1,
            "code": "SKD-2024",
            "name": "SKD CPNS 2024",
            "design_json": '{"mode": "linear"}',
            "bank_json": '{"a": [1.0]}',
            "items_json": '[{"stem": "2 + 2 ="}]',
            "n_items": 110,
            "created_at": 1717200000.25,
        }
    ],
    "exam_session": [
        {
            "id": 1,
            "code": "SESI-1",
            "exam_id": 1,
            "room_id": 1,
            "starts_at": 1717203600.0,
            "status": "closed",
            "token": "K7Q2M9",
            "opened_at": 1717203500.0,
            "closed_at": 1717210800.0,
        }
    ],
    "exam_formation": [
        {
            "id": 1,
            "code": "F-01",
            "agency": "BKN",
            "position": "Analis",
            "location": "Jakarta",
            "openings": 2,
        }
    ],
    "exam_candidate": [
        {
            "id": 1,
            "registration_number": "20240001",
            "name": "Siti Rahmawati",
            "category": "disability",
            "formation_id": 1,
            "session_id": 1,
            "birth_date": "1994-03-02",
        }
    ],
    "exam_attempt": [
        {
            "id": 1,
            "session_id": 1,
            "candidate_id": 1,
            "status": "finished",
            "seed": 7,
            "state_json": '{"answers": [1, 3]}',
            "last_seq": 2,
            "response_head": "b" * 64,
            "terminal_id": "T-07",
            "terminal_released": False,
            "remaining_at_start": 0.0,
            "last_seen_at": 1717207000.5,
            "started_at": 1717204000.0,
            "finished_at": 1717207000.5,
            "finish_reason": "submitted",
            "score_json": '{"TWK": 65, "TIU": 80, "TKP": 166}',
            "total_points": 311.0,
            "passed": True,
            "pass_reason": "",
        }
    ],
    "exam_response": [
        {
            "id": i,
            "attempt_id": 1,
            "seq": i,
            "kind": "answer",
            "number": i,
            "item_id": f"TWK-{i:03d}",
            "option": i,
            "flagged": i == 2,
            "elapsed": 12.5 * i,
            "at": 1717204000.0 + 20 * i,
            "prev_hash": ("0" if i == 1 else "a") * 64,
            "hash": ("a" if i == 1 else "b") * 64,
        }
        for i in (1, 2)
    ],
    "exam_audit": [
        {
            "id": 1,
            "at": 1717203500.0,
            "kind": "session_open",
            "actor": "proctor:pengawas",
            "session_id": 1,
            "reason": "",
            "data_json": "{}",
            "prev_hash": "0" * 64,
            "hash": "c" * 64,
        }
    ],
    "exam_audit_head": [{"id": 1, "last_id": 1, "last_hash": "c" * 64}],
}


def _statements(dialect: str) -> list[str]:
    text = (DATA / f"pre_alembic.{dialect}.sql").read_text("utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    return [s.strip() for s in body.split(";\n") if s.strip()]


def make_pre_alembic_database(url: str) -> None:
    """The tables, old version record and rows of a database the code before Alembic made."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as conn:
            for statement in _statements(conn.dialect.name):
                conn.exec_driver_sql(statement)
            for table, rows in ROWS.items():
                for row in rows:
                    names = ", ".join(row)
                    marks = ", ".join(f":{k}" for k in row)
                    conn.execute(sa.text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), row)
            if conn.dialect.name == "postgresql":
                # Explicit ids left the SERIAL sequences behind, as no real server did.
                for table in ROWS:
                    if table != "exam_audit_head":
                        conn.exec_driver_sql(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                            f" (SELECT max(id) FROM {table}))"
                        )
    finally:
        engine.dispose()


def _snapshot(url: str) -> dict[str, list[dict[str, Any]]]:
    """The rows of ROWS' tables, only the columns ROWS names, in id order.
    An attempt's ``state_json`` is read from its last snapshot once revision
    0007 moved it there."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            out = {}
            inspect = sa.inspect(conn)
            moved = "exam_attempt_snapshot" in inspect.get_table_names()
            # Revision 0014 stores the snapshot compressed (column "state").
            packed = moved and "state" in {
                c["name"] for c in inspect.get_columns("exam_attempt_snapshot")
            }
            for table, rows in ROWS.items():
                cols = ", ".join(rows[0])
                if table == "exam_attempt" and moved:
                    column = "state" if packed else "state_json"
                    cols = cols.replace(
                        "state_json",
                        f"(SELECT {column} FROM exam_attempt_snapshot s"
                        " WHERE s.attempt_id = exam_attempt.id ORDER BY s.seq DESC LIMIT 1)"
                        " AS state_json",
                    )
                result = conn.execute(sa.text(f"SELECT {cols} FROM {table} ORDER BY id"))
                out[table] = [dict(r._mapping) for r in result]
                if table == "exam_attempt" and packed:
                    for r in out[table]:
                        if r["state_json"] is not None:
                            r["state_json"] = state_codec.unpack_json(r["state_json"])
            return out
    finally:
        engine.dispose()


def _differences(url: str, target: sa.MetaData) -> list[Any]:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, target))
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return current_revision(conn)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url, pool_size=1)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _exam_columns(url: str) -> set[str]:
    engine = make_engine(url, pool_size=1)
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns("exam_exam")}
    finally:
        engine.dispose()


def test_pre_alembic_database_is_adopted_keeps_its_data_and_gets_the_2024_policy(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_pre_alembic_database(db_url)
    assert _revision(db_url) is None
    assert seleksi_main(["db", "migrate", "--url", db_url]) == 0
    out = capsys.readouterr().out
    head = head_revision()
    assert f"from a schema made before Alembic (recorded as the baseline) to {head} (head)" in out
    assert f"retired the old version record {LEGACY_VERSION_TABLE} (version 1)" in out
    assert "applied: 0001_baseline, 0002_exam_documents" in out
    assert _revision(db_url) == head
    assert LEGACY_VERSION_TABLE not in _tables(db_url)
    # Every row as it was, in every column it had; and, chained after them, one
    # event each listing the sites' first checkpoint keys (revision 0025), the
    # staff accounts and the appeal decisions from before those were audited
    # (exam_server.sites.reverify, exam_server.audit.staff_records and
    # appeal_records: anything not listed and without its event is reported).
    snap = _snapshot(db_url)
    added = [r for r in snap["exam_audit"] if str(r["kind"]).endswith("_baseline")]
    assert [(r["kind"], r["actor"]) for r in added] == [
        ("site_keys_baseline", "upgrade"),
        ("staff_baseline", "upgrade"),
        ("appeal_baseline", "upgrade"),
    ]
    assert added[0]["prev_hash"] == ROWS["exam_audit"][-1]["hash"]
    snap["exam_audit"] = [r for r in snap["exam_audit"] if r not in added]
    snap["exam_audit_head"] = ROWS["exam_audit_head"]
    assert snap == ROWS
    engine = make_engine(db_url, pool_size=1)
    try:
        with engine.connect() as conn:
            policy, options = conn.execute(
                sa.text("SELECT policy_json, options_json FROM exam_exam WHERE id = 1")
            ).one()
    finally:
        engine.dispose()
    # Exams made before ran under the 2024 rules; no options means the defaults.
    assert policy == RankingPolicy.default_2024().to_json()
    assert options is None
    # The adopted database has exactly the schema the revisions make on an empty one.
    assert _differences(db_url, _migrated_schema(db_url, tmp_path)) == []


def _migrated_schema(like: str, tmp_path: Path) -> sa.MetaData:
    """The schema every revision makes on an empty database of ``like``'s kind, reflected."""
    with contextlib.ExitStack() as stack:
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
        if like.startswith("postgresql"):
            url = stack.enter_context(contextlib.contextmanager(fresh_postgres_schema)("migf"))
        engine = make_engine(url, pool_size=1)
        try:
            upgrade(engine)
            revised = sa.MetaData()
            revised.reflect(engine)
            return revised
        finally:
            engine.dispose()


def test_models_equal_migrations(db_url: str) -> None:
    """The revisions make the models' schema: a model change needs a revision
    (exam_server/migrations/README.md), and this fails until it has one."""
    engine = make_engine(db_url, pool_size=1)
    try:
        done = upgrade(engine)  # every revision: no fast path on an empty database
    finally:
        engine.dispose()
    assert not done.fast and done.applied[0] == BASELINE and done.after == head_revision()
    diff = _differences(db_url, SQLModel.metadata)
    assert diff == [], (
        "the models differ from the migrations; add a revision "
        f"(exam_server/migrations/README.md): {'; '.join(_describe(d) for d in diff)}"
    )


def _describe(difference: Any) -> str:
    """One of compare_metadata's differences in a few words ("add_table exam_usage")."""
    if isinstance(difference, list):  # column changes come as a list of tuples
        return ", ".join(_describe(d) for d in difference)
    kind, *rest = difference
    named = [getattr(x, "name", x) for x in rest if x is not None]
    return f"{kind} {' '.join(str(n) for n in named[:3])}"


def test_fast_path_for_an_empty_database_is_stamped_head(db_url: str) -> None:
    engine = make_engine(db_url, pool_size=1)
    try:
        create_schema(engine)
    finally:
        engine.dispose()
    assert _revision(db_url) == head_revision()
    assert set(SQLModel.metadata.tables) <= _tables(db_url)


def test_migrate_twice_is_a_no_op(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    make_pre_alembic_database(db_url)
    assert seleksi_main(["db", "migrate", "--url", db_url]) == 0
    capsys.readouterr()
    before = _snapshot(db_url), _tables(db_url)
    assert seleksi_main(["db", "migrate", "--url", db_url]) == 0
    assert f"is at {head_revision()} (head): nothing to do" in capsys.readouterr().out
    assert (_snapshot(db_url), _tables(db_url)) == before
    assert seleksi_main(["db", "version", "--url", db_url]) == 0
    assert capsys.readouterr().out.strip() == f"{head_revision()} (head)"


def test_create_schema_upgrades_a_database_at_an_older_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), BASELINE)
            row = {k: v for k, v in ROWS["exam_exam"][0].items() if k != "id"}
            conn.execute(
                sa.text(
                    f"INSERT INTO exam_exam ({', '.join(row)}) "
                    f"VALUES ({', '.join(':' + k for k in row)})"
                ),
                row,
            )
        create_schema(engine)  # the server's start-up on a database one revision behind
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            policy = conn.execute(sa.text("SELECT policy_json FROM exam_exam")).scalar_one()
    finally:
        engine.dispose()
    assert policy == RankingPolicy.default_2024().to_json()


def test_need_editors_are_taken_from_the_audit_log_on_upgrade(tmp_path: Path) -> None:
    """Revision 0021: a need changed before it keeps the accounts that changed
    it (its rec_need_update events, each account once, in order), so that
    none of them approves it after the upgrade."""
    path = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{path}", pool_size=1)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0020_survey_unlinked")
    engine.dispose()
    con = sqlite3.connect(path)  # no foreign keys: the need's period is not needed here
    con.execute(
        "INSERT INTO rec_need (id, period_id, agency_id, code, unit, position, location,"
        " openings, education_level, majors_json, max_age, other_requirements,"
        " allocation_json, status, created_by, submitted_by, decided_by, decision_reason,"
        " updated_at) VALUES (7, 1, 1, 'N', 'u', 'p', 'l', 1, 'S1', '[]', 35, '',"
        " '{\"general\": 1}', 'submitted', 'operator', 'operator', '', '', 0)"
    )
    events = [("admin", 7), ("admin", 7), ("operator", 7), ("other", 8)]
    con.executemany(
        "INSERT INTO exam_audit (at, kind, actor, reason, data_json, prev_hash, hash)"
        " VALUES (0, 'rec_need_update', ?, '', ?, '', '')",
        [(actor, json.dumps({"need": need})) for actor, need in events],
    )
    con.commit()
    con.close()
    engine = make_engine(f"sqlite:///{path}", pool_size=1)
    try:
        create_schema(engine)
        with engine.connect() as conn:
            editors = conn.execute(
                sa.text("SELECT editors_json FROM rec_need WHERE id = 7")
            ).scalar_one()
    finally:
        engine.dispose()
    assert json.loads(editors) == ["admin", "operator"]


def test_a_recruitment_database_from_before_0022_upgrades(tmp_path: Path) -> None:
    """Found by a review: 0022 rebuilds rec_registration (SQLite batch mode),
    and with foreign keys on, dropping the old table, which documents,
    verifications and appeals refer to, failed the whole upgrade
    ('FOREIGN KEY constraint failed'). The revisions run with the keys off
    and are checked with foreign_key_check before the commit."""
    path = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{path}", pool_size=1)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0021_need_editors")
    engine.dispose()
    con = sqlite3.connect(path)  # rows as the code of 0021 stored them, parents first
    con.execute("PRAGMA foreign_keys=ON")

    def insert(table: str, **values: Any) -> None:
        """A row with ``values``; other NOT NULL columns without a default filled in."""
        for _, name, kind, notnull, default, pk in con.execute(f"PRAGMA table_info({table})"):
            if notnull and default is None and not pk and name not in values:
                values[name] = 0 if kind.upper() in ("INTEGER", "FLOAT", "BOOLEAN") else "x"
        marks = ", ".join("?" * len(values))
        con.execute(f"INSERT INTO {table} ({', '.join(values)}) VALUES ({marks})",
                    tuple(values.values()))  # fmt: skip

    insert("rec_agency", id=1, code="A", name="Agency")
    insert("rec_period", id=1, code="P")
    insert("rec_account", id=1, email="a@b.c")
    insert("rec_need", id=1, period_id=1, agency_id=1, code="N", editors_json="[]")
    insert("exam_formation", id=1, code="F", openings=1)
    insert("rec_formation", id=1, need_id=1, formation_id=1, category="general", openings=1)
    insert("rec_registration", id=1, period_id=1, account_id=1, nik_hash="h",
           rec_formation_id=1, status="submitted")  # fmt: skip
    insert("rec_document", id=1, registration_id=1, kind="ktp", sha256="d")
    con.commit()
    con.close()
    engine = make_engine(f"sqlite:///{path}", pool_size=1)
    try:
        create_schema(engine)  # the server's start-up on the old database
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            assert conn.exec_driver_sql("SELECT count(*) FROM rec_document").scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1  # on again
    finally:
        engine.dispose()


def test_version_says_when_a_database_needs_migrating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "v.db"
    assert seleksi_main(["db", "version", "--url", str(path)]) == 1
    assert "no database at" in capsys.readouterr().err
    assert not path.exists()  # reading never creates the database
    path.touch()  # an empty SQLite file
    assert seleksi_main(["db", "version", "--url", str(path)]) == 1
    assert "not migrated" in capsys.readouterr().out
    make_pre_alembic_database(f"sqlite:///{path}")
    assert seleksi_main(["db", "version", "--url", str(path)]) == 1
    assert "made before Alembic" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql+psycopg://postgres@127.0.0.1:1/test", "migration failed: connection"),
        ("sqlite:////nonexistent-dir/seleksi.db", "the folder /nonexistent-dir does not exist"),
        ("mysql://nobody@nowhere/x", "only sqlite:// and postgresql+psycopg://"),
    ],
)
def test_unreachable_or_unsupported_database_is_one_clear_line(
    url: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert seleksi_main(["db", "migrate", "--url", url]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, lines
    # Checked before anything is made (seleksi.database), or refused by the
    # migration itself: one line saying why, nothing created.
    assert lines[0].startswith("seleksi: error: ") and reason in lines[0], lines


def test_a_database_migrated_by_newer_code_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert seleksi_main(["db", "migrate", "--url", url]) == 0
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0999_from_later'"))
    finally:
        engine.dispose()
    capsys.readouterr()
    assert seleksi_main(["db", "migrate", "--url", url]) == 1
    err = capsys.readouterr().err
    assert "revision 0999_from_later, which this version of seleksi does not know" in err


def test_a_failed_migration_changes_nothing(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_pre_alembic_database(db_url)
    before = _snapshot(db_url), _tables(db_url)

    def broken() -> RankingPolicy:
        raise sa.exc.OperationalError("UPDATE exam_exam", {}, Exception("disk I/O error"))

    # 0002 fails after 0001 ran and the old record was dropped, in the same transaction.
    monkeypatch.setattr(RankingPolicy, "default_2024", broken)
    assert seleksi_main(["db", "migrate", "--url", db_url]) == 1
    assert "migration failed: disk I/O error" in capsys.readouterr().err
    assert (_snapshot(db_url), _tables(db_url)) == before  # seleksi_schema still there
    assert "policy_json" not in _exam_columns(db_url)  # 0002's columns rolled back too
    assert _revision(db_url) is None
    monkeypatch.undo()
    assert seleksi_main(["db", "migrate", "--url", db_url]) == 0
    assert _revision(db_url) == head_revision()


def test_revision_command_writes_the_next_revision_on_the_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import exam_server.migrations as migrations

    copy = tmp_path / "migrations"
    shutil.copytree(migrations.DIRECTORY, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "DIRECTORY", copy)
    migrations.script_directory.cache_clear()
    try:
        head = head_revision()
        number = int(head[:4]) + 1
        wrong = f"{number + 1:04d}_skips_one"
        assert seleksi_main(["db", "revision", "--rev-id", wrong, "-m", "x", "--empty"]) == 1
        assert f"--rev-id must be {number:04d}_<lowercase_name>" in capsys.readouterr().err
        rev = f"{number:04d}_fill_something"
        assert seleksi_main(["db", "revision", "--rev-id", rev, "-m", "fill", "--empty"]) == 0
        written = copy / "versions" / f"{rev}.py"
        assert f"wrote {written}" in capsys.readouterr().out
        migrations.script_directory.cache_clear()
        assert head_revision() == rev
        assert migrations.script_directory().get_revision(rev).down_revision == head
    finally:
        migrations.script_directory.cache_clear()


@pytest.mark.postgres
def test_hosts_migrating_at_once_wait_for_each_other(postgres_url: str) -> None:
    # Both start together (barrier) and a full upgrade takes ~150 ms, so without the
    # migration lock their CREATE TABLEs collide and one fails on a duplicate name.
    barrier = threading.Barrier(2)

    def one() -> Upgrade:
        engine = make_engine(postgres_url, pool_size=1)
        try:
            barrier.wait(timeout=30)
            return upgrade(engine)
        finally:
            engine.dispose()

    with ThreadPoolExecutor(2) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(one), pool.submit(one)]]
    assert sorted(len(r.applied) > 0 for r in results) == [False, True]
    assert _revision(postgres_url) == head_revision()
