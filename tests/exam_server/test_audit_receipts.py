"""Signed receipts: round trip, tampering, other keys, and garbage codes."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import re
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from exam_server import receipts
from exam_server.receipts import Receipt, decode, encode, sign_receipt, verify_receipt

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
HEAD = "ab" * 32


def sample(**over: object) -> Receipt:
    fields: dict[str, object] = {
        "registration_number": "2024-0001-0042",
        "exam": "SKD-2024",
        "session": "SKD-2024-JKT-R1-S1",
        "scores": {"TWK": Decimal("85"), "TIU": Decimal("100"), "TKP": Decimal("166")},
        "total": Decimal("351"),
        "chain_head": HEAD,
    }
    fields.update(over)
    return sign_receipt(KEY, **fields)  # type: ignore[arg-type]


def test_round_trip_and_signature() -> None:
    r = sample()
    code = encode(r)
    assert code.startswith("SELEKSI-R1:") and re.fullmatch(r"SELEKSI-R1:[A-Z2-7]+", code)
    back = decode(code)
    assert back == r
    assert back.scores == (("TWK", "85"), ("TIU", "100"), ("TKP", "166"))
    assert back.total == "351" and back.points()["TKP"] == Decimal(166)
    assert verify_receipt(back, KEY.public_key())
    # Spaces, line breaks and lower case (a code typed or pasted) are forgiven.
    spaced = " ".join(code[i : i + 7] for i in range(0, len(code), 7)).lower()
    assert decode(spaced) == r
    # Small enough for a QR code a phone reads off a terminal screen.
    assert len(code) < 320


def test_points_are_printed_as_the_publication_prints_them() -> None:
    r = sample(scores={"TWK": Decimal("72.50"), "TIU": "80"}, total=Decimal("152.5"))
    assert r.scores == (("TWK", "72.5"), ("TIU", "80")) and r.total == "152.5"
    with pytest.raises(ValueError, match="as the results print it"):
        sample(scores={"TWK": "72.50"})
    with pytest.raises(ValueError, match="not a number"):
        sample(total="banyak")


def test_any_change_breaks_the_signature() -> None:
    r = sample()
    pub = KEY.public_key()
    changes: dict[str, Any] = {
        "registration_number": "2024-0001-0043",
        "exam": "SKD-2025",
        "session": "SKD-2024-JKT-R1-S2",
        "scores": (("TWK", "90"), ("TIU", "100"), ("TKP", "166")),
        "total": "356",
        "chain_head": "cd" * 32,
    }
    for name, value in changes.items():
        forged = dataclasses.replace(r, **{name: value})
        assert not verify_receipt(forged, pub), name
        # The forged receipt still encodes and decodes: the code carries it,
        # only the signature tells.
        assert decode(encode(forged)) == forged


def test_another_key_does_not_verify() -> None:
    other = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    r = sample()
    assert not verify_receipt(r, other.public_key())
    # A receipt re-signed by another key names that key: it never passes as ours.
    forged = sign_receipt(
        other,
        registration_number=r.registration_number,
        exam=r.exam,
        session=r.session,
        scores=dict(r.scores),
        total=r.total,
        chain_head=r.chain_head,
    )
    assert forged.key_id != r.key_id
    assert not verify_receipt(forged, KEY.public_key())
    assert not verify_receipt(dataclasses.replace(forged, key_id=r.key_id), KEY.public_key())


def test_no_answers_and_short_code() -> None:
    r = sample(chain_head="")
    assert decode(encode(r)).chain_head == "" and verify_receipt(r, KEY.public_key())
    code = receipts.short_code(r)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", code)
    assert code != receipts.short_code(sample())
    with pytest.raises(ValueError, match="chain_head"):
        sample(chain_head="xyz")
    with pytest.raises(ValueError, match="control characters"):
        sample(session="S1\x7f")


def test_qr_code_is_svg_of_the_text_code() -> None:
    svg = receipts.qr_svg(sample())
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    d = sample().to_dict()
    assert d["code"] == encode(sample())
    assert d["scores"] == {"TWK": "85", "TIU": "100", "TKP": "166"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a receipt code"),
        ("hello", "not a receipt code"),
        ("SELEKSI-R2:AAAA", "version"),
        ("SELEKSI-R1:", "empty"),
        ("SELEKSI-R1:0189", "damaged"),
        ("SELEKSI-R1:AA", "version 0"),
        ("SELEKSI-R1:AE", "cut short"),
    ],
)
def test_garbage_is_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode(text)


def test_truncated_and_extended_codes_are_refused() -> None:
    code = encode(sample())
    with pytest.raises(ValueError, match="cut short"):
        decode(code[:-16])  # whole base32 blocks: the bytes end early
    with pytest.raises(ValueError, match="damaged"):
        decode(receipts.PREFIX + "A")  # a length no base32 text has
    raw = receipts.to_bytes(sample())
    longer = receipts.PREFIX + base64.b32encode(raw + b"\x00" * 5).decode().rstrip("=")
    with pytest.raises(ValueError, match="extra characters"):
        decode(longer)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=400))
def test_decode_of_any_text_is_a_receipt_or_a_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        decode(text)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_decode_of_any_bytes_behind_the_prefix(data: bytes) -> None:
    text = receipts.PREFIX + base64.b32encode(data).decode().rstrip("=")
    try:
        r = decode(text)
    except ValueError:
        return
    # Whatever decodes is canonical: it encodes back to the very same code.
    assert encode(r) == text


# Printable text (control characters are refused when signing: see below).
_codes = st.text(
    st.characters(min_codepoint=33, max_codepoint=0x2FFF, exclude_categories=("Cc", "Cs")),
    min_size=1,
    max_size=20,
)
_points = st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    reg=_codes,
    exam=_codes,
    session=_codes,
    scores=st.dictionaries(_codes, _points, max_size=6),
    total=_points,
    head=st.one_of(st.just(""), st.binary(min_size=32, max_size=32).map(bytes.hex)),
)
def test_every_signed_receipt_round_trips(
    reg: str, exam: str, session: str, scores: dict[str, Decimal], total: Decimal, head: str
) -> None:
    if head == "00" * 32:
        head = ""
    r = sign_receipt(
        KEY,
        registration_number=reg,
        exam=exam,
        session=session,
        scores=scores,
        total=total,
        chain_head=head,
    )
    back = decode(encode(r))
    assert back == r and verify_receipt(back, KEY.public_key())


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=7))
def test_a_flipped_bit_never_verifies(position: int, bit: int) -> None:
    r = sample()
    raw = bytearray(receipts.to_bytes(r))
    raw[position % len(raw)] ^= 1 << bit
    text = receipts.PREFIX + base64.b32encode(bytes(raw)).decode().rstrip("=")
    try:
        damaged = decode(text)
    except ValueError:
        return
    assert not verify_receipt(damaged, KEY.public_key())
