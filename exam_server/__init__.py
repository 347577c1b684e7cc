"""The exam server: terminals over WebSockets, durable answers, proctors, live events.

Modules (one concept each):

* ``app`` — ``create_app(settings)``; ``settings`` — ``Settings`` (``SELEKSI_*``)
* ``db`` — engines (SQLite WAL / PostgreSQL), ``writer()``, ``create_schema()``
* ``models`` — the records (SQLModel tables)
* ``protocol`` — the candidate WebSocket protocol v1 (messages, error codes)
* ``terminal`` — the candidate WebSocket endpoint
* ``attempts`` — attempts at run time: clock, answers, terminals, proctor acts
* ``durability`` — group commit; ``audit`` — hash chains and ``verify``
* ``auth`` — tokens, check-in PINs, passwords, rate limits
* ``events`` — ``EventBus`` and ``LiveEvent`` (the live channels subscribe)
* ``admin`` / ``http`` — the REST API and its OpenAPI schema
* ``scheduling`` — setting up exam day; ``demo`` — seeding a demo exam day
* ``exams`` / ``snapshot`` / ``bank_source`` — an exam's frozen copy of the bank
* ``testing`` — real servers and terminals for tests and benchmarks

See ``docs/protocol.md`` and ``docs/operations.md``.
"""
