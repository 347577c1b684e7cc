"""The ranking rules of one exam: one versioned, validated policy document.

Every number that decides a candidate's fate lives here and nowhere else: the
passing grade of each category (per-subtest minimums, or a total plus subtest
floors), the cut to the next stage (a multiple of the openings) and what
happens to ties at the cut, the integration weights of SKD and SKB, the final
tie-break chain, and the result codes with their explanations in Bahasa
Indonesia and English. Rules change from year to year, so they are data: the
2024 rules ship as ``policy_2024.json`` and :meth:`RankingPolicy.default_2024`
loads them.

Points are :class:`~decimal.Decimal` throughout and are rounded to
``score_decimals`` places on intake (:meth:`RankingPolicy.points`), so the
numbers published are exactly the numbers that were compared.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from importlib import resources
from typing import Any

from assessment.components import CAPS_2024, ComponentError, SkbCaps, caps_from_policy

SCHEMA = "seleksi/ranking-policy/1"

#: What each result code means; a policy maps each meaning to a label and texts.
SKD_MEANINGS = ("in_cut", "outside_cut", "below_threshold", "absent", "disqualified")
FINAL_MEANINGS = ("appointed", "appointed_optimised", "not_appointed", "absent", "disqualified")
MEANINGS = (*SKD_MEANINGS, *FINAL_MEANINGS[:3])

TIE_RULES = ("include_all", "exclude_all")
OPTIMISATION_POOLS = ("skd_outside_cut", "final_not_appointed")
OPTIMISATION_SCOPES = ("formation", "group")
LANGS = ("id", "en")


class PolicyError(ValueError):
    """A policy document is invalid; the message names the field."""


@dataclass(frozen=True)
class Subtest:
    code: str
    max_points: Decimal
    name_id: str = ""
    name_en: str = ""


@dataclass(frozen=True)
class Category:
    """A candidate category and its passing grade.

    ``minimums``: subtest code → minimum points (each must be met);
    ``total``: minimum total points, or ``None`` when only subtests count.
    """

    id: str
    minimums: Mapping[str, Decimal]
    total: Decimal | None
    name_id: str
    name_en: str

    def name(self, lang: str) -> str:
        return self.name_id if lang == "id" else self.name_en


@dataclass(frozen=True)
class ResultCode:
    meaning: str
    code: str
    text_id: str
    text_en: str

    def text(self, lang: str) -> str:
        return self.text_id if lang == "id" else self.text_en


@dataclass(frozen=True)
class Check:
    """One comparison of a passing grade: ``subject`` is a subtest code or ``total``."""

    subject: str
    value: Decimal
    minimum: Decimal

    @property
    def passed(self) -> bool:
        return self.value >= self.minimum

    def describe(self) -> str:
        sign = "≥" if self.passed else "<"
        return f"{self.subject} {fmt(self.value)} {sign} {fmt(self.minimum)}"


@dataclass(frozen=True)
class Verdict:
    """The outcome of a passing grade, with every comparison made."""

    category: Category
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def reason(self, lang: str = "en") -> str:
        """Why, in one sentence: the failed comparisons, or all of them when passed."""
        shown = self.checks if self.passed else tuple(c for c in self.checks if not c.passed)
        detail = ", ".join(c.describe() for c in shown)
        name = self.category.name(lang)
        if lang == "id":
            head = "memenuhi" if self.passed else "tidak memenuhi"
            return f"{head} nilai ambang batas kategori {name}: {detail}"
        head = "meets" if self.passed else "below"
        return f"{head} the passing grade for {name}: {detail}"


@dataclass(frozen=True)
class RankingPolicy:
    """The published ranking rules of one exam (see the module docstring).

    Build it with :meth:`from_dict` / :meth:`from_json` (validated, with a
    :class:`PolicyError` naming the field) or :meth:`default_2024`.
    """

    version: str
    name: str
    sources: tuple[str, ...]
    score_decimals: int
    subtests: tuple[Subtest, ...]
    categories: Mapping[str, Category]
    cut_multiple: int
    skd_order: tuple[str, ...]
    ties_at_cut: str
    skd_weight: Decimal
    skb_weight: Decimal
    skb_max_points: Decimal
    skb_minimum: Decimal | None
    final_decimals: int
    final_order: tuple[str, ...]
    ties_at_openings: str
    optimisation_pool: str
    optimisation_scope: str
    codes: Mapping[str, ResultCode]
    #: The title in Bahasa Indonesia (optional; ``name`` is the title when empty).
    title_id: str = ""
    #: The SKB components' caps (issue 19; ``assessment.components``); None: the 2024 caps.
    skb_caps: SkbCaps | None = None

    @property
    def skb_rules(self) -> SkbCaps:
        return self.skb_caps or CAPS_2024

    def title(self, lang: str) -> str:
        """The policy's title for a reader of ``lang`` (``id``: ``title_id`` when set)."""
        return self.title_id if lang == "id" and self.title_id else self.name

    # -- derived -----------------------------------------------------------
    # Derived values are cached on the (frozen) instance: they are read per candidate.
    @functools.cached_property
    def subtest_codes(self) -> tuple[str, ...]:
        return tuple(s.code for s in self.subtests)

    @functools.cached_property
    def skd_max_points(self) -> Decimal:
        return sum((s.max_points for s in self.subtests), Decimal(0))

    def code(self, meaning: str) -> ResultCode:
        return self.codes[meaning]

    def category(self, category_id: str) -> Category:
        try:
            return self.categories[category_id]
        except KeyError:
            raise ValueError(
                f"unknown category {category_id!r}; the policy has {', '.join(self.categories)}"
            ) from None

    def points(self, value: Any, *, what: str = "points") -> Decimal:
        """``value`` as Decimal points rounded to ``score_decimals`` places (half up)."""
        return _quantize(_decimal(value, what), self.score_decimals)

    def subtest_points(self, scores: Mapping[str, Any], *, who: str) -> dict[str, Decimal]:
        """Validated points per subtest, in policy order; errors name ``who`` and the subtest."""
        out: dict[str, Decimal] = {}
        for s in self.subtests:
            if s.code not in scores or scores[s.code] is None:
                raise ValueError(f"{who}: no score for subtest {s.code}")
            p = self.points(scores[s.code], what=f"{who}: {s.code}")
            if p < 0 or p > s.max_points:
                raise ValueError(f"{who}: {s.code} = {fmt(p)} is outside 0–{fmt(s.max_points)}")
            out[s.code] = p
        extra = sorted(set(scores) - set(out))
        if extra:
            raise ValueError(f"{who}: unknown subtest(s) {', '.join(extra)}")
        return out

    def final_score(self, skd_total: Decimal, skb: Decimal) -> Decimal:
        """SKD total / SKD max × SKD weight + SKB / SKB max × SKB weight, rounded."""
        raw = (
            skd_total / self.skd_max_points * self.skd_weight
            + skb / self.skb_max_points * self.skb_weight
        )
        return _quantize(raw, self.final_decimals)

    # -- (de)serialisation -----------------------------------------------------
    @classmethod
    def default_2024(cls) -> RankingPolicy:
        """The 2024 CPNS rules (KepmenPANRB 321/2024 as publicly reported)."""
        text = (
            resources.files("exam_server.results").joinpath("policy_2024.json").read_text("utf-8")
        )
        return cls.from_json(text)

    @classmethod
    def of_exam(cls, policy_json: str | None) -> RankingPolicy:
        """The policy an exam runs under, from its stored ``policy_json``: an
        exam made before exams stored their policy (NULL) ran under the 2024
        rules. The one reading every verdict about an exam's candidates uses
        (the live server, ``seleksi audit verify``, ``seleksi results``)."""
        return cls.from_json(policy_json) if policy_json else cls.default_2024()

    @classmethod
    def from_json(cls, text: str) -> RankingPolicy:
        try:
            data = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise PolicyError(f"policy: not valid JSON ({exc})") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> RankingPolicy:
        return _parse_policy(data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "version": self.version,
            "name": self.name,
            # Only when set: a document without it keeps its bytes (and hash).
            **({"title_id": self.title_id} if self.title_id else {}),
            **({"skb": _caps_dict(self.skb_caps)} if self.skb_caps is not None else {}),
            "sources": list(self.sources),
            "score_decimals": self.score_decimals,
            "subtests": [
                {
                    "code": s.code,
                    "max_points": json_number(s.max_points),
                    "name_id": s.name_id,
                    "name_en": s.name_en,
                }
                for s in self.subtests
            ],
            "categories": {
                c.id: {
                    "name_id": c.name_id,
                    "name_en": c.name_en,
                    "minimums": {k: json_number(v) for k, v in c.minimums.items()},
                    "total": None if c.total is None else json_number(c.total),
                }
                for c in self.categories.values()
            },
            "skd": {
                "cut_multiple": self.cut_multiple,
                "order": list(self.skd_order),
                "ties_at_cut": self.ties_at_cut,
            },
            "final": {
                "skd_weight": json_number(self.skd_weight),
                "skb_weight": json_number(self.skb_weight),
                "skb_max_points": json_number(self.skb_max_points),
                "skb_minimum": None if self.skb_minimum is None else json_number(self.skb_minimum),
                "decimals": self.final_decimals,
                "order": list(self.final_order),
                "ties_at_openings": self.ties_at_openings,
            },
            "optimisation": {"pool": self.optimisation_pool, "scope": self.optimisation_scope},
            "codes": {
                m: {"code": c.code, "id": c.text_id, "en": c.text_en} for m, c in self.codes.items()
            },
        }

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, 2-space indent, trailing newline)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _caps_dict(caps: SkbCaps) -> dict[str, Any]:
    d = caps.model_dump()
    return {k: json_number(v) if isinstance(v, Decimal) else v for k, v in d.items()} | {
        "kinds": list(caps.kinds)
    }


def evaluate(policy: RankingPolicy, category: str, scores: Mapping[str, Any]) -> Verdict:
    """Apply ``category``'s passing grade to ``scores`` (subtest code → points)."""
    cat = policy.category(category)
    pts = policy.subtest_points(scores, who="scores")
    checks = [
        Check(code, pts[code], cat.minimums[code])
        for code in policy.subtest_codes
        if code in cat.minimums
    ]
    if cat.total is not None:
        checks.insert(0, Check("total", sum(pts.values(), Decimal(0)), cat.total))
    return Verdict(cat, tuple(checks))


def passes(
    policy: RankingPolicy, category: str, scores: Mapping[str, Any], lang: str = "en"
) -> tuple[bool, str]:
    """Whether ``scores`` meet ``category``'s passing grade, and why (in ``lang``).

    ``scores`` maps every subtest code of the policy to points; raises
    ``ValueError`` for an unknown category or a missing/out-of-range score.
    """
    v = evaluate(policy, category, scores)
    return v.passed, v.reason(lang)


# -- number helpers -------------------------------------------------------------


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{what}: must be a number, got {value!r}")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, float):
        # repr is the shortest decimal that round-trips: 80.1 stays 80.1.
        d = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{what}: {value!r} is not a number") from None
    else:
        raise ValueError(f"{what}: must be a number, got {type(value).__name__}")
    if not d.is_finite():
        raise ValueError(f"{what}: must be a finite number, got {value!r}")
    return d


def _quantize(d: Decimal, places: int) -> Decimal:
    return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def fmt(d: Decimal) -> str:
    """A Decimal as people write it: ``85``, ``72.5`` (no exponent, no trailing zeros)."""
    n = d.normalize()
    s = format(n, "f")
    return "0" if s in ("-0", "") else s


def json_number(d: Decimal) -> int | float:
    """A Decimal as a JSON number whose text is :func:`fmt` of it.

    Integers stay ``int``; others become ``float``, whose repr is the shortest
    round-trip decimal, i.e. the same digits for the ≤ 15 significant digits
    points ever have.
    """
    n = d.normalize()
    if n == n.to_integral_value():
        return int(n)
    return float(n)


def parse_date(text: Any, what: str) -> dt.date | None:
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise ValueError(f"{what}: must be a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a date YYYY-MM-DD") from None


# -- policy parsing -------------------------------------------------------------


def _req(d: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in d:
        raise PolicyError(f"{where}.{key}: required")
    return d[key]


def _obj(v: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise PolicyError(f"{where}: must be an object")
    return v


def _str(v: Any, where: str, *, empty: bool = False) -> str:
    if not isinstance(v, str) or (not empty and not v.strip()):
        raise PolicyError(f"{where}: must be a non-empty string")
    return v


def _num(v: Any, where: str, *, lo: Decimal | None = None, positive: bool = False) -> Decimal:
    try:
        d = _decimal(v, where)
    except ValueError as exc:
        raise PolicyError(str(exc)) from None
    if positive and d <= 0:
        raise PolicyError(f"{where}: must be > 0, got {fmt(d)}")
    if lo is not None and d < lo:
        raise PolicyError(f"{where}: must be ≥ {fmt(lo)}, got {fmt(d)}")
    return d


def _int(v: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise PolicyError(f"{where}: must be an integer in {lo}–{hi}, got {v!r}")
    return v


def _choice(v: Any, where: str, options: Sequence[str]) -> str:
    if v not in options:
        raise PolicyError(f"{where}: must be one of {', '.join(options)}, got {v!r}")
    return str(v)


def _order(v: Any, where: str, allowed: Sequence[str], first: str) -> tuple[str, ...]:
    if not isinstance(v, list) or not v:
        raise PolicyError(f"{where}: must be a non-empty list")
    for i, k in enumerate(v):
        _choice(k, f"{where}[{i}]", allowed)
    if len(set(v)) != len(v):
        raise PolicyError(f"{where}: keys must not repeat")
    if v[0] != first:
        raise PolicyError(f"{where}: must start with {first!r}")
    return tuple(v)


def _parse_policy(data: Any) -> RankingPolicy:
    root = _obj(data, "policy")
    schema = _req(root, "schema", "policy")
    if schema != SCHEMA:
        raise PolicyError(f"policy.schema: expected {SCHEMA!r}, got {schema!r}")
    version = _str(_req(root, "version", "policy"), "policy.version")
    name = _str(_req(root, "name", "policy"), "policy.name")
    title_id = _str(root.get("title_id", ""), "policy.title_id", empty=True)
    sources_raw = root.get("sources", [])
    if not isinstance(sources_raw, list):
        raise PolicyError("policy.sources: must be a list of strings")
    sources = tuple(_str(s, f"policy.sources[{i}]") for i, s in enumerate(sources_raw))
    decimals = _int(_req(root, "score_decimals", "policy"), "policy.score_decimals", 0, 6)

    subs_raw = _req(root, "subtests", "policy")
    if not isinstance(subs_raw, list) or not subs_raw:
        raise PolicyError("policy.subtests: must be a non-empty list")
    subtests: list[Subtest] = []
    for i, s in enumerate(subs_raw):
        w = f"policy.subtests[{i}]"
        s = _obj(s, w)
        code = _str(_req(s, "code", w), f"{w}.code")
        if code in ("total", "final", "skd_total", "skb", "gpa", "older"):
            raise PolicyError(f"{w}.code: {code!r} is a reserved name")
        subtests.append(
            Subtest(
                code=code,
                max_points=_num(_req(s, "max_points", w), f"{w}.max_points", positive=True),
                name_id=_str(s.get("name_id", ""), f"{w}.name_id", empty=True),
                name_en=_str(s.get("name_en", ""), f"{w}.name_en", empty=True),
            )
        )
    codes_list = [s.code for s in subtests]
    if len(set(codes_list)) != len(codes_list):
        raise PolicyError("policy.subtests: codes must be unique")
    max_by_code = {s.code: s.max_points for s in subtests}
    skd_max = sum(max_by_code.values(), Decimal(0))

    cats_raw = _obj(_req(root, "categories", "policy"), "policy.categories")
    if not cats_raw:
        raise PolicyError("policy.categories: at least one category is required")
    categories: dict[str, Category] = {}
    for cid, c in cats_raw.items():
        w = f"policy.categories.{cid}"
        c = _obj(c, w)
        mins_raw = _obj(c.get("minimums", {}), f"{w}.minimums")
        mins: dict[str, Decimal] = {}
        for code, v in mins_raw.items():
            if code not in max_by_code:
                raise PolicyError(f"{w}.minimums.{code}: not a subtest of this policy")
            m = _num(v, f"{w}.minimums.{code}", lo=Decimal(0))
            if m > max_by_code[code]:
                raise PolicyError(
                    f"{w}.minimums.{code}: {fmt(m)} is above the subtest maximum "
                    f"{fmt(max_by_code[code])}"
                )
            mins[code] = m
        total_raw = c.get("total")
        total = None if total_raw is None else _num(total_raw, f"{w}.total", lo=Decimal(0))
        if total is not None and total > skd_max:
            raise PolicyError(f"{w}.total: {fmt(total)} is above the SKD maximum {fmt(skd_max)}")
        if total is None and not mins:
            raise PolicyError(f"{w}: needs subtest minimums, a total, or both")
        categories[cid] = Category(
            id=cid,
            minimums=mins,
            total=total,
            name_id=_str(_req(c, "name_id", w), f"{w}.name_id"),
            name_en=_str(_req(c, "name_en", w), f"{w}.name_en"),
        )

    skd = _obj(_req(root, "skd", "policy"), "policy.skd")
    cut_multiple = _int(_req(skd, "cut_multiple", "policy.skd"), "policy.skd.cut_multiple", 1, 100)
    skd_order = _order(
        _req(skd, "order", "policy.skd"), "policy.skd.order", ["total", *codes_list], "total"
    )
    ties_at_cut = _choice(
        _req(skd, "ties_at_cut", "policy.skd"), "policy.skd.ties_at_cut", TIE_RULES
    )

    fin = _obj(_req(root, "final", "policy"), "policy.final")
    skd_w = _num(_req(fin, "skd_weight", "policy.final"), "policy.final.skd_weight", lo=Decimal(0))
    skb_w = _num(_req(fin, "skb_weight", "policy.final"), "policy.final.skb_weight", lo=Decimal(0))
    if skd_w + skb_w != 100:
        raise PolicyError(
            f"policy.final: skd_weight + skb_weight must be 100, got {fmt(skd_w + skb_w)}"
        )
    skb_max = _num(
        _req(fin, "skb_max_points", "policy.final"), "policy.final.skb_max_points", positive=True
    )
    skb_min_raw = fin.get("skb_minimum")
    skb_min = (
        None
        if skb_min_raw is None
        else _num(skb_min_raw, "policy.final.skb_minimum", lo=Decimal(0))
    )
    final_decimals = _int(_req(fin, "decimals", "policy.final"), "policy.final.decimals", 0, 6)
    final_order = _order(
        _req(fin, "order", "policy.final"),
        "policy.final.order",
        ["final", "skd_total", "skb", *codes_list, "gpa", "older"],
        "final",
    )
    ties_at_openings = _choice(
        _req(fin, "ties_at_openings", "policy.final"), "policy.final.ties_at_openings", TIE_RULES
    )

    opt = _obj(_req(root, "optimisation", "policy"), "policy.optimisation")
    pool = _choice(
        _req(opt, "pool", "policy.optimisation"), "policy.optimisation.pool", OPTIMISATION_POOLS
    )
    scope = _choice(
        _req(opt, "scope", "policy.optimisation"), "policy.optimisation.scope", OPTIMISATION_SCOPES
    )

    codes_raw = _obj(_req(root, "codes", "policy"), "policy.codes")
    codes: dict[str, ResultCode] = {}
    for meaning in MEANINGS:
        w = f"policy.codes.{meaning}"
        c = _obj(_req(codes_raw, meaning, "policy.codes"), w)
        codes[meaning] = ResultCode(
            meaning=meaning,
            code=_str(_req(c, "code", w), f"{w}.code"),
            text_id=_str(_req(c, "id", w), f"{w}.id"),
            text_en=_str(_req(c, "en", w), f"{w}.en"),
        )
    unknown = sorted(set(codes_raw) - set(MEANINGS))
    if unknown:
        raise PolicyError(f"policy.codes: unknown meaning(s) {', '.join(unknown)}")
    for stage, meanings in (("SKD", SKD_MEANINGS), ("final", FINAL_MEANINGS)):
        labels = [codes[m].code for m in meanings]
        if len(set(labels)) != len(labels):
            raise PolicyError(f"policy.codes: the {stage} codes must be distinct, got {labels}")

    return RankingPolicy(
        version=version,
        name=name,
        sources=sources,
        score_decimals=decimals,
        subtests=tuple(subtests),
        categories=categories,
        cut_multiple=cut_multiple,
        skd_order=skd_order,
        ties_at_cut=ties_at_cut,
        skd_weight=skd_w,
        skb_weight=skb_w,
        skb_max_points=skb_max,
        skb_minimum=skb_min,
        final_decimals=final_decimals,
        final_order=final_order,
        ties_at_openings=ties_at_openings,
        optimisation_pool=pool,
        optimisation_scope=scope,
        codes=codes,
        title_id=title_id,
        skb_caps=_skb_caps(root.get("skb")),
    )


def _skb_caps(section: Any) -> SkbCaps | None:
    if section is None:
        return None
    try:
        return caps_from_policy(section)
    except ComponentError as exc:
        raise PolicyError(str(exc)) from None
