"""A candidate's signed receipt held against a publication: matches, differs, or missing.

At finish the terminal hands each candidate a receipt (:mod:`exam_server.receipts`)
signed by the server's receipt key: registration number, exam, session, the
points per subtest and the total. A publication lists the receipt keys in its
signed manifest (``receipt_keys``), so a receipt is checked with the
publication alone, and nothing from the server:

* **invalid** — the receipt does not decode, or its signature is not valid
  under any receipt key the manifest lists, current or retired (a forged or
  mistyped receipt); the details say which (:func:`exam_server.receipts.verify`);
* **other exam** — the receipt is for another exam than this publication;
* **missing** — no published line for the registration number: the candidate
  sat the test (the signed receipt says so) but was left out;
* **differs** — the published SKD line differs from the receipt (points, total,
  or a status of absent/voided for someone the receipt shows finishing);
* **matches** — the published SKD line has the receipt's points and total.

Pure: standard library, ``cryptography`` and the receipt module.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from exam_server import receipts
from exam_server.results import publication as pubm
from exam_server.results.outcomes import FINISHED
from exam_server.results.rules import RankingPolicy, fmt

Outcome = Literal["matches", "differs", "missing", "other_exam", "invalid", "unverified"]


class ReceiptLike(Protocol):
    """What the comparison reads from a receipt (``exam_server.receipts.Receipt``)."""

    @property
    def registration_number(self) -> str: ...
    @property
    def exam(self) -> str: ...
    @property
    def scores(self) -> Sequence[tuple[str, str]]: ...
    @property
    def total(self) -> str: ...


@dataclass(frozen=True)
class ReceiptFinding:
    """The verdict on one receipt; ``details`` name each differing field (English)."""

    outcome: Outcome
    registration_number: str = ""
    details: list[str] = field(default_factory=list)
    entry: Mapping[str, Any] | None = None  # the published SKD line, when there is one
    key_fingerprint: str = ""  # the receipt key that verified the signature
    key: receipts.ReceiptKey | None = None  # that key with its period of use, as listed

    @property
    def ok(self) -> bool:
        return self.outcome == "matches"

    def headline(self, lang: str = "en") -> str:
        """One sentence a candidate can read, Bahasa Indonesia (``id``) or English."""
        r = self.registration_number
        text = {
            "matches": (
                f"COCOK: baris {r} yang diumumkan sama dengan tanda terima Anda.",
                f"MATCHES: the published line of {r} is what your receipt says.",
            ),
            "differs": (
                f"BERBEDA: baris {r} yang diumumkan tidak sama dengan tanda terima Anda.",
                f"DIFFERENT: the published line of {r} is not what your receipt says.",
            ),
            "missing": (
                f"TIDAK ADA: {r} tidak tercantum dalam publikasi, padahal tanda terima yang "
                "sah menunjukkan Anda menyelesaikan tes.",
                f"MISSING: {r} is not in the publication, although a validly signed receipt "
                "shows the test was finished.",
            ),
            "other_exam": (
                "Tanda terima ini untuk ujian lain, bukan ujian publikasi ini.",
                "This receipt is for another exam than this publication.",
            ),
            "invalid": (
                "TIDAK SAH: tanda terima ini tidak dapat dibaca atau tanda tangannya tidak "
                "cocok dengan kunci tanda terima yang tercantum dalam manifest.",
                "INVALID: this receipt cannot be read, or its signature does not match a "
                "receipt key listed in the manifest.",
            ),
            "unverified": (
                "TIDAK DIPERIKSA: publikasi ini tidak lolos verifikasi, jadi tanda terima "
                "tidak dibandingkan dengannya.",
                "NOT CHECKED: this publication does not verify, so the receipt was not "
                "compared with it.",
            ),
        }[self.outcome]
        return text[1] if lang == "en" else text[0]


def _points(policy: RankingPolicy, value: Any) -> Decimal | None:
    try:
        return policy.points(value)
    except ValueError:
        return None


def compare_receipt(
    manifest: Mapping[str, Any],
    policy: RankingPolicy,
    docs: Sequence[tuple[str, Mapping[str, Any]]],
    receipt: ReceiptLike,
) -> ReceiptFinding:
    """Compare an already verified receipt with the publication's SKD lines.

    Points are compared after the policy's rounding (the ranking compares
    them so), so a receipt's ``"80.0000"`` matches a published ``80``.
    """
    regno = str(receipt.registration_number)
    if str(receipt.exam) != str(manifest["exam"]["id"]):
        return ReceiptFinding(
            "other_exam",
            regno,
            [f"receipt exam {receipt.exam!r}, publication exam {manifest['exam']['id']!r}"],
        )
    entry = next(
        (
            e
            for _, doc in docs
            if doc["stage"] == "skd"
            for e in doc["entries"]
            if e["registration_number"] == regno
        ),
        None,
    )
    if entry is None:
        return ReceiptFinding("missing", regno)
    details = []
    if entry["status"] != FINISHED:
        details.append(
            f"status: published {entry['status']!r} (code {entry['code']}), the receipt shows "
            "a finished test"
        )
    published = entry["scores"] or {}
    received = dict(receipt.scores)
    for code in sorted(set(received) | set(published)):
        mine = _points(policy, received.get(code))
        theirs = _points(policy, published.get(code))
        if mine != theirs:
            details.append(f"{code}: published {_show(theirs)}, receipt {_show(mine)}")
    mine_total, theirs_total = _points(policy, receipt.total), _points(policy, entry["total"])
    if mine_total != theirs_total:
        details.append(f"total: published {_show(theirs_total)}, receipt {_show(mine_total)}")
    return ReceiptFinding("differs" if details else "matches", regno, details, entry)


def _show(d: Decimal | None) -> str:
    return "–" if d is None else fmt(d)


def check_receipt_text(
    files: Mapping[str, bytes],
    text: str,
    extra_keys: Sequence[Ed25519PublicKey | receipts.ReceiptKey] = (),
    *,
    docs: Sequence[tuple[str, Mapping[str, Any]]] | None = None,
    policy: RankingPolicy | None = None,
) -> ReceiptFinding:
    """Decode and verify a receipt's text code, then compare it with the publication.

    The signature is checked against the receipt keys listed in the signed
    manifest, and ``extra_keys`` (a key announced separately). Check the
    publication itself first (:func:`~.publication.verify_publication` with
    the announced key): a finding is only as good as the manifest's signature.
    ``docs``/``policy``: the publication's formation documents and policy if
    already parsed (the pages keep them), else parsed from ``files``.
    """
    manifest = json.loads(files[pubm.MANIFEST].decode("utf-8"))
    if docs is None:
        docs = pubm.formation_docs(files)
    if policy is None:
        policy = RankingPolicy.from_json(files[pubm.POLICY].decode("utf-8"))
    keys = [*pubm.receipt_keys_of(manifest), *extra_keys]
    try:
        verified = receipts.verify(text, keys)
    except receipts.ReceiptRefused as exc:
        regno = ""
        with contextlib.suppress(ValueError):
            regno = receipts.decode(text.strip()).registration_number
        reason = str(exc)
        if exc.code == "no_keys":
            reason = "the manifest lists no receipt key; give the announced receipt key"
        elif exc.code == "unknown_key":
            reason = (
                f"the receipt was signed by key {exc.key_id}, which is not one of the receipt"
                " keys listed in the manifest (current and retired): a forged receipt, or one"
                " of another server"
            )
        return ReceiptFinding("invalid", regno, [reason])
    finding = compare_receipt(manifest, policy, docs, verified.receipt)
    return ReceiptFinding(
        finding.outcome,
        finding.registration_number,
        finding.details,
        finding.entry,
        verified.key.fingerprint,
        verified.key,
    )
