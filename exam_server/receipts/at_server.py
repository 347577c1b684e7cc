"""A candidate's receipt as their proof at this server: the one check that the
after-test pages (``exam_server.after_test.pages.check_receipt``) and the SKB
candidate page (``exam_server.assessment.candidate_api``) share.

A receipt is accepted when it verifies (:func:`exam_server.receipts.verify`)
under a key this server holds or has held (its key list:
:func:`exam_server.receipts.server_keys`) or a key registered for the site
where the candidate sat (``exam_server.sites.receipt_keys.receipt_keys_for``,
the one place that decides which keys). What the receipt must then name (an
exam, a registration number) is the caller's to check.

Unlike the rest of :mod:`exam_server.receipts` (pure), this reads the
database (the sites' keys); the package does not import it.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from exam_server.receipts.key_list import KeyHolder, server_keys
from exam_server.receipts.keys import ReceiptKey
from exam_server.receipts.receipt import decode
from exam_server.receipts.verification import Verified, verify
from exam_server.sites.receipt_keys import receipt_keys_for


def keys_for_receipt(
    engine: Engine, holder: KeyHolder, text: str, exam_code: str | None = None
) -> list[ReceiptKey]:
    """The keys the receipt in ``text`` is checked against at this server:
    ``holder``'s (the server's checkpointer: every key it has held) and the
    site keys of ``exam_code`` (every exam: ``None``) for the receipt's
    candidate."""
    try:
        regno: str | None = decode(text.strip()).registration_number
    except ValueError:
        regno = None  # unreadable: verify says so
    with engine.connect() as conn:
        return receipt_keys_for(conn, server_keys(holder), exam_code, regno)


def verify_at_server(
    engine: Engine, holder: KeyHolder, text: str, exam_code: str | None = None
) -> Verified:
    """The receipt in ``text`` verified against :func:`keys_for_receipt`;
    raises :class:`exam_server.receipts.ReceiptRefused` with the reason.
    Blocking (reads the key list and the database): run it in a thread."""
    return verify(text, keys_for_receipt(engine, holder, text, exam_code))
