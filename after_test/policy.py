"""The after-the-test policy: one versioned document (JSON) holding every rule an
agency may change from year to year — the appeal window and answer deadline,
what an appeal may correct, the survey's questions, the feedback categories
and limits, the training standard and the catalogue of training programmes.

Validated at construction (pydantic): a bad document is refused with the
field's path, never half-applied. :meth:`AfterTestPolicy.default_2024` is the
demo's document.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from exam_server.results.versions import CORRECTABLE

SCHEMA = "seleksi/after-test-policy/1"


class PolicyDocumentError(ValueError):
    """The after-test policy document is invalid; the message names the field."""


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bilingual(_Doc):
    id: str = Field(min_length=1, max_length=300)
    en: str = Field(min_length=1, max_length=300)


class AppealRules(_Doc):
    """window_days: days after publication in which an appeal is accepted;
    answer_days: days the agency has to answer; fields: what may be corrected."""

    window_days: int = Field(ge=1, le=60)
    answer_days: int = Field(ge=1, le=90)
    fields: tuple[str, ...] = CORRECTABLE
    max_reason: int = Field(default=2000, ge=50, le=20000)
    max_evidence: int = Field(default=4000, ge=0, le=100000)

    @field_validator("fields")
    @classmethod
    def _clerical(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        # An appeal fixes clerical data only (domain.md); the publication's
        # version chain refuses anything else, so the policy may only narrow it.
        wrong = [f for f in v if f not in CORRECTABLE]
        if wrong:
            allowed = ", ".join(CORRECTABLE)
            raise ValueError(f"{', '.join(wrong)}: an appeal may correct only {allowed}")
        return v


class SurveyQuestion(_Doc):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    text: Bilingual
    low: int = 1
    high: int = 5

    @model_validator(mode="after")
    def _scale(self) -> SurveyQuestion:
        if not self.low < self.high <= 10:
            raise ValueError(f"question {self.code}: scale must be low < high ≤ 10")
        return self


class FeedbackRules(_Doc):
    """categories: code → label; per_hour: submissions a client may make in an
    hour (spam protection, with the honeypot field); min_seconds: a form sent
    back sooner than this after it was served is a robot's."""

    categories: dict[str, Bilingual]
    max_text: int = Field(default=2000, ge=100, le=20000)
    per_hour: int = Field(default=5, ge=1, le=1000)
    min_seconds: float = Field(default=3.0, ge=0.0, le=600.0)

    @field_validator("categories")
    @classmethod
    def _codes(cls, v: dict[str, Bilingual]) -> dict[str, Bilingual]:
        if not v:
            raise ValueError("at least one category is needed")
        for code in v:
            if not code.isidentifier() or len(code) > 40:
                raise ValueError(f"category code {code!r} must be a short identifier")
        return v


class Programme(_Doc):
    """A training programme of the catalogue and the content areas / SKB
    competencies it addresses."""

    code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9_-]{0,39}$")
    name: Bilingual
    areas: tuple[str, ...] = Field(min_length=1)


class TrainingRules(_Doc):
    """standard: the least mean score expected of new hires in each content
    area or SKB component, on the 0–100 report scale (content areas: ``50 +
    10·θ``, :func:`after_test.diagnostics.report_scale`; SKB components as
    scored, 0–100); ``default`` for any area not listed. A group's need in an
    area is ``max(0, standard − mean)``."""

    default: float = Field(ge=0.0, le=100.0)
    standard: dict[str, float] = Field(default_factory=dict)
    catalogue: tuple[Programme, ...] = Field(min_length=1)

    @field_validator("standard")
    @classmethod
    def _range(cls, v: dict[str, float]) -> dict[str, float]:
        for area, level in v.items():
            if not 0.0 <= level <= 100.0:
                raise ValueError(f"standard for {area!r} must be within [0, 100]")
        return v

    def standard_of(self, area: str) -> float:
        return self.standard.get(area, self.default)


class AfterTestPolicy(_Doc):
    schema_: str = Field(alias="schema", default=SCHEMA)
    version: str = Field(min_length=1, max_length=40)
    appeals: AppealRules
    survey: tuple[SurveyQuestion, ...] = Field(min_length=1, max_length=20)
    feedback: FeedbackRules
    training: TrainingRules

    @model_validator(mode="after")
    def _unique(self) -> AfterTestPolicy:
        codes = [q.code for q in self.survey]
        if len(set(codes)) != len(codes):
            raise ValueError("survey question codes must be unique")
        progs = [p.code for p in self.training.catalogue]
        if len(set(progs)) != len(progs):
            raise ValueError("programme codes must be unique")
        return self

    @classmethod
    def from_json(cls, text: str) -> AfterTestPolicy:
        try:
            return cls.model_validate(json.loads(text))
        except json.JSONDecodeError as exc:
            raise PolicyDocumentError(f"not valid JSON: {exc}") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(document)"
            raise PolicyDocumentError(f"{where}: {first['msg']}") from None

    def to_json(self) -> str:
        return json.dumps(self.model_dump(by_alias=True, mode="json"), ensure_ascii=False, indent=1)

    @classmethod
    def default_2024(cls) -> AfterTestPolicy:
        """The demo's rules: a 3-day appeal window, 7 days to answer."""
        return cls.model_validate(_DEFAULT_2024)


def _b(id_: str, en: str) -> dict[str, str]:
    return {"id": id_, "en": en}


_DEFAULT_2024 = {
    "schema": SCHEMA,
    "version": "2024.1",
    "appeals": {"window_days": 3, "answer_days": 7},
    "survey": [
        {"code": "overall", "text": _b("Kepuasan keseluruhan", "Overall satisfaction")},
        {"code": "clarity", "text": _b("Kejelasan petunjuk ujian", "Clarity of instructions")},
        {"code": "terminal", "text": _b("Kenyamanan komputer ujian", "Comfort of the terminal")},
        {"code": "staff", "text": _b("Pelayanan panitia", "Service of the staff")},
    ],
    "feedback": {
        "categories": {
            "registration": _b("Pendaftaran", "Registration"),
            "venue": _b("Lokasi ujian", "Test site"),
            "test": _b("Pelaksanaan ujian", "The test itself"),
            "results": _b("Pengumuman hasil", "Results"),
            "other": _b("Lainnya", "Other"),
        },
    },
    "training": {
        "default": 50.0,
        "standard": {"pelayanan_publik": 53.0, "integritas": 52.0, "wawancara": 70.0},
        "catalogue": [
            {
                "code": "KOMUNIKASI",
                "name": _b("Komunikasi efektif", "Effective communication"),
                "areas": ["verbal", "pelayanan_publik", "sosial_budaya", "bahasa_indonesia"],
            },
            {
                "code": "MANAJEMEN-WAKTU",
                "name": _b("Manajemen waktu", "Time management"),
                "areas": ["profesionalisme", "numerik"],
            },
            {
                "code": "PEMECAHAN-MASALAH",
                "name": _b("Pemecahan masalah", "Problem solving"),
                "areas": ["numerik", "figural", "tik"],
            },
            {
                "code": "WAWASAN-KEBANGSAAN",
                "name": _b("Wawasan kebangsaan dan integritas", "National insight and integrity"),
                "areas": [
                    "nasionalisme",
                    "integritas",
                    "bela_negara",
                    "pilar_negara",
                    "anti_radikalisme",
                ],
            },
            {
                "code": "JEJARING",
                "name": _b("Membangun jejaring kerja", "Building networks"),
                "areas": ["jejaring_kerja"],
            },
        ],
    },
}
