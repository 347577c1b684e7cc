"""The demo's after-the-test part seeded in a background process while the
demo starts serving (:func:`start_demo_after_test`), stopped with
:func:`stop_demo_after_test`; :func:`main` is what that process runs. The
demo's SKB (``exam_server.assessment.demo``) is seeded there too, right after
the finished exam it needs (its SKD must be final).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select

from exam_server import models as m
from exam_server.after_test.demo_content import demo_after_test
from exam_server.after_test.finished_exam import Stopped, _t

#: What the background process runs: at a lower priority (the served demo's
#: start and pages come first), then :func:`main`.
_BACKGROUND = (
    "import os, sys\n"
    "if hasattr(os, 'nice'):\n"
    "    os.nice(5)\n"
    "from exam_server.after_test.seed import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def start_demo_after_test(database_url: str, results_dir: Path) -> subprocess.Popen[bytes] | None:
    """Seed the demo's after-the-test part (:func:`demo_after_test`) in a process
    of its own while the demo starts serving: its forms' assembly takes about
    ten seconds, which the first page need not wait for. It prints its lines
    when done; until then ``/after/SKD-HASIL/`` and ``/results/`` say the
    exam is being prepared (:func:`exam_server.demo.being_prepared`). None
    when the part exists already.

    Stop it with :func:`stop_demo_after_test`. It runs in a session of its own
    (a Ctrl+C reaches the demo, not it) and stops when its stdin closes, also
    when the demo dies: before it writes, it writes nothing; once writing (about
    a second), it finishes."""
    from exam_server.assessment.demo import seeded as skb_seeded
    from exam_server.checkpoints import load_or_create_key, paths_for
    from exam_server.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            exams = _t(m.Exam)
            done = conn.execute(select(exams.c.id).where(exams.c.code == "SKD-HASIL")).first()
        # A demo made before it had an SKB part (or stopped between the two)
        # still gets it: the finished exam is then skipped, the SKB seeded.
        if done is not None and skb_seeded(engine):
            return None
    finally:
        engine.dispose()
    # The receipts' key is the server's checkpoint key: made here, before the
    # server and this process would both make one.
    load_or_create_key(paths_for(database_url)[1])
    return subprocess.Popen(
        [sys.executable, "-c", _BACKGROUND, database_url, str(results_dir)],
        stdin=subprocess.PIPE,
        start_new_session=True,
    )


def stop_demo_after_test(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Tell the background process to stop (see :func:`start_demo_after_test`)
    and wait for it to end."""
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired, KeyboardInterrupt):
        proc.wait(timeout)  # a second Ctrl+C: it finishes alone


def main(argv: Sequence[str]) -> int:
    """The background process: ``DATABASE_URL RESULTS_DIR``; prints the lines of
    :func:`demo_after_test` and of the demo's SKB (seeded in the data folder,
    ``RESULTS_DIR``'s parent), or nothing when its stdin closed first."""
    from exam_server.assessment.demo import demo_skb

    closed = threading.Event()

    def watch() -> None:
        # The demo never writes: this returns at EOF. (os.read, not sys.stdin:
        # a daemon thread in a buffered read stops the interpreter's exit.)
        with contextlib.suppress(OSError):
            os.read(0, 1)
        closed.set()

    threading.Thread(target=watch, daemon=True).start()
    database_url, results_dir = argv
    try:
        lines = demo_after_test(database_url, Path(results_dir), stop=closed.is_set)
    except Stopped:
        return 0
    if lines:
        print("\n" + "\n".join(lines), flush=True)
    # Asked to stop once the exam was written: the SKB waits for the next start.
    # (About two seconds more, so the exam's lines go first.)
    skb = [] if closed.is_set() else demo_skb(database_url, Path(results_dir).parent)
    if skb:
        print(("" if lines else "\n") + "\n".join(skb), flush=True)
    return 0
