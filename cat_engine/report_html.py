"""A simulation report as one self-contained HTML page with inline SVG plots."""

from __future__ import annotations

import html
from typing import Any

_W, _H, _PAD = 420, 220, 36


def _bars(title: str, labels: list[str], values: list[float], fmt: str = "{:.3f}") -> str:
    top = max([v for v in values if v == v] + [1e-9])
    bw = (_W - 2 * _PAD) / max(len(values), 1)
    parts = [
        f'<svg width="{_W}" height="{_H}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{_W / 2}" y="14" text-anchor="middle" font-size="12">'
        f"{html.escape(title)}</text>",
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#333"/>',
    ]
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        h = 0.0 if v != v else (v / top) * (_H - 2 * _PAD - 10)
        x = _PAD + i * bw + 2
        y = _H - _PAD - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw - 4:.1f}" height="{h:.1f}" fill="#3b7dd8">'
            f"<title>{html.escape(lab)}: {fmt.format(v)}</title></rect>"
        )
        parts.append(
            f'<text x="{x + (bw - 4) / 2:.1f}" y="{_H - _PAD + 12}" font-size="8" '
            f'text-anchor="middle">{html.escape(lab)}</text>'
        )
        parts.append(
            f'<text x="{x + (bw - 4) / 2:.1f}" y="{y - 2:.1f}" font-size="8" '
            f'text-anchor="middle">{fmt.format(v)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


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
    for sec in report["sections"]:
        cond = sec["conditional"]
        plots.append(f"<h3>{html.escape(sec['code'])}</h3><div class='plots'>")
        plots.append(
            _bars(
                "Conditional RMSE (θ) by ability band",
                [c["band"] for c in cond],
                [c["rmse"] for c in cond],
            )
        )
        plots.append(
            _bars(
                "Conditional mean SE by ability band",
                [c["band"] for c in cond],
                [c["mean_se"] for c in cond],
            )
        )
        edges = sec["exposure"]["histogram"]["edges"]
        labels = ["0"] + [f"≤{e:g}" for e in edges[2:]]
        plots.append(
            _bars(
                "Items by exposure rate",
                labels,
                [float(c) for c in sec["exposure"]["histogram"]["counts"]],
                fmt="{:.0f}",
            )
        )
        plots.append("</div>")
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
{"".join(plots)}
</body></html>
"""
