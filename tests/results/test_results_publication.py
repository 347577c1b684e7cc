"""The verifiable publication: reproducible bytes, offline verification, tamper detection,
and Merkle inclusion proofs."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exam_server.results import publication as pub
from exam_server.results.integration import SkbScore, integrate, optimise
from exam_server.results.outcomes import CandidateOutcome, responses_digest
from exam_server.results.ranking import rank_skd
from exam_server.results.rules import RankingPolicy
from tests.results.results_cases import EXAM, FORMATIONS, KEY, POLICY, build, outcomes, responses


@pytest.fixture(scope="module")
def publication() -> pub.Publication:
    return build()


def test_publication_verifies_with_the_announced_key(publication: pub.Publication) -> None:
    rep = pub.verify_publication(publication.files, KEY.public_key())
    assert rep.ok, rep.problems
    assert rep.root == publication.root and len(rep.root) == 64
    assert len(rep.checks) == 8 and not rep.warnings  # the SKB lines are one of them
    assert "public_key.pem inside the publication is the announced key" in rep.checks
    assert any("re-applying policy 2024.1" in c for c in rep.checks)
    assert sorted(publication.files) == [
        "final/FA.csv",
        "final/FA.json",
        "final/FB.csv",
        "final/FB.json",
        "manifest.json",
        "manifest.sig",
        "policy.json",
        "public_key.pem",
        "skd/FA.csv",
        "skd/FA.json",
        "skd/FB.csv",
        "skd/FB.json",
    ]
    m = publication.manifest
    assert m["merkle"]["leaves"] == 8 + 5  # 8 SKD entries; final: A1-A3, B1, optimised A4
    assert m["optimised"] is True and m["stages"] == ["skd", "final"]


def test_publication_is_reproducible_byte_for_byte(
    publication: pub.Publication, tmp_path: Path
) -> None:
    shuffled = outcomes()
    random.Random(7).shuffle(shuffled)
    again = build(shuffled)
    assert again.files == publication.files
    pub.write_publication(tmp_path, publication.files)
    assert pub.read_publication(tmp_path) == publication.files


def test_the_optimised_candidate_is_published(publication: pub.Publication) -> None:
    fb = json.loads(publication.files["final/FB.json"])
    codes = {e["registration_number"]: e["code"] for e in fb["entries"]}
    # FB has 2 openings and one SKB participant; the vacancy goes to FA's P candidate A4.
    assert codes == {"B1": "P/L", "A4": "P/L-O"}
    fa_csv = publication.files["skd/FA.csv"].decode()
    assert fa_csv.splitlines()[0].startswith("rank,registration_number,name,category,status,TWK")


def test_a_different_key_is_rejected(publication: pub.Publication) -> None:
    other = pub.generate_key().public_key()
    rep = pub.verify_publication(publication.files, other)
    assert not rep.ok
    assert any("signed by key" in p for p in rep.problems)
    assert any("signature does not match" in p for p in rep.problems)


def test_without_a_key_the_embedded_copy_is_used_and_said(publication: pub.Publication) -> None:
    rep = pub.verify_publication(publication.files)
    assert rep.ok and "inside the publication" in rep.key_source


def _edit_json(files: dict[str, bytes], path: str, regno: str, field: str, value: Any) -> None:
    doc = json.loads(files[path])
    for e in doc["entries"]:
        if e["registration_number"] == regno:
            e[field] = value
    files[path] = pub.formation_json(doc)


def _resign(files: dict[str, bytes], key: Any = KEY) -> None:
    """What an insider holding the key would do after editing content files."""
    skip = (pub.MANIFEST, pub.SIGNATURE, pub.PUBLIC_KEY)
    content = {k: v for k, v in files.items() if k not in skip}
    for path in [p for p in content if p.endswith(".json") and "/" in p]:
        doc = json.loads(content[path])
        content[path[:-5] + ".csv"] = pub.formation_csv(doc, POLICY.subtest_codes)
    m = json.loads(files[pub.MANIFEST])
    exam = pub.ExamInfo(**m["exam"])
    manifest = pub.build_manifest(
        exam, POLICY, content, optimised=m["optimised"], public_key=key.public_key()
    )
    files.clear()
    files.update(content)
    files[pub.MANIFEST] = manifest
    files[pub.SIGNATURE] = base64.b64encode(key.sign(manifest)) + b"\n"
    files[pub.PUBLIC_KEY] = pub.public_key_pem(key.public_key())


def test_tampering_with_a_response_hash_is_detected(publication: pub.Publication) -> None:
    files = dict(publication.files)
    _edit_json(files, "skd/FA.json", "A2", "responses_hash", "0" * 64)
    rep = pub.verify_publication(files, KEY.public_key())
    assert not rep.ok
    assert any(p.startswith("skd/FA.json: SHA-256 differs") for p in rep.problems)
    assert any("Merkle root" in p for p in rep.problems)
    assert any(p.startswith("skd/FA.csv: differs from skd/FA.json") for p in rep.problems)


def test_tampering_with_a_score_is_detected(publication: pub.Publication) -> None:
    files = dict(publication.files)
    _edit_json(files, "skd/FA.json", "A4", "scores", {"TIU": 100, "TKP": 180, "TWK": 95})
    rep = pub.verify_publication(files, KEY.public_key())
    assert not rep.ok
    assert any("skd/FA.json: SHA-256 differs" in p for p in rep.problems)
    # The rules re-applied to the edited score no longer give the published list.
    assert any(p.startswith("skd/FA.json: not what the published rules give") for p in rep.problems)


def test_tampering_with_one_csv_line_is_detected(publication: pub.Publication) -> None:
    files = dict(publication.files)
    lines = files["skd/FA.csv"].decode().splitlines(keepends=True)
    lines[4] = lines[4].replace(",P,", ",P/L,", 1)  # promote A4 from P to P/L
    files["skd/FA.csv"] = "".join(lines).encode()
    rep = pub.verify_publication(files, KEY.public_key())
    assert not rep.ok
    assert any(p.startswith("skd/FA.csv: SHA-256 differs") for p in rep.problems)
    assert (
        "skd/FA.csv: differs from skd/FA.json (A4 code: published 'P/L', the JSON gives 'P')"
        in rep.problems
    )


def test_an_insider_resigning_an_edited_score_is_still_caught_by_the_rules(
    publication: pub.Publication,
) -> None:
    files = dict(publication.files)
    _edit_json(files, "skd/FA.json", "A4", "code", "P/L")
    _resign(files)
    rep = pub.verify_publication(files, KEY.public_key())
    # Signature, hashes, CSV and Merkle root are all consistent with the edit…
    assert not any("signature" in p or "SHA-256" in p or "Merkle" in p for p in rep.problems)
    # …but the published code is not what the published rules give.
    assert rep.problems == [
        "skd/FA.json: not what the published rules give (A4 code: published 'P/L', "
        "the rules give 'P')"
    ]


def test_a_changed_stored_response_is_found_by_recomputing_from_source(
    publication: pub.Publication,
) -> None:
    source = outcomes()
    assert pub.recompute(publication.files, FORMATIONS, source) == []
    # Change one stored response of A2: its hash no longer matches the publication.
    changed = responses("A2")
    changed[2]["option"] = (changed[2]["option"] + 1) % 5
    source = [
        replace(c, responses_hash=responses_digest(changed)) if c.registration_number == "A2" else c
        for c in source
    ]
    diffs = pub.recompute(publication.files, FORMATIONS, source)
    assert diffs[3].startswith(
        "skd/FA.json: differs from the source (A2 responses_hash: published "
    )
    # The hash is in the SKD and final JSON files and their CSVs, all four differ.
    assert [d.split(":")[0] for d in diffs] == [
        "final/FA.csv",
        "final/FA.json",
        "skd/FA.csv",
        "skd/FA.json",
    ]


def test_unlisted_and_missing_files_are_reported(publication: pub.Publication) -> None:
    files = dict(publication.files)
    files["skd/FZ.csv"] = b"rank\n"
    del files["final/FB.csv"]
    rep = pub.verify_publication(files, KEY.public_key())
    assert "skd/FZ.csv: not listed in the manifest" in rep.problems
    assert "final/FB.csv: listed in the manifest but missing" in rep.problems


def test_garbage_manifest_is_a_problem_not_a_crash(publication: pub.Publication) -> None:
    files = dict(publication.files)
    files[pub.MANIFEST] = b"{}"
    assert not pub.verify_publication(files).ok
    files[pub.MANIFEST] = b"\xff"
    assert not pub.verify_publication(files).ok


# -- inclusion proofs ------------------------------------------------------------------


def test_every_candidate_can_prove_their_entries(publication: pub.Publication) -> None:
    root = publication.root
    for regno in ("A1", "A2", "A3", "A4", "A5", "A6", "A7", "B1"):
        proofs = pub.prove(publication.files, regno)
        assert proofs and all(pub.verify_proof(p, root) for p in proofs)
        leaf = json.loads(proofs[0]["leaf"])
        assert leaf["registration_number"] == regno and leaf["stage"] == "skd"
    # A4: its SKD entry (P) and its optimised final entry (P/L-O).
    assert [json.loads(p["leaf"])["code"] for p in pub.prove(publication.files, "A4")] == [
        "P",
        "P/L-O",
    ]
    assert pub.prove(publication.files, "nobody") == []


def test_wrong_proofs_fail(publication: pub.Publication) -> None:
    proof = pub.prove(publication.files, "A2")[0]
    assert not pub.verify_proof(proof, "00" * 32)  # another root
    forged = dict(proof, leaf=proof["leaf"].replace('"code":"P/L"', '"code":"P"'))
    assert forged["leaf"] != proof["leaf"] and not pub.verify_proof(forged, proof["root"])
    assert not pub.verify_proof(dict(proof, index=proof["index"] + 1), proof["root"])
    assert not pub.verify_proof(dict(proof, path=proof["path"][:-1]), proof["root"])
    assert not pub.verify_proof(dict(proof, path=["zz"]), proof["root"])
    assert not pub.verify_proof({"leaf": "x"})


def _rfc6962_root(leaves: list[bytes]) -> bytes:
    """The RFC 6962 definition, recursively (split at the largest power of two < n)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return pub.leaf_hash(leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return pub.node_hash(_rfc6962_root(leaves[:k]), _rfc6962_root(leaves[k:]))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 70))
def test_merkle_tree_matches_rfc6962_and_all_proofs_verify(n: int) -> None:
    leaves = [f"leaf {i}".encode() for i in range(n)]
    levels = pub.merkle_levels([pub.leaf_hash(x) for x in leaves])
    root = pub.merkle_root(levels)
    assert root == _rfc6962_root(leaves)
    for i in range(n):
        path = pub.audit_path(levels, i)
        assert pub.root_from_path(leaves[i], i, n, path) == root
        if n > 1:
            assert pub.root_from_path(leaves[(i + 1) % n], i, n, path) != root


def test_skd_only_publication_verifies() -> None:
    p = build(final=False)
    assert sorted(p.files)[:2] == ["manifest.json", "manifest.sig"]
    assert pub.verify_publication(p.files, KEY.public_key()).ok


def test_a_publication_under_another_policy_verifies_under_that_policy() -> None:
    doc = POLICY.to_dict()
    doc["version"] = "2025-draft"
    doc["skd"]["cut_multiple"] = 2
    policy = RankingPolicy.from_dict(doc)
    skd = rank_skd(policy, FORMATIONS, outcomes())
    p = pub.publish(EXAM, policy, skd, KEY)
    rep = pub.verify_publication(p.files, KEY.public_key())
    assert rep.ok and any("policy 2025-draft" in c for c in rep.checks)


_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
_outcome = st.tuples(
    st.sampled_from(["finished"] * 5 + ["absent", "voided"]),
    st.tuples(
        st.decimals(min_value=0, max_value=150, places=3),
        st.decimals(min_value=0, max_value=175, places=3),
        st.decimals(min_value=0, max_value=225, places=3),
    ),
    st.sampled_from(["general", "cumlaude", "diaspora", "disability", "papua"]),
    st.sampled_from(["FA", "FB"]),
    _text,  # name (any Unicode, commas, quotes, newlines)
    _text,  # status note
    st.one_of(st.none(), st.decimals(min_value=2, max_value=4, places=2)),
)


@settings(max_examples=25, deadline=None)
@given(st.lists(_outcome, max_size=15), st.integers(0, 3))
def test_any_exam_publishes_and_verifies(people: list[tuple[Any, ...]], openings: int) -> None:
    cands = [
        CandidateOutcome(
            registration_number=f"R{i:03d}",
            formation=fid,
            category=cat,
            status=status,
            scores=dict(zip(("TWK", "TIU", "TKP"), pts, strict=True))
            if status == "finished"
            else {},
            name=name,
            status_note=note if status != "finished" else "",
            gpa=gpa,
            responses_hash=responses_digest([{"seq": i}]),
        )
        for i, (status, pts, cat, fid, name, note, gpa) in enumerate(people)
    ]
    forms = [replace(FORMATIONS[0], openings=openings), FORMATIONS[1]]
    skd = rank_skd(POLICY, forms, cands)
    called = [
        e.registration_number for f in skd.formations for e in f.entries if e.meaning == "in_cut"
    ]
    skb = {r: SkbScore(r, "present", POLICY.points(50 + i)) for i, r in enumerate(called)}
    final = optimise(POLICY, skd, integrate(POLICY, skd, skb))
    p = pub.publish(EXAM, POLICY, skd, KEY, final)
    rep = pub.verify_publication(p.files, KEY.public_key())
    assert rep.ok, rep.problems
    assert pub.recompute(p.files, forms, cands) == []


def test_same_content_in_another_layout_is_not_canonical(publication: pub.Publication) -> None:
    files = dict(publication.files)
    files["skd/FB.json"] = pub.canonical_json(json.loads(files["skd/FB.json"]))  # re-indented
    _resign(files)
    rep = pub.verify_publication(files, KEY.public_key())
    assert rep.problems == [
        "skd/FB.json: not what the published rules give (same content, but not in the "
        "canonical form the rules' output is written in)"
    ]
