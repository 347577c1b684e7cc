"""``seleksi simulate`` end to end on a small synthetic bank."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from cat_engine.design import TestDesign
from seleksi.cli import CommandError
from seleksi.commands import simulate as cmd

DESIGN = {
    "name": "tiny",
    "mode": "adaptive",
    "sections": [
        {"code": "TWK", "n_items": 6, "passing_points": 12},
        {"code": "TIU", "n_items": 6, "passing_points": 12},
    ],
    "exposure": {"method": "progressive", "max_rate": 0.5, "warmup": 10},
}


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cmd.register(sub)
    args = parser.parse_args(["simulate", *argv])
    code: int = args.func(args)
    return code


def test_simulate_writes_the_report_and_html(tmp_path: Path) -> None:
    design = tmp_path / "design.json"
    design.write_text(json.dumps(DESIGN))
    theta = tmp_path / "theta.csv"
    theta.write_text("TWK,TIU\n" + "\n".join(f"{t / 10},{-t / 10}" for t in range(-15, 15)))
    out, html = tmp_path / "r.json", tmp_path / "r.html"
    code = _run(
        "--bank", "synthetic:skd:2", "--design", str(design), "--seed", "3",
        "--out", str(out), "--theta", str(theta), "--report", str(html),
    )  # fmt: skip
    assert code == 0
    report = json.loads(out.read_text())
    assert report["simulees"] == 30 and report["mode"] == "adaptive"
    assert [s["code"] for s in report["sections"]] == ["TWK", "TIU"]
    twk = report["sections"][0]
    for key in ("theta", "points", "mean_se", "conditional", "length", "exposure"):
        assert key in twk
    assert twk["exposure"]["max_rate"] <= 0.5 + 1e-12
    assert "classification" in twk and "mean_overlap" in twk
    page = html.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page


def test_sympson_hetter_calibration_writes_a_design(tmp_path: Path) -> None:
    design = tmp_path / "design.json"
    design.write_text(json.dumps({**DESIGN, "exposure": {"method": "none"}}))
    out, calibrated = tmp_path / "r.json", tmp_path / "sh.json"
    _run(
        "--bank", "synthetic:skd:2", "--design", str(design), "--simulees", "60",
        "--out", str(out), "--sympson-hetter", "0.4", "--design-out", str(calibrated),
    )  # fmt: skip
    d = TestDesign.from_json(calibrated.read_text())
    assert d.exposure.method == "sympson_hetter" and d.exposure.parameters
    rates = json.loads(out.read_text())["sympson_hetter_max_rates"]
    # One maximum rate per round, at most 20 rounds (it stops once k settles).
    assert 2 <= len(rates) <= 20 and rates[0] == max(rates)


def test_bad_inputs_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"mode": "adaptive", "sections": [{"code": "TWK"}]}))
    with pytest.raises(CommandError, match=r"sections\[0\]\.n_items: required"):
        _run("--bank", "synthetic:skd:2", "--design", str(bad), "--out", str(tmp_path / "o"))
    with pytest.raises(CommandError, match="no such file"):
        _run("--bank", str(tmp_path / "nope.json"), "--design", "skd-linear", "--out", "x")
    theta = tmp_path / "t.csv"
    theta.write_text("A,B\n1,2\n")
    with pytest.raises(CommandError, match="expected columns"):
        _run(
            "--bank", "synthetic:skd:2", "--design", "skd-adaptive", "--theta", str(theta),
            "--out", str(tmp_path / "o"),
        )  # fmt: skip
