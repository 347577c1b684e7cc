"""``seleksi calibrate`` through ``seleksi.cli.main``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from calibration.io import read_params
from cat_engine.irt import prob_4pl, prob_gpcm
from seleksi.cli import main

ITEMS = [f"TIU-{i:02d}" for i in range(1, 9)] + ["TKP-01", "TKP-02"]


def _responses(n: int = 800, seed: int = 40) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n)
    a = rng.lognormal(0, 0.2, 10)
    x = np.empty((n, 10), dtype=object)
    x[:, :8] = (rng.random((n, 8)) < prob_4pl(theta, a[:8], np.linspace(-1.5, 1.5, 8))).astype(int)
    p = prob_gpcm(theta, a[8:], np.array([[-1.0, 0.0, 1.0], [-0.5, 0.2, 0.8]]))
    x[:, 8:] = (rng.random((n, 2, 1)) > np.cumsum(p, axis=2)).sum(axis=2)
    x[rng.random((n, 10)) < 0.05] = ""
    groups = ["L" if g else "P" for g in rng.random(n) < 0.5]
    return x, groups


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def write_wide(path: Path, x: np.ndarray, groups: list[str], weights: bool = False) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["person_id", *ITEMS, "sex"] + (["w"] if weights else []))
        for i, row in enumerate(x):
            w.writerow([f"P{i:04d}", *row, groups[i]] + ([1 + i % 3] if weights else []))


def write_long(path: Path, x: np.ndarray) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["person_id", "item_id", "response"])
        for i, row in enumerate(x):
            for j, v in enumerate(row):
                if v != "":
                    w.writerow([f"P{i:04d}", ITEMS[j], v])


def test_wide_and_long_give_the_same_parameters_and_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x, groups = _responses()
    write_wide(tmp_path / "wide.csv", x, groups)
    write_long(tmp_path / "long.csv", x)
    out1, out2 = tmp_path / "p1.csv", tmp_path / "p2.csv"
    report = tmp_path / "report.html"
    assert (
        main(
            [
                *["calibrate", str(tmp_path / "wide.csv"), "--model", "2pl", "--out", str(out1)],
                *["--group", "sex", "--report", str(report), "--scores", str(tmp_path / "s.csv")],
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "iteration" in err and "log-likelihood" in err  # the progress line
    assert (
        main(
            [
                "calibrate",
                str(tmp_path / "long.csv"),
                "--long",
                "--model",
                "2pl",
                "--out",
                str(out2),
                "--quiet",
            ]
        )
        == 0
    )
    ids1, p1 = read_params(out1)
    ids2, p2 = read_params(out2)
    assert ids1 == ids2 == ITEMS
    np.testing.assert_allclose(p1.a, p2.a, rtol=1e-5)
    np.testing.assert_allclose(p1.b[:8], p2.b[:8], rtol=1e-5, atol=1e-6)
    # dichotomous items got the 2PL, the 4-category items the default GPCM
    rows = read_rows(out1)
    assert [r["model"] for r in rows] == ["2PL"] * 8 + ["GPCM"] * 2
    assert rows[8]["t3"] != "" and rows[0]["t1"] == "" and rows[0]["se_b"] != ""
    assert {"p_value", "item_rest", "s_x2", "s_x2_p", "mh_delta", "ets_class"} <= set(rows[0])
    html = report.read_text()
    assert html.count("<svg") >= 12 and "TKP-02" in html and "S-X²" in html
    # Every plot says what its y axis is, and where SE(θ) leaves its scale.
    assert "test information</text>" in html and "density</text>" in html
    assert ">SE(θ)</text>" in html and "P / score ÷ max</text>" in html
    assert "SE(θ) above 1.5 drawn at 1.5: θ &lt; " in html
    scores = read_rows(tmp_path / "s.csv")
    assert len(scores) == 800 and float(scores[0]["eap_se"]) > 0


def test_weights_column_counts_rows(tmp_path: Path) -> None:
    x, groups = _responses(300)
    write_wide(tmp_path / "w.csv", x, groups, weights=True)
    weights = np.array([1 + i % 3 for i in range(300)])
    write_wide(
        tmp_path / "rep.csv", np.repeat(x, weights, axis=0), list(np.repeat(groups, weights))
    )
    assert (
        main(
            [
                "calibrate",
                str(tmp_path / "w.csv"),
                "--model",
                "2pl",
                "--weights",
                "w",
                "--group",
                "sex",
                "--out",
                str(tmp_path / "a.csv"),
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "calibrate",
                str(tmp_path / "rep.csv"),
                "--model",
                "2pl",
                "--group",
                "sex",
                "--out",
                str(tmp_path / "b.csv"),
                "--quiet",
            ]
        )
        == 0
    )
    np.testing.assert_allclose(
        read_params(tmp_path / "a.csv")[1].a, read_params(tmp_path / "b.csv")[1].a, rtol=1e-4
    )


def _fail(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    code = main(
        [
            "calibrate",
            str(path),
            "--model",
            "2pl",
            "--out",
            str(tmp_path / "o.csv"),
            "--quiet",
            *extra,
        ]
    )
    assert code == 1
    return capsys.readouterr().err


def test_bad_input_names_the_row_and_item(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = "".join(f"P{i},{i % 2},{(i // 2) % 2}\n" for i in range(20))
    err = _fail(tmp_path, "person_id,Q1,Q2\n" + good + "P99,1,x\n", capsys)
    assert "row 22, item 'Q2': 'x' is not a number" in err
    err = _fail(tmp_path, "person_id,Q1,Q2\n" + good + "P99,1,0.5\n", capsys)
    assert "row 22, item 'Q2'" in err and "not a response category" in err
    const = "".join(f"P{i},{i % 2},1\n" for i in range(20))
    err = _fail(tmp_path, "person_id,Q1,Q2\n" + const, capsys)
    assert "item 'Q2': no variance" in err
    empty = "".join(f"P{i},{i % 2},\n" for i in range(20))
    err = _fail(tmp_path, "person_id,Q1,Q2\n" + empty, capsys)
    assert "item 'Q2': nobody answered it" in err
    err = _fail(tmp_path, "person_id,Q1,Q2\n" + good, capsys, "--weights", "w")
    assert "no column 'w'" in err
    err = _fail(tmp_path, "id,Q1\nP1,1\n", capsys)
    assert "first column must be 'person_id'" in err
    err = _fail(tmp_path, "person_id,Q1,Q2\n" + good + "P1,1,1\n", capsys)
    assert "'P1' already in row 3" in err


def test_anchor_fixed_and_linked(tmp_path: Path) -> None:
    rng = np.random.default_rng(41)
    a = rng.lognormal(0, 0.2, 12)
    b = np.linspace(-1.5, 1.5, 12)
    theta = rng.normal(0.5, 1.0, 3000)  # this population sits at +0.5 on the bank scale
    x = (rng.random((3000, 12)) < prob_4pl(theta, a, b)).astype(int)
    ids = [f"I{j}" for j in range(12)]
    with open(tmp_path / "r.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["person_id", *ids])
        for i, row in enumerate(x):
            w.writerow([f"P{i}", *row])
    with open(tmp_path / "bank.csv", "w", newline="") as fh:  # the first 9 are in the bank
        w = csv.writer(fh)
        w.writerow(["item_id", "model", "a", "b"])
        for j in range(9):
            w.writerow([ids[j], "2PL", a[j], b[j]])
    for method in ("fixed", "stocking-lord"):
        out = tmp_path / f"{method}.csv"
        argv = ["calibrate", str(tmp_path / "r.csv"), "--model", "2pl", "--out", str(out)]
        assert (
            main([*argv, "--anchor", str(tmp_path / "bank.csv"), "--link", method, "--quiet"]) == 0
        )
        _, p = read_params(out)
        # the three new items land on the bank scale (a free run would be ≈ 0.5 lower)
        assert float(np.mean(p.b[9:] - b[9:])) == pytest.approx(0.0, abs=0.12)
        rows = read_rows(out)
        assert rows[0]["anchor"] == ("fixed" if method == "fixed" else "common")
        assert rows[11]["anchor"] == ""


def test_write_to_the_item_bank(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from item_bank.database import open_engine, sqlite_url
    from item_bank.demo import generate_demo_bank
    from item_bank.store import ItemStore

    db = tmp_path / "bank.db"
    store = ItemStore(open_engine(sqlite_url(db)))
    store.create_tables()
    doc = generate_demo_bank(per_subtest=6)
    store.import_document(doc)
    twk = [it.item_id for it in doc.items if it.subtest == "TWK"][:6]
    rng = np.random.default_rng(42)
    theta = rng.normal(size=1500)
    x = (rng.random((1500, 6)) < prob_4pl(theta, np.ones(6), np.linspace(-1, 1, 6))).astype(int)
    with open(tmp_path / "r.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["person_id", *twk])
        for i, row in enumerate(x):
            w.writerow([f"P{i}", *row])
    argv = [
        "calibrate",
        str(tmp_path / "r.csv"),
        "--model",
        "2pl",
        "--out",
        str(tmp_path / "p.csv"),
    ]
    missing = tmp_path / "nosuch.db"
    assert main([*argv, "--db", str(missing), "--write", "--quiet"]) == 1
    assert "no database at" in capsys.readouterr().err
    assert not missing.exists() and not (tmp_path / "p.csv").exists()
    assert main([*argv, "--bank", str(db), "--write", "--run", "pilot-2026", "--quiet"]) == 0
    rec = ItemStore(open_engine(sqlite_url(db))).item(twk[0])
    assert rec.irt is not None and rec.irt.run == "pilot-2026" and rec.irt.model == "2PL"
    assert rec.irt.sample_size == 1500 and rec.irt.se_a is not None
    _, p = read_params(tmp_path / "p.csv")
    assert rec.irt.a == pytest.approx(p.a[0], rel=1e-4)
    # the bank database is also an --anchor: the stored 2PL values come back
    out = tmp_path / "linked.csv"
    argv = ["calibrate", str(tmp_path / "r.csv"), "--model", "2pl", "--out", str(out)]
    assert main([*argv, "--anchor", str(db), "--link", "fixed", "--quiet"]) == 0
    _, held = read_params(out)
    np.testing.assert_allclose(held.a, p.a, rtol=1e-5)
    assert [r["anchor"] for r in read_rows(out)] == ["fixed"] * 6


def test_report_ticks_are_round_numbers() -> None:
    from calibration.report import _nice_ticks

    assert _nice_ticks(0.496) == [0.0, 0.2, 0.4, 0.6]
    assert _nice_ticks(23.7) == [0.0, 10.0, 20.0, 30.0]
    assert _nice_ticks(7.2) == [0.0, 2.0, 4.0, 6.0, 8.0]
