"""QTI import and export: real packages from authoring tools, the official XSDs, the
round trip Seleksi → QTI → Seleksi, and packages that must be refused with nothing stored."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from item_bank.database import open_engine, sqlite_url
from item_bank.demo import generate_demo_bank
from item_bank.html import media_href
from item_bank.io_json import parse_json, write_json
from item_bank.io_qti import Placement, parse_qti, read_mapping
from item_bank.io_qti_export import write_qti_package
from item_bank.parsed import ParsedFile
from item_bank.records import (
    BankDocument,
    BankImportError,
    ContentAreaSpec,
    ItemRecord,
    ItemStatus,
    MediaFile,
    ScoringMode,
    StemFormat,
    SubtestSpec,
)
from item_bank.store import ItemStore
from seleksi.cli import main
from tests.item_bank.qti_schemas import errors

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "qti" / "samples"
TWK = SubtestSpec(
    "TWK",
    "Tes Wawasan Kebangsaan",
    ScoringMode.DICHOTOMOUS,
    content_areas=(ContentAreaSpec("pilar_negara", "Pilar negara"),),
)
TKP = SubtestSpec(
    "TKP",
    "Tes Karakteristik Pribadi",
    ScoringMode.OPTION_SCORED,
    content_areas=(ContentAreaSpec("pelayanan_publik", "Pelayanan publik"),),
)
# A 1×1 PNG (smallest valid file: signature, IHDR, IDAT, IEND).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def _png_href() -> tuple[str, str]:
    return media_href(PNG, "image/png")


def _special_items() -> list[ItemRecord]:
    """Items that exercise every stem form the exporter writes."""
    _, href = _png_href()
    return [
        ItemRecord(
            "HTML-1",
            "TWK",
            "pilar_negara",
            "<p>Perhatikan <strong>gambar</strong> berikut.</p>"
            f'<p><img src="{href}" alt="rambu"></p>',
            ("<em>Dilarang</em> parkir", f'<img src="{href}" alt="B">', "Belok kiri"),
            key=1,
            stem_format=StemFormat.HTML,
            status=ItemStatus.OPERATIONAL,
            version=3,
            source="penulis: Tim TWK\nrevisi 2",
        ),
        ItemRecord(
            "0042",  # an id that starts with a digit is not an XML identifier
            "TWK",
            "pilar_negara",
            "Baris satu\n\nBaris  dua\tdengan spasi\n  menjorok",
            ("a  b", "c\nd", "e"),
            key=2,
            enemy_group="grup-1",
        ),
        ItemRecord(
            "MD-1",
            "TWK",
            "pilar_negara",
            "**Tebal** dan [tautan](https://example.org) &lt;b&gt;",
            ("satu", "dua"),
            key=0,
            stem_format=StemFormat.MARKDOWN,
        ),
    ]


@pytest.fixture(scope="module")
def bank_doc() -> BankDocument:
    """A small demo SKD bank (3PL and GPCM parameters) plus the special items."""
    demo = generate_demo_bank(seed=7, per_subtest=12)
    twk = next(s for s in demo.subtests if s.code == "TWK")
    items = [replace(it, content_area=twk.content_areas[0].code) for it in _special_items()]
    return BankDocument(subtests=demo.subtests, items=(*demo.items, *items))


def _loaded(store: ItemStore, doc: BankDocument) -> ItemStore:
    digest, _ = _png_href()
    store.import_parsed(_with_media(doc, {digest: MediaFile(digest, "image/png", PNG, "x.png")}))
    return store


def _with_media(doc: BankDocument, media: dict[str, MediaFile]) -> ParsedFile:
    parsed = parse_json(write_json(doc))
    parsed.media.update(media)
    return parsed


def _unpack(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


# ---------------------------------------------------------------------------
# Export: the official schemas, keys, points, media, parameters
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.0", "2.2"])
def test_export_validates_against_the_official_xsds(
    sqlite_store: ItemStore, bank_doc: BankDocument, version: str
) -> None:
    _loaded(sqlite_store, bank_doc)
    data, n = sqlite_store.export_qti(version)
    files = _unpack(data)
    items = {k: v for k, v in files.items() if k.startswith("items/")}
    assert n == len(bank_doc.items) == len(items)
    assert errors("manifest", version, files["imsmanifest.xml"]) == []
    for name, xml in items.items():
        assert errors("item", version, xml) == [], name
    # The picture travels once, under media/, for both items and the option that show it.
    digest, _ = _png_href()
    assert files[f"media/{digest}.png"] == PNG


def test_a_broken_export_would_be_caught_by_the_schema(
    sqlite_store: ItemStore, bank_doc: BankDocument
) -> None:
    """The schema check is not vacuous: an item without its required attribute fails."""
    _loaded(sqlite_store, bank_doc)
    xml = _unpack(sqlite_store.export_qti("3.0")[0])["items/HTML-1.xml"]
    broken = xml.replace(b' time-dependent="false"', b"")
    assert errors("item", "3.0", broken)


def test_export_keeps_keys_points_and_parameters_for_other_tools(
    sqlite_store: ItemStore, bank_doc: BankDocument
) -> None:
    from lxml import etree

    _loaded(sqlite_store, bank_doc)
    files = _unpack(sqlite_store.export_qti("3.0")[0])
    tkp = next(it for it in bank_doc.items if it.subtest == "TKP" and it.irt is not None)
    root = etree.fromstring(files[f"items/{tkp.item_id}.xml"])
    ns = {"q": "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"}
    mapped = [
        (e.get("map-key"), e.get("mapped-value")) for e in root.iterfind(".//q:qti-map-entry", ns)
    ]
    assert mapped == [("ABCDEF"[k], str(p)) for k, p in enumerate(tkp.points or ())]
    twk = next(it for it in bank_doc.items if it.subtest == "TWK" and it.key is not None)
    root = etree.fromstring(files[f"items/{twk.item_id}.xml"])
    assert (
        root.findtext(".//q:qti-correct-response/q:qti-value", namespaces=ns)
        == "ABCDEF"[twk.key or 0]
    )
    # SKD scores the key 5: other tools scoring with map_response give the same.
    values = [e.get("mapped-value") for e in root.iterfind(".//q:qti-map-entry", ns)]
    assert sorted(values) == ["0"] * (len(values) - 1) + ["5"]
    manifest = files["imsmanifest.xml"].decode()
    assert tkp.irt is not None
    assert f'model="{tkp.irt.model}"' in manifest and f'scale="{tkp.irt.scale}"' in manifest


# ---------------------------------------------------------------------------
# Round trip: Seleksi → QTI → Seleksi, byte for byte in Seleksi's own export
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.0", "2.2"])
def test_round_trip_gives_the_same_bank_byte_for_byte(
    store: ItemStore, tmp_path: Path, bank_doc: BankDocument, version: str
) -> None:
    _loaded(store, bank_doc)
    before = store.export_text("json")
    package = tmp_path / "bank.zip"
    package.write_bytes(store.export_qti(version)[0])
    fresh = ItemStore(_fresh_engine(tmp_path))
    fresh.create_tables()
    summary = fresh.import_file(package)
    assert len(summary.created) == len(bank_doc.items)
    assert fresh.export_text("json") == before
    assert fresh.export_text("csv") == store.export_text("csv")
    digest, _ = _png_href()
    assert fresh.media([digest])[digest].data == PNG
    # Importing the same package again changes nothing.
    again = fresh.import_file(package)
    assert len(again.unchanged) == len(bank_doc.items) and not again.created


def _fresh_engine(tmp_path: Path) -> Engine:
    return open_engine(sqlite_url(tmp_path / "fresh.db"))


def test_export_of_a_selection(sqlite_store: ItemStore, bank_doc: BankDocument) -> None:
    _loaded(sqlite_store, bank_doc)
    data, n = sqlite_store.export_qti("2.2", ids=["HTML-1", "0042"])
    assert n == 2
    assert sorted(k for k in _unpack(data) if k.startswith("items/")) == [
        "items/0042.xml",
        "items/HTML-1.xml",
    ]
    with pytest.raises(KeyError, match="NOPE"):
        sqlite_store.export_qti("3.0", ids=["NOPE"])


# ---------------------------------------------------------------------------
# Real packages from authoring tools
# ---------------------------------------------------------------------------


@pytest.fixture
def skd_store(sqlite_store: ItemStore) -> ItemStore:
    sqlite_store.define_subtests([TWK, TKP])
    return sqlite_store


def test_tao_qti21_package_with_a_picture(skd_store: ItemStore) -> None:
    summary = skd_store.import_file(
        SAMPLES / "tao-qti21-unattended-luggage.zip",
        mapping={"*": Placement("TWK", "pilar_negara")},
    )
    assert summary.created == ("choice",)
    item = skd_store.item("choice")
    assert item.stem_format is StemFormat.HTML
    assert item.key == 0
    assert item.options[0] == "You must stay with your luggage at all times."
    # TAO's grid classes and stylesheet are gone; the picture now comes from the bank.
    assert "class=" not in item.stem and "What does it say?" in item.stem
    (src,) = [p for p in item.stem.split('"') if p.startswith("media/")]
    digest = src[len("media/") : -len(".png")]
    stored = skd_store.media([digest])[digest]
    assert stored.mime_type == "image/png" and stored.name == "sign.png"
    assert "Unattended Luggage (en-US)" in (item.source or "")


def test_tao_qti22_package_three_items(skd_store: ItemStore) -> None:
    summary = skd_store.import_file(
        SAMPLES / "tao-qti22-three-items.zip", mapping={"*": Placement("TWK", "pilar_negara")}
    )
    assert summary.created == ("Q01", "Q02", "Q03")
    q1 = skd_store.item("Q01")
    assert q1.stem == "What is TAO?" and q1.stem_format is StemFormat.TEXT
    assert q1.options[q1.key or 0] == "A commercial-grade, open-source assessment platform."


def test_kolibri_qti30_item_file(skd_store: ItemStore) -> None:
    summary = skd_store.import_file(
        SAMPLES / "kolibri-studio-single-selection.xml",
        mapping={"KEjRWeJCrze8SNFZ4kKvN7w": Placement("TWK", "pilar_negara", "pretest")},
    )
    assert summary.created == ("KEjRWeJCrze8SNFZ4kKvN7w",)
    item = skd_store.item("KEjRWeJCrze8SNFZ4kKvN7w")
    assert (item.stem, item.options, item.key, item.status) == (
        "What is 2+2?",
        ("4", "3", "5"),
        0,
        ItemStatus.PRETEST,
    )


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        ("tao-qti21-two-interactions.zip", "2 interactions (choiceInteraction, sliderInteraction)"),
        ("kolibri-studio-math-choice.xml", "MathML is not shown by Seleksi terminals"),
    ],
)
def test_items_seleksi_cannot_deliver_are_refused_by_row(
    skd_store: ItemStore, sample: str, message: str
) -> None:
    with pytest.raises(BankImportError) as info:
        skd_store.import_file(SAMPLES / sample, mapping={"*": Placement("TWK", "pilar_negara")})
    (problem,) = info.value.problems
    assert problem.row == 1 and problem.item_id and message in problem.message
    assert skd_store.counts()["bank_item"] == 0


def test_without_a_placement_the_message_says_to_give_a_mapping(skd_store: ItemStore) -> None:
    with pytest.raises(BankImportError) as info:
        skd_store.import_file(SAMPLES / "tao-qti22-three-items.zip")
    first, *per_item = info.value.problems
    assert first.row == 0 and "3 item(s)" in first.message and "--mapping" in first.message
    assert {(p.row, p.field) for p in per_item} == {
        (row, name) for row in (1, 2, 3) for name in ("subtest", "content_area")
    }


def test_option_points_from_a_mapping_tkp(skd_store: ItemStore) -> None:
    """A TKP-style item from another tool: mapping values 1–5 become option points."""
    xml = _item_xml(
        "TKP-X",
        "<p>Atasan meminta Anda lembur.</p>",
        ["Menolak", "Menunda", "Menerima", "Mengeluh", "Mendelegasikan"],
        mapping={"c0": "2", "c1": "1", "c2": "5.0", "c3": "3", "c4": "4"},
    )
    summary = skd_store.import_parsed(
        parse_qti(xml, name="tkp.xml", mapping={"*": Placement("TKP", "pelayanan_publik")})
    )
    assert summary.created == ("TKP-X",)
    item = skd_store.item("TKP-X")
    assert item.points == (2, 1, 5, 3, 4) and item.key is None


# ---------------------------------------------------------------------------
# Sanitising
# ---------------------------------------------------------------------------


def _item_xml(
    identifier: str,
    body: str,
    choices: list[str],
    *,
    correct: str | None = None,
    mapping: dict[str, str] | None = None,
    version: str = "2.2",
) -> bytes:
    ns = {"2.2": "http://www.imsglobal.org/xsd/imsqti_v2p2"}[version]
    decl = ""
    if correct is not None:
        decl += f"<correctResponse><value>{correct}</value></correctResponse>"
    if mapping is not None:
        decl += (
            '<mapping defaultValue="0">'
            + "".join(f'<mapEntry mapKey="{k}" mappedValue="{v}"/>' for k, v in mapping.items())
            + "</mapping>"
        )
    choice_xml = "".join(
        f'<simpleChoice identifier="c{k}">{c}</simpleChoice>' for k, c in enumerate(choices)
    )
    return (
        f'<assessmentItem xmlns="{ns}" identifier="{identifier}" title="t" adaptive="false" '
        'timeDependent="false"><responseDeclaration identifier="RESPONSE" cardinality="single" '
        f'baseType="identifier">{decl}</responseDeclaration><itemBody>{body}'
        '<choiceInteraction responseIdentifier="RESPONSE" maxChoices="1">'
        f"{choice_xml}</choiceInteraction></itemBody></assessmentItem>"
    ).encode()


def test_scripts_events_and_styles_are_removed(skd_store: ItemStore) -> None:
    xml = _item_xml(
        "XSS-1",
        '<p onclick="steal()" style="position:fixed">Soal <b onmouseover="x()">tebal</b></p>'
        '<div><span class="a">lanjut</span></div>',
        ['<span onclick="y()">Satu</span>', "Dua <em>miring</em>"],
        correct="c0",
    )
    skd_store.import_parsed(parse_qti(xml, mapping={"*": Placement("TWK", "pilar_negara")}))
    item = skd_store.item("XSS-1")
    assert item.stem_format is StemFormat.HTML
    assert item.stem == "<p>Soal <b>tebal</b></p><div><span>lanjut</span></div>"
    assert item.options == ("<span>Satu</span>", "Dua <em>miring</em>")


@pytest.mark.parametrize(
    "src",
    [
        "http://evil.example/x.png",
        "//evil.example/x.png",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
    ],
)
def test_an_image_from_outside_the_package_is_refused(skd_store: ItemStore, src: str) -> None:
    xml = _item_xml("EXT-1", f'<p><img src="{src}" alt="x"/></p>', ["a", "b"], correct="c0")
    with pytest.raises(BankImportError) as info:
        skd_store.import_parsed(parse_qti(xml, mapping={"*": Placement("TWK", "pilar_negara")}))
    assert "terminals load nothing from elsewhere" in str(info.value)
    assert skd_store.counts()["bank_item"] == 0


def test_an_html_item_in_json_may_only_show_bank_images(skd_store: ItemStore) -> None:
    _, href = _png_href()
    doc = BankDocument(
        items=(
            ItemRecord(
                "J-1",
                "TWK",
                "pilar_negara",
                f'<img src="{href}" alt="">',
                ("a", "b"),
                key=0,
                stem_format=StemFormat.HTML,
            ),
        )
    )
    with pytest.raises(BankImportError, match="is not in the bank"):
        skd_store.import_document(doc)


# ---------------------------------------------------------------------------
# Hostile and broken packages: a clear message, nothing stored
# ---------------------------------------------------------------------------


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def _valid_package() -> dict[str, bytes]:
    return _unpack((SAMPLES / "tao-qti22-three-items.zip").read_bytes())


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    b'<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
)


def _entity_bomb_item() -> bytes:
    item = _valid_package()["items/i147082986019725/qti.xml"]
    body = item.split(b"?>", 1)[1]
    return LAUGHS + body.replace(b"What is TAO?</prompt>", b"&lol4;</prompt>")


def _bomb() -> bytes:
    members = _valid_package()
    members["items/i147082986019725/qti.xml"] = b"<a>" + b" " * (8 * 1024 * 1024) + b"</a>"
    return _zip(members)


def _lying_header_bomb() -> bytes:
    """A manifest whose headers claim 100 bytes but which inflates to 40 MB (built by hand)."""
    payload = zlib.compress(b"\0" * (40 * 1024 * 1024), 9)[2:-4]  # raw deflate
    name = b"imsmanifest.xml"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, 0, len(payload), 100, 15, 0)
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        *(0x02014B50, 20, 20, 0, 8, 0, 0, 0, len(payload), 100, 15, 0, 0, 0, 0, 0, 0),
    )
    body = local + name + payload
    directory = central + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(directory), len(body), 0)
    return body + directory + end


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: b"PK\x03\x04 this is not a zip at all", "not a readable zip file"),
        (lambda: _zip({"readme.txt": b"no manifest"}), "no imsmanifest.xml"),
        (
            lambda: _zip({**_valid_package(), "imsmanifest.xml": b"<manifest><resources>"}),
            "imsmanifest.xml: not well-formed XML",
        ),
        (
            lambda: _zip({**_valid_package(), "../../etc/cron.d/evil": b"* * * * * root sh"}),
            "points outside the package",
        ),
        (
            lambda: _zip({**_valid_package(), "/etc/passwd": b"root:x:0:0"}),
            "points outside the package",
        ),
        (_bomb, "a zip bomb?"),
        (_lying_header_bomb, "not a readable zip file|a zip bomb|cannot be unpacked"),
        (
            lambda: _zip(
                {**_valid_package(), "items/i147082986019725/qti.xml": _entity_bomb_item()}
            ),
            "DOCTYPE/ENTITY declaration",
        ),
        (lambda: _entity_bomb_item(), "DOCTYPE/ENTITY declaration"),
        (
            lambda: _zip(
                {
                    **_valid_package(),
                    "imsmanifest.xml": b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM '
                    b'"file:///etc/passwd">]><manifest>&x;</manifest>',
                }
            ),
            "DOCTYPE/ENTITY declaration",
        ),
    ],
    ids=[
        "malformed-zip",
        "no-manifest",
        "malformed-manifest",
        "path-traversal",
        "absolute-path",
        "zip-bomb",
        "lying-header",
        "entity-expansion-in-item",
        "entity-expansion-single-file",
        "external-entity",
    ],
)
def test_hostile_or_broken_packages_are_refused_whole(
    skd_store: ItemStore,
    tmp_path: Path,
    make: Callable[[], bytes],
    message: str,
) -> None:
    import re

    path = tmp_path / "upload.zip"
    path.write_bytes(make())
    with pytest.raises(BankImportError) as info:
        skd_store.import_file(path, "qti", mapping={"*": Placement("TWK", "pilar_negara")})
    (problem,) = info.value.problems
    assert problem.row == 0 and re.search(message, problem.message), problem.message
    assert skd_store.counts()["bank_item"] == 0
    assert skd_store.counts()["bank_item_media"] == 0


def test_one_bad_item_means_nothing_of_the_package_is_stored(skd_store: ItemStore) -> None:
    members = _valid_package()
    members["items/i147082986057477/qti.xml"] = _item_xml(
        "Q02", "<p>x</p>", ["a", "b"], correct="nope"
    )
    with pytest.raises(BankImportError) as info:
        skd_store.import_parsed(
            parse_qti(_zip(members), mapping={"*": Placement("TWK", "pilar_negara")})
        )
    assert [(p.row, p.item_id) for p in info.value.problems] == [(2, "Q02")]
    assert "not one of the choices" in info.value.problems[0].message
    assert skd_store.counts()["bank_item"] == 0


# ---------------------------------------------------------------------------
# Mapping file and the command line
# ---------------------------------------------------------------------------


def test_mapping_file_rows() -> None:
    mapping, problems = read_mapping("id;subtest;content_area\nQ01;TWK;pilar_negara\n*;TKP;x\n")
    assert problems == []
    assert mapping == {"Q01": Placement("TWK", "pilar_negara"), "*": Placement("TKP", "x")}
    _, problems = read_mapping("id,subtest\nQ01,TWK\n")
    assert [p.field for p in problems] == ["mapping.content_area"]


def test_command_line_import_with_mapping_and_qti_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bank.db"
    subtests = tmp_path / "subtests.json"
    subtests.write_text(write_json(BankDocument(subtests=(TWK, TKP))), encoding="utf-8")
    assert main(["bank", "import", str(subtests), "--db", str(db), "--create"]) == 0
    mapping = tmp_path / "map.csv"
    mapping.write_text("id,subtest,content_area\n*,TWK,pilar_negara\n", encoding="utf-8")
    package = SAMPLES / "tao-qti22-three-items.zip"
    assert main(["bank", "import", str(package), "--mapping", str(mapping), "--db", str(db)]) == 0
    assert "3 new item(s)" in capsys.readouterr().out
    out = tmp_path / "out.zip"
    assert main(["bank", "export", str(out), "--db", str(db), "--item", "Q02"]) == 0
    assert "1 item(s)" in capsys.readouterr().out
    files = _unpack(out.read_bytes())
    assert errors("item", "3.0", files["items/Q02.xml"]) == []
    bad = tmp_path / "bad.zip"
    bad.write_bytes(_zip({"../x": b""}))
    assert main(["bank", "import", str(bad), "--db", str(db)]) == 1
    assert "points outside the package" in capsys.readouterr().err


def test_package_writer_is_deterministic(bank_doc: BankDocument) -> None:
    digest, _ = _png_href()
    media = {digest: MediaFile(digest, "image/png", PNG)}
    assert write_qti_package(bank_doc, media) == write_qti_package(bank_doc, media)
