"""A simulation report as one self-contained HTML page with inline SVG plots."""

from __future__ import annotations

import html
import itertools
from typing import Any

_W, _H = 460, 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 28, 64  # room for the axes, their ticks and titles


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 × 10^k apart) covering [lo, hi]."""
    import math

    span = max(hi - lo, 1e-12)
    raw = span / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _bars(
    title: str,
    labels: list[str],
    values: list[float],
    *,
    x_title: str,
    y_title: str,
    scale: tuple[float, float] | None = None,
    counts: list[int] | None = None,
    fmt: str = "{:.3f}",
    width: int = _W,
) -> str:
    """A bar chart as inline SVG: y axis with round ticks and a title, x labels
    (with ``n = count`` under each when ``counts``), the value on each bar.
    ``scale``: (low, high) shared with the same chart of other sections;
    ``width``: in pixels."""
    finite = [v for v in values if v == v]
    lo, hi = scale if scale is not None else (min([0.0, *finite]), max([1e-9, *finite]))
    ticks = nice_ticks(lo, hi)
    y0, y1 = ticks[0], ticks[-1]
    plot_h = _H - _TOP - _BOTTOM
    plot_w = width - _LEFT - _RIGHT

    def y_of(v: float) -> float:
        return _TOP + plot_h * (1 - (v - y0) / (y1 - y0 or 1))

    bw = plot_w / max(len(values), 1)
    esc = html.escape
    parts = [
        f'<svg width="{width}" height="{_H}" role="img" aria-label="{esc(title)}" '
        'font-family="system-ui,sans-serif">',
        f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="14" font-weight="600">'
        f"{esc(title)}</text>",
    ]
    for t in ticks:  # grid lines and tick labels
        y = y_of(t)
        parts.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{width - _RIGHT}" y2="{y:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{t + 0.0:g}</text>"
        )
    parts.append(
        f'<text transform="translate(14 {_TOP + plot_h / 2:.1f}) rotate(-90)" font-size="12" '
        f'text-anchor="middle">{esc(y_title)}</text>'
    )
    base = y_of(max(y0, min(0.0, y1)))
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        x = _LEFT + i * bw + 3
        cx = x + (bw - 6) / 2
        if v == v:
            top = y_of(v)
            y, h = min(top, base), abs(base - top)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw - 6:.1f}" height="{h:.1f}" '
                f'fill="#3b7dd8"><title>{esc(lab)}: {fmt.format(v)}</title></rect>'
            )
            ty = top - 4 if v >= 0 else top + 12
            parts.append(
                f'<text x="{cx:.1f}" y="{ty:.1f}" font-size="10" text-anchor="middle">'
                f"{fmt.format(v)}</text>"
            )
        parts.append(
            f'<text x="{cx:.1f}" y="{_H - _BOTTOM + 14}" font-size="10" '
            f'text-anchor="middle">{esc(lab)}</text>'
        )
        if counts is not None:
            parts.append(
                f'<text x="{cx:.1f}" y="{_H - _BOTTOM + 27}" font-size="9" fill="#555" '
                f'text-anchor="middle">n={counts[i]}</text>'
            )
    parts.append(
        f'<line x1="{_LEFT}" y1="{base:.1f}" x2="{width - _RIGHT}" y2="{base:.1f}" stroke="#333"/>'
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + plot_h}" stroke="#333"/>'
        f'<text x="{_LEFT + plot_w / 2:.1f}" y="{_H - 8}" font-size="12" text-anchor="middle">'
        f"{esc(x_title)}</text></svg>"
    )
    return "".join(parts)


def exposure_labels(edges: list[float]) -> list[str]:
    """Bin labels of the exposure histogram, as ``np.histogram`` counts them:
    [lo, hi), the last [lo, hi] (an item exactly at a 0.25 cap is in "0.25–0.3")."""
    labels = ["0 (unused)"]
    for lo, hi in itertools.pairwise(edges[1:]):
        labels.append(f"{'>0' if lo < 1e-9 else f'{lo:g}'}–{hi:g}")
    return labels


def _shared(report: dict[str, Any], key: str) -> tuple[float, float]:
    """The (low, high) of a conditional statistic over every section (one scale)."""
    vals = [c[key] for sec in report["sections"] for c in sec["conditional"] if c[key] == c[key]]
    return (min([0.0, *vals]), max([1e-9, *vals]))


def render(report: dict[str, Any]) -> str:
    """The page for a :func:`cat_engine.metrics.summarize` report."""
    o = report["overall"]
    rows = []
    for sec in report["sections"]:
        cls = sec.get("classification", {})
        rows.append(
            "<tr>"
            f"<td>{html.escape(sec['code'])}</td>"
            f"<td>{sec['theta']['bias']:.3f}</td><td>{sec['theta']['rmse']:.3f}</td>"
            f"<td>{sec['points']['rmse']:.2f}</td><td>{sec['mean_se']:.3f}</td>"
            f"<td>{sec['length']['mean']:.1f}</td><td>{sec['exposure']['max_rate']:.3f}</td>"
            f"<td>{sec['exposure']['never_used']:.1%}</td><td>{sec['mean_overlap']:.3f}</td>"
            f"<td>{cls.get('accuracy', float('nan')):.3f}</td>"
            "</tr>"
        )
    plots = []
    rmse_scale, se_scale = _shared(report, "rmse"), _shared(report, "mean_se")
    bias_scale = _shared(report, "bias")
    items_top = max(
        [1.0]
        + [float(c) for sec in report["sections"] for c in sec["exposure"]["histogram"]["counts"]]
    )
    band_title = "true ability band (θ)"
    for sec in report["sections"]:
        cond = sec["conditional"]
        bands, ns = [c["band"].replace(" ≤ θ < ", "–") for c in cond], [c["n"] for c in cond]
        plots.append(f"<h3>{html.escape(sec['code'])}</h3><div class='plots'>")
        for key, title, y_title, scale in (
            ("bias", "Conditional bias of θ̂", "mean θ̂ − θ", bias_scale),
            ("rmse", "Conditional RMSE of θ̂", "RMSE (θ units)", rmse_scale),
            ("mean_se", "Conditional mean SE of θ̂", "mean SE (θ units)", se_scale),
        ):
            plots.append(
                _bars(
                    title,
                    bands,
                    [c[key] for c in cond],
                    x_title=band_title,
                    y_title=y_title,
                    scale=scale,
                    counts=ns,
                )
            )
        hist = sec["exposure"]["histogram"]
        plots.append(
            _bars(
                "Items by exposure rate",
                exposure_labels(hist["edges"]),
                [float(c) for c in hist["counts"]],
                x_title="exposure rate (share of simulees given the item)",
                y_title="items",
                scale=(0.0, items_top),
                fmt="{:.0f}",
                width=2 * _W,
            )
        )
        plots.append("</div>")
    note = (
        "<p>Plots of the same kind share one scale across sections; n = simulees in the band. "
        "Exposure bins include their lower edge and exclude their upper one (the last "
        "includes 1).</p>"
    )
    cls_all = o.get("classification_all_sections")
    cls_line = (
        f"<p>Pass/fail on every section: accuracy {cls_all['accuracy']:.3f}, false pass "
        f"{cls_all['false_pass']:.3f}, false fail {cls_all['false_fail']:.3f}.</p>"
        if cls_all
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Simulasi / Simulation: {html.escape(report["design"])}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
.plots{{display:flex;flex-wrap:wrap;gap:1em}}</style></head><body>
<h1>Hasil simulasi / Simulation report</h1>
<p>{html.escape(report["design"])} — mode {html.escape(report["mode"])},
{report["simulees"]} simulees. RMSE θ {o["theta"]["rmse"]:.3f}, bias {o["theta"]["bias"]:.3f},
mean SE {o["mean_se"]:.3f}, mean length {o["mean_length"]:.1f}, max exposure
{o["max_exposure_rate"]:.3f}.</p>{cls_line}
<table><tr><th>section</th><th>bias θ</th><th>RMSE θ</th><th>RMSE points</th>
<th>mean SE</th><th>mean length</th><th>max exposure</th><th>never used</th>
<th>mean overlap</th><th>classification accuracy</th></tr>
{"".join(rows)}</table>
{note}
{"".join(plots)}
</body></html>
"""
