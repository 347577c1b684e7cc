"""``seleksi forensics --drift``: items that became easier between calibrations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibration.io import write_params
from cat_engine.irt import ItemParameters
from seleksi.cli import main


def _write(path: Path, ids: list[str], a: np.ndarray, b: np.ndarray, se_b: float) -> Path:
    params = ItemParameters.dichotomous(a, b)
    n = len(ids)
    se = {
        "a": np.full(n, 0.05),
        "b": np.full(n, se_b),
        "c": np.zeros(n),
        "d": np.zeros(n),
        "thresholds": np.full((n, 1), np.nan),
    }
    write_params(path, ids, params, se)
    return path


def test_two_items_made_easier_are_listed_after_linking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(3)
    n = 40
    ids = [f"TIU-{k:03d}" for k in range(n)]
    a = np.exp(rng.normal(0, 0.3, n))
    b = rng.normal(0, 1, n)
    # The new run sits on another scale (θ_old = 1.25 θ_new + 0.4) and has
    # estimation noise of its SE; items 3 and 17 became easier by 1.2 logits.
    b_new = (b - 0.4) / 1.25 + rng.normal(0, 0.05, n)
    b_new[[3, 17]] -= 1.2 / 1.25
    old = _write(tmp_path / "old.csv", ids, a, b, 0.06)
    new = _write(tmp_path / "new.csv", ids, a * 1.25, b_new, 0.05)
    assert main(["forensics", "--drift", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    listed = [line.split("\t")[0] for line in out.splitlines()[1:]]
    assert sorted(listed) == ["TIU-003", "TIU-017"]
    assert "40 items in common" in out


def test_a_calibration_without_standard_errors_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = tmp_path / "bare.csv"
    bare.write_text("item_id,model,a,b\nX1,2PL,1.0,0.0\n", encoding="utf-8")
    assert main(["forensics", "--drift", str(bare), str(bare)]) == 1
    assert "no se_b column" in capsys.readouterr().err
