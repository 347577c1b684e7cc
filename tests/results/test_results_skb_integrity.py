"""Four gaps a review found in what a signed publication could carry and still
verify, each shown closed: an SKB score outside 0–100, a version that switches
optimisation on or off, SKB weights or minimums given to one candidate only,
and ``prove --receipt`` answering on a copy that does not verify."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from assessment.components import ComponentScore, skb_total
from exam_server.results import integration
from exam_server.results import publication as pub
from exam_server.results import versions as ver
from exam_server.results.integration import SkbScore, integrate, optimise
from exam_server.results.ranking import RankingError, rank_skd
from tests.results.results_cases import (
    EXAM,
    FORMATIONS,
    KEY,
    POLICY,
    RECEIPT_KEY,
    SKB,
    outcomes,
    receipt_code,
)
from tests.results.test_results_cli import run
from tests.results.test_results_skb_csv import _resign


def _publish(skb: Mapping[str, SkbScore], *, optimised: bool = False) -> dict[str, bytes]:
    skd = rank_skd(POLICY, FORMATIONS, outcomes())
    final = integrate(POLICY, skd, skb)
    if optimised:
        final = optimise(POLICY, skd, final)
    return dict(pub.publish(EXAM, POLICY, skd, KEY, final).files)


def _without_range_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a key holder signs with a program that lacks the SKB range rule
    (``monkeypatch.undo()`` puts the rule back before verifying)."""
    for module in (integration, ver):
        monkeypatch.setattr(module, "skb_range_problem", lambda *a, **k: None, raising=False)


def _entry(files: Mapping[str, bytes], path: str, regno: str) -> dict[str, Any]:
    doc = json.loads(files[path])
    return next(e for e in doc["entries"] if e["registration_number"] == regno)


# -- 1. SKB scores outside 0–100 -----------------------------------------------------------------


def test_a_signed_skb_score_above_the_maximum_does_not_verify(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    skb = {**SKB, "A1": SkbScore("A1", "present", POLICY.points(150))}
    with pytest.raises(RankingError, match="SKB of A1: 150 is outside 0–100"):
        integrate(POLICY, rank_skd(POLICY, FORMATIONS, outcomes()), skb)
    _without_range_rule(monkeypatch)
    forged = _publish(skb)
    monkeypatch.undo()
    assert _entry(forged, "final/FA.json", "A1")["skb"] == 150
    rep = pub.verify_publication(forged, KEY.public_key())
    assert not rep.ok
    assert "final/FA.json: A1 skb: 150 is outside 0–100" in rep.problems
    # The honest publication still verifies, and says it checked the SKB lines.
    honest = pub.verify_publication(_publish(SKB), KEY.public_key())
    assert honest.ok, honest.problems
    assert any(c.startswith("every published SKB score is within 0–100") for c in honest.checks)


@pytest.mark.parametrize("new", ["250", "-40", "100.001"])
def test_a_correction_to_an_skb_score_outside_the_range_is_refused(new: str) -> None:
    v1 = _publish(SKB)
    fix = ver.Correction("A2", "skb", "88.5", new, "APL-1", "salah salin")
    with pytest.raises(pub.PublicationError, match=r"\(A2, skb\): the SKB score .* 0–100"):
        ver.next_version(v1, [fix], "sanggah diterima", KEY, "2024-12-10")
    ok = ver.Correction("A2", "skb", "88.5", "100", "APL-1", "salah salin")
    v2 = ver.next_version(v1, [ok], "sanggah diterima", KEY, "2024-12-10")
    assert pub.verify_publication(v2.files, KEY.public_key()).ok


def test_a_signed_version_correcting_an_skb_to_250_does_not_verify(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    v1 = _publish(SKB)
    fix = ver.Correction("A2", "skb", "88.5", "250", "APL-1", "salah salin")
    _without_range_rule(monkeypatch)
    forged = dict(ver.next_version(v1, [fix], "sanggah diterima", KEY, "2024-12-10").files)
    monkeypatch.undo()
    assert _entry(forged, "final/FA.json", "A2")["skb"] == 250
    problems = pub.verify_publication(forged, KEY.public_key()).problems
    assert "final/FA.json: A2 skb: 250 is outside 0–100" in problems
    assert any(
        p.startswith("version 2: the corrections do not apply to version 1")
        and "the SKB score 250 is outside 0–100" in p
        for p in problems
    ), problems


# -- 2. a version may not switch optimisation on or off -----------------------------------------


def _forged_next(previous: Mapping[str, bytes], optimised: bool) -> dict[str, bytes]:
    """A version declaring a name correction, ranked with another ``optimised`` flag
    than the previous version's, and signed with the key."""
    m = json.loads(previous[pub.MANIFEST])
    exam = pub.ExamInfo(m["exam"]["id"], m["exam"]["title"], "2024-12-10")
    inputs = pub.inputs_from_files({f["path"]: previous[f["path"]] for f in m["files"]})
    fixes = [ver.Correction("A1", "name", "Ani", "Ani S.", "APL-3", "ejaan")]
    skd, final = ver._rebuilt(exam, inputs, fixes, optimised)
    content = pub.build_files(exam, inputs[0], skd, final)
    version = {
        "number": 2,
        "previous": {
            "path": "versions/1/",
            "manifest_sha256": pub.sha256_hex(previous[pub.MANIFEST]),
            "merkle_root": m["merkle"]["root"],
        },
        "reason": "sanggah diterima",
        "corrections": [c.to_dict() for c in fixes],
        "changes": ver.changed_entries(previous, content),
    }
    attach = {f"versions/1/{p}": b for p, b in previous.items()}
    return dict(pub.publish(exam, inputs[0], skd, KEY, final, attach=attach, version=version).files)


@pytest.mark.parametrize("v1_optimised", [False, True])
def test_a_version_that_switches_optimisation_does_not_verify(v1_optimised: bool) -> None:
    v1 = _publish(SKB, optimised=v1_optimised)
    forged = _forged_next(v1, optimised=not v1_optimised)
    codes = {
        e["registration_number"]: e["code"] for e in json.loads(forged["final/FB.json"])["entries"]
    }
    assert ("A4" in codes) is not v1_optimised  # A4's P/L-O appears or disappears
    rep = pub.verify_publication(forged, KEY.public_key())
    assert not rep.ok
    on, off = ("off", "on") if v1_optimised else ("on", "off")
    assert any(
        p.startswith(f"version 2: optimisation is {on}, but {off} in version 1")
        for p in rep.problems
    ), rep.problems
    assert any(p.startswith("version 2: not version 1 with the declared") for p in rep.problems)
    # The same name correction keeping the flag verifies.
    honest = _forged_next(v1, optimised=v1_optimised)
    rep = pub.verify_publication(honest, KEY.public_key())
    assert rep.ok, rep.problems


# -- 3. one SKB plan per formation ----------------------------------------------------------------


def _comps(
    cat_w: int, cat: int, wwn: int, wwn_min: int | None = None
) -> tuple[ComponentScore, ...]:
    return (
        ComponentScore("CAT", Decimal(cat_w), Decimal(cat), kind="cat"),
        ComponentScore(
            "WWN",
            Decimal(100 - cat_w),
            Decimal(wwn),
            None if wwn_min is None else Decimal(wwn_min),
            kind="interview",
        ),
    )


def _rec(regno: str, comps: tuple[ComponentScore, ...]) -> SkbScore:
    return SkbScore(regno, "present", POLICY.points(skb_total(comps)), "", comps)


def test_skb_weights_given_to_one_candidate_do_not_verify() -> None:
    # The formation's plan is CAT 60 / WWN 40; A2 is scored 10 / 90 instead.
    skb = {**SKB, "A1": _rec("A1", _comps(60, 70, 80)), "A2": _rec("A2", _comps(10, 20, 100))}
    files = _publish(skb)
    assert _entry(files, "final/FA.json", "A2")["code"] == "P/L"
    rep = pub.verify_publication(files, KEY.public_key())
    assert not rep.ok
    assert (
        "final/FA.json: the lines carry different SKB components (a formation has one plan): "
        "CAT (cat) 10%, WWN (interview) 90% for A2; CAT (cat) 60%, WWN (interview) 40% for A1"
        in rep.problems
    ), rep.problems


def test_an_skb_minimum_given_to_one_candidate_does_not_verify() -> None:
    skb = {
        **SKB,
        "A1": _rec("A1", _comps(60, 90, 90, wwn_min=95)),  # a minimum for A1 alone: TL
        "A2": _rec("A2", _comps(60, 80, 80)),
    }
    files = _publish(skb)
    assert _entry(files, "final/FA.json", "A1")["code"] == "TL"
    rep = pub.verify_publication(files, KEY.public_key())
    assert any(
        p.startswith("final/FA.json: the lines carry different SKB components")
        and "CAT (cat) 60%, WWN (interview) 40% min 95 for A1" in p
        for p in rep.problems
    ), rep.problems


def test_a_present_line_without_the_formations_components_does_not_verify() -> None:
    skb = {**SKB, "A1": _rec("A1", _comps(60, 70, 80, wwn_min=50))}  # A2 a bare total
    rep = pub.verify_publication(_publish(skb), KEY.public_key())
    assert (
        "final/FA.json: A2 present at the SKB without the formation's components "
        "(CAT (cat) 60%, WWN (interview) 40% min 50)" in rep.problems
    ), rep.problems


def test_one_plan_per_formation_verifies() -> None:
    skb = {
        **SKB,
        "A1": _rec("A1", _comps(60, 70, 80, wwn_min=50)),
        "A2": _rec("A2", _comps(60, 90, 85, wwn_min=50)),
        # FB has another plan of its own: plans are per formation.
        "B1": _rec("B1", _comps(70, 60, 60)),
    }
    rep = pub.verify_publication(_publish(skb), KEY.public_key())
    assert rep.ok, rep.problems


# -- 3b. the plan held to the policy's SKB caps ------------------------------------------------


def test_a_plan_that_breaks_the_cat_share_does_not_verify_even_on_one_line() -> None:
    # The policy (2024) asks the CAT field test to weigh at least 50 % of the
    # SKB. Formation FB's plan gives it 30 %, and B1 is FB's only SKB line, so
    # no other line could show the plan differs: the kinds published with the
    # components let the verifier hold it to the caps all the same.
    skb = {**SKB, "A1": _rec("A1", _comps(60, 70, 80)), "A2": _rec("A2", _comps(60, 80, 80))}
    skb["B1"] = _rec("B1", _comps(30, 60, 95))
    files = _publish(skb)
    assert json.loads(files[pub.MANIFEST])["schema"] == pub.KINDS_SCHEMA
    rep = pub.verify_publication(files, KEY.public_key())
    assert rep.problems == [
        "final/FB.json: the SKB plan CAT (cat) 30%, WWN (interview) 70% of B1 breaks the "
        "policy's SKB caps: the CAT field test weighs 30%, the policy asks for at least 50%; "
        "the other components weigh 70% together, the policy allows at most 50%"
    ], rep.problems
    # Calling the interview a CAT test is a different plan from the stored one,
    # but the caps hold; whether the kind is true is the plan's record
    # (docs/skb.md), and every line of the formation must say the same.
    assert _entry(files, "final/FB.json", "B1")["skb_components"][0]["kind"] == "cat"


def test_kinds_cannot_be_stripped_from_a_signed_publication() -> None:
    skb = {**SKB, "A1": _rec("A1", _comps(60, 70, 80)), "A2": _rec("A2", _comps(60, 80, 80))}
    files = _publish(skb)
    # A key holder removes the kinds to escape the caps and signs again: the
    # manifest's schema still says the kinds are published.
    for path in ("final/FA.json",):
        doc = json.loads(files[path])
        for e in doc["entries"]:
            for c in e.get("skb_components") or ():
                c.pop("kind", None)
        files[path] = pub.formation_json(doc)
    _resign(files, json.loads(files[pub.MANIFEST]))
    rep = pub.verify_publication(files, KEY.public_key())
    assert (
        "final/FA.json: A1 skb_components: CAT, WWN without a kind "
        "(this publication's schema names every component's kind)" in rep.problems
    ), rep.problems
    # A publication is never built without them.
    bare = {**SKB, "A1": _rec("A1", tuple(replace(c, kind=None) for c in _comps(60, 70, 80)))}
    with pytest.raises(pub.PublicationError, match=r"without a kind.*final/FA.json \(A1\)"):
        _publish(bare)


# -- 4. prove --receipt verifies the publication first --------------------------------------------


def test_prove_with_a_receipt_refuses_a_copy_that_does_not_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The signed publication lists A5 with TKP 150; A5's receipt says 200.
    cands = [
        replace(c, scores={**c.scores, "TKP": 150}) if c.registration_number == "A5" else c
        for c in outcomes()
    ]
    skd = rank_skd(POLICY, FORMATIONS, cands)
    signed = pub.publish(EXAM, POLICY, skd, KEY, receipt_keys=[RECEIPT_KEY.public_key()])
    honest, doctored = tmp_path / "honest", tmp_path / "doctored"
    pub.write_publication(honest, signed.files)
    key = tmp_path / "agency.pub"
    key.write_bytes(pub.public_key_pem(KEY.public_key()))
    code = receipt_code("A5")
    assert run("prove", "A5", "--publication", str(honest), "--receipt", code) == 1
    out = capsys.readouterr().out
    assert "publication verified: signed by key" in out and "BERBEDA" in out

    # A mirror edits A5's line back to the receipt's points, re-signing nothing.
    shutil.copytree(honest, doctored)
    fa = doctored / "skd" / "FA.json"
    fa.write_text(
        fa.read_text().replace('"TKP":150', '"TKP":200').replace('"total":330', '"total":380')
    )
    argv = ["prove", "A5", "--publication", str(doctored), "--receipt", code]
    assert run(*argv) == 3
    out = capsys.readouterr().out
    assert "COCOK" not in out and "MATCHES" not in out
    assert out.startswith(
        "NOT VERIFIED: this copy of the publication does not verify (skd/FA.json: SHA-256 differs"
    )
    assert len(out.strip().splitlines()) == 1
    assert run(*argv, "--public-key", str(key)) == 3

    # The signature removed too: no signed manifest, no finding.
    (doctored / "manifest.sig").unlink()
    (doctored / "public_key.pem").unlink()
    assert run(*argv, "--public-key", str(key)) == 3
    assert "manifest.sig: missing" in capsys.readouterr().out
    assert run(*argv) == 3
    assert "public_key.pem: missing" in capsys.readouterr().out

    # Signed by another key than the announced one: no finding either.
    other = tmp_path / "other.pub"
    other.write_bytes(pub.public_key_pem(RECEIPT_KEY.public_key()))
    argv = ["prove", "A5", "--publication", str(honest), "--receipt", code]
    assert run(*argv, "--public-key", str(other)) == 3
    assert "COCOK" not in capsys.readouterr().out
