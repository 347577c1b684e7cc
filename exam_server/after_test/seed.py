"""A finished exam to look at after the test, for the demo and the tests:
candidates who sat a whole test (answers drawn from the bank's IRT model with
area-specific abilities), their final engine states and scores stored as the
server stores them at finish, and their signed receipts.

:func:`seed_after_test_demo` adds what the demo shows: a signed publication,
survey answers, feedback in every state, and one appeal accepted and signed
as the publication's second version.

The attempts are stored as the server stores a sitting (answer chain,
snapshots, start and finish events), so ``seleksi audit verify`` replays
them and finds their scores.

The code lives in three modules, whose public names this module gives:
:mod:`.finished_exam` (the candidates' tests played and stored, their
receipts: :func:`seed_finished_exam`), :mod:`.demo_content` (survey,
feedback, publication and appeal: :func:`seed_after_test_demo`,
:func:`demo_after_test`) and :mod:`.demo_background` (the demo's background
process: :func:`start_demo_after_test`, :func:`stop_demo_after_test`,
:func:`main`).
"""

from exam_server.after_test.demo_background import (
    main,
    start_demo_after_test,
    stop_demo_after_test,
)
from exam_server.after_test.demo_content import (
    demo_after_test,
    seed_after_test_demo,
    seed_feedback_and_survey,
)
from exam_server.after_test.finished_exam import (
    CATEGORIES,
    FinishedExam,
    Stopped,
    seed_finished_exam,
)

# Callers import from here (the tests, exam_server.demo, and the background
# process's command line, which runs ``from exam_server.after_test.seed import
# main``); the other public names are given here too, so that no caller
# depends on which module holds them.
__all__ = [
    "CATEGORIES",
    "FinishedExam",
    "Stopped",
    "demo_after_test",
    "main",
    "seed_after_test_demo",
    "seed_feedback_and_survey",
    "seed_finished_exam",
    "start_demo_after_test",
    "stop_demo_after_test",
]
