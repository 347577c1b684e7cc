"""The finished exam the demo and these tests seed is stored as the server
stores a sitting: ``seleksi audit verify`` replays every answer and finds each
stored score (a seeded exam that failed the verifier would teach that its
PROBLEM lines can be ignored)."""

from __future__ import annotations

from exam_server.audit import verify
from tests.after_test.conftest import AfterServer


def test_the_seeded_exam_passes_the_audit_verifier(after_server: AfterServer) -> None:
    report = verify(after_server.db)
    assert report.problems == []
    assert report.scores >= 60  # every seeded attempt was replayed and scored
    assert report.responses >= 60 * 110
