"""Bad input is refused as a whole, with every fault named by row and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from item_bank.database import sqlite_url
from item_bank.records import BankDocument, BankImportError
from item_bank.store import ItemStore
from seleksi.cli import main

HEADER = (
    "id,subtest,content_area,status,stem,option_a,option_b,option_c,option_d,option_e,"
    "key,points_a,points_b,points_c,points_d,points_e,irt_model,irt_a,irt_b,irt_c"
)
# Row numbers as a spreadsheet shows them: the header is row 1.
MALFORMED_ROWS = [
    # row 2: a fine item
    "NEW-1,TWK,nasionalisme,operational,Soal baik,a,b,c,d,e,C,,,,,,3PL,1.1,0.2,0.2",
    # row 3: dichotomous item without a key
    "NEW-2,TWK,nasionalisme,operational,Tanpa kunci,a,b,c,d,e,,,,,,,,,,",
    # row 4: TKP option worth 7 points (range 1–5)
    "NEW-3,TKP,tik,operational,Situasi,a,b,c,d,e,,1,2,7,4,5,,,,",
    # row 5: duplicate of row 2's id
    "NEW-1,TIU,verbal,operational,Lagi,a,b,c,d,e,A,,,,,,,,,",
    # row 6: 3PL guessing parameter outside [0, 1)
    "NEW-4,TIU,numerik,operational,Hitung,1,2,3,4,5,B,,,,,,3PL,1.0,0.0,1.2",
    # row 7: unknown subtest
    "NEW-5,SKB,teknis,operational,Bidang,a,b,c,d,e,A,,,,,,,,,",
]
EXPECTED = {
    (3, "key"),
    (4, "points_c"),
    (5, "id"),
    (6, "irt_c"),
    (7, "subtest"),
}


def _seeded_db(tmp_path: Path, small_demo: BankDocument) -> tuple[Path, ItemStore]:
    db = tmp_path / "bank.db"
    from item_bank.database import open_engine

    store = ItemStore(open_engine(sqlite_url(db)))
    store.create_tables()
    store.import_document(small_demo)
    return db, store


def test_cli_reports_every_fault_and_imports_nothing(
    tmp_path: Path, small_demo: BankDocument, capsys: pytest.CaptureFixture[str]
) -> None:
    db, store = _seeded_db(tmp_path, small_demo)
    before_counts = store.counts()
    before = store.export_text("json")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([HEADER, *MALFORMED_ROWS]) + "\n", encoding="utf-8")

    code = main(["bank", "import", str(bad), "--db", str(db)])

    assert code == 1
    err = capsys.readouterr().err
    for row, field in EXPECTED:
        assert f"row {row}, field '{field}'" in err, (row, field, err)
    assert "nothing was imported" in err
    # The good row 2 was not imported either, and nothing else changed.
    assert store.counts() == before_counts
    assert store.export_text("json") == before
    with pytest.raises(KeyError):
        store.item("NEW-1")


def test_problems_carry_row_field_and_item(tmp_path: Path, small_demo: BankDocument) -> None:
    _, store = _seeded_db(tmp_path, small_demo)
    with pytest.raises(BankImportError) as info:
        store.import_text("\n".join([HEADER, *MALFORMED_ROWS]) + "\n", "csv")
    found = {(p.row, p.field) for p in info.value.problems}
    assert found >= EXPECTED
    by_row = {p.row: p for p in info.value.problems}
    assert by_row[6].item_id == "NEW-4"
    assert "[0, 1)" in by_row[6].message
    assert "first given in row 2" in by_row[5].message


@pytest.mark.parametrize(
    ("row", "field", "fragment"),
    [
        ("X,TWK,nasionalisme,draft,S,a,b,,,,F,,,,,,,,,", "key", "not one of the item's options"),
        ("X,TWK,integritas,draft,S,a,,,,,A,,,,,,,,,", "option_a…option_f", "an item needs 2 to 6"),
        ("X,TWK,nasionalisme,draft,S,a,a,,,,A,,,,,,,,,", "option_b", "same text"),
        ("X,TWK,numerik,draft,S,a,b,,,,A,,,,,,,,,", "content_area", "unknown content area"),
        (
            "X,TWK,nasionalisme,draft,S,a,b,,,,A,1,2,,,,,,,",
            "points_a…points_f",
            "scores the key only",
        ),
        ("X,TKP,tik,draft,S,a,b,,,,A,1,2,,,,,,,", "key", "give points, not a key"),
        ("X,TKP,tik,draft,S,a,b,c,,,,1,,3,,,,,,", "points_b", "missing points"),
        ("X,TKP,tik,draft,S,a,b,,,,,1,2,,,,3PL,1,0,0.2", "irt_model", "does not fit"),
        ("X,TWK,nasionalisme,draft,S,a,b,,,,A,,,,,,2PL,1,,", "irt_b", "missing"),
        ("X,TWK,nasionalisme,draft,S,a,b,,,,A,,,,,,2PL,-1,0,", "irt_a", "must be in (0"),
        ("X,TWK,nasionalisme,draft,S,a,b,,,,A,,,,,,2PL,1,0,0.1", "irt_c", "not a parameter"),
        ("X,TWK,nasionalisme,draft,S,a,b,,,,A,,,,,,5PL,1,0,", "irt_model", "is not one of"),
        ("X,TWK,nasionalisme,sold,S,a,b,,,,A,,,,,,,,,", "status", "is not one of"),
        ("X,TWK,nasionalisme,draft,S,a,b,,,,A,,,,,,3PL,abc,0,0.1", "irt_a", "is not a number"),
        ("bad id!,TWK,nasionalisme,draft,S,a,b,,,,A,,,,,,,,,", "id", "not a valid code"),
        ("X,TWK,nasionalisme,draft,,a,b,,,,A,,,,,,,,,", "stem", "missing"),
    ],
)
def test_each_fault_is_named(
    sqlite_store: ItemStore, small_demo: BankDocument, row: str, field: str, fragment: str
) -> None:
    sqlite_store.define_subtests(small_demo.subtests)
    with pytest.raises(BankImportError) as info:
        sqlite_store.import_text(f"{HEADER}\n{row}\n", "csv")
    messages = [(p.row, p.field, p.message) for p in info.value.problems]
    assert any(r == 2 and f == field and fragment in m for r, f, m in messages), messages


def test_polytomous_parameters_are_checked(
    sqlite_store: ItemStore, small_demo: BankDocument
) -> None:
    sqlite_store.define_subtests(small_demo.subtests)
    header = "id,subtest,content_area,stem,option_a,option_b,points_a,points_b,irt_model,irt_a"
    header += ",irt_t1,irt_t2,irt_t3,irt_t4"
    rows = [
        "P1,TKP,tik,S,a,b,1,5,GRM,1.0,0.5,0.1,0.9,1.2",  # GRM thresholds must increase
        "P2,TKP,tik,S,a,b,1,5,GPCM,1.0,0.5,0.1,,",  # 2 steps where 1–5 needs 4
        "P3,TKP,tik,S,a,b,1,5,GPCM,1.0,0.5,,0.9,1.0",  # a gap in the steps
    ]
    with pytest.raises(BankImportError) as info:
        sqlite_store.import_text("\n".join([header, *rows]) + "\n", "csv")
    found = {(p.row, p.field) for p in info.value.problems}
    assert (2, "irt_t1…irt_t5") in found
    assert (3, "irt_t1…irt_t5") in found
    assert (4, "irt_t2") in found
    assert sqlite_store.counts()["bank_item"] == 0


def test_bad_columns_are_reported_at_the_header(sqlite_store: ItemStore) -> None:
    text = "id,subtest,stem,opsi_a,option_b\nX,TWK,S,a,b\n"
    with pytest.raises(BankImportError) as info:
        sqlite_store.import_text(text, "csv")
    found = {(p.row, p.field, p.message) for p in info.value.problems}
    assert (1, "opsi_a", "unknown column") in found
    assert (1, "content_area", "required column is missing") in found
    assert (1, "option_a", "required column is missing") in found


def test_json_faults_are_reported_by_item_position(
    sqlite_store: ItemStore, small_demo: BankDocument
) -> None:
    sqlite_store.define_subtests(small_demo.subtests)
    doc = {
        "format": "seleksi-item-bank",
        "format_version": 1,
        "items": [
            {
                "id": "J1",
                "subtest": "TWK",
                "content_area": "integritas",
                "stem": "S",
                "options": ["a", "b"],
                "key": "B",
            },
            {
                "id": "J2",
                "subtest": "TWK",
                "content_area": "integritas",
                "stem": "S",
                "options": ["a", "b"],
                "key": "A",
                "kunci": "A",
            },
            {
                "id": "J3",
                "subtest": "TIU",
                "content_area": "verbal",
                "stem": "S",
                "options": ["a", "b"],
                "key": "A",
                "irt": {"model": "3PL", "a": 1, "b": 0, "c": -0.1},
            },
        ],
    }
    with pytest.raises(BankImportError) as info:
        sqlite_store.import_text(json.dumps(doc), "json")
    found = {(p.row, p.field) for p in info.value.problems}
    assert found == {(2, "kunci"), (3, "irt.c")}
    assert sqlite_store.counts()["bank_item"] == 0


def test_not_json_at_all(sqlite_store: ItemStore) -> None:
    with pytest.raises(BankImportError) as info:
        sqlite_store.import_text("{ not json", "json")
    assert info.value.problems[0].field == "document"


def test_subtest_scoring_cannot_change_under_its_items(
    sqlite_store: ItemStore, small_demo: BankDocument
) -> None:
    sqlite_store.import_document(small_demo)
    doc = {"subtests": [{"code": "TKP", "name": "TKP", "scoring": "dichotomous"}]}
    with pytest.raises(BankImportError) as info:
        sqlite_store.import_text(json.dumps(doc), "json")
    assert info.value.problems[0].field == "subtests[0].scoring"
