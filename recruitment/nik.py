"""The national ID number (NIK): its structure, and the keyed hash that stands for it.

A NIK is 16 digits: province (2), regency/city (2), district (2), the
holder's birth date as ``DDMMYY`` with 40 added to the day for women, and a
serial (4, never 0000). :func:`parse_nik` checks that structure and gives
the parts; it cannot tell whether the number was issued (that is the
population registry's answer, ``recruitment.registry``).

Privacy: the number itself is never stored, shown on a page or logged. One
registration per person and period is enforced on :func:`nik_hash`, an
HMAC-SHA256 under a key of the recruitment service: without the key, the
hash cannot be checked against a guessed number (16 digits with known
structure are few enough to enumerate, so a plain hash would not protect).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass

# Province codes (kode wilayah, Permendagri 2022, including the Papua provinces
# formed in 2022).
PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36, 51, 52, 53}
    | {61, 62, 63, 64, 65, 71, 72, 73, 74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96}
)
_DIGITS = re.compile(r"^[0-9]{16}$")


class NikError(ValueError):
    """A NIK refused, with the reason in Bahasa Indonesia and English."""

    def __init__(self, text_id: str, text_en: str) -> None:
        super().__init__(f"{text_id} / {text_en}")
        self.text_id = text_id
        self.text_en = text_en


@dataclass(frozen=True)
class Nik:
    """The parts of a structurally valid NIK (never printed: see the module doc)."""

    province: int
    regency: int
    district: int
    birth_date: dt.date
    sex: str  # "M" or "F" (day + 40)
    serial: int


def parse_nik(text: str, today: dt.date) -> Nik:
    """The parts of ``text`` (spaces and dots people type between groups are
    ignored); :class:`NikError` saying what is wrong otherwise.

    today: resolves the two-digit birth year (the latest year not after today)."""
    digits = re.sub(r"[\s.]", "", text)
    if not _DIGITS.match(digits):
        raise NikError("NIK harus 16 angka", "the NIK must be 16 digits")
    province, regency, district = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    if province not in PROVINCES:
        raise NikError("kode provinsi NIK tidak dikenal", "the NIK's province code is unknown")
    if regency == 0 or district == 0:
        raise NikError(
            "kode kabupaten/kota atau kecamatan NIK tidak sah",
            "the NIK's regency or district code is invalid",
        )
    day, month, yy = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    sex = "F" if day > 40 else "M"
    if day > 40:
        day -= 40
    year = 2000 + yy if 2000 + yy <= today.year else 1900 + yy
    try:
        born = dt.date(year, month, day)
    except ValueError:
        raise NikError(
            "tanggal lahir dalam NIK tidak sah", "the birth date inside the NIK is invalid"
        ) from None
    if born > today:
        born = dt.date(year - 100, month, day)
    serial = int(digits[12:16])
    if serial == 0:
        raise NikError("nomor urut NIK tidak sah", "the NIK's serial number is invalid")
    return Nik(province, regency, district, born, sex, serial)


def normalise(text: str) -> str:
    """The 16 digits of a NIK as typed (spaces and dots removed)."""
    return re.sub(r"[\s.]", "", text)


def nik_hash(key: bytes, period: str, nik: str) -> str:
    """Hex HMAC-SHA256 of ``period|nik`` under ``key`` (at least 32 bytes):
    the same person in the same period gives the same hash, and without the
    key the hash cannot be tested against guesses."""
    if len(key) < 32:
        raise ValueError("the NIK key must be at least 32 bytes")
    return hmac.new(key, f"{period}|{normalise(nik)}".encode(), hashlib.sha256).hexdigest()


def derive_key(secret: str) -> bytes:
    """The NIK key derived from the server's secret key (its own label, so it
    is never the key of anything else). Changing the secret changes every hash:
    keep the secret for the life of a period."""
    return hmac.new(secret.encode(), b"seleksi.recruitment.nik.v1", hashlib.sha256).digest()
