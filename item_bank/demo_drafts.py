"""Shared shapes of demo item drafts (before ids, option order and parameters)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ChoiceDraft:
    """A dichotomous item: one key, wrong options, and the fact it tests.

    Items testing the same ``fact`` become enemies (never in one test).
    """

    stem: str
    key: str
    distractors: tuple[str, ...]
    fact: str | None = None


@dataclass(frozen=True)
class RankedDraft:
    """A TKP item: responses from best (5 points) to worst (1 point)."""

    stem: str
    responses: tuple[str, ...]


ChoiceGenerator = Callable[[random.Random], ChoiceDraft]
RankedGenerator = Callable[[random.Random], RankedDraft]

NAMES = (
    "Andi",
    "Budi",
    "Citra",
    "Dewi",
    "Eko",
    "Fajar",
    "Gita",
    "Hendra",
    "Intan",
    "Joko",
    "Kartika",
    "Lestari",
    "Made",
    "Nur",
    "Oktavia",
    "Putu",
    "Rahmat",
    "Siti",
    "Taufik",
    "Wulan",
    "Yohanes",
    "Zainal",
    "Ayu",
    "Bambang",
    "Maria",
    "Ketut",
    "Rina",
    "Samuel",
)

AGENCIES = (
    "kantor kecamatan",
    "dinas kependudukan dan pencatatan sipil",
    "kantor pajak pratama",
    "dinas kesehatan kabupaten",
    "kantor wilayah kementerian",
    "badan pertanahan kota",
    "dinas perhubungan provinsi",
    "rumah sakit umum daerah",
    "kantor imigrasi",
    "dinas pendidikan kota",
    "kantor pelayanan perbendaharaan",
    "sekretariat daerah kabupaten",
)

REGIONS = (
    "Kabupaten Merauke",
    "Kabupaten Toraja Utara",
    "Kota Kupang",
    "Kabupaten Nias",
    "Kota Ternate",
    "Kabupaten Sintang",
    "Kota Padang",
    "Kabupaten Lombok Timur",
    "Kota Manado",
    "Kabupaten Banyuwangi",
    "Kota Jayapura",
    "Kabupaten Aceh Tengah",
    "Kota Palangka Raya",
    "Kabupaten Sumba Barat",
)


def pick_distractors(
    rng: random.Random, pool: Sequence[str], exclude: Sequence[str], k: int = 4
) -> tuple[str, ...]:
    """``k`` different entries of ``pool`` that are not in ``exclude``."""
    candidates = sorted(set(pool) - set(exclude))
    if len(candidates) < k:
        raise ValueError(f"only {len(candidates)} distractors available, need {k}")
    return tuple(rng.sample(candidates, k))
