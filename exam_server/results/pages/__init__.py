"""Public results pages, served from a publication directory (read only).

``routes(publication_dir)`` returns one :class:`~starlette.routing.Mount` at
``/results`` that the server includes in its route list:

* ``/results/`` — the exam, the signing key's fingerprint (to compare with the
  one the agency announced elsewhere), the Merkle root, the formations, how to
  check everything without trusting this server, a search box, a receipt box;
* ``/results/formation/{stage}/{formation}`` — one formation's ranking
  (``stage`` = ``skd`` or ``final``), every code explained, printable;
* ``/results/search?regno=…`` — one candidate's entries and inclusion proofs;
* ``/results/receipt`` (POST ``receipt=``) — a candidate's signed receipt held
  against the published line: matches, differs or missing;
* ``/results/proof/{regno}`` — the inclusion proofs as JSON;
* ``/results/verifier.html`` — the offline verifier: one self-contained HTML
  file (no external load) that checks the manifest's signature against the
  announced key, a proof, a formation file and a receipt in the browser;
* ``/results/files/{path}`` — the published files themselves (CSV, JSON,
  manifest, signature, public key);
* ``/results/receipt-keys.json`` — the receipt keys, current and retired, with
  when each was in use: the exam server's key list when served by it, else the
  keys the publication's signed manifest lists.

What the server itself checked is shown as the server's own statement, never
as a verdict to trust: a forgery re-signed with another key is consistent
with itself. The key's fingerprint is shown for comparison with the announced
one, and the verifier page is how a person checks without the server.

Text is in Bahasa Indonesia by default and in English with ``?lang=en``; a
page asked for without ``?lang=`` follows the language the reader chose on
any Seleksi page (remembered in the browser as ``seleksi.lang``, as
``proctor_ui/static/js/i18n.js`` does), and the policy's title is shown in
that language (:meth:`RankingPolicy.title`). The pages use the look of the
other pages: ``/results/seleksi.css`` is ``proctor_ui/static/css/seleksi.css``. The
publication is read and verified when first needed and again whenever its
manifest changes; pages only ever show published bytes. HTML is rendered by
Jinja2 templates (``templates/``) with autoescaping.

The code lives in four modules, whose public names this package gives:
:mod:`.text` (the pages' words in both languages, :func:`t`), :mod:`.view`
(the publication as the pages see it: :class:`View`,
:class:`PublicationSource`, :func:`load_view`), :mod:`.rendering` (the
templates' environment, the page frame, the offline verifier page, the
shared stylesheet) and :mod:`.endpoints` (:func:`routes` and its endpoints).
"""

from exam_server.results.pages.endpoints import (
    MAX_RECEIPT_FORM_BYTES,
    VERIFIER_CSP,
    routes,
)
from exam_server.results.pages.rendering import fingerprint_groups, verifier_html
from exam_server.results.pages.text import HOW_STEPS, TEXT, t
from exam_server.results.pages.view import PublicationSource, View, load_view

# Callers take routes() from here (exam_server.app, `seleksi results serve`,
# the tests); the other public names are given here too, so that no caller
# depends on which module holds them.
__all__ = [
    "HOW_STEPS",
    "MAX_RECEIPT_FORM_BYTES",
    "TEXT",
    "VERIFIER_CSP",
    "PublicationSource",
    "View",
    "fingerprint_groups",
    "load_view",
    "routes",
    "t",
    "verifier_html",
]
