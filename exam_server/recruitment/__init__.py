"""Recruitment in the server (issue 18): the database operations
(:mod:`.service`), the outbox sender (:mod:`.outbox`), and the pages
(:mod:`.pages`) for the public, candidates and the agency's staff. The rules
themselves live in the top-level package ``recruitment``."""
