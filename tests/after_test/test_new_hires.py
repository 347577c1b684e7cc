"""Who the new hires are, read from a publication, and their SKB components."""

from __future__ import annotations

from decimal import Decimal

from assessment.components import ComponentScore
from exam_server.after_test.service import _components, new_hires
from exam_server.results import publication as pub
from exam_server.results.integration import SkbScore, integrate
from exam_server.results.ranking import rank_skd
from tests.results.results_cases import EXAM, FORMATIONS, KEY, POLICY, SKB, build, outcomes


def test_new_hires_are_the_appointed_of_the_final_else_the_skd_cut() -> None:
    final = build().files
    hired = new_hires(final)
    assert hired and all(e["meaning"].startswith("appointed") for e in hired.values())
    skd_only = build(final=False).files
    assert all(e["meaning"] == "in_cut" for e in new_hires(skd_only).values())


def test_skb_components_of_a_new_hire_enter_the_training_table() -> None:
    comps = (
        ComponentScore("cat", Decimal(50), Decimal(100), kind="cat"),
        ComponentScore("wawancara", Decimal(50), Decimal(90), kind="interview"),
    )
    skb = {**SKB, "A1": SkbScore("A1", "present", POLICY.points(95), components=comps)}
    skd = rank_skd(POLICY, FORMATIONS, outcomes())
    files = pub.publish(EXAM, POLICY, skd, KEY, integrate(POLICY, skd, skb)).files
    hired = new_hires(files)
    assert _components(hired["A1"]) == {"SKB:cat": 100.0, "SKB:wawancara": 90.0}
