"""The session report: candidates ranked for review, every index explained.

:func:`report_rows` turns a :class:`forensics.session.SessionReport` into
plain rows (also the JSON of the admin API); :func:`render_html` renders the
self-contained HTML page (Jinja2, autoescaped; Bahasa Indonesia first,
English beside it) that ``seleksi forensics --report`` writes and the admin
page shows. The words are "review" / "tinjau", never "cheated": an index
says a pattern is unusual for honest answering under the model, nothing more.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

import jinja2
import numpy as np

from exam_server.forensics.load import LoadedSession
from forensics.session import FAST_Z, INDICES, SessionReport

#: What each index measures and what it cannot show: (Indonesian, English).
EXPLAIN: dict[str, tuple[str, str]] = {
    "lz": (
        "Pola benar-salah yang tidak sesuai kemampuan (lz*, Snijders 2001), per subtes: "
        "soal sulit benar dan soal mudah salah. Bisa karena bocoran, menebak, atau lelah.",
        "Right/wrong pattern unlike the candidate's ability (lz*, Snijders 2001), per "
        "subtest: hard items right and easy ones wrong. Leaked answers, guessing or "
        "fatigue all do this.",
    ),
    "lt": (
        "Waktu jawab yang tidak sesuai kecepatan peserta (l_t, van der Linden & Guo 2008; "
        "model lognormal). Bisa karena gangguan, jeda, atau bantuan.",
        "Response times unlike the candidate's own pace (l_t, van der Linden & Guo 2008; "
        "lognormal model). Interruptions, pauses or help all do this.",
    ),
    "fast": (
        "Jawaban benar jauh lebih cepat daripada jawaban salah, dibandingkan kecepatan "
        "peserta sendiri: tanda mengetahui sebagian jawaban sebelumnya.",
        "Right answers far faster than wrong ones, against the candidate's own pace: "
        "the mark of knowing some answers beforehand.",
    ),
    "neighbour": (
        "Jawaban sama dengan peserta di kursi sebelah melebihi peluang (ω, Wollack 1997; "
        "nilai p eksak). Pasangan ditunjukkan; arah salin tidak dapat dipastikan.",
        "More identical answers with a neighbour than chance explains (ω, Wollack 1997; "
        "exact p-value). The pair is named; who copied whom cannot be told.",
    ),
    "pair": (
        "Kemiripan jawaban dengan peserta mana pun di sesi ini (ω), dikoreksi untuk "
        "banyaknya pasangan. Bisa juga karena kunci bocor yang sama.",
        "Answer similarity with anyone in the session (ω), corrected for the number of "
        "pairs. A shared leaked key does this too.",
    ),
    "changes": (
        "Perubahan jawaban dari salah ke benar lebih banyak daripada yang diharapkan "
        "model dan daripada peserta lain (riwayat jawaban tersimpan).",
        "More wrong-to-right answer changes than the model and the other candidates "
        "suggest (from the stored answer history).",
    ),
    "section": (
        "Satu subtes dengan kemampuan atau kecepatan yang berbeda dari subtes lain: "
        "tanda kemungkinan joki untuk sebagian tes.",
        "One subtest with an ability or pace unlike the others: the mark of a possible "
        "stand-in for part of the test.",
    ),
    "preknowledge": (
        "Jauh lebih baik dan lebih cepat pada kumpulan soal yang diduga bocor daripada "
        "pada soal lain (rasio kemungkinan bertanda, Sinharay 2017; kecepatan).",
        "Far better and faster on the suspected leaked item set than on the rest "
        "(signed likelihood ratio, Sinharay 2017; speed).",
    ),
}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("exam_server.forensics", "templates"),
    autoescape=jinja2.select_autoescape(["html"], default_for_string=True, default=True),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def _num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _p(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return "< 0.0001" if x < 1e-4 else f"{x:.4f}"


def _json(x: float) -> float | None:
    """A number for JSON: NaN (not computed) and infinities become null."""
    return float(x) if math.isfinite(x) else None


def report_rows(loaded: LoadedSession, rep: SessionReport) -> list[dict[str, Any]]:
    """One dict per candidate, most unusual first (the order of ``rep.order``)."""
    data = loaded.data
    codes = data.items.section_codes
    rows = []
    fast = (rep.time_z < FAST_Z) & (data.correct == 1)
    for rank, i in enumerate(rep.order.tolist(), start=1):
        partner = int(rep.partner[i])
        section = int(rep.section[i])
        rows.append(
            {
                "rank": rank,
                "registration_number": data.candidate_ids[i],
                "name": loaded.names[i],
                "attempt_id": loaded.attempt_ids[i],
                "review": bool(rep.review[i]),
                "p_combined": _json(rep.p_combined[i]),
                "q": _json(rep.q[i]),
                "theta": _json(rep.theta[i]),
                "p": {k: _json(rep.p[k][i]) for k, _, _ in INDICES},
                "stat": {k: _json(rep.stats[k][i]) for k, _, _ in INDICES},
                "partner": data.candidate_ids[partner] if partner >= 0 else None,
                "section": codes[section] if 0 <= section < len(codes) else None,
                "fast_right": int(rep.fast_right[i]),
                # The responses themselves: right, and much faster than this
                # candidate's speed predicts (z < −2.33).
                "fast_items": [data.items.item_ids[j] for j in np.flatnonzero(fast[i])],
                "answered": int(data.answered[i].sum()),
            }
        )
    return rows


def summary(loaded: LoadedSession, rep: SessionReport) -> dict[str, Any]:
    """The report as JSON-ready data (the admin API returns this)."""
    items = loaded.data.items
    return {
        "session": loaded.session_code,
        "exam": loaded.exam_code,
        "room": loaded.room_code,
        "candidates": loaded.data.n_candidates,
        "items": items.n_items,
        "items_timed": int(items.timed.sum()),
        "seated": int(np.isfinite(loaded.data.row).sum()),
        "fdr": rep.settings.fdr,
        "review": int(rep.review.sum()),
        "compromised": list(rep.compromised),
        "indices": [
            {"key": k, "id": name_id, "en": name_en, "explain": list(EXPLAIN[k])}
            for k, name_en, name_id in INDICES
        ],
        "rows": report_rows(loaded, rep),
    }


def render_html(loaded: LoadedSession, rep: SessionReport, *, generated_at: float) -> str:
    """The whole report as one HTML page (no external file loaded)."""
    s = summary(loaded, rep)
    when = _dt.datetime.fromtimestamp(generated_at, _dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return _ENV.get_template("report.html").render(
        s=s, when=when, num=_num, pfmt=_p, pct=round(100 * rep.settings.fdr, 1)
    )
