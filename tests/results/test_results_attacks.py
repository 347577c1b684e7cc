"""The publication attacks of issue 14 (hole 4), made the way they were made, and shown caught:
a wrong ``public_key.pem`` inside a publication, a TL/TH/DIS candidate deleted by someone
holding the signing key who re-signs everything, and a candidate's signed receipt held
against a line that was deleted or changed."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exam_server import receipts
from exam_server.results import publication as pub
from tests.results.results_cases import KEY, RECEIPT_KEY, build, receipt_code
from tests.results.test_results_cli import _input, run


@pytest.fixture()
def keys(tmp_path: Path) -> Path:
    d = tmp_path / "keys"
    assert run("keygen", "--out", str(d)) == 0
    (d / "receipt.pub").write_bytes(pub.public_key_pem(RECEIPT_KEY.public_key()))
    return d


def _publish(inp: Path, keys: Path, out: Path, *extra: str) -> None:
    key = str(keys / "results-signing.key")
    argv = ["publish", "--input", str(inp), "--key", key, "--out", str(out), *extra]
    assert run(*argv) == 0


def _drop(inp: Path, regno: str, to: Path) -> Path:
    """The same input document without one candidate: what a key holder would publish."""
    doc = json.loads(inp.read_text())
    doc["candidates"] = [c for c in doc["candidates"] if c["registration_number"] != regno]
    to.write_text(json.dumps(doc))
    return to


# -- 1. a public_key.pem inside the publication that is not the announced key ---------------


def test_a_replaced_key_copy_is_a_warning_and_exits_1(
    tmp_path: Path, keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pub"
    _publish(_input(tmp_path), keys, out)
    announced = str(keys / "results-signing.pub")
    assert run("verify", str(out), "--public-key", announced) == 0
    assert "public_key.pem inside the publication is the announced key" in capsys.readouterr().out

    # The attack: swap the copy for another key, so that people who check against the
    # copy (as the page used to suggest) trust whatever that key signs.
    attacker = Ed25519PrivateKey.generate().public_key()
    (out / "public_key.pem").write_bytes(pub.public_key_pem(attacker))
    assert run("verify", str(out), "--public-key", announced) == 1
    printed = capsys.readouterr().out
    line = next(x for x in printed.splitlines() if x.startswith("WARNING"))
    assert "public_key.pem inside the publication is NOT the announced key" in line
    assert pub.public_key_fingerprint(attacker) in line
    good = pub.public_key_fingerprint(pub.load_public_key(Path(announced).read_bytes()))
    assert good in line
    assert "exit 1; --accept-wrong-key-copy" in printed

    # Told explicitly, the content (signed by the announced key) is accepted; the
    # warning is still printed.
    assert run("verify", str(out), "--public-key", announced, "--accept-wrong-key-copy") == 0
    printed = capsys.readouterr().out
    assert "WARNING  public_key.pem" in printed and "warning accepted" in printed

    # A missing copy is warned about too.
    (out / "public_key.pem").unlink()
    assert run("verify", str(out), "--public-key", announced) == 1
    assert "public_key.pem: missing from the publication" in capsys.readouterr().out


def test_a_copy_swapped_with_a_re_signed_manifest_fails_against_the_announced_key(
    tmp_path: Path, keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pub"
    _publish(_input(tmp_path), keys, out)
    attacker = Ed25519PrivateKey.generate()
    (out / "public_key.pem").write_bytes(pub.public_key_pem(attacker.public_key()))
    m = json.loads((out / "manifest.json").read_text())
    m["signature"]["public_key_sha256"] = pub.public_key_fingerprint(attacker.public_key())
    manifest = pub.canonical_json(m)
    (out / "manifest.json").write_bytes(manifest)
    (out / "manifest.sig").write_bytes(base64.b64encode(attacker.sign(manifest)) + b"\n")
    assert run("verify", str(out)) == 0  # against its own copy it is consistent...
    capsys.readouterr()
    assert run("verify", str(out), "--public-key", str(keys / "results-signing.pub")) == 1
    printed = capsys.readouterr().out  # ...and against the announced key it is not
    assert "FAIL  manifest.sig: the signature does not match manifest.json" in printed
    assert "WARNING  public_key.pem inside the publication is NOT the announced key" in printed


# -- 2. a candidate deleted and everything re-signed ------------------------------------------


def test_the_manifest_counts_each_formation_by_code() -> None:
    m = build().manifest
    assert m["schema"] == "seleksi/results-manifest/3"
    # FA: A1 P/L (1 opening × 3 = cut 3: A1-A3 P/L), A4 P, A5 TL, A6 TH, A7 DIS.
    assert m["counts"]["skd"]["FA"] == {"P/L": 3, "P": 1, "TL": 1, "TH": 1, "DIS": 1, "total": 7}
    assert m["counts"]["skd"]["FB"]["total"] == 1
    assert set(m["counts"]["final"]["FB"]) == {"P/L", "P/L-O", "TL", "TH", "DIS", "total"}


def test_manifest_counts_that_disagree_with_the_entries_are_reported_by_formation() -> None:
    files = dict(build().files)
    m = json.loads(files[pub.MANIFEST])
    m["counts"]["skd"]["FA"]["TH"] = 2
    files[pub.MANIFEST] = pub.canonical_json(m)
    files[pub.SIGNATURE] = base64.b64encode(KEY.sign(files[pub.MANIFEST])) + b"\n"
    rep = pub.verify_publication(files, KEY.public_key())
    assert any(p.startswith("skd/FA: the manifest counts") for p in rep.problems)


@pytest.mark.parametrize(("regno", "code"), [("A5", "TL"), ("A6", "TH"), ("A7", "DIS")])
def test_a_deleted_candidate_re_signed_is_caught_by_the_counts_announced_earlier(
    tmp_path: Path, keys: Path, capsys: pytest.CaptureFixture[str], regno: str, code: str
) -> None:
    inp = _input(tmp_path)
    # Announced after the test, before the results: counts from the source itself.
    announced = tmp_path / "counts.json"
    assert run("counts", "--input", str(inp), "--out", str(announced)) == 0
    assert json.loads(announced.read_text())["skd"]["FA"][code] == 1

    # The attack: whoever holds the signing key publishes without the candidate and signs.
    forged = tmp_path / "forged"
    _publish(_drop(inp, regno, tmp_path / "forged-input.json"), keys, forged)
    announced_key = str(keys / "results-signing.pub")
    capsys.readouterr()
    # Everything the publication can say about itself holds...
    assert run("verify", str(forged), "--public-key", announced_key) == 0
    assert "note: no --announced-counts given" in capsys.readouterr().out
    # ...and the counts announced earlier show the deletion, by formation and code.
    argv = ["verify", str(forged), "--public-key", announced_key, "--announced-counts"]
    assert run(*argv, str(announced)) == 1
    printed = capsys.readouterr().out
    assert (
        f"FAIL  skd/FA: counts differ from the announcement ({code} published 0, announced 1; "
        "total published 6, announced 7)" in printed
    )
    assert "skd/FB" not in printed
    # An earlier manifest is an announcement too (a publication replaced by another).
    earlier = tmp_path / "earlier"
    _publish(inp, keys, earlier)
    assert run(*argv, str(earlier / "manifest.json")) == 1
    assert f"{code} published 0, announced 1" in capsys.readouterr().out


def test_a_partial_announcement_compares_what_it_names() -> None:
    counts = build().manifest["counts"]
    assert pub.compare_counts({"skd": {"FA": {"total": 7}}}, counts) == []
    assert pub.compare_counts({"skd": {"FA": {"total": 8}, "FC": {"total": 3}}}, counts) == [
        "skd/FA: counts differ from the announcement (total published 7, announced 8)",
        "skd/FC: announced with 3 candidates, but not in the publication",
    ]
    with pytest.raises(pub.PublicationError, match="expected"):
        pub.compare_counts(["FA", 7], counts)


# -- 3. a candidate's signed receipt ------------------------------------------------------------


def _receipt() -> str:
    return receipt_code(exam="SKD-T")  # the exam of the CLI tests' input document


def test_prove_with_a_receipt_says_matches_differs_or_missing(
    tmp_path: Path, keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp = _input(tmp_path)
    rk = ["--receipt-key", str(keys / "receipt.pub")]
    honest, forged = tmp_path / "honest", tmp_path / "forged"
    _publish(inp, keys, honest, *rk)
    m = json.loads((honest / "manifest.json").read_text())
    assert m["receipt_keys"][0]["sha256"] == pub.public_key_fingerprint(RECEIPT_KEY.public_key())
    capsys.readouterr()

    code = _receipt()
    assert run("prove", "A5", "--publication", str(honest), "--receipt", code) == 0
    printed = capsys.readouterr().out
    assert "COCOK: baris A5 yang diumumkan sama dengan tanda terima Anda." in printed
    assert "MATCHES" in printed

    # A5 (TL) deleted and the publication re-signed: the receipt proves A5 sat the test.
    _publish(_drop(inp, "A5", tmp_path / "in2.json"), keys, forged, *rk)
    capsys.readouterr()
    assert run("prove", "A5", "--publication", str(forged), "--receipt", code) == 1
    printed = capsys.readouterr().out
    assert "TIDAK ADA: A5 tidak tercantum dalam publikasi" in printed
    assert "MISSING: A5 is not in the publication" in printed

    # A5's TKP points changed at the source and re-published: the receipt shows where.
    doc = json.loads(inp.read_text())
    next(c for c in doc["candidates"] if c["registration_number"] == "A5")["scores"]["TKP"] = 150
    changed = tmp_path / "in3.json"
    changed.write_text(json.dumps(doc))
    _publish(changed, keys, forged, *rk)
    receipt_file = tmp_path / "receipt.txt"
    receipt_file.write_text(code + "\n")
    capsys.readouterr()
    argv = ["prove", "A5", "--publication", str(forged), "--receipt", str(receipt_file)]
    assert run(*argv) == 1
    printed = capsys.readouterr().out
    assert "BERBEDA" in printed and "DIFFERENT" in printed
    assert "TKP: published 150, receipt 200" in printed
    assert "total: published 330, receipt 380" in printed


def test_a_receipt_not_signed_by_a_listed_key_is_invalid(
    tmp_path: Path, keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pub"
    _publish(_input(tmp_path), keys, out, "--receipt-key", str(keys / "receipt.pub"))
    other = Ed25519PrivateKey.generate()
    r = receipts.sign_receipt(
        other,
        registration_number="A5",
        exam="SKD-T",
        session="S1",
        scores={"TWK": "150", "TIU": "175", "TKP": "225"},
        total="550",
        chain_head="",
    )
    capsys.readouterr()
    argv = ["prove", "A5", "--publication", str(out), "--receipt", receipts.encode(r)]
    assert run(*argv) == 1
    assert "TIDAK SAH" in capsys.readouterr().out
    assert run("prove", "A5", "--publication", str(out), "--receipt", "SELEKSI-R1:AAAA") == 1
    assert "INVALID" in capsys.readouterr().out
