"""The rules without the web: NIK, documents, eligibility, state machines,
announcement changes and signatures, session assignment."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exam_server.recruitment.demo import demo_nik, sample_jpeg, sample_pdf, sample_png
from exam_server.results.publication import generate_key
from recruitment import announcement as ann
from recruitment import eligibility as elig
from recruitment.documents import PDF, PNG, DocumentError, DocumentStore, check_upload, sniff
from recruitment.nik import NikError, nik_hash, parse_nik
from recruitment.registry import OfflineRegistry
from recruitment.scheduling import UNPLACED, assign
from recruitment.states import TransitionError, check_second_person, step, step_need

TODAY = dt.date(2024, 8, 1)
KEY = b"k" * 32


def test_nik_parts_and_women_day_plus_40() -> None:
    nik = parse_nik(demo_nik(dt.date(1998, 3, 14), "F", 7), TODAY)
    assert (nik.birth_date, nik.sex, nik.serial, nik.province) == (dt.date(1998, 3, 14), "F", 7, 32)
    assert parse_nik("3273 0102 0799 0001", TODAY).birth_date == dt.date(1999, 7, 2)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("123", "16 angka"),
        ("9973010207990001", "provinsi"),
        ("3200010207990001", "kabupaten"),
        ("3273013102990001", "tanggal"),
        ("3273010207990000", "urut"),
    ],
)
def test_nik_structure_refused_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(NikError) as exc:
        parse_nik(text, TODAY)
    assert why in exc.value.text_id and exc.value.text_en


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_nik_parser_never_crashes(text: str) -> None:
    """Any text is either a NIK or a NikError (never another exception)."""
    with contextlib.suppress(NikError):
        parse_nik(text, TODAY)


@given(
    st.dates(dt.date(1950, 1, 1), dt.date(2006, 12, 31)),
    st.sampled_from("MF"),
    st.integers(1, 9999),
)
@settings(max_examples=200, deadline=None)
def test_nik_round_trip(born: dt.date, sex: str, serial: int) -> None:
    nik = parse_nik(demo_nik(born, sex, serial), TODAY)
    assert (nik.birth_date, nik.sex, nik.serial) == (born, sex, serial)


def test_nik_hash_is_keyed_and_per_period() -> None:
    nik = demo_nik(dt.date(1990, 1, 1), "M", 1)
    h = nik_hash(KEY, "P1", nik)
    assert h == nik_hash(KEY, "P1", nik[:4] + " " + nik[4:])
    assert h != nik_hash(KEY, "P2", nik) and h != nik_hash(b"x" * 32, "P1", nik)
    assert nik not in h and h != hashlib.sha256(nik.encode()).hexdigest()


def test_sniffing_reads_bytes_not_names() -> None:
    assert sniff(sample_pdf()) == PDF and sniff(sample_png()) == PNG
    assert sniff(sample_jpeg()) == "image/jpeg"
    assert sniff(b"<html><script>") is None
    assert sniff(sample_pdf()[:-20]) is None  # cut short: no %%EOF
    assert sniff(sample_png()[:-12]) is None  # no IEND


def test_upload_limits_and_types() -> None:
    assert check_upload(sample_pdf(), (PDF,), 100_000) == PDF
    with pytest.raises(DocumentError, match="batas"):
        check_upload(sample_pdf(), (PDF,), 100)
    with pytest.raises(DocumentError, match="PDF"):
        check_upload(sample_png(), (PDF,), 100_000)
    with pytest.raises(DocumentError, match="kosong"):
        check_upload(b"", (PDF,), 100)


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_upload_check_never_crashes(data: bytes) -> None:
    with contextlib.suppress(DocumentError):
        check_upload(data, (PDF, PNG), 200)


def test_store_is_content_addressed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = DocumentStore(tmp_path)
    a = store.put(sample_pdf(), PDF)
    b = store.put(sample_pdf(), PDF)
    assert a == b and store.get(a.sha256) == sample_pdf()
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [a.sha256]
    store.path_of(a.sha256).write_bytes(b"tampered")
    with pytest.raises(ValueError, match="damaged"):
        store.get(a.sha256)


RULES = elig.EligibilityRules.default_2024()
REQ = elig.Requirement(
    education_level="S1", majors=("Teknik Informatika",), max_age=35, category="general"
)


def test_eligibility_reasons_in_both_languages() -> None:
    ok = elig.Applicant(
        birth_date=dt.date(1995, 1, 1),
        education_level="S1",
        major="teknik  informatika",
        category="general",
        documents=frozenset(RULES.required_documents),
    )
    checks = elig.evaluate(RULES, REQ, ok)
    assert elig.verdict(checks) is True
    old = ok.model_copy(update={"birth_date": dt.date(1988, 8, 1)})  # 36 on the cut-off date
    bad = [c for c in elig.evaluate(RULES, REQ, old) if c.ok is False]
    assert (
        [c.code for c in bad] == ["age"]
        and "36 tahun" in bad[0].text_id
        and "36 years" in bad[0].text_en
    )
    born_day_after = ok.model_copy(update={"birth_date": dt.date(1989, 8, 2)})  # 34 on 2024-08-01
    assert elig.verdict(elig.evaluate(RULES, REQ, born_day_after)) is True
    wrong_major = ok.model_copy(update={"major": "Hukum"})
    assert elig.verdict(elig.evaluate(RULES, REQ, wrong_major)) is False


def test_category_evidence_is_required() -> None:
    req = REQ.model_copy(update={"category": "disability"})
    a = elig.Applicant(
        birth_date=dt.date(1995, 1, 1),
        education_level="S1",
        major="Teknik Informatika",
        documents=frozenset(RULES.required_documents),
        accommodation="extra_time",
    )
    checks = elig.evaluate(RULES, req, a)
    assert elig.verdict(checks) is None
    assert [c.code for c in checks if c.ok is None] == ["doc:sk_disabilitas"]
    general = elig.evaluate(RULES, REQ, a)
    assert [c.code for c in general if c.ok is False] == ["accommodation"]


def test_rules_document_refuses_unknown_references() -> None:
    doc = RULES.model_dump(mode="json")
    doc["required_documents"] = ["ktp", "passport"]
    with pytest.raises(ValueError, match="passport"):
        elig.EligibilityRules.model_validate(doc)


def test_state_machines() -> None:
    assert step_need("draft", "submit") == "submitted"
    with pytest.raises(TransitionError):
        step_need("draft", "approve")
    assert step("submitted", "tms") == "tms_proposed" and step("tms", "appeal") == "appealed"
    with pytest.raises(TransitionError):
        step("tms_final", "appeal")
    with pytest.raises(TransitionError):
        check_second_person("ani", "ani")


def test_announcement_changes_and_signature() -> None:
    sched = ann.Schedule(
        registration_opens=dt.date(2024, 8, 20),
        registration_closes=dt.date(2024, 9, 6),
        verification_ends=dt.date(2024, 9, 20),
        appeal_opens=dt.date(2024, 9, 21),
        appeal_closes=dt.date(2024, 9, 23),
        exam_from=dt.date(2024, 10, 1),
        exam_to=dt.date(2024, 10, 30),
    )
    f1 = {"code": "A-GENERAL", "openings": 2, "location": "Jakarta"}
    v1 = ann.build_document({"code": "P"}, sched, [f1])
    v2 = ann.build_document(
        {"code": "P"},
        sched.model_copy(update={"registration_closes": dt.date(2024, 9, 10)}),
        [{**f1, "openings": 3}, {"code": "B-PAPUA", "openings": 1, "location": "Jayapura"}],
    )
    lines = [c["en"] for c in ann.changes(v1, v2)]
    assert lines == [
        "Registration closes: 2024-09-06 → 2024-09-10",
        "New formation B-PAPUA",
        "Formation A-GENERAL, openings: 2 → 3",
    ]
    key = generate_key()
    data, sig, _ = ann.sign(v2, key)
    assert ann.verify(data, sig, key.public_key())
    assert not ann.verify(data.replace(b"Jayapura", b"Jakarta!"), sig, key.public_key())
    with pytest.raises(ValueError, match="registration_closes"):
        ann.Schedule(**{**sched.model_dump(), "registration_closes": dt.date(2024, 8, 1)})


def test_assignment_respects_location_capacity_and_extra_time() -> None:
    place = assign(
        cand_location=[0, 0, 0, 1, 0, 1, 0],
        cand_extended=[0, 0, 1, 0, 0, 0, 0],
        slot_location=[0, 0, 1, 0],
        slot_extended=[0, 0, 0, 1],
        slot_capacity=[2, 1, 5, 1],
    )
    assert place.tolist() == [0, 0, 3, 2, 1, 2, UNPLACED]


@given(
    st.lists(st.tuples(st.integers(0, 3), st.booleans()), max_size=60),
    st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.integers(0, 8)), max_size=10),
)
@settings(max_examples=200, deadline=None)
def test_assignment_never_overfills_and_fills_what_it_can(cands, slots) -> None:  # type: ignore[no-untyped-def]
    cl = np.array([c[0] for c in cands], dtype=np.int64)
    ce = np.array([c[1] for c in cands], dtype=bool)
    sl = np.array([s[0] for s in slots], dtype=np.int64)
    se = np.array([s[1] for s in slots], dtype=bool)
    cap = np.array([s[2] for s in slots], dtype=np.int64)
    place = assign(cl, ce, sl, se, cap)
    for k in range(len(slots)):
        mine = place == k
        assert mine.sum() <= cap[k]
        assert np.all(cl[mine] == sl[k]) and np.all(ce[mine] == se[k])
    for loc in range(4):
        for ext in (False, True):
            group = (cl == loc) & (ce == ext)
            seats = cap[(sl == loc) & (se == ext)].sum()
            assert (place[group] != UNPLACED).sum() == min(group.sum(), seats)


def test_offline_registry_extract() -> None:
    nik = demo_nik(dt.date(1990, 5, 6), "M", 12)
    reg = OfflineRegistry(f"nik,name,birth_date\n{nik},Budi  Santoso,1990-05-06\n")
    assert reg.check(nik, "budi santoso", dt.date(1990, 5, 6)).ok
    r = reg.check(nik, "Budi", dt.date(1990, 5, 6))
    assert r.found and r.name_matches is False and not r.ok
    assert not reg.check(demo_nik(dt.date(1990, 5, 6), "M", 13), "x", dt.date(1990, 5, 6)).found
    with pytest.raises(ValueError, match="line 2"):
        OfflineRegistry("nik,name,birth_date\n1,x,06/05/1990\n")


def test_receipts_and_cards_check() -> None:
    from recruitment.receipts import card_code, check_text, make_receipt

    key = generate_key()
    _, doc = make_receipt({"registration_number": "P-0000001", "name": "Ani", "at": 1.5}, key)
    text = json.dumps(doc)
    f = check_text(text, key.public_key())
    assert (f.kind, f.valid, f.number) == ("receipt", True, "P-0000001")
    assert not check_text(text.replace("Ani", "Ana"), key.public_key()).valid
    assert not check_text(text, generate_key().public_key()).valid
    code = card_code("P-0000001", "SESI-1", key)
    assert check_text(code, key.public_key()).valid
    assert not check_text(code.replace("SESI-1", "SESI-2"), key.public_key()).valid
    assert check_text("SELEKSI-K1:a:b", key.public_key()).kind == "unknown"


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_check_text_never_crashes(text: str) -> None:
    from recruitment.receipts import check_text

    f = check_text(text, _KEY.public_key())
    assert not f.valid


_KEY = generate_key()


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def test_photo_metadata_is_stripped_and_the_picture_kept() -> None:
    from recruitment.documents import JPEG, strip_metadata

    jfif = _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    exif = _segment(0xE1, b"Exif\x00\x00GPS -6.2,106.8")
    icc = _segment(0xE2, b"ICC_PROFILE\x00colour")
    comment = _segment(0xFE, b"Budi, rumah")
    scan = _segment(0xDA, b"\x00" * 10) + b"\x12\x34\xff\x00\x56" + b"\xff\xd9"
    jpeg = b"\xff\xd8" + jfif + exif + icc + comment + scan
    clean = strip_metadata(jpeg, JPEG)
    assert clean == b"\xff\xd8" + jfif + icc + scan
    assert b"GPS" not in clean and b"Budi" not in clean and sniff(clean) == JPEG
    png = sample_png()
    text = b"tEXt" + b"Location\x00Jakarta"
    chunk = (len(text) - 4).to_bytes(4, "big") + text + b"\x00\x00\x00\x00"
    tagged = png[:33] + chunk + png[33:]  # after the signature and IHDR
    assert strip_metadata(tagged, PNG) == png
    assert strip_metadata(sample_pdf(), PDF) == sample_pdf()
    with pytest.raises(DocumentError, match="rusak"):
        strip_metadata(b"\xff\xd8" + exif[:5] + b"\xff\xd9", JPEG)


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_strip_metadata_never_crashes(tail: bytes) -> None:
    from recruitment.documents import JPEG, strip_metadata

    for data, media in ((b"\xff\xd8" + tail, JPEG), (sample_png()[:8] + tail, PNG)):
        try:
            out = strip_metadata(data, media)
        except DocumentError:
            continue
        assert len(out) <= len(data)
