"""Running the exam server as several processes or hosts over PostgreSQL.

* :mod:`exam_server.scaleout.locks`: one attempt's writes serialised across
  processes (a PostgreSQL advisory lock per attempt, plus a check that the
  writer's copy of the attempt is current).
* :mod:`exam_server.scaleout.fanout`: :class:`PgEventBus`, the live event bus
  carried across processes by LISTEN/NOTIFY, and the cache upkeep that keeps
  each process's in-memory attempts honest when another process changes them.
* :mod:`exam_server.scaleout.migrate`: the schema created/migrated by a
  command (``seleksi db migrate --url URL``) and throw-away schemas for tests.
* :mod:`exam_server.scaleout.workers`: several uvicorn worker processes
  sharing one listening socket and one database.

See ``docs/reliability.md``.
"""
