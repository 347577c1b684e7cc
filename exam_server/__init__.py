"""The exam server: terminals over WebSockets, durable answers, proctors, live events.

Modules (one concept each; the whole layout and the home of each rule:
``docs/architecture.md``):

* ``app`` — ``create_app(settings, clock)``; ``settings`` — ``Settings``
  (``SELEKSI_*``); ``context`` — the typed ``AppContext`` the lifespan builds;
  ``clock`` — the injected clock and the remaining-time rule
* ``db`` — engines, ``create_schema()``; ``migrations`` — Alembic revisions;
  ``models`` — the records (SQLModel tables)
* ``protocol`` — the candidate WebSocket protocol v1; ``terminal`` — its endpoint;
  ``channels`` — origin check, frame encoding, staff auth shared by every socket
* ``attempts`` — attempts at run time (a package: login, terminals, actions,
  proctor acts, sweeps, frames, verdicts, storage)
* ``exams`` / ``exam_options`` / ``snapshot`` / ``bank_source`` — an exam's
  documents and its frozen copy of the bank; ``usage`` — item exposure counts
* ``presence`` — last seen alive; ``durability`` — group commit
* ``audit`` — hash chains, score recomputation, ``verify``; ``checkpoints`` —
  signed chain heads; ``receipts`` — candidates' signed receipts
* ``auth`` — tokens, PINs, passwords; ``limits`` — login back-off
* ``events`` — ``EventBus`` and ``LiveEvent``; ``live`` — proctor channel and
  public board; ``proctoring`` — detectors
* ``admin`` / ``http`` — the REST API and its OpenAPI schema
* ``scheduling`` — setting up exam day; ``demo`` — seeding a demo exam day
* ``results`` — rankings and their publication (importable without the web)
* ``testing`` — real servers and terminals for tests and benchmarks

See ``docs/protocol.md`` and ``docs/operations.md``.
"""
