"""Recruitment in the server (issue 18): the database operations
(:mod:`.service`), the outbox (:mod:`.outbox`: claims, SMTP, retries), the
deadline reminders (:mod:`.reminders`), the server's background sender
(:mod:`.worker`), and the pages
(:mod:`.pages`) for the public, candidates and the agency's staff. The rules
themselves live in the top-level package ``recruitment``."""
