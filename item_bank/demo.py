"""A realistic SKD demo bank: TWK, TIU and TKP with IRT parameters.

``generate_demo_bank(seed, per_subtest)`` returns a :class:`BankDocument`
(subtests with their content areas, and items) ready for
:meth:`ItemStore.import_document`; the same seed always gives the same bank.

Content: stems and options in Bahasa Indonesia from templated generators
(``demo_twk``, ``demo_tiu``, ``demo_tkp``), spread evenly over each subtest's
content areas, no two items alike (stem and options), options shuffled. TWK and TIU items have
five options and a key (5 points); TKP items have five options scored 1–5,
each a different value.

Parameter distributions (logistic metric, D = 1), drawn with
``numpy.random.default_rng(seed)``:

* TWK, TIU — 3PL: ``a ~ LogNormal(0, 0.3)`` clipped to [0.4, 2.5];
  ``b ~ Normal(μ_area, 1)`` clipped to [−3, 3], with μ_area per content area
  in :data:`AREA_DIFFICULTY`; ``c ~ Beta(4, 16)`` (mean 0.2, as for five
  options) clipped to [0.02, 0.35].
* TKP — GPCM with four steps: ``a ~ LogNormal(ln 0.8, 0.25)`` clipped to
  [0.3, 2.0]; steps ``δ + τ_k`` with a location ``δ ~ Normal(−1.0, 0.5)``
  (TKP is easy: most candidates pick the better responses) and
  ``τ = (−1.2, −0.4, 0.4, 1.2) + Normal(0, 0.3)`` each.
* Status: 88 % operational, 7 % pretest, 3 % draft, 2 % retired. Drafts have
  no parameters; pretest items have provisional ones from a small sample.
* Calibration sample sizes ``UniformInt(800, 3000)`` (pretest: 150–400);
  standard errors ``se_a = a·s/√n``, ``se_b = (1 + |b|)·s/√n``,
  ``se_c = 0.6·s/√n``, ``se_step = (1 + |step|)·s/√n`` with
  ``s ~ Uniform(1.5, 2.5)`` per item: magnitudes typical of MML estimates,
  not derived from data.

Enemy groups: TWK items built on the same fact (a Pancasila principle, an
article of the constitution, a historical event, ...) share a group, so no
test asks about the same fact twice.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.engine import Engine

from item_bank import demo_tiu, demo_tkp, demo_twk
from item_bank.demo_drafts import ChoiceDraft, RankedDraft
from item_bank.records import (
    OPTION_LETTERS,
    BankDocument,
    ContentAreaSpec,
    ImportSummary,
    IrtRecord,
    ItemRecord,
    ItemStatus,
    ScoringMode,
    SubtestSpec,
)
from item_bank.store import ItemStore

DEFAULT_SEED = 2024
DEFAULT_PER_SUBTEST = 600
DEMO_SCALE = "skd-demo"
DEMO_RUN = "demo-calibration-2024"
DEMO_PRETEST_RUN = "demo-pretest-2024"
DEMO_CALIBRATED_AT = dt.date(2024, 6, 30)

SKD_SUBTESTS: tuple[SubtestSpec, ...] = (
    SubtestSpec(
        code="TWK",
        name="Tes Wawasan Kebangsaan",
        scoring=ScoringMode.DICHOTOMOUS,
        points_correct=5.0,
        content_areas=(
            ContentAreaSpec("nasionalisme", "Nasionalisme"),
            ContentAreaSpec("integritas", "Integritas"),
            ContentAreaSpec("bela_negara", "Bela negara"),
            ContentAreaSpec("pilar_negara", "Pilar negara"),
            ContentAreaSpec("bahasa_indonesia", "Bahasa Indonesia"),
        ),
    ),
    SubtestSpec(
        code="TIU",
        name="Tes Intelegensia Umum",
        scoring=ScoringMode.DICHOTOMOUS,
        points_correct=5.0,
        content_areas=(
            ContentAreaSpec("verbal", "Kemampuan verbal"),
            ContentAreaSpec("numerik", "Kemampuan numerik"),
            ContentAreaSpec("figural", "Kemampuan figural"),
        ),
    ),
    SubtestSpec(
        code="TKP",
        name="Tes Karakteristik Pribadi",
        scoring=ScoringMode.OPTION_SCORED,
        min_points=1,
        max_points=5,
        content_areas=(
            ContentAreaSpec("pelayanan_publik", "Pelayanan publik"),
            ContentAreaSpec("jejaring_kerja", "Jejaring kerja"),
            ContentAreaSpec("sosial_budaya", "Sosial budaya"),
            ContentAreaSpec("tik", "Teknologi informasi dan komunikasi"),
            ContentAreaSpec("profesionalisme", "Profesionalisme"),
            ContentAreaSpec("anti_radikalisme", "Anti radikalisme"),
        ),
    ),
)

# Mean difficulty (b) per content area: civic knowledge and reasoning differ.
AREA_DIFFICULTY: dict[str, float] = {
    "nasionalisme": 0.1,
    "integritas": -0.6,
    "bela_negara": -0.3,
    "pilar_negara": 0.0,
    "bahasa_indonesia": 0.2,
    "verbal": 0.0,
    "numerik": 0.5,
    "figural": 0.2,
}
STATUS_WEIGHTS = (
    (ItemStatus.OPERATIONAL, 0.88),
    (ItemStatus.PRETEST, 0.07),
    (ItemStatus.DRAFT, 0.03),
    (ItemStatus.RETIRED, 0.02),
)

Draft = ChoiceDraft | RankedDraft


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _draw_unique(
    rng: random.Random,
    generators: Sequence[tuple[Callable[[random.Random], Draft], float]],
    count: int,
    area: str,
) -> list[Draft]:
    """``count`` distinct drafts; ``RuntimeError`` if the templates run dry."""
    funcs = [g for g, _ in generators]
    weights = [w for _, w in generators]
    # Real banks repeat stems ("Kata baku yang tepat adalah ....") with other
    # options, so an item is a duplicate only if its stem and options both recur.
    seen: set[tuple[str, frozenset[str]]] = set()
    out: list[Draft] = []
    attempts = 0
    while len(out) < count:
        attempts += 1
        if attempts > 200 * count + 1000:
            raise RuntimeError(
                f"demo templates for {area} give only {len(out)} distinct items; "
                f"{count} were asked for"
            )
        draft = rng.choices(funcs, weights)[0](rng)
        options = (
            frozenset(draft.responses)
            if isinstance(draft, RankedDraft)
            else frozenset((draft.key, *draft.distractors))
        )
        if (draft.stem, options) in seen:
            continue
        seen.add((draft.stem, options))
        out.append(draft)
    return out


def _status(np_rng: np.random.Generator, n: int) -> list[ItemStatus]:
    statuses = [s for s, _ in STATUS_WEIGHTS]
    idx = np_rng.choice(len(statuses), size=n, p=[w for _, w in STATUS_WEIGHTS])
    return [statuses[i] for i in idx]


def _se_scale(np_rng: np.random.Generator, n: int) -> float:
    return float(np_rng.uniform(1.5, 2.5) / np.sqrt(n))


def _r(x: float) -> float:
    # Parameters are stored at 4 decimals, as calibration software reports them.
    return round(float(x), 4)


def _irt_3pl(np_rng: np.random.Generator, area: str, status: ItemStatus) -> IrtRecord | None:
    a = float(np.clip(np_rng.lognormal(0.0, 0.3), 0.4, 2.5))
    b = float(np.clip(np_rng.normal(AREA_DIFFICULTY[area], 1.0), -3.0, 3.0))
    c = float(np.clip(np_rng.beta(4, 16), 0.02, 0.35))
    pretest = status is ItemStatus.PRETEST
    n = int(np_rng.integers(150, 401) if pretest else np_rng.integers(800, 3001))
    s = _se_scale(np_rng, n)
    if status is ItemStatus.DRAFT:
        return None
    return IrtRecord(
        model="3PL",
        a=_r(a),
        b=_r(b),
        c=_r(c),
        se_a=_r(a * s),
        se_b=_r((1 + abs(b)) * s),
        se_c=_r(0.6 * s),
        sample_size=n,
        scale=DEMO_SCALE,
        run=DEMO_PRETEST_RUN if pretest else DEMO_RUN,
        calibrated_at=DEMO_CALIBRATED_AT,
    )


def _irt_gpcm(np_rng: np.random.Generator, status: ItemStatus) -> IrtRecord | None:
    a = float(np.clip(np_rng.lognormal(np.log(0.8), 0.25), 0.3, 2.0))
    delta = np_rng.normal(-1.0, 0.5)
    steps = delta + np.array([-1.2, -0.4, 0.4, 1.2]) + np_rng.normal(0.0, 0.3, size=4)
    pretest = status is ItemStatus.PRETEST
    n = int(np_rng.integers(150, 401) if pretest else np_rng.integers(800, 3001))
    s = _se_scale(np_rng, n)
    if status is ItemStatus.DRAFT:
        return None
    return IrtRecord(
        model="GPCM",
        a=_r(a),
        thresholds=tuple(_r(t) for t in steps),
        se_a=_r(a * s),
        se_thresholds=tuple(_r((1 + abs(t)) * s) for t in steps),
        sample_size=n,
        scale=DEMO_SCALE,
        run=DEMO_PRETEST_RUN if pretest else DEMO_RUN,
        calibrated_at=DEMO_CALIBRATED_AT,
    )


def generate_demo_bank(
    seed: int = DEFAULT_SEED, per_subtest: int = DEFAULT_PER_SUBTEST
) -> BankDocument:
    """The SKD demo bank: ``per_subtest`` items in each of TWK, TIU, TKP.

    Deterministic in ``seed``. Raises ``ValueError`` for ``per_subtest < 1``
    and ``RuntimeError`` if the templates cannot give that many distinct items.
    """
    if per_subtest < 1:
        raise ValueError(f"per_subtest must be at least 1, got {per_subtest}")
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    source = f"Seleksi demo generator (seed {seed})"
    items: list[ItemRecord] = []
    for subtest in SKD_SUBTESTS:
        areas = [ca.code for ca in subtest.content_areas]
        drafted: list[tuple[str, Draft]] = []
        for area, count in zip(areas, _split(per_subtest, len(areas)), strict=True):
            gens: Sequence[tuple[Callable[[random.Random], Draft], float]]
            if subtest.code == "TKP":
                gens = ((demo_tkp.GENERATORS[area], 1.0),)
            elif subtest.code == "TWK":
                gens = demo_twk.GENERATORS[area]
            else:
                gens = demo_tiu.GENERATORS[area]
            drafted += [(area, d) for d in _draw_unique(rng, gens, count, area)]
        rng.shuffle(drafted)  # ids do not reveal the content area
        statuses = _status(np_rng, len(drafted))
        fact_counts: dict[str, int] = {}
        for _, d in drafted:
            if isinstance(d, ChoiceDraft) and d.fact:
                fact_counts[d.fact] = fact_counts.get(d.fact, 0) + 1
        for number, ((area, draft), status) in enumerate(
            zip(drafted, statuses, strict=True), start=1
        ):
            item_id = f"{subtest.code}-{number:04d}"
            if isinstance(draft, RankedDraft):
                points = [5, 4, 3, 2, 1]
                order = list(range(5))
                rng.shuffle(order)
                items.append(
                    ItemRecord(
                        item_id=item_id,
                        subtest=subtest.code,
                        content_area=area,
                        stem=draft.stem,
                        options=tuple(draft.responses[i] for i in order),
                        points=tuple(points[i] for i in order),
                        status=status,
                        source=source,
                        version=1,
                        irt=_irt_gpcm(np_rng, status),
                    )
                )
                continue
            options = [draft.key, *draft.distractors]
            if len(set(options)) != len(options) or len(options) != 5:
                raise RuntimeError(f"demo template made a bad item: {draft}")
            order = list(range(5))
            rng.shuffle(order)
            shuffled = [options[i] for i in order]
            enemy = (
                f"{subtest.code}-{draft.fact}"
                if draft.fact and fact_counts.get(draft.fact, 0) > 1
                else None
            )
            items.append(
                ItemRecord(
                    item_id=item_id,
                    subtest=subtest.code,
                    content_area=area,
                    stem=draft.stem,
                    options=tuple(shuffled),
                    key=order.index(0),
                    status=status,
                    enemy_group=enemy,
                    source=source,
                    version=1,
                    irt=_irt_3pl(np_rng, area, status),
                )
            )
    return BankDocument(subtests=SKD_SUBTESTS, items=tuple(items))


def describe_item(item: ItemRecord) -> str:
    """A readable rendering of one item (for ``seleksi bank demo --show``)."""
    lines = [f"{item.item_id} [{item.subtest}/{item.content_area}, {item.status.value}]", item.stem]
    for k, text in enumerate(item.options):
        mark = ""
        if item.key is not None and k == item.key:
            mark = "  ← kunci"
        elif item.points is not None:
            mark = f"  ({item.points[k]} poin)"
        lines.append(f"  {OPTION_LETTERS[k]}. {text}{mark}")
    return "\n".join(lines)


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`seed_demo_bank` put in the database."""

    seed: int
    per_subtest: int
    import_summary: ImportSummary
    items_by_subtest: dict[str, int]
    calibrated_by_subtest: dict[str, int]

    def lines(self) -> list[str]:
        names = {s.code: s.name for s in SKD_SUBTESTS}
        out = [f"Demo SKD bank (seed {self.seed}): {self.import_summary.describe()}."]
        for code, n in self.items_by_subtest.items():
            out.append(
                f"  {code} ({names.get(code, code)}): {n} items, "
                f"{self.calibrated_by_subtest.get(code, 0)} with IRT parameters"
            )
        return out


def seed_demo_bank(
    engine: Engine, *, seed: int = DEFAULT_SEED, per_subtest: int = DEFAULT_PER_SUBTEST
) -> DemoSummary:
    """Create the bank tables if needed and import the demo bank into ``engine``.

    Idempotent for a given seed: a second call finds every item unchanged.
    """
    store = ItemStore(engine)
    store.create_tables()
    doc = generate_demo_bank(seed=seed, per_subtest=per_subtest)
    summary = store.import_document(doc)
    items: dict[str, int] = {}
    calibrated: dict[str, int] = {}
    for item in doc.items:
        items[item.subtest] = items.get(item.subtest, 0) + 1
        if item.irt is not None:
            calibrated[item.subtest] = calibrated.get(item.subtest, 0) + 1
    return DemoSummary(seed, per_subtest, summary, items, calibrated)
