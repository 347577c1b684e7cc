"""The final CSV of a formation carries the SKB breakdown: one column per SKB
component of the formation (``skb:<code>``), empty where a line has none, and
``seleksi results verify`` checks every cell against the JSON. A publication
written before (manifest schema 2, no breakdown columns) verifies as it was."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from assessment.components import ComponentScore
from exam_server.results import publication as pub
from exam_server.results.integration import SkbScore, integrate
from exam_server.results.ranking import rank_skd
from seleksi.cli import main
from tests.results.results_cases import EXAM, FORMATIONS, KEY, POLICY, SKB, outcomes

#: SHA-256 of exam_server/results/policy_2024.json: the 2024 rules stay byte-identical.
POLICY_2024_SHA256 = "a6d5e8d8bc8a48f61821de7c3579000f1d562401bc1cceac9c56e2b0c6d974f2"


def _comps(cat: int, wwn: int) -> tuple[ComponentScore, ...]:
    return (
        ComponentScore("CAT", Decimal(60), Decimal(cat), kind="cat"),
        ComponentScore("WWN", Decimal(40), Decimal(wwn), minimum=Decimal(20), kind="interview"),
    )


def _publication() -> dict[str, bytes]:
    skb = {
        **SKB,
        # 0.6 × 70 + 0.4 × 80 = 74; 0.6 × 90 + 0.4 × 85 = 88
        "A1": SkbScore("A1", "present", POLICY.points(74), components=_comps(70, 80)),
        "A2": SkbScore("A2", "present", POLICY.points(88), components=_comps(90, 85)),
    }
    skd = rank_skd(POLICY, FORMATIONS, outcomes())
    return dict(pub.publish(EXAM, POLICY, skd, KEY, integrate(POLICY, skd, skb)).files)


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def _resign(files: dict[str, bytes], manifest: dict[str, object]) -> None:
    """What an insider holding the key does after editing files: a new manifest, signed."""
    for f in manifest["files"]:  # type: ignore[attr-defined]
        data = files[f["path"]]
        f["sha256"], f["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
    body = pub.canonical_json(manifest)
    files[pub.MANIFEST] = body
    files[pub.SIGNATURE] = base64.b64encode(KEY.sign(body)) + b"\n"


def test_the_final_csv_has_one_column_per_skb_component() -> None:
    files = _publication()
    header = files["final/FA.csv"].decode().splitlines()[0].split(",")
    i = header.index("skb")
    assert header[i : i + 4] == ["skb", "skb:CAT", "skb:WWN", "final"]
    rows = {r["registration_number"]: r for r in _rows(files["final/FA.csv"])}
    assert (rows["A1"]["skb"], rows["A1"]["skb:CAT"], rows["A1"]["skb:WWN"]) == ("74", "70", "80")
    assert (rows["A2"]["skb"], rows["A2"]["skb:CAT"], rows["A2"]["skb:WWN"]) == ("88", "90", "85")
    # Absent at the SKB: no score, no components.
    assert (rows["A3"]["skb"], rows["A3"]["skb:CAT"], rows["A3"]["skb:WWN"]) == ("", "", "")
    # The JSON holds the same breakdown.
    doc = json.loads(files["final/FA.json"])
    a1 = next(e for e in doc["entries"] if e["registration_number"] == "A1")
    assert [(c["code"], c["score"]) for c in a1["skb_components"]] == [("CAT", 70), ("WWN", 80)]
    # A formation whose SKB was imported as totals has no breakdown columns.
    fb = files["final/FB.csv"].decode().splitlines()[0].split(",")
    assert not [c for c in fb if c.startswith("skb:")]
    rep = pub.verify_publication(files, KEY.public_key())
    assert rep.ok, rep.problems
    # Lines with components name their kinds (schema 5).
    assert json.loads(files[pub.MANIFEST])["schema"] == "seleksi/results-manifest/5"


def test_verify_checks_the_breakdown_cells_against_the_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _publication()
    manifest = json.loads(files[pub.MANIFEST])
    # An insider raises A1's interview score in the CSV only and re-signs everything.
    text = files["final/FA.csv"].decode()
    lines = text.splitlines(keepends=True)
    k = next(i for i, ln in enumerate(lines) if ",A1," in ln)
    lines[k] = lines[k].replace(",74,70,80,", ",74,70,95,", 1)
    assert lines[k] != text.splitlines(keepends=True)[k]
    files["final/FA.csv"] = "".join(lines).encode()
    _resign(files, manifest)
    pub.write_publication(tmp_path / "pub", files)
    key = tmp_path / "key.pub"
    key.write_bytes(pub.public_key_pem(KEY.public_key()))
    assert main(["results", "verify", str(tmp_path / "pub"), "--public-key", str(key)]) == 1
    out = capsys.readouterr().out
    assert (
        "final/FA.csv: differs from final/FA.json "
        "(A1 skb:WWN: published '95', the JSON gives '80')" in out
    )
    # A column left out is caught too.
    files = _publication()
    rows = list(csv.reader(io.StringIO(files["final/FA.csv"].decode())))
    drop = rows[0].index("skb:WWN")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([r[:drop] + r[drop + 1 :] for r in rows])
    files["final/FA.csv"] = buf.getvalue().encode()
    _resign(files, json.loads(files[pub.MANIFEST]))
    rep = pub.verify_publication(files, KEY.public_key())
    assert any(p.startswith("final/FA.csv: differs from final/FA.json") for p in rep.problems)


def test_a_schema_2_publication_without_the_columns_still_verifies() -> None:
    files = _publication()
    manifest = json.loads(files[pub.MANIFEST])
    for path in ("final/FA.csv", "final/FB.csv"):
        doc = json.loads(files[path[:-4] + ".json"])
        files[path] = pub.formation_csv(doc, POLICY.subtest_codes, skb_breakdown=False)
    assert b"skb:" not in files["final/FA.csv"]
    manifest["schema"] = "seleksi/results-manifest/2"
    _resign(files, manifest)
    rep = pub.verify_publication(files, KEY.public_key())
    assert rep.ok, rep.problems
    # ...but a schema-3 manifest over the same CSV is not what the JSON gives.
    manifest["schema"] = pub.MANIFEST_SCHEMA
    _resign(files, manifest)
    assert not pub.verify_publication(files, KEY.public_key()).ok


def test_the_2024_policy_document_is_unchanged() -> None:
    # Read where RankingPolicy.default_2024 reads it, not beside a module that may move.
    path = resources.files("exam_server.results").joinpath("policy_2024.json")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == POLICY_2024_SHA256
