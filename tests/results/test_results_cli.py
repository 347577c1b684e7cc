"""``seleksi results``: keygen, publish from an input document, verify (and its exit code
on tampering), prove and check-proof."""

from __future__ import annotations

import argparse
import json
import stat
from pathlib import Path

import pytest

from exam_server.results.inputs import INPUT_SCHEMA, InputError, dump_input, load_input
from seleksi.cli import CommandError
from seleksi.commands import results as cmd
from tests.results.results_cases import FORMATIONS, outcomes


def run(*argv: str) -> int:
    # The results command alone, as `seleksi` builds it (other commands are not needed).
    parser = argparse.ArgumentParser(prog="seleksi")
    sub = parser.add_subparsers(dest="command")
    cmd.register(sub)
    args = parser.parse_args(["results", *argv])
    code: int = args.func(args)
    return code


def _input(tmp_path: Path) -> Path:
    exam = {"id": "SKD-T", "title": "Uji", "published_at": "2024-12-01"}
    doc = json.loads(dump_input(exam, FORMATIONS, outcomes()))
    # One candidate with raw responses instead of a hash: hashed on load.
    doc["candidates"][0].pop("responses_hash")
    doc["candidates"][0]["responses"] = [{"seq": 1, "item": "I1", "option": 2}]
    p = tmp_path / "input.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    return p


@pytest.fixture()
def keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    d = tmp_path / "keys"
    assert run("keygen", "--out", str(d)) == 0
    assert "fingerprint:" in capsys.readouterr().out
    return d


def test_keygen_writes_a_private_key_only_its_owner_can_read(keys: Path) -> None:
    mode = stat.S_IMODE((keys / "results-signing.key").stat().st_mode)
    assert mode == 0o600
    assert (keys / "results-signing.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    with pytest.raises(CommandError, match="exists; use --force"):
        run("keygen", "--out", str(keys))


def test_publish_verify_prove_round_trip(
    tmp_path: Path, keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = _input(tmp_path), tmp_path / "pub"
    skb = tmp_path / "skb.csv"
    skb.write_text(
        "registration_number,skb,status,note\nA1,70,,\nA2,88.5,,\nA3,,absent,\nB1,61,,\n"
    )
    key, pubkey = str(keys / "results-signing.key"), str(keys / "results-signing.pub")
    assert (
        run(
            "publish",
            "--input",
            str(inp),
            "--key",
            key,
            "--out",
            str(out),
            "--skb",
            str(skb),
            "--optimise",
        )
        == 0
    )
    printed = capsys.readouterr().out
    root = json.loads((out / "manifest.json").read_text())["merkle"]["root"]
    assert f"merkle root: {root}" in printed

    assert run("verify", str(out), "--public-key", pubkey, "--input", str(inp)) == 0
    printed = capsys.readouterr().out
    assert "VERIFIED" in printed and "reproduces the publication byte for byte" in printed

    proof = tmp_path / "proof.json"
    assert run("prove", "A4", "--publication", str(out), "--out", str(proof)) == 0
    assert run("check-proof", str(proof), "--root", root) == 0
    assert "INCLUDED" in capsys.readouterr().out
    assert run("check-proof", str(proof), "--root", "ab" * 32) == 1
    with pytest.raises(CommandError, match="not in this publication"):
        run("prove", "NOBODY", "--publication", str(out))


def test_verify_exits_1_on_a_tampered_csv_line(
    tmp_path: Path, keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = _input(tmp_path), tmp_path / "pub"
    key = str(keys / "results-signing.key")
    assert run("publish", "--input", str(inp), "--key", key, "--out", str(out)) == 0
    csv_path = out / "skd" / "FA.csv"
    lines = csv_path.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace(",90,", ",95,", 1)
    csv_path.write_text("".join(lines))
    capsys.readouterr()
    assert run("verify", str(out)) == 1
    printed = capsys.readouterr().out
    assert "FAIL  skd/FA.csv: SHA-256 differs from the manifest" in printed
    assert "NOT VERIFIED" in printed and "compare this fingerprint" in printed


def test_verify_against_a_changed_source_fails(
    tmp_path: Path, keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp, out = _input(tmp_path), tmp_path / "pub"
    assert (
        run(
            "publish",
            "--input",
            str(inp),
            "--key",
            str(keys / "results-signing.key"),
            "--out",
            str(out),
        )
        == 0
    )
    doc = json.loads(inp.read_text())
    doc["candidates"][0]["responses"][0]["option"] = 3  # one stored answer changed
    inp.write_text(json.dumps(doc))
    assert run("verify", str(out), "--input", str(inp)) == 1
    assert "FAIL  source: skd/FA.json: differs from the source" in capsys.readouterr().out


def test_publish_needs_a_date_and_a_source(tmp_path: Path, keys: Path) -> None:
    inp = _input(tmp_path)
    doc = json.loads(inp.read_text())
    del doc["exam"]["published_at"]
    inp.write_text(json.dumps(doc))
    key = str(keys / "results-signing.key")
    with pytest.raises(CommandError, match="give --published-at"):
        run("publish", "--input", str(inp), "--key", key, "--out", str(tmp_path / "p"))
    with pytest.raises(CommandError, match="give the source"):
        run("publish", "--key", key, "--out", str(tmp_path / "p"))
    with pytest.raises(CommandError, match="--optimise needs --skb"):
        run(
            "publish",
            "--input",
            str(inp),
            "--key",
            key,
            "--out",
            str(tmp_path / "p"),
            "--published-at",
            "2024-12-01",
            "--optimise",
        )


def test_bad_skb_csv_is_reported_by_line(tmp_path: Path, keys: Path) -> None:
    skb = tmp_path / "skb.csv"
    skb.write_text("registration_number,skb\nA1,101\n")
    with pytest.raises(CommandError, match="line 2, skb: 101 is outside 0–100"):
        run(
            "publish",
            "--input",
            str(_input(tmp_path)),
            "--key",
            str(keys / "results-signing.key"),
            "--out",
            str(tmp_path / "p"),
            "--skb",
            str(skb),
        )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(schema="x"), "input.schema"),
        (lambda d: d["candidates"][1].update(status="late"), r"candidates\[1\] \(A2\): .*status"),
        (lambda d: d["candidates"][2].update(birth_date="31/12/1999"), "birth_date: '31/12/1999'"),
        (lambda d: d["candidates"][0].update(extra=1), "unknown field"),
        (lambda d: d["formations"][0].update(openings=-1), r"formations\[0\]: .*openings"),
    ],
)
def test_input_document_errors_name_the_record(edit: object, message: str) -> None:
    doc = json.loads(dump_input({"id": "X", "title": ""}, FORMATIONS, outcomes()))
    assert doc["schema"] == INPUT_SCHEMA
    edit(doc)  # type: ignore[operator]
    with pytest.raises(InputError, match=message):
        load_input(json.dumps(doc))


def test_serve_refuses_a_directory_that_is_not_a_publication(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"no manifest\.json; is this a publication"):
        run("serve", str(tmp_path))
