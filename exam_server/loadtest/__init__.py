"""The load generator: simulated terminals speaking the real protocol.

:func:`~exam_server.loadtest.runner.run_load` (and ``seleksi loadtest``)
logs N terminals in over HTTP within a login window, holds their
WebSockets, answers at a pace with jitter, reconnects on a drop (resending
the unacknowledged answer with the same ``seq``), optionally finishes, and
reports a :class:`~exam_server.loadtest.report.LoadReport`.
"""
