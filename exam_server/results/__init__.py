"""Results: rankings per formation under the published rules, and their publication.

The modules here are pure (standard library and ``cryptography`` only), so the
rules can be read, tested and re-run by anyone without the server:

* :mod:`.rules` — the ranking policy document (passing grades, cut, tie-breaks,
  weights, result codes) and :func:`.rules.passes`;
* :mod:`.outcomes` — the plain records ranking starts from;
* :mod:`.ranking` — the SKD ranking per formation;
* :mod:`.integration` — SKB import, the final score and ranking, optimisation;
* :mod:`.publication` — canonical files, Merkle tree, signed manifest, verify.

:mod:`.from_db` (database) and :mod:`.pages` (web) are the only modules that
touch the server's world.
"""
