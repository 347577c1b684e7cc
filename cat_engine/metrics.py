"""What a simulation shows: precision, length, exposure, overlap, classification."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cat_engine.bank import BankArrays
from cat_engine.pool import section_items
from cat_engine.scoring import reaches_cut
from cat_engine.simulation import SimulationResult

FloatArray = NDArray[np.float64]

BAND_EDGES = (-np.inf, -2.0, -1.0, 0.0, 1.0, 2.0, np.inf)
HIST_EDGES = (0.0, 1e-12, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50, 1.0)


def _band_label(lo: float, hi: float) -> str:
    if not np.isfinite(lo):
        return f"θ < {hi:g}"
    if not np.isfinite(hi):
        return f"θ ≥ {lo:g}"
    return f"{lo:g} ≤ θ < {hi:g}"


def _precision(true: FloatArray, est: FloatArray) -> dict[str, float]:
    err = est - true
    return {
        "bias": float(err.mean()) if err.size else float("nan"),
        "rmse": float(np.sqrt(np.mean(err**2))) if err.size else float("nan"),
    }


def _classification(true_pass: NDArray[np.bool_], obs_pass: NDArray[np.bool_]) -> dict[str, float]:
    n = max(true_pass.shape[0], 1)
    return {
        "accuracy": float(np.mean(true_pass == obs_pass)),
        "false_pass": float(np.sum(~true_pass & obs_pass) / n),
        "false_fail": float(np.sum(true_pass & ~obs_pass) / n),
        "true_pass_rate": float(np.mean(true_pass)),
    }


def summarize(result: SimulationResult, bank: BankArrays) -> dict[str, Any]:
    """The report of a simulation, JSON-ready: overall and per section.

    Per section: bias and RMSE of θ̂ (logits) and of points (published scale,
    against the true reference-form score), mean SE, conditional bias/RMSE/SE
    by ability band, mean/min/max length, exposure (max rate, histogram of
    rates over the section's scored pool, share never given), mean pairwise
    test overlap, and classification against the design's cut
    (``passing_points``): how often the observed score and the true score
    fall on the same side of it. The exam's pass/fail also depends on the
    ranking policy (categories, totals); this is the measurement's part.
    """
    n = result.theta_true.shape[0]
    sections: list[dict[str, Any]] = []
    true_all = np.ones(n, dtype=bool)
    obs_all = np.ones(n, dtype=bool)
    any_grade = False
    for s, section in enumerate(result.design.sections):
        t, e = result.theta_true[:, s], result.theta_hat[:, s]
        se = result.se[:, s]
        bands = []
        for lo, hi in itertools.pairwise(BAND_EDGES):
            m = (t >= lo) & (t < hi)
            if m.any():
                bands.append(
                    {
                        "band": _band_label(lo, hi),
                        "n": int(m.sum()),
                        **_precision(t[m], e[m]),
                        "mean_se": float(np.mean(se[m])),
                    }
                )
        pool = section_items(bank, section)
        rates = result.exposure_counts[pool] / max(n, 1)
        hist, _ = np.histogram(rates, bins=np.array(HIST_EDGES))
        counts = result.exposure_counts[pool].astype(np.float64)
        mean_len = float(result.length[:, s].mean())
        pairs = n * (n - 1) / 2
        overlap = (
            float(np.sum(counts * (counts - 1) / 2) / pairs / mean_len)
            if pairs > 0 and mean_len > 0
            else float("nan")
        )
        entry: dict[str, Any] = {
            "code": section.code,
            "theta": _precision(t, e),
            "points": _precision(result.true_points[:, s], result.points[:, s]),
            "mean_se": float(np.mean(se)),
            "conditional": bands,
            "length": {
                "mean": mean_len,
                "min": int(result.length[:, s].min()),
                "max": int(result.length[:, s].max()),
            },
            "exposure": {
                "max_rate": float(rates.max()) if rates.size else 0.0,
                "histogram": {
                    "edges": list(HIST_EDGES),
                    "counts": [int(c) for c in hist],
                },
                "never_used": float(np.mean(counts == 0)) if counts.size else 0.0,
                "pool_size": int(pool.shape[0]),
            },
            "mean_overlap": overlap,
            "max_points": float(result.max_points[s]),
            "passing_points": section.passing_points,
        }
        if section.passing_points is not None:
            any_grade = True
            tp = reaches_cut(result.true_points[:, s], section.passing_points)
            op = reaches_cut(result.points[:, s], section.passing_points)
            entry["classification"] = _classification(tp, op)
            true_all &= tp
            obs_all &= op
        sections.append(entry)
    all_true = np.concatenate([result.theta_true[:, s] for s in range(len(sections))])
    all_est = np.concatenate([result.theta_hat[:, s] for s in range(len(sections))])
    overall: dict[str, Any] = {
        "theta": _precision(all_true, all_est),
        "mean_se": float(result.se.mean()),
        "mean_length": float(result.length.sum(axis=1).mean()),
        "max_exposure_rate": float(result.exposure_counts.max() / max(n, 1)),
        "total_points": _precision(result.true_points.sum(axis=1), result.points.sum(axis=1)),
    }
    if any_grade:
        overall["classification_all_sections"] = _classification(true_all, obs_all)
    return {
        "design": result.design.name,
        "mode": result.design.mode,
        "simulees": n,
        "overall": overall,
        "sections": sections,
    }
