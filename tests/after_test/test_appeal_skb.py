"""An accepted appeal's SKB correction obeys the SKB import's range rule: the
decision is refused (422, both languages, nothing stored) for a score the next
version could not publish, and accepted within 0–100."""

from __future__ import annotations

import httpx

from exam_server.after_test import store
from exam_server.results import publication as pub
from exam_server.results.from_db import load_outcomes
from exam_server.results.integration import SkbScore, integrate
from exam_server.results.ranking import rank_skd
from exam_server.results.rules import RankingPolicy
from tests.after_test.conftest import EXAM, PUBLISHED, SIGNING_KEY, AfterServer


def _publish_final(s: AfterServer) -> str:
    """Sign the exam's final ranking (SKB 70 for everyone called) into the results
    folder; the registration number of one candidate with an SKB score."""
    policy = RankingPolicy.default_2024()
    formations, outcomes = load_outcomes(s.db, EXAM)
    skd = rank_skd(policy, formations, outcomes)
    called = [
        e.registration_number for f in skd.formations for e in f.entries if e.meaning == "in_cut"
    ]
    skb = {r: SkbScore(r, "present", policy.points(70)) for r in called}
    p = pub.publish(
        pub.ExamInfo(EXAM, "SKD uji", PUBLISHED),
        policy,
        skd,
        SIGNING_KEY,
        integrate(policy, skd, skb),
    )
    pub.write_publication(s.results_dir, p.files)
    return called[0]


def _appeal(s: AfterServer, regno: str) -> int:
    return store.add_appeal(
        s.db,
        exam_code=EXAM,
        registration_number=regno,
        receipt_sha256="0" * 64,
        reason="nilai SKB salah salin",
        submitted_at=s.clock.now(),
        answer_by=s.clock.now() + 86_400,
    )


def _decide(s: AfterServer, appeal_id: int, field: str, value: str) -> httpx.Response:
    return httpx.post(
        f"{s.url}/api/after/appeals/{appeal_id}/decide",
        headers=s.admin(),
        json={"status": "accepted", "answer": "Diperbaiki.", "field": field, "value": value},
    )


def test_an_appeal_accepting_an_skb_outside_0_100_is_refused(after_server: AfterServer) -> None:
    s = after_server
    regno = _publish_final(s)
    appeal_id = _appeal(s, regno)
    for value, id_text, en_text in (
        ("250", "nilai SKB 250 di luar rentang 0–100", "SKB score 250 is outside 0–100"),
        ("-40", "nilai SKB -40 di luar rentang 0–100", "SKB score -40 is outside 0–100"),
        ("banyak", "nilai SKB 'banyak' bukan angka", "SKB score 'banyak' is not a number"),
    ):
        r = _decide(s, appeal_id, "skb", value)
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["message"] == en_text
        assert body["errors"] == [{"field": "value", "message": id_text}]
        assert store.appeal(s.db, appeal_id)["status"] == "submitted"  # nothing stored
    ok = _decide(s, appeal_id, "skb", "95")
    assert ok.status_code == 200, ok.text
    assert ok.json()["correction_from"] == "70.000"
    assert ok.json()["correction_to"] == "95"
