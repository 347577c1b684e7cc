"""Static SVG plots for the after-the-test pages: drawn on the server, inline in
the HTML, no script and no external file, so they print and work offline.

Each plot is an ``<svg role="img">`` with a ``<title>``; every page shows the
same numbers in a table too (the accessible form). Text is escaped
(:func:`markupsafe.escape`); the result is :class:`markupsafe.Markup` for Jinja.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

from after_test.feedback import Spread

# Colour-blind-safe (Okabe–Ito) series colours; the heat map is one hue's lightness.
SERIES = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


def _f(x: float) -> str:
    return f"{x:.1f}"


def heat_map(
    title: str,
    rows: Sequence[str],
    cols: Sequence[str],
    values: Sequence[Sequence[float]],
    vmax: float,
) -> Markup:
    """rows × cols cells shaded by value in [0, vmax] (NaN: hatched grey), value printed."""
    cell_w, cell_h, left, top = 78, 26, 190, 110
    w, h = left + cell_w * len(cols) + 10, top + cell_h * len(rows) + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="hm-t" '
        f'viewBox="0 0 {w} {h}" width="{w}" height="{h}" class="plot">',
        f'<title id="hm-t">{escape(title)}</title>',
    ]
    for j, c in enumerate(cols):
        x = left + j * cell_w + cell_w / 2
        out.append(
            f'<text x="{_f(x)}" y="{top - 6}" font-size="11" '
            f'transform="rotate(-40 {_f(x)} {top - 6})">{escape(c)}</text>'
        )
    for i, r in enumerate(rows):
        y = top + i * cell_h
        out.append(
            f'<text x="{left - 6}" y="{y + 17}" font-size="11" text-anchor="end">{escape(r)}</text>'
        )
        for j, v in enumerate(values[i]):
            x = left + j * cell_w
            if v is None or (isinstance(v, float) and math.isnan(v)):
                fill, label, ink = "#e0e0e0", "–", "#333"
            else:
                share = max(0.0, min(1.0, v / vmax)) if vmax > 0 else 0.0
                light = 96 - 60 * share  # white (no need) to deep red (the largest need)
                fill, label = f"hsl(8, 75%, {light:.0f}%)", f"{v:.2f}"
                ink = "#fff" if light < 55 else "#111"
            out.append(
                f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{fill}"/>'
                f'<text x="{x + cell_w / 2 - 1}" y="{y + 17}" font-size="11" '
                f'text-anchor="middle" fill="{ink}">{label}</text>'
            )
    out.append("</svg>")
    return Markup("".join(out))


def lines(
    title: str,
    xs: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    y_range: tuple[float, float],
    y_label: str,
) -> Markup:
    """One line per series over the categories ``xs`` (e.g. test days)."""
    w, h, left, right, top, bottom = 640, 260, 50, 150, 20, 50
    pw, ph = w - left - right, h - top - bottom
    lo, hi = y_range

    def px(i: int) -> float:
        return left + (pw * (i + 0.5) / max(len(xs), 1))

    def py(v: float) -> float:
        return top + ph * (1 - (v - lo) / (hi - lo))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="ln-t" '
        f'viewBox="0 0 {w} {h}" width="{w}" height="{h}" class="plot">',
        f'<title id="ln-t">{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#333"/>',
        f'<text x="12" y="{top + ph / 2}" font-size="11" transform="rotate(-90 12 {top + ph / 2})" '
        f'text-anchor="middle">{escape(y_label)}</text>',
    ]
    for tick in range(math.ceil(lo), math.floor(hi) + 1):
        out.append(
            f'<text x="{left - 6}" y="{_f(py(tick) + 4)}" font-size="10" '
            f'text-anchor="end">{tick}</text><line x1="{left}" y1="{_f(py(tick))}" '
            f'x2="{left + pw}" y2="{_f(py(tick))}" stroke="#ddd"/>'
        )
    for i, x in enumerate(xs):
        out.append(
            f'<text x="{_f(px(i))}" y="{top + ph + 16}" font-size="10" '
            f'text-anchor="middle">{escape(x)}</text>'
        )
    for k, (name, ys) in enumerate(series):
        colour = SERIES[k % len(SERIES)]
        pts = [(px(i), py(v)) for i, v in enumerate(ys) if v is not None]
        if len(pts) > 1:
            path = " ".join(f"{_f(a)},{_f(b)}" for a, b in pts)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for a, b in pts:
            out.append(f'<circle cx="{_f(a)}" cy="{_f(b)}" r="3.5" fill="{colour}"/>')
        ly = top + 14 * k + 6
        out.append(
            f'<rect x="{left + pw + 12}" y="{ly}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + pw + 27}" y="{ly + 9}" font-size="11">{escape(name)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def stacked_bars(
    title: str, cats: Sequence[str], parts: Sequence[str], counts: Sequence[Sequence[int]]
) -> Markup:
    """One horizontal bar per category, split by ``parts`` (e.g. moderation status)."""
    w, left, right, bar_h = 640, 170, 20, 22
    top = 30
    h = top + bar_h * len(cats) + 20
    most = max((sum(c) for c in counts), default=0) or 1
    pw = w - left - right
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="br-t" '
        f'viewBox="0 0 {w} {h}" width="{w}" height="{h}" class="plot">',
        f'<title id="br-t">{escape(title)}</title>',
    ]
    x = left
    for k, p in enumerate(parts):
        out.append(
            f'<rect x="{x}" y="6" width="10" height="10" fill="{SERIES[k % len(SERIES)]}"/>'
            f'<text x="{x + 14}" y="15" font-size="11">{escape(p)}</text>'
        )
        x += 14 + 8 * len(p) + 16
    for i, c in enumerate(cats):
        y = top + i * bar_h
        out.append(
            f'<text x="{left - 6}" y="{y + 15}" font-size="11" text-anchor="end">{escape(c)}</text>'
        )
        x0 = float(left)
        for k, n in enumerate(counts[i]):
            if n:
                bw = pw * n / most
                out.append(
                    f'<rect x="{_f(x0)}" y="{y}" width="{_f(bw)}" height="{bar_h - 4}" '
                    f'fill="{SERIES[k % len(SERIES)]}">'
                    f"<title>{escape(parts[k])}: {n}</title></rect>"
                )
                x0 += bw
        out.append(f'<text x="{_f(x0 + 4)}" y="{y + 15}" font-size="11">{sum(counts[i])}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _nice_top(v: float) -> float:
    """The least of 1, 2, 5 × 10^k at or above ``v`` (an axis end)."""
    if v <= 0:
        return 1.0
    k = 10 ** math.floor(math.log10(v))
    return next(m * k for m in (1, 2, 5, 10) if m * k >= v)


def spreads(
    title: str,
    desc: str,
    rows: Sequence[tuple[str, Spread]],
    axis_label: str,
) -> Markup:
    """One row per group: every value as a dot, a box from the first to the
    third quartile, the median as a thick line, whiskers to the least and the
    most. ``desc`` (the figures in words) is the SVG's ``<desc>``; the page
    shows the same figures in a table."""
    w, left, right, top, row_h, bottom = 640, 200, 30, 16, 40, 44
    h = top + row_h * len(rows) + bottom
    pw = w - left - right
    hi = _nice_top(max((sp.most for _, sp in rows), default=1.0))

    def px(v: float) -> float:
        return left + pw * v / hi

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="sp-t sp-d" '
        f'viewBox="0 0 {w} {h}" width="{w}" height="{h}" class="plot">',
        f'<title id="sp-t">{escape(title)}</title><desc id="sp-d">{escape(desc)}</desc>',
    ]
    base = top + row_h * len(rows)
    out.append(f'<line x1="{left}" y1="{base}" x2="{left + pw}" y2="{base}" stroke="#333"/>')
    for i in range(6):
        v = hi * i / 5
        out.append(
            f'<line x1="{_f(px(v))}" y1="{top}" x2="{_f(px(v))}" y2="{base}" stroke="#ddd"/>'
            f'<text x="{_f(px(v))}" y="{base + 14}" font-size="10" text-anchor="middle">'
            f"{v:g}</text>"
        )
    out.append(
        f'<text x="{left + pw / 2}" y="{base + 32}" font-size="11" text-anchor="middle">'
        f"{escape(axis_label)}</text>"
    )
    for r, (label, sp) in enumerate(rows):
        y = top + row_h * r + row_h / 2
        colour = SERIES[r % len(SERIES)]
        q1, q3 = sp.quartiles
        out.append(
            f'<g data-group="{escape(label)}" data-n="{sp.n}" data-median="{sp.median:.1f}">'
            f'<text x="{left - 8}" y="{_f(y + 4)}" font-size="11" text-anchor="end">'
            f"{escape(label)} (n = {sp.n})</text>"
            f'<line x1="{_f(px(sp.least))}" y1="{_f(y)}" x2="{_f(px(sp.most))}" y2="{_f(y)}" '
            f'stroke="#555"/>'
            f'<rect x="{_f(px(q1))}" y="{_f(y - 9)}" width="{_f(max(px(q3) - px(q1), 1.0))}" '
            f'height="18" fill="#f2f2f2" stroke="#555"/>'
        )
        for k, v in enumerate(sp.days):
            dy = (-5, 0, 5)[k % 3]  # three lanes: equal values stay apart
            out.append(
                f'<circle cx="{_f(px(v))}" cy="{_f(y + dy)}" r="3" fill="{colour}" '
                f'fill-opacity="0.7"/>'
            )
        out.append(
            f'<line x1="{_f(px(sp.median))}" y1="{_f(y - 11)}" x2="{_f(px(sp.median))}" '
            f'y2="{_f(y + 11)}" stroke="#111" stroke-width="3"/></g>'
        )
    out.append("</svg>")
    return Markup("".join(out))
