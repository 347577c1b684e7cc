"""Summaries of the bank: counts by subtest, content area and status, and the
distributions of the IRT parameters (what ``seleksi bank stats`` prints)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from item_bank.records import ItemRecord, ItemStatus
from item_bank.store import ItemStore

STATUSES = tuple(s.value for s in ItemStatus)


@dataclass(frozen=True)
class Distribution:
    """Summary of one parameter over items: n, mean, sd and quantiles."""

    n: int
    mean: float
    sd: float
    minimum: float
    q25: float
    median: float
    q75: float
    maximum: float

    @classmethod
    def of(cls, values: list[float]) -> Distribution:
        x = np.asarray(values, dtype=np.float64)
        q = np.quantile(x, [0.0, 0.25, 0.5, 0.75, 1.0])
        sd = float(x.std(ddof=1)) if x.size > 1 else 0.0
        return cls(int(x.size), float(x.mean()), sd, *(float(v) for v in q))


@dataclass(frozen=True)
class BankStats:
    """Counts over current versions; parameters of items that have them."""

    by_subtest: dict[str, Counter[str]]  # subtest → status → items
    by_area: dict[tuple[str, str], Counter[str]]  # (subtest, area) → status → items
    item_rows: int  # all versions
    items_with_history: int  # older (non-current) versions kept
    uncalibrated: dict[str, int]  # subtest → items without parameters
    models: dict[str, Counter[str]]  # subtest → model → items
    parameters: dict[tuple[str, str, str], Distribution]  # (subtest, model, name)
    enemy_groups: int
    items_in_enemy_groups: int
    usage_total: int
    items_used: int
    usage_max: int
    subtest_names: dict[str, str] = field(default_factory=dict)


def _param_values(item: ItemRecord) -> dict[str, float]:
    irt = item.irt
    assert irt is not None
    out = {name: getattr(irt, name) for name in ("a", "b", "c", "d")}
    for k, t in enumerate(irt.thresholds, start=1):
        out[f"step{k}"] = t
    return {k: float(v) for k, v in out.items() if v is not None}


def bank_stats(store: ItemStore) -> BankStats:
    """Compute :class:`BankStats` for ``store`` (reads every current item once)."""
    doc = store.export_document()
    counts = store.counts()
    by_subtest: dict[str, Counter[str]] = {s.code: Counter() for s in doc.subtests}
    by_area: dict[tuple[str, str], Counter[str]] = {
        (s.code, a.code): Counter() for s in doc.subtests for a in s.content_areas
    }
    uncalibrated: Counter[str] = Counter()
    models: dict[str, Counter[str]] = {s.code: Counter() for s in doc.subtests}
    values: dict[tuple[str, str, str], list[float]] = {}
    enemies: Counter[str] = Counter()
    for item in doc.items:
        by_subtest[item.subtest][item.status.value] += 1
        by_area[(item.subtest, item.content_area)][item.status.value] += 1
        if item.enemy_group:
            enemies[item.enemy_group] += 1
        if item.irt is None:
            uncalibrated[item.subtest] += 1
            continue
        models[item.subtest][item.irt.model] += 1
        for name, v in _param_values(item).items():
            values.setdefault((item.subtest, item.irt.model, name), []).append(v)
    usage = store.usage()
    history = counts["bank_item"] - len(doc.items)
    return BankStats(
        by_subtest=by_subtest,
        by_area=by_area,
        item_rows=counts["bank_item"],
        items_with_history=history,
        uncalibrated=dict(uncalibrated),
        models=models,
        parameters={
            k: Distribution.of(values[k])
            for k in sorted(values, key=lambda k: (list(models).index(k[0]), k[1], k[2]))
        },
        enemy_groups=len(enemies),
        items_in_enemy_groups=sum(enemies.values()),
        usage_total=sum(usage.values()),
        items_used=len(usage),
        usage_max=max(usage.values(), default=0),
        subtest_names={s.code: s.name for s in doc.subtests},
    )


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    return [fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [
        fmt.format(*r) for r in rows
    ]


def format_stats(stats: BankStats) -> str:
    """Plain-text report of :class:`BankStats`."""
    lines: list[str] = ["Items by subtest and status (current versions)", ""]
    header = ["subtest", *STATUSES, "total"]
    rows = []
    for code, counter in stats.by_subtest.items():
        rows.append([code, *(str(counter[s]) for s in STATUSES), str(sum(counter.values()))])
    total = Counter[str]()
    for counter in stats.by_subtest.values():
        total.update(counter)
    rows.append(["all", *(str(total[s]) for s in STATUSES), str(sum(total.values()))])
    lines += _table(header, rows)
    lines += ["", "Items by content area and status", ""]
    rows = [
        [f"{sub}/{area}", *(str(c[s]) for s in STATUSES), str(sum(c.values()))]
        for (sub, area), c in stats.by_area.items()
    ]
    lines += _table(["content area", *STATUSES, "total"], rows)
    lines += [
        "",
        f"Versions: {stats.item_rows} rows in all; "
        f"{stats.items_with_history} older version(s) kept for audit.",
        f"Enemy groups: {stats.enemy_groups} ({stats.items_in_enemy_groups} items).",
        f"Usage: {stats.usage_total} administrations of {stats.items_used} items "
        f"(most used: {stats.usage_max}).",
        "",
        "IRT parameters (newest calibration of each current item)",
        "",
    ]
    for code, counter in stats.models.items():
        models = ", ".join(f"{m}: {n}" for m, n in sorted(counter.items())) or "none"
        lines.append(f"{code}: {models}; without parameters: {stats.uncalibrated.get(code, 0)}")
    lines.append("")
    rows = [
        [
            f"{sub} {model} {name}",
            str(d.n),
            f"{d.mean:.3f}",
            f"{d.sd:.3f}",
            f"{d.minimum:.3f}",
            f"{d.q25:.3f}",
            f"{d.median:.3f}",
            f"{d.q75:.3f}",
            f"{d.maximum:.3f}",
        ]
        for (sub, model, name), d in stats.parameters.items()
    ]
    if rows:
        lines += _table(
            ["parameter", "n", "mean", "sd", "min", "q25", "median", "q75", "max"], rows
        )
    return "\n".join(lines)
