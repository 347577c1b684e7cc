"""Eligibility rules as a versioned document, and their evaluation with reasons.

The rules of a period (:class:`EligibilityRules`, JSON kept on the period;
``rules_2024.json`` holds the CASN 2024 defaults) say: the date at which age
is counted, the education levels, the documents and their limits, the
categories and the evidence each requires, the accommodations, and the
reason codes verifiers give. A formation adds its own requirements
(:class:`Requirement`: education level, accepted majors, age limit).

:func:`evaluate` gives one :class:`Check` per rule, each with its reason in
Bahasa Indonesia and English; the registration page shows them as the
candidate types, and the same function decides at submit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from recruitment.documents import MEDIA_TYPES


class Text2(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1)
    en: str = Field(min_length=1)


class DocumentKind(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    title_id: str
    title_en: str
    media: tuple[str, ...] = Field(min_length=1)
    max_kb: int = Field(gt=0, le=20_480)

    @model_validator(mode="after")
    def _known_media(self) -> DocumentKind:
        unknown = [m for m in self.media if m not in MEDIA_TYPES]
        if unknown:
            raise ValueError(f"media {unknown} not one of {list(MEDIA_TYPES)}")
        return self


class CategoryRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    title_id: str
    title_en: str
    evidence: tuple[str, ...] = ()


class Accommodation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    title_id: str
    title_en: str
    categories: tuple[str, ...] = ()


class EligibilityRules(BaseModel):
    """A period's rules (see the module doc); invalid documents are refused
    at construction naming the field."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str = Field(min_length=1, max_length=40)
    cutoff_date: dt.date
    min_age: int = Field(ge=0, le=100)
    education_levels: tuple[str, ...] = Field(min_length=1)
    documents: dict[str, DocumentKind]
    required_documents: tuple[str, ...]
    categories: dict[str, CategoryRule] = Field(min_length=1)
    accommodations: dict[str, Accommodation] = {}
    reason_codes: dict[str, Text2] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> EligibilityRules:
        for kind in self.required_documents:
            if kind not in self.documents:
                raise ValueError(f"required_documents: unknown document kind {kind!r}")
        for key, cat in self.categories.items():
            for kind in cat.evidence:
                if kind not in self.documents:
                    raise ValueError(f"categories.{key}.evidence: unknown document {kind!r}")
        for key, acc in self.accommodations.items():
            for c in acc.categories:
                if c not in self.categories:
                    raise ValueError(f"accommodations.{key}.categories: unknown category {c!r}")
        return self

    @classmethod
    def default_2024(cls) -> EligibilityRules:
        text = resources.files("recruitment").joinpath("rules_2024.json").read_text("utf-8")
        return cls.from_json(text)

    @classmethod
    def from_json(cls, text: str) -> EligibilityRules:
        return cls.model_validate_json(text)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)

    def documents_for(self, category: str) -> tuple[str, ...]:
        """The document kinds a registration in ``category`` must upload."""
        extra = self.categories[category].evidence if category in self.categories else ()
        return self.required_documents + tuple(k for k in extra if k not in self.required_documents)


class Requirement(BaseModel):
    """A formation's own requirements (from its need)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    education_level: str
    majors: tuple[str, ...] = ()  # empty: any major
    max_age: int = Field(ge=18, le=70)
    category: str


class Applicant(BaseModel):
    """What the candidate entered so far (fields may still be empty)."""

    model_config = ConfigDict(frozen=True)
    birth_date: dt.date | None = None
    education_level: str = ""
    major: str = ""
    category: str = ""
    accommodation: str = ""
    documents: frozenset[str] = frozenset()


class Check(BaseModel):
    """One rule's result: ok None = not decidable yet (a field is empty)."""

    model_config = ConfigDict(frozen=True)
    code: str
    ok: bool | None
    text_id: str
    text_en: str


def age_at(born: dt.date, on: dt.date) -> int:
    """Whole years of age on ``on`` (a birthday on ``on`` counts)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _major_key(text: str) -> str:
    return " ".join(text.lower().split())


def evaluate(rules: EligibilityRules, req: Requirement, a: Applicant) -> list[Check]:
    """Every rule for ``a`` applying to a formation with ``req`` (see :class:`Check`)."""
    out: list[Check] = []
    cut = rules.cutoff_date.isoformat()
    if a.birth_date is None:
        out.append(
            Check(code="age", ok=None, text_id="Isi tanggal lahir", text_en="Enter the birth date")
        )
    else:
        age = age_at(a.birth_date, rules.cutoff_date)
        ok = rules.min_age <= age <= req.max_age
        out.append(
            Check(
                code="age",
                ok=ok,
                text_id=f"Usia pada {cut}: {age} tahun (syarat {rules.min_age}–{req.max_age})",
                text_en=f"Age on {cut}: {age} years (required {rules.min_age}–{req.max_age})",
            )
        )
    if not a.education_level:
        out.append(
            Check(
                code="education",
                ok=None,
                text_id="Pilih jenjang pendidikan",
                text_en="Choose the education level",
            )
        )
    else:
        ok = a.education_level == req.education_level
        out.append(
            Check(
                code="education",
                ok=ok,
                text_id=f"Jenjang {a.education_level}; formasi meminta {req.education_level}",
                text_en=f"Level {a.education_level}; the formation asks for {req.education_level}",
            )
        )
    if req.majors:
        if not a.major.strip():
            out.append(
                Check(code="major", ok=None, text_id="Isi program studi", text_en="Enter the major")
            )
        else:
            ok = _major_key(a.major) in {_major_key(m) for m in req.majors}
            accepted = ", ".join(req.majors)
            out.append(
                Check(
                    code="major",
                    ok=ok,
                    text_id=(
                        "Program studi sesuai formasi"
                        if ok
                        else f"Program studi “{a.major}” tidak termasuk yang diterima: {accepted}"
                    ),
                    text_en=(
                        "The major matches the formation"
                        if ok
                        else f"The major “{a.major}” is not among those accepted: {accepted}"
                    ),
                )
            )
    cat = rules.categories.get(req.category)
    if cat is not None:
        out.extend(_document_checks(rules, rules.documents_for(req.category), a.documents))
    if a.accommodation:
        acc = rules.accommodations.get(a.accommodation)
        ok = acc is not None and (not acc.categories or req.category in acc.categories)
        out.append(
            Check(
                code="accommodation",
                ok=ok,
                text_id="Akomodasi tersedia untuk kategori ini"
                if ok
                else "Akomodasi ini tidak tersedia untuk kategori formasi",
                text_en="The accommodation is available to this category"
                if ok
                else "This accommodation is not available to the formation's category",
            )
        )
    return out


def _document_checks(
    rules: EligibilityRules, kinds: Collection[str], have: Collection[str]
) -> list[Check]:
    out = []
    for kind in kinds:
        doc = rules.documents[kind]
        ok = kind in have
        out.append(
            Check(
                code=f"doc:{kind}",
                ok=True if ok else None,
                text_id=f"{doc.title_id}: {'terunggah' if ok else 'belum diunggah'}",
                text_en=f"{doc.title_en}: {'uploaded' if ok else 'not uploaded yet'}",
            )
        )
    return out


def verdict(checks: list[Check]) -> bool | None:
    """False if any rule fails, None if any is still open, else True."""
    if any(c.ok is False for c in checks):
        return False
    if any(c.ok is None for c in checks):
        return None
    return True


def checks_json(checks: list[Check]) -> list[dict[str, Any]]:
    return [c.model_dump() for c in checks]
