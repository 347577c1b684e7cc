"""The files of a publication and the canonical forms they are written in.

The file names and schemas, :class:`ExamInfo` and :class:`PublicationError`;
canonical and compact JSON; a formation's entries as published (SKD, final),
its JSON document (:func:`formation_json`) and CSV (:func:`formation_csv`);
what each entry's Merkle leaf commits to (:func:`_leaf`), and a publication's
formation documents parsed (:func:`formation_docs`) and its leaves
(:func:`leaves_of`).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from exam_server.results.integration import FinalEntry
from exam_server.results.outcomes import Formation
from exam_server.results.ranking import SkdEntry
from exam_server.results.rules import RankingPolicy, fmt, json_number

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "public_key.pem"
POLICY = "policy.json"
# 2: per-formation candidate counts by result code, and the receipt signing keys
# 3: a final CSV has one column per SKB component of its formation (skb:<code>)
MANIFEST_SCHEMA = "seleksi/results-manifest/3"
# 4: the keys of exam sites, which verify their own candidates' receipts only,
# listed apart (``site_receipt_keys``): a verifier that knows only
# ``receipt_keys`` does not take them for keys that verify every receipt.
SITE_KEYS_SCHEMA = "seleksi/results-manifest/4"
# 5: every SKB component of a final line names its kind (``kind``: cat,
# interview …), so that a verifier holds each formation's plan to the
# policy's caps (the CAT field test's minimum share); site keys as in 4.
KINDS_SCHEMA = "seleksi/results-manifest/5"
#: The first manifest schema whose final CSVs carry the SKB breakdown.
BREAKDOWN_SCHEMA = 3
FORMATION_SCHEMA = "seleksi/results-formation/2"  # 2: one candidate per line
STAGES = ("skd", "final")


class PublicationError(ValueError):
    """A publication cannot be read or built; the message names the file."""


@dataclass(frozen=True)
class ExamInfo:
    """What identifies the exam on every page. ``published_at`` is given, never the clock."""

    id: str
    title: str
    published_at: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "published_at": self.published_at}


# -- canonical encodings ----------------------------------------------------------


def _decimal_default(obj: Any) -> Any:
    """JSON hook: Decimals (from parsing published files) as JSON numbers."""
    if isinstance(obj, Decimal):
        return json_number(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, 2-space indent, UTF-8 without escapes, one trailing newline."""
    text = json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, default=_decimal_default)
    return (text + "\n").encode("utf-8")


def compact_json(obj: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes of a Merkle leaf."""
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_decimal_default
    )
    return text.encode("utf-8")


def formation_json(doc: Mapping[str, Any]) -> bytes:
    """A formation document: one top-level key per line, one candidate entry per line.

    Each line is compact canonical JSON (sorted keys, no spaces), so the file is
    canonical, diffs show one candidate per changed line, and the standard
    library's C encoder writes it (an indented dump is several times slower).
    """
    parts = []
    for key in sorted(doc):
        name = json.dumps(key)
        if key == "entries":
            body = ",\n".join(compact_json(e).decode("utf-8") for e in doc[key])
            parts.append(f"{name}:[\n{body}\n]" if body else f"{name}:[]")
        else:
            parts.append(f"{name}:{compact_json(doc[key]).decode('utf-8')}")
    return ("{\n" + ",\n".join(parts) + "\n}\n").encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _num(d: Decimal | None) -> int | float | None:
    return None if d is None else json_number(d)


def _date(d: dt.date | None) -> str | None:
    return None if d is None else d.isoformat()


# -- the files of one formation ---------------------------------------------------


def _formation_dict(f: Formation) -> dict[str, Any]:
    return {"id": f.id, "name": f.name, "openings": f.openings, "group": f.group}


def skd_entry_dict(policy: RankingPolicy, e: SkdEntry) -> dict[str, Any]:
    # GPA and birth date are published only where a later rule may use them
    # (candidates who met the passing grade), to publish no more personal data
    # than verification needs.
    ranked = e.meaning in ("in_cut", "outside_cut")
    return {
        "registration_number": e.registration_number,
        "name": e.name,
        "category": e.category,
        "status": e.status,
        "status_note": e.status_note,
        "scores": {k: json_number(v) for k, v in e.scores.items()} or None,
        "total": _num(e.total),
        "rank": e.rank,
        "code": e.code,
        "meaning": e.meaning,
        "reason_id": e.reason_id,
        "reason_en": e.reason_en,
        "responses_hash": e.responses_hash,
        "gpa": _num(e.gpa) if ranked else None,
        "birth_date": _date(e.birth_date) if ranked else None,
    }


def final_entry_dict(policy: RankingPolicy, e: FinalEntry) -> dict[str, Any]:
    return {
        "registration_number": e.registration_number,
        "name": e.name,
        "category": e.category,
        "origin_formation": e.origin_formation,
        "scores": {k: json_number(v) for k, v in e.skd_scores.items()},
        "skd_total": json_number(e.skd_total),
        "skb_status": e.skb_status,
        "skb_note": e.skb_note,
        "skb": _num(e.skb),
        "final": _num(e.final),
        "rank": e.rank,
        "code": e.code,
        "meaning": e.meaning,
        "reason_id": e.reason_id,
        "reason_en": e.reason_en,
        "responses_hash": e.responses_hash,
        "gpa": _num(e.gpa),
        "birth_date": _date(e.birth_date),
    } | _components_dict(e)


def _components_dict(e: FinalEntry) -> dict[str, Any]:
    """The SKB breakdown (issue 19), only on lines that have one; each
    component's ``kind`` when known, so that a verifier can hold the plan to
    the policy's caps (``files.skb_line_problems``)."""
    if not e.skb_components:
        return {}
    return {"skb_components": [
        {"code": c.code, "weight": json_number(c.weight), "score": json_number(c.score),
         "minimum": _num(c.minimum)} | ({} if c.kind is None else {"kind": c.kind})
        for c in e.skb_components
    ]}  # fmt: skip


def _csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else _csv_cell(v) for v in r])
    return buf.getvalue().encode("utf-8")


def _csv_cell(v: Any) -> str:
    if isinstance(v, float):
        return fmt(Decimal(repr(v)))
    return str(v)


def skb_component_codes(doc: Mapping[str, Any]) -> list[str]:
    """The SKB component codes of a final formation document, in the order
    its lines list them (first seen first): the formation's SKB plan."""
    codes: list[str] = []
    for e in doc["entries"]:
        for c in e.get("skb_components") or []:
            if c["code"] not in codes:
                codes.append(str(c["code"]))
    return codes


def schema_number(manifest: Mapping[str, Any]) -> int | None:
    """The number of a manifest's ``schema`` (``…/results-manifest/3`` → 3); None
    when it has none."""
    try:
        return int(str(manifest.get("schema", "")).rsplit("/", 1)[-1])
    except ValueError:
        return None


def csv_has_breakdown(manifest: Mapping[str, Any]) -> bool:
    """Whether the final CSVs of the publication with ``manifest`` carry the
    SKB breakdown columns (manifest schema 3 on; earlier publications verify
    as they were written)."""
    n = schema_number(manifest)
    return n is None or n >= BREAKDOWN_SCHEMA


def kinds_published(manifest: Mapping[str, Any]) -> bool:
    """Whether every SKB component of the publication's final lines must name
    its kind (manifest schema 5 on: :data:`KINDS_SCHEMA`). The manifest is
    signed, so a publication cannot shed the kinds by claiming an older
    schema without failing its signature."""
    n = schema_number(manifest)
    return n is None or n >= int(KINDS_SCHEMA.rsplit("/", 1)[-1])


def formation_csv(
    doc: Mapping[str, Any], subtests: Sequence[str], *, skb_breakdown: bool = True
) -> bytes:
    """The CSV of a formation file, derived from its JSON document alone.

    A final CSV has, after ``skb``, one column per SKB component of the
    formation (:func:`skb_component_codes`), headed ``skb:<code>``, holding
    the line's score on that component (0–100), empty where the line has none
    (an SKB imported as a total, a component not scored). ``skb_breakdown=False``
    writes the CSV of manifest schema 2 and before (no breakdown columns)."""
    if doc["stage"] == "skd":
        header = [
            "rank",
            "registration_number",
            "name",
            "category",
            "status",
            *subtests,
            "total",
            "code",
            "reason_id",
            "reason_en",
            "responses_hash",
        ]
        rows = [
            [
                e["rank"],
                e["registration_number"],
                e["name"],
                e["category"],
                e["status"],
                *[(e["scores"] or {}).get(s) for s in subtests],
                e["total"],
                e["code"],
                e["reason_id"],
                e["reason_en"],
                e["responses_hash"],
            ]
            for e in doc["entries"]
        ]
    else:
        components = skb_component_codes(doc) if skb_breakdown else []
        header = [
            "rank",
            "registration_number",
            "name",
            "category",
            "origin_formation",
            *subtests,
            "skd_total",
            "skb_status",
            "skb",
            *[f"skb:{c}" for c in components],
            "final",
            "gpa",
            "birth_date",
            "code",
            "reason_id",
            "reason_en",
            "responses_hash",
        ]
        rows = [
            [
                e["rank"],
                e["registration_number"],
                e["name"],
                e["category"],
                e["origin_formation"],
                *[e["scores"].get(s) for s in subtests],
                e["skd_total"],
                e["skb_status"],
                e["skb"],
                *[_component_score(e, c) for c in components],
                e["final"],
                e["gpa"],
                e["birth_date"],
                e["code"],
                e["reason_id"],
                e["reason_en"],
                e["responses_hash"],
            ]
            for e in doc["entries"]
        ]
    return _csv_bytes(header, rows)


def _component_score(entry: Mapping[str, Any], code: str) -> Any:
    """The line's score on SKB component ``code`` (None: not applicable)."""
    return next((c["score"] for c in entry.get("skb_components") or [] if c["code"] == code), None)


def _leaf(stage: str, formation: str, e: Mapping[str, Any]) -> dict[str, Any]:
    """What a Merkle leaf commits to, from a published entry."""
    leaf = {
        "stage": stage,
        "formation": formation,
        "registration_number": e["registration_number"],
        "category": e["category"],
        "scores": e["scores"],
        "rank": e["rank"],
        "code": e["code"],
        "responses_hash": e["responses_hash"],
    }
    if stage == "skd":
        leaf.update(status=e["status"], total=e["total"])
    else:
        leaf.update(
            skd_total=e["skd_total"],
            skb_status=e["skb_status"],
            skb=e["skb"],
            final=e["final"],
            origin_formation=e["origin_formation"],
        )
    return leaf


def formation_docs(files: Mapping[str, bytes]) -> list[tuple[str, dict[str, Any]]]:
    """The formation documents of a publication, parsed, in tree order: ``[(path, doc)]``."""
    out = []
    for stage in STAGES:
        for path in sorted(p for p in files if p.startswith(f"{stage}/") and p.endswith(".json")):
            try:
                doc = json.loads(files[path].decode("utf-8"), parse_float=Decimal)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise PublicationError(f"{path}: not valid JSON ({exc})") from None
            if not isinstance(doc, dict) or doc.get("schema") != FORMATION_SCHEMA:
                raise PublicationError(f"{path}: not a formation document ({FORMATION_SCHEMA})")
            out.append((path, doc))
    return out


def leaves_of(
    files: Mapping[str, bytes], docs: list[tuple[str, dict[str, Any]]] | None = None
) -> list[bytes]:
    """The Merkle leaves of a publication, in order: stage, formation id, listing order."""
    leaves: list[bytes] = []
    for _, doc in docs if docs is not None else formation_docs(files):
        for e in doc["entries"]:
            leaves.append(compact_json(_leaf(doc["stage"], doc["formation"]["id"], e)))
    return leaves
