"""The after-the-test rules without the server: policy document, appeals,
survey and feedback validation, moderation, dashboard figures, training needs."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from after_test import appeals, feedback
from after_test.errors import Refused
from after_test.policy import AfterTestPolicy, PolicyDocumentError
from after_test.training import training_needs

POLICY = AfterTestPolicy.default_2024()


def test_policy_round_trips_and_names_the_bad_field() -> None:
    assert AfterTestPolicy.from_json(POLICY.to_json()) == POLICY
    doc = json.loads(POLICY.to_json())
    doc["appeals"]["fields"] = ["name", "scores"]
    with pytest.raises(PolicyDocumentError, match=r"appeals\.fields.*may correct only"):
        AfterTestPolicy.from_json(json.dumps(doc))
    doc = json.loads(POLICY.to_json())
    doc["survey"][0]["high"] = 1
    with pytest.raises(PolicyDocumentError, match=r"survey\.0"):
        AfterTestPolicy.from_json(json.dumps(doc))


def test_appeal_window_opens_at_publication_and_closes_after_its_days() -> None:
    win = appeals.window(POLICY.appeals, "2025-01-31")
    req = appeals.AppealRequest("nama salah ketik", "", "name", "Budi Santoso")
    appeals.check_request(POLICY.appeals, win, win.opens + 10, req)
    with pytest.raises(Refused, match="closed") as info:
        appeals.check_request(POLICY.appeals, win, win.opens + 3 * appeals.DAY, req)
    assert "ditutup" in info.value.message_id
    with pytest.raises(Refused, match="not opened"):
        appeals.check_request(POLICY.appeals, win, win.opens - 1, req)
    score = appeals.AppealRequest("nilai kurang", "", "scores", "500")
    with pytest.raises(Refused, match="clerical"):
        appeals.check_request(POLICY.appeals, win, win.opens + 10, score)


def test_an_appeal_is_decided_once_and_an_acceptance_names_its_correction() -> None:
    ok = appeals.Decision(appeals.Status.ACCEPTED, "diterima", "category", "general")
    appeals.check_decision(POLICY.appeals, "submitted", ok, 0.0)
    with pytest.raises(Refused, match="answered"):
        appeals.check_decision(POLICY.appeals, "accepted", ok, 0.0)
    vague = appeals.Decision(appeals.Status.ACCEPTED, "diterima")
    with pytest.raises(Refused, match="names its correction"):
        appeals.check_decision(POLICY.appeals, "submitted", vague, 0.0)


def test_appeal_statistics() -> None:
    d = appeals.DAY
    rows = [
        ("accepted", 0.0, 2 * d, 7 * d),
        ("rejected", 0.0, 4 * d, 7 * d),
        ("submitted", 0.0, None, 7 * d),
    ]
    s = appeals.stats(rows, now=8 * d)
    assert (s.submitted, s.accepted, s.rejected, s.pending, s.overdue) == (3, 1, 1, 1, 1)
    assert s.median_days_to_answer == 3.0


@given(
    st.dictionaries(
        st.text(max_size=12), st.one_of(st.integers(), st.floats(), st.text(), st.booleans())
    )
)
def test_survey_answers_are_accepted_only_on_the_scale(answers: dict[str, Any]) -> None:
    codes = {q.code for q in POLICY.survey}
    valid = bool(answers) and all(
        k in codes and type(v) is int and 1 <= v <= 5 for k, v in answers.items()
    )
    try:
        out = feedback.check_survey(POLICY.survey, answers)
    except Refused:
        assert not valid
    else:
        assert valid and out == answers


def test_survey_answer_out_of_range_names_the_question() -> None:
    with pytest.raises(Refused) as info:
        feedback.check_survey(POLICY.survey, {"overall": 6})
    assert info.value.field == "answers.overall"
    assert "1–5" in info.value.message_id


def test_feedback_checks_honeypot_category_length_and_rate() -> None:
    rules = POLICY.feedback
    assert feedback.check_feedback(rules, "venue", "  AC mati  ", "") == "AC mati"
    for cat, text, pot, field in [
        ("venue", "x", "http://spam", "website"),
        ("nope", "x", "", "category"),
        ("venue", " ", "", "text"),
        ("venue", "x" * (rules.max_text + 1), "", "text"),
    ]:
        with pytest.raises(Refused) as info:
            feedback.check_feedback(rules, cat, text, pot)
        assert info.value.field == field
    feedback.check_rate(rules, rules.per_hour - 1)
    with pytest.raises(Refused, match="too many"):
        feedback.check_rate(rules, rules.per_hour)


def test_moderated_feedback_cannot_be_edited_or_moderated_again() -> None:
    feedback.check_edit("pending")
    with pytest.raises(Refused, match="cannot be edited"):
        feedback.check_edit("published")
    with pytest.raises(Refused, match="already moderated"):
        feedback.check_moderation("rejected", "published")
    with pytest.raises(Refused, match="already answered"):
        feedback.check_answer("published", True, "ok")


def test_dashboard_figures() -> None:
    survey = [
        ("s1", "2025-01-30", "overall", 4),
        ("s2", "2025-01-30", "overall", 2),
        ("s2", "2025-01-30", "staff", 5),
    ]
    fb = [
        ("venue", "published", 0.0, 2 * 86400.0),
        ("venue", "pending", 0.0, None),
        ("test", "rejected", 0.0, None),
    ]
    # Five answers on the 31st: a mean; two and one on the 30th: the counts only
    # (feedback.MIN_SURVEY_CELL), or the page would show those candidates' answers.
    survey += [(f"t{i}", "2025-01-31", "overall", v) for i, v in enumerate([5, 4, 4, 3, 4])]
    d = feedback.dashboard(survey, fb)
    assert feedback.MIN_SURVEY_CELL == 5
    assert d.survey_n == 7
    assert d.satisfaction == [
        ("2025-01-30", "overall", None, 2),
        ("2025-01-30", "staff", None, 1),
        ("2025-01-31", "overall", 4.0, 5),
    ]
    assert d.by_category == {"test": {"rejected": 1}, "venue": {"published": 1, "pending": 1}}
    assert d.median_days_to_answer == 2.0
    assert d.days_to_answer == {"venue": (2.0,)}


@given(st.lists(st.floats(0, 60, allow_nan=False), min_size=1, max_size=40))
def test_answer_spread_is_numpys_percentiles(days: list[float]) -> None:
    sp = feedback.spread(days)
    assert sp is not None and sp.n == len(days)
    want = np.percentile(days, [0, 25, 50, 75, 100])
    got = [sp.least, *sp.quartiles[:1], sp.median, sp.quartiles[1], sp.most]
    assert np.allclose(got, want, rtol=0, atol=1e-9)
    assert feedback.spread([]) is None


def test_training_needs_gap_against_the_standard_and_programmes() -> None:
    rules = POLICY.training  # default 50; pelayanan_publik 53
    groups = ["BKN/F1", "BKN/F1", "KEMENKEU/F2"]
    scores = np.array([[45.0, 55.0], [47.0, np.nan], [54.0, 51.0]])
    t = training_needs(groups, scores, ["pelayanan_publik", "numerik"], rules)
    assert t.groups == ("BKN/F1", "KEMENKEU/F2")
    assert t.n.tolist() == [2, 1]
    assert t.mean[0].tolist() == pytest.approx([46.0, 55.0])
    assert t.need[0].tolist() == pytest.approx([7.0, 0.0])
    assert t.need[1].tolist() == pytest.approx([0.0, 0.0])
    progs = t.programmes(rules, 0)
    assert progs[0][0].code == "KOMUNIKASI" and progs[0][1] == pytest.approx(7.0)
    assert t.programmes(rules, 1) == []
