"""The publication's version chain: an accepted appeal's correction signed as a
new version that links to the previous one, and the verifier's checks of it."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exam_server.results import publication as pub
from exam_server.results.versions import Correction, next_version
from tests.results.results_cases import KEY, build


def fix_category() -> Correction:
    # B1 was recorded "papua" by a clerk; the registration says "general".
    return Correction("B1", "category", "papua", "general", "SANGGAH-1", "salah input kategori")


def fix_skb() -> Correction:
    return Correction("A2", "skb", "88.5", "58.5", "SANGGAH-2", "salah salin nilai SKB")


@pytest.fixture(scope="module")
def v1() -> dict[str, bytes]:
    return dict(build().files)


@pytest.fixture(scope="module")
def v2(v1: dict[str, bytes]) -> dict[str, bytes]:
    return dict(next_version(v1, [fix_category()], "sanggah diterima", KEY, "2024-12-05").files)


def entry(files: dict[str, bytes], path: str, regno: str) -> dict[str, Any]:
    doc = json.loads(files[path])
    return next(e for e in doc["entries"] if e["registration_number"] == regno)


def test_second_version_verifies_with_its_chain_and_states_the_change(
    v1: dict[str, bytes], v2: dict[str, bytes]
) -> None:
    rep = pub.verify_publication(v2, KEY.public_key())
    assert rep.ok, rep.problems
    assert any("version 2 = version 1 with 1 correction(s) (category)" in c for c in rep.checks)
    manifest = json.loads(v2[pub.MANIFEST])
    assert manifest["version"]["number"] == 2
    assert manifest["version"]["previous"]["manifest_sha256"] == pub.sha256_hex(v1[pub.MANIFEST])
    assert manifest["version"]["corrections"][0]["to"] == "general"
    changed = {(c["stage"], c["registration_number"]) for c in manifest["version"]["changes"]}
    assert ("skd", "B1") in changed
    assert entry(v2, "skd/FB.json", "B1")["category"] == "general"
    assert v2["versions/1/manifest.json"] == v1[pub.MANIFEST]


def test_a_third_version_checks_the_whole_chain(v2: dict[str, bytes]) -> None:
    v3 = dict(next_version(v2, [fix_skb()], "sanggah kedua", KEY, "2024-12-09").files)
    rep = pub.verify_publication(v3, KEY.public_key())
    assert rep.ok, rep.problems
    assert sum("version" in c and "correction(s)" in c for c in rep.checks) == 2
    assert entry(v3, "final/FA.json", "A2")["skb"] == 58.5
    # Tampering deep in the chain (version 1 inside version 3) is found.
    bad = dict(v3)
    path = "versions/2/versions/1/skd/FA.json"
    bad[path] = bad[path].replace(b'"Ani"', b'"Ana"')
    rep = pub.verify_publication(bad, KEY.public_key())
    assert not rep.ok
    assert any("versions/2/versions/1/skd/FA.json" in p for p in rep.problems)


def _resign(files: dict[str, bytes], manifest: dict[str, Any]) -> dict[str, bytes]:
    """What an insider with the key could do: rewrite the manifest and sign it."""
    out = dict(files)
    body = pub.canonical_json(manifest)
    out[pub.MANIFEST] = body
    out[pub.SIGNATURE] = base64.b64encode(KEY.sign(body)) + b"\n"
    return out


def test_a_resigned_version_with_an_undeclared_change_is_caught(v2: dict[str, bytes]) -> None:
    manifest = json.loads(v2[pub.MANIFEST])
    # The insider claims a name correction instead of the category one.
    manifest["version"]["corrections"][0].update({"field": "name", "from": "Yohana Wenda"})
    rep = pub.verify_publication(_resign(v2, manifest), KEY.public_key())
    assert not rep.ok
    assert any("do not apply" in p or "not version 1" in p for p in rep.problems), rep.problems


def test_a_correction_of_a_score_is_refused_and_caught(
    v1: dict[str, bytes], v2: dict[str, bytes]
) -> None:
    with pytest.raises(pub.PublicationError, match="not correctable"):
        next_version(v1, [Correction("A1", "scores", None, "1", "X", "y")], "r", KEY, "2024-12-05")
    manifest = json.loads(v2[pub.MANIFEST])
    manifest["version"]["corrections"][0]["field"] = "total"
    rep = pub.verify_publication(_resign(v2, manifest), KEY.public_key())
    assert any("may not correct" in p for p in rep.problems), rep.problems


def test_wrong_previous_value_or_key_is_refused(v1: dict[str, bytes]) -> None:
    with pytest.raises(pub.PublicationError, match="published value is 'papua'"):
        next_version(
            v1, [Correction("B1", "category", "general", "papua", "X", "y")], "r", KEY, "2024-12-05"
        )
    other = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    with pytest.raises(pub.PublicationError, match="key of the previous"):
        next_version(v1, [fix_category()], "r", other, "2024-12-05")


def test_a_publication_written_over_a_chain_leaves_no_stale_files(
    v1: dict[str, bytes], v2: dict[str, bytes], tmp_path: Path
) -> None:
    pub.write_publication(tmp_path, v1)
    pub.write_publication(tmp_path, v2)
    assert pub.verify_publication(pub.read_publication(tmp_path), KEY.public_key()).ok
    # A fresh publication (another exam's, or a new version 1) over the chain.
    pub.write_publication(tmp_path, v1)
    assert not (tmp_path / "versions" / "1" / "manifest.json").exists()
    assert pub.verify_publication(pub.read_publication(tmp_path), KEY.public_key()).ok


def test_a_transcribed_skb_component_is_corrected_and_the_skb_is_their_sum_again() -> None:
    from decimal import Decimal

    from assessment.components import ComponentScore
    from exam_server.results.integration import SkbScore, integrate
    from exam_server.results.ranking import rank_skd
    from tests.results.results_cases import EXAM, FORMATIONS, POLICY, SKB, outcomes

    def comps(cat: str, wawancara: str) -> tuple[ComponentScore, ...]:
        return (
            ComponentScore("cat", Decimal(60), Decimal(cat), kind="cat"),
            ComponentScore("wawancara", Decimal(40), Decimal(wawancara), kind="interview"),
        )

    # Every line of a formation is scored under its plan (A2: 0.6 × 90 + 0.4 × 86.25 = 88.5).
    skb = {
        **SKB,
        "A1": SkbScore("A1", "present", POLICY.points(70), components=comps("70", "70")),
        "A2": SkbScore("A2", "present", POLICY.points(88.5), components=comps("90", "86.25")),
    }
    skd = rank_skd(POLICY, FORMATIONS, outcomes())
    v1 = dict(pub.publish(EXAM, POLICY, skd, KEY, integrate(POLICY, skd, skb)).files)
    fix = Correction("A1", "skb:wawancara", "70", "80", "SANGGAH-3", "salah salin nilai wawancara")
    v2 = dict(next_version(v1, [fix], "sanggah diterima", KEY, "2024-12-06").files)
    rep = pub.verify_publication(v2, KEY.public_key())
    assert rep.ok, rep.problems
    a1 = entry(v2, "final/FA.json", "A1")
    assert a1["skb"] == 74  # 0.6 * 70 + 0.4 * 80
    assert [c["score"] for c in a1["skb_components"]] == [70, 80]
    with pytest.raises(pub.PublicationError, match="correct the component"):
        next_version(v1, [Correction("A1", "skb", "70", "75", "X", "y")], "r", KEY, "2024-12-06")
