"""A self-contained HTML calibration report with inline SVG plots.

No plotting library: the few chart types a psychometrician reads (item
characteristic curves with observed proportions, test information and SE,
the ability distribution) are drawn as SVG paths here. The report opens in
any browser, offline.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from cat_engine.irt import ItemParameters, Model, category_probabilities, information

FloatArray = NDArray[np.float64]

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
MAX_PANELS = 120


@dataclass
class ReportData:
    """Everything the report shows. Per-item arrays are (n_items,)."""

    title: str
    item_ids: Sequence[str]
    params: ItemParameters
    se: dict[str, FloatArray] | None
    summary: dict[str, str]
    p_value: FloatArray
    item_rest: FloatArray
    sx2_p: FloatArray
    dif_class: Sequence[str] | None
    dif_delta: FloatArray | None
    theta_hat: FloatArray  # (n_persons,) EAP
    # observed mean score per θ bin, per item: (n_items, n_bins) and bin centres
    observed: FloatArray
    observed_n: FloatArray
    bin_centres: FloatArray
    anchors: set[int] = field(default_factory=set)


def _e(s: object) -> str:
    return html.escape(str(s))


class _Plot:
    """A tiny SVG plot: data → pixel mapping, axes, paths."""

    def __init__(
        self,
        w: int,
        h: int,
        xr: tuple[float, float],
        yr: tuple[float, float],
        margin: tuple[int, int, int, int] = (8, 8, 22, 30),
    ) -> None:
        self.w, self.h = w, h
        self.xr, self.yr = xr, yr
        self.top, self.right, self.bottom, self.left = margin
        self.parts: list[str] = []

    def x(self, v: FloatArray | float) -> FloatArray:
        x0, x1 = self.xr
        return np.asarray(
            self.left + (np.asarray(v) - x0) / (x1 - x0) * (self.w - self.left - self.right)
        )

    def y(self, v: FloatArray | float) -> FloatArray:
        y0, y1 = self.yr
        return np.asarray(
            self.h
            - self.bottom
            - (np.asarray(v) - y0) / (y1 - y0) * (self.h - self.top - self.bottom)
        )

    def axes(
        self,
        xticks: Sequence[float],
        yticks: Sequence[float],
        xlabel: str = "",
        ylabel: str = "",
    ) -> None:
        x0, x1 = self.x(self.xr[0]), self.x(self.xr[1])
        y0, y1 = self.y(self.yr[0]), self.y(self.yr[1])
        self.parts.append(
            f'<rect x="{x0:.1f}" y="{y1:.1f}" width="{x1 - x0:.1f}" height="{y0 - y1:.1f}" '
            'fill="#fff" stroke="#999" stroke-width="0.6"/>'
        )
        for t in xticks:
            px = float(self.x(t))
            self.parts.append(
                f'<line x1="{px:.1f}" y1="{y1:.1f}" x2="{px:.1f}" y2="{y0:.1f}" stroke="#eee"/>'
                f'<text x="{px:.1f}" y="{y0 + 11:.1f}" font-size="9" '
                f'text-anchor="middle">{t:g}</text>'
            )
        for t in yticks:
            py = float(self.y(t))
            self.parts.append(
                f'<line x1="{x0:.1f}" y1="{py:.1f}" x2="{x1:.1f}" y2="{py:.1f}" stroke="#eee"/>'
                f'<text x="{x0 - 3:.1f}" y="{py + 3:.1f}" font-size="9" '
                f'text-anchor="end">{t:g}</text>'
            )
        if xlabel:
            self.parts.append(
                f'<text x="{(x0 + x1) / 2:.1f}" y="{self.h - 1:.1f}" font-size="9" '
                f'text-anchor="middle">{_e(xlabel)}</text>'
            )
        if ylabel:
            cy = (y0 + y1) / 2
            self.parts.append(
                f'<text x="9" y="{cy:.1f}" font-size="9" text-anchor="middle" '
                f'transform="rotate(-90 9 {cy:.1f})">{_e(ylabel)}</text>'
            )

    def line(
        self, xs: FloatArray, ys: FloatArray, color: str, width: float = 1.5, dash: str = ""
    ) -> None:
        px, py = self.x(xs), self.y(np.clip(ys, self.yr[0], self.yr[1]))
        d = " ".join(
            f"{'M' if i == 0 else 'L'}{a:.1f},{b:.1f}"
            for i, (a, b) in enumerate(zip(px, py, strict=True))
        )
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(
            f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{width}"{extra}/>'
        )

    def points(self, xs: FloatArray, ys: FloatArray, sizes: FloatArray, color: str) -> None:
        for a, b, s in zip(self.x(xs), self.y(ys), sizes, strict=True):
            if np.isfinite(b):
                self.parts.append(
                    f'<circle cx="{a:.1f}" cy="{b:.1f}" r="{s:.1f}" fill="{color}" '
                    'fill-opacity="0.55"/>'
                )

    def text(
        self, x: float, y: float, s: str, size: int = 10, color: str = "#000", bold: bool = False
    ) -> None:
        weight = ' font-weight="bold"' if bold else ""
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{color}"{weight}>'
            f"{_e(s)}</text>"
        )

    def svg(self) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.w}" height="{self.h}" '
            f'viewBox="0 0 {self.w} {self.h}" font-family="sans-serif">'
            + "".join(self.parts)
            + "</svg>"
        )


def _nice_ticks(top: float, most: int = 5) -> list[float]:
    """Round tick values 0, s, 2s … covering ``top`` (s = 1, 2 or 5 × 10^k)."""
    raw = max(top, 1e-9) / max(most - 1, 1)
    mag = 10.0 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1.0, 2.0, 5.0, 10.0) if m * mag >= raw)
    n = int(np.ceil(top / step - 1e-9))
    return [float(round(i * step, 10)) for i in range(n + 1)]


def _flags(rd: ReportData, j: int) -> list[str]:
    out = []
    if np.isfinite(rd.sx2_p[j]) and rd.sx2_p[j] < 0.01:
        out.append("misfit")
    if np.isfinite(rd.item_rest[j]) and rd.item_rest[j] < 0.2:
        out.append("low r")
    if rd.dif_class is not None and rd.dif_class[j][:1] in ("B", "C"):
        out.append(f"DIF {rd.dif_class[j]}")
    if rd.params.a[j] < 0.3:
        out.append("low a")
    return out


def _panel(rd: ReportData, j: int, grid: FloatArray) -> str:
    pl = _Plot(210, 150, (-4, 4), (0, 1), margin=(18, 6, 22, 30))
    pl.axes([-4, -2, 0, 2, 4], [0, 0.5, 1], "θ", "P / score ÷ max")
    sub = rd.params.subset([j])
    k = int(sub.n_categories[0])
    probs = category_probabilities(grid, sub)[:, 0, :k]
    if k == 2:
        pl.line(grid, probs[:, 1], PALETTE[0], 1.8)
        obs = rd.observed[j]
    else:
        for c in range(k):
            pl.line(grid, probs[:, c], PALETTE[c % len(PALETTE)], 1.2)
        pl.line(grid, probs @ np.arange(k) / (k - 1), "#000", 1.6, "4,2")
        obs = rd.observed[j] / (k - 1)
    n = rd.observed_n[j]
    sizes = 1.5 + 3.5 * np.sqrt(n / max(float(n.max(initial=1.0)), 1.0))
    pl.points(rd.bin_centres, np.where(n > 0, obs, np.nan), sizes, "#444")
    flags = _flags(rd, j)
    label = f"{rd.item_ids[j]} · {Model(int(sub.model[0])).label}"
    if j in rd.anchors:
        label += " · anchor"
    pl.text(26, 12, label, 10, bold=True)
    if flags:
        pl.text(26, 138 - 22, ", ".join(flags), 9, "#c00")
    return pl.svg()


def _info_plot(params: ItemParameters) -> str:
    grid = np.linspace(-4, 4, 161)
    tif = information(grid, params).sum(axis=1)
    se = 1.0 / np.sqrt(np.maximum(tif, 1e-12))
    ticks = _nice_ticks(float(tif.max()) * 1.05)
    top = ticks[-1]
    pl = _Plot(460, 270, (-4, 4), (0, top), margin=(24, 46, 38, 46))
    pl.axes([-4, -3, -2, -1, 0, 1, 2, 3, 4], ticks, "θ", "test information")
    pl.line(grid, tif, PALETTE[0], 2)
    # SE on a right-hand scale 0..1.5; above 1.5 (information below 1/1.5² ≈
    # 0.44) it is drawn at 1.5, and the caption says where.
    se_max = 1.5
    se_scaled = np.clip(se, 0, se_max) / se_max * top
    pl.line(grid, se_scaled, PALETTE[1], 1.5, "5,3")
    for t in (0.0, 0.5, 1.0, 1.5):
        py = float(pl.y(t / se_max * top))
        pl.text(float(pl.x(4)) + 4, py + 3, f"{t:g}", 9, PALETTE[1])
    right = float(pl.x(4)) + 30
    cy = float(pl.y(top / 2))
    pl.parts.append(
        f'<text x="{right:.1f}" y="{cy:.1f}" font-size="9" fill="{PALETTE[1]}" '
        f'text-anchor="middle" transform="rotate(90 {right:.1f} {cy:.1f})">SE(θ)</text>'
    )
    pl.text(44, 14, "test information (solid) and SE(θ) (dashed, right scale)", 11, bold=True)
    clipped = grid[se > se_max]
    if clipped.size:
        low, high = clipped[clipped < 0], clipped[clipped > 0]
        where = []
        if low.size:
            where.append(f"θ < {float(low.max()):.1f}")
        if high.size:
            where.append(f"θ > {float(high.min()):.1f}")
        note = f"SE(θ) above {se_max:g} drawn at {se_max:g}: " + " and ".join(where)
        pl.text(46, 268, note, 9, PALETTE[1])
    return pl.svg()


def _hist(theta: FloatArray) -> str:
    edges = np.linspace(-4, 4, 33)
    counts, _ = np.histogram(np.clip(theta, -3.999, 3.999), edges)
    dens = counts / max(counts.sum(), 1) / (edges[1] - edges[0])
    ticks = _nice_ticks(max(float(dens.max(initial=0.0)), 0.45) * 1.05)
    top = ticks[-1]
    pl = _Plot(460, 260, (-4, 4), (0, top), margin=(24, 12, 28, 46))
    pl.axes([-4, -2, 0, 2, 4], ticks, "EAP θ", "density")
    for lo, hi, d in zip(edges[:-1], edges[1:], dens, strict=True):
        x0, x1 = float(pl.x(lo)), float(pl.x(hi))
        y0, y1 = float(pl.y(0)), float(pl.y(d))
        pl.parts.append(
            f'<rect x="{x0:.1f}" y="{y1:.1f}" width="{x1 - x0 - 0.5:.1f}" height="{y0 - y1:.1f}" '
            'fill="#9ecae1"/>'
        )
    g = np.linspace(-4, 4, 161)
    pl.line(g, np.exp(-0.5 * g**2) / np.sqrt(2 * np.pi), "#333", 1.2, "4,2")
    pl.text(44, 14, "ability distribution (EAP) and N(0, 1)", 11, bold=True)
    return pl.svg()


def _fmt(x: float, spec: str = ".3f") -> str:
    return "" if x is None or not np.isfinite(x) else format(x, spec)


def render(rd: ReportData) -> str:
    """The report as one HTML string."""
    n_items = rd.params.n_items
    flagged = [j for j in range(n_items) if _flags(rd, j)]
    order = flagged + [j for j in range(n_items) if j not in set(flagged)]
    shown = order[:MAX_PANELS]
    grid = np.linspace(-4, 4, 81)
    rows = []
    for j in range(n_items):
        model = Model(int(rd.params.model[j]))
        if model.is_dichotomous:
            loc = _fmt(rd.params.b[j])
            se_loc = _fmt(rd.se["b"][j]) if rd.se else ""
        else:
            th = rd.params.thresholds[j]
            loc = " / ".join(_fmt(t, ".2f") for t in th[np.isfinite(th)])
            se_loc = ""
        flags = _flags(rd, j)
        cls = ' class="flag"' if flags else ""
        c_cell = _fmt(rd.params.c[j]) if model >= Model.THREE_PL and model.is_dichotomous else ""
        delta = ""
        if rd.dif_delta is not None and np.isfinite(rd.dif_delta[j]):
            delta = f" ({_fmt(rd.dif_delta[j], '+.2f')})"
        rows.append(
            f"<tr{cls}><td>{_e(rd.item_ids[j])}</td><td>{model.label}</td>"
            f"<td>{_fmt(rd.params.a[j])}</td><td>{_fmt(rd.se['a'][j]) if rd.se else ''}</td>"
            f"<td>{loc}</td><td>{se_loc}</td>"
            f"<td>{c_cell}</td>"
            f"<td>{_fmt(rd.p_value[j])}</td><td>{_fmt(rd.item_rest[j])}</td>"
            f"<td>{_fmt(rd.sx2_p[j])}</td>"
            f"<td>{_e(rd.dif_class[j]) if rd.dif_class else ''}"
            f"{delta}</td>"
            f"<td>{_e(', '.join(flags))}</td></tr>"
        )
    summary = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rd.summary.items())
    panels = "".join(f'<div class="panel">{_panel(rd, j, grid)}</div>' for j in shown)
    more = (
        f"<p>Showing {len(shown)} of {n_items} items (flagged items first).</p>"
        if len(shown) < n_items
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(rd.title)}</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 17px; margin-top: 28px; }}
table {{ border-collapse: collapse; font-size: 12px; }}
td, th {{ border: 1px solid #ddd; padding: 3px 7px; text-align: right; }}
th {{ background: #f4f4f4; }} td:first-child, th:first-child {{ text-align: left; }}
tr.flag td {{ background: #fff1f0; }}
.row {{ display: flex; gap: 24px; flex-wrap: wrap; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 4px; }}
.panel {{ border: 1px solid #eee; }}
.note {{ color: #555; font-size: 12px; max-width: 900px; }}
</style></head><body>
<h1>{_e(rd.title)}</h1>
<table class="summary">{summary}</table>
<h2>Test information and ability distribution</h2>
<div class="row">{_info_plot(rd.params)}{_hist(rd.theta_hat)}</div>
<h2>Item characteristic curves</h2>
<p class="note">Lines: the fitted model (polytomous items: each category, and the expected
score / max as a dashed line). Dots: observed mean score (÷ max) of the candidates who answered
the item, in bins of their EAP θ; dot area grows with the bin's count. Flags: <b>misfit</b> S-X²
p &lt; 0.01; <b>low r</b> item–rest correlation &lt; 0.20; <b>DIF B/C</b> Mantel–Haenszel ETS
class (− favours the reference group); <b>low a</b> slope &lt; 0.3.</p>
{more}<div class="grid">{panels}</div>
<h2>Items</h2>
<table><tr><th>item</th><th>model</th><th>a</th><th>SE a</th><th>b / thresholds</th><th>SE b</th>
<th>c</th><th>p-value</th><th>item–rest r</th><th>S-X² p</th><th>DIF (Δ)</th><th>flags</th></tr>
{"".join(rows)}</table>
</body></html>
"""


def observed_by_theta(
    theta_hat: FloatArray,
    person: NDArray[np.signedinteger],
    item: NDArray[np.signedinteger],
    category: NDArray[np.signedinteger],
    weights: FloatArray,
    n_items: int,
    n_bins: int = 12,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Observed mean category per item in θ bins: (n_items, n_bins) means and
    counts, and (n_bins,) bin centres (equal-width bins over [−3.5, 3.5])."""
    edges = np.linspace(-3.5, 3.5, n_bins + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    b = np.clip(np.digitize(theta_hat, edges) - 1, 0, n_bins - 1)[person]
    cell = item.astype(np.int64) * n_bins + b
    w = weights[person]
    n = np.asarray(np.bincount(cell, weights=w, minlength=n_items * n_bins), dtype=np.float64)
    s = np.asarray(
        np.bincount(cell, weights=w * category, minlength=n_items * n_bins), dtype=np.float64
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.asarray(np.where(n > 0, s / n, np.nan), dtype=np.float64)
    return mean.reshape(n_items, n_bins), n.reshape(n_items, n_bins), centres
