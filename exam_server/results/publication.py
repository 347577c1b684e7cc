"""A verifiable publication of an exam's results.

A publication is a directory of files, every byte of which is a function of
the rules and the recorded outcomes (no clock, no randomness), so recomputing
it from the database reproduces it byte for byte:

``policy.json``
    the ranking policy document (:meth:`RankingPolicy.to_json`);
``skd/<formation>.json`` / ``.csv``
    the SKD ranking of each formation: canonical JSON (:func:`formation_json`:
    sorted keys, one candidate per line, UTF-8) and the same rows as CSV;
``final/<formation>.json`` / ``.csv``
    the final ranking after SKB integration (when published);
``manifest.json``
    the exam, SHA-256 and size of every file above, and the root of a Merkle
    tree whose leaves are the candidates' entries;
``manifest.sig``
    the Ed25519 signature of ``manifest.json``'s bytes (base64, one line);
``public_key.pem``
    a copy of the signer's public key. Verify against the key announced by
    the agency, not only against this copy (:func:`verify_publication` warns
    when the copy is not the announced key).

The manifest also carries, per stage and formation, how many candidates got
each result code (:func:`formation_counts`), so a candidate deleted by someone
who holds the signing key shows against counts announced earlier, and the
public keys that sign candidates' receipts, so a receipt is checked with
nothing from the server.

The Merkle tree follows RFC 6962/9162: leaf hash ``SHA-256(0x00 ‖ leaf)``,
node hash ``SHA-256(0x01 ‖ left ‖ right)``, a lone last node promoted to the
next level. A leaf is the canonical compact JSON of a candidate's entry
(stage, formation, registration number, category, status, scores, total,
SKB/final scores, rank, code, and the hash of the recorded responses), in
file order. :func:`prove` gives one candidate's inclusion proofs;
:func:`verify_proof` checks one with nothing but ``hashlib``.

:func:`verify_publication` checks everything offline: the signature, every
file hash, CSV = JSON, the Merkle root, and that re-applying the published
rules to the published inputs gives exactly the published rankings.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from assessment.components import ComponentScore
from exam_server.receipts import ReceiptKey, as_receipt_key, parse_key_list
from exam_server.results.integration import (
    FinalEntry,
    FinalResult,
    SkbScore,
    integrate,
    optimise,
)
from exam_server.results.outcomes import CandidateOutcome, Formation
from exam_server.results.ranking import SkdEntry, SkdResult, rank_skd
from exam_server.results.rules import (
    FINAL_MEANINGS,
    SKD_MEANINGS,
    PolicyError,
    RankingPolicy,
    fmt,
    json_number,
    parse_date,
)

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "public_key.pem"
POLICY = "policy.json"
# 2: per-formation candidate counts by result code, and the receipt signing keys
# 3: a final CSV has one column per SKB component of its formation (skb:<code>)
MANIFEST_SCHEMA = "seleksi/results-manifest/3"
#: The first manifest schema whose final CSVs carry the SKB breakdown.
BREAKDOWN_SCHEMA = 3
FORMATION_SCHEMA = "seleksi/results-formation/2"  # 2: one candidate per line
PROOF_SCHEMA = "seleksi/inclusion-proof/1"
MERKLE_ALGORITHM = "RFC 6962 SHA-256 (leaf 0x00, node 0x01) over canonical compact JSON entries"
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
    """The SKB breakdown (issue 19), only on lines that have one."""
    if not e.skb_components:
        return {}
    return {"skb_components": [
        {"code": c.code, "weight": json_number(c.weight), "score": json_number(c.score),
         "minimum": _num(c.minimum)}
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


def csv_has_breakdown(manifest: Mapping[str, Any]) -> bool:
    """Whether the final CSVs of the publication with ``manifest`` carry the
    SKB breakdown columns (manifest schema 3 on; earlier publications verify
    as they were written)."""
    try:
        return int(str(manifest.get("schema", "")).rsplit("/", 1)[-1]) >= BREAKDOWN_SCHEMA
    except ValueError:
        return True


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


# -- Merkle tree (RFC 6962 / 9162) ---------------------------------------------------


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """All levels bottom-up; an odd last node is promoted (= RFC 6962's tree)."""
    levels = [list(leaf_hashes)]
    while len(levels[-1]) > 1:
        cur = levels[-1]
        nxt = [node_hash(cur[i], cur[i + 1]) for i in range(0, len(cur) - 1, 2)]
        if len(cur) % 2:
            nxt.append(cur[-1])
        levels.append(nxt)
    return levels


def merkle_root(levels: Sequence[Sequence[bytes]]) -> bytes:
    return levels[-1][0] if levels[0] else hashlib.sha256(b"").digest()


def audit_path(levels: Sequence[Sequence[bytes]], index: int) -> list[bytes]:
    path: list[bytes] = []
    for level in levels[:-1]:
        sib = index ^ 1
        if sib < len(level):
            path.append(level[sib])
        index //= 2
    return path


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root implied by an inclusion proof (RFC 9162 §2.1.3.2), or None if malformed."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf_hash(leaf)
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


# -- building ---------------------------------------------------------------------


def build_files(
    exam: ExamInfo,
    policy: RankingPolicy,
    skd: SkdResult,
    final: FinalResult | None = None,
    *,
    with_csv: bool = True,
) -> dict[str, bytes]:
    """The content files of a publication (everything but manifest, signature, key).

    ``with_csv=False`` leaves out the CSV files (verification checks them
    against the JSON separately).
    """
    files: dict[str, bytes] = {POLICY: policy.to_json().encode("utf-8")}
    codes = policy.subtest_codes
    for f in skd.formations:
        doc = {
            "schema": FORMATION_SCHEMA,
            "exam": exam.id,
            "stage": "skd",
            "policy_version": policy.version,
            "formation": _formation_dict(f.formation),
            "cut": f.cut,
            "passed": f.passed,
            "entries": [skd_entry_dict(policy, e) for e in f.entries],
        }
        files[f"skd/{f.formation.id}.json"] = formation_json(doc)
        if with_csv:
            files[f"skd/{f.formation.id}.csv"] = formation_csv(doc, codes)
    if final is not None:
        for ff in final.formations:
            doc = {
                "schema": FORMATION_SCHEMA,
                "exam": exam.id,
                "stage": "final",
                "policy_version": policy.version,
                "formation": _formation_dict(ff.formation),
                "optimised": final.optimised,
                "appointed": ff.appointed,
                "vacant": ff.vacant,
                "entries": [final_entry_dict(policy, e) for e in ff.entries],
            }
            files[f"final/{ff.formation.id}.json"] = formation_json(doc)
            if with_csv:
                files[f"final/{ff.formation.id}.csv"] = formation_csv(doc, codes)
    return files


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


def public_key_fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw)


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


Counts = dict[str, dict[str, dict[str, int]]]
"""stage → formation id → result code label (and ``"total"``) → number of candidates."""


def formation_counts(
    policy: RankingPolicy, docs: Sequence[tuple[str, Mapping[str, Any]]]
) -> Counts:
    """How many candidates got each result code, per stage and formation.

    Every code of the stage is listed, zeros included, so an announcement
    says "TH 0" rather than saying nothing. Codes are the policy's labels
    (``P/L``, ``P``, ``TL``, ``TH``, ``DIS`` under the 2024 rules).
    """
    out: Counts = {}
    for _, doc in docs:
        stage = str(doc["stage"])
        meanings = SKD_MEANINGS if stage == "skd" else FINAL_MEANINGS
        n = {policy.code(m).code: 0 for m in meanings}
        for e in doc["entries"]:
            n[str(e["code"])] = n.get(str(e["code"]), 0) + 1
        n["total"] = len(doc["entries"])
        out.setdefault(stage, {})[str(doc["formation"]["id"])] = n
    return out


def compare_counts(announced: Any, published: Counts) -> list[str]:
    """Differences between counts announced earlier and a publication's, by formation.

    ``announced`` may be partial (only the stages, formations and codes it
    names are compared: for example only each formation's ``total``
    registered before the test). A formation announced but not published is
    a difference; one published but not announced is not (it was not
    announced). Raises :class:`PublicationError` if ``announced`` is not
    shaped like :data:`Counts`.
    """
    if not isinstance(announced, Mapping) or not all(
        isinstance(fs, Mapping) and all(isinstance(c, Mapping) for c in fs.values())
        for fs in announced.values()
    ):
        raise PublicationError("announced counts: expected {stage: {formation: {code: number}}}")
    problems = []
    for stage in sorted(announced):
        for fid in sorted(announced[stage]):
            want = announced[stage][fid]
            got = published.get(str(stage), {}).get(str(fid))
            if got is None:
                problems.append(
                    f"{stage}/{fid}: announced with {want.get('total', '?')} "
                    "candidates, but not in the publication"
                )
                continue
            diffs = [
                f"{code} published {got.get(code, 0)}, announced {want[code]}"
                for code in sorted(want, key=lambda c: (c == "total", c))
                if got.get(code, 0) != want[code]
            ]
            if diffs:
                problems.append(
                    f"{stage}/{fid}: counts differ from the announcement (" + "; ".join(diffs) + ")"
                )
    return problems


def announced_counts(doc: Any) -> Any:
    """The counts in an announcement: an earlier ``manifest.json``, or a bare counts document."""
    if isinstance(doc, Mapping) and "counts" in doc:
        return doc["counts"]
    return doc


def receipt_key_entry(public_key: Ed25519PublicKey | ReceiptKey) -> dict[str, str]:
    """How the manifest lists a receipt signing key: raw key (base64), its
    fingerprint, and when it was in use where known (``valid_from``,
    ``valid_until``: a retired key stays listed, so its receipts still verify)."""
    return as_receipt_key(public_key).to_dict()


def receipt_keys_of(manifest: Mapping[str, Any]) -> list[ReceiptKey]:
    """The receipt signing keys a manifest lists, current and retired (none in
    a schema-1 manifest)."""
    try:
        return parse_key_list(list(manifest.get("receipt_keys") or []))
    except ValueError as exc:
        raise PublicationError(f"{MANIFEST}: {exc}") from None


def build_manifest(
    exam: ExamInfo,
    policy: RankingPolicy,
    files: Mapping[str, bytes],
    *,
    optimised: bool,
    public_key: Ed25519PublicKey,
    receipt_keys: Sequence[Ed25519PublicKey | ReceiptKey] = (),
    version: Mapping[str, Any] | None = None,
) -> bytes:
    """``receipt_keys``: the public keys that signed candidates' receipts, listed so a
    receipt can be checked against the signed manifest alone. ``version``: the
    block linking a corrected version to the previous one (:mod:`.versions`)."""
    leaves = leaves_of(files)
    root = merkle_root(merkle_levels([leaf_hash(x) for x in leaves]))
    stages = [s for s in STAGES if any(p.startswith(f"{s}/") for p in files)]
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "exam": exam.to_dict(),
        "policy": {"path": POLICY, "version": policy.version, "name": policy.name},
        "stages": stages,
        "optimised": optimised,
        "files": [
            {"path": p, "sha256": sha256_hex(files[p]), "bytes": len(files[p])}
            for p in sorted(files)
        ],
        "merkle": {"algorithm": MERKLE_ALGORITHM, "leaves": len(leaves), "root": root.hex()},
        "counts": formation_counts(policy, formation_docs(files)),
        "receipt_keys": [receipt_key_entry(k) for k in receipt_keys],
        "signature": {
            "algorithm": "Ed25519",
            "file": SIGNATURE,
            "public_key_sha256": public_key_fingerprint(public_key),
        },
    }
    if version is not None:
        manifest["version"] = dict(version)
    return canonical_json(manifest)


@dataclass(frozen=True)
class Publication:
    files: dict[str, bytes]  # path → bytes, including manifest, signature and key

    @property
    def manifest(self) -> dict[str, Any]:
        m: dict[str, Any] = json.loads(self.files[MANIFEST])
        return m

    @property
    def root(self) -> str:
        return str(self.manifest["merkle"]["root"])


def publish(
    exam: ExamInfo,
    policy: RankingPolicy,
    skd: SkdResult,
    private_key: Ed25519PrivateKey,
    final: FinalResult | None = None,
    *,
    receipt_keys: Sequence[Ed25519PublicKey | ReceiptKey] = (),
    attach: Mapping[str, bytes] | None = None,
    version: Mapping[str, Any] | None = None,
) -> Publication:
    """Build and sign a whole publication in memory (write it with :func:`write_publication`).

    ``attach``/``version``: the previous version's files and the block linking
    to it, for a corrected version (:func:`.versions.next_version`)."""
    files = build_files(exam, policy, skd, final)
    files.update(attach or {})
    pub = private_key.public_key()
    manifest = build_manifest(
        exam,
        policy,
        files,
        optimised=bool(final and final.optimised),
        public_key=pub,
        receipt_keys=receipt_keys,
        version=version,
    )
    files[MANIFEST] = manifest
    # Ed25519 is deterministic (RFC 8032): the same key and manifest give the same signature.
    files[SIGNATURE] = base64.b64encode(private_key.sign(manifest)) + b"\n"
    files[PUBLIC_KEY] = public_key_pem(pub)
    return Publication(files)


def write_publication(directory: str | os.PathLike[str], files: Mapping[str, bytes]) -> None:
    """Write ``files`` under ``directory`` (created; existing files are replaced).

    The files a publication already there listed and ``files`` lacks (another
    exam's formations, an older version chain's ``versions/`` tree) are
    removed: they would be unlisted files of the new one."""
    root = Path(directory)
    try:
        old = [f["path"] for f in json.loads((root / MANIFEST).read_bytes())["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        old = []
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    for rel in old:
        # Only inside the directory, whatever an old manifest says.
        if rel not in files and ".." not in Path(rel).parts and not Path(rel).is_absolute():
            (root / rel).unlink(missing_ok=True)


def read_publication(directory: str | os.PathLike[str]) -> dict[str, bytes]:
    """Every regular file under ``directory``, by its '/'-separated relative path."""
    root = Path(directory)
    if not (root / MANIFEST).is_file():
        raise PublicationError(f"{root}: no {MANIFEST}; is this a publication directory?")
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# -- keys ------------------------------------------------------------------------


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise PublicationError(f"not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise PublicationError("the private key is not an Ed25519 key")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise PublicationError(f"not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise PublicationError("the public key is not an Ed25519 key")
    return key


# -- rebuilding from a publication ---------------------------------------------------


def _formation_of(doc: Mapping[str, Any]) -> Formation:
    f = doc["formation"]
    return Formation(id=f["id"], openings=f["openings"], name=f["name"], group=f["group"])


Inputs = tuple[RankingPolicy, list[Formation], list[CandidateOutcome], dict[str, SkbScore] | None]


def inputs_from_files(
    files: Mapping[str, bytes], docs: list[tuple[str, dict[str, Any]]] | None = None
) -> Inputs:
    """The inputs a publication embeds: policy, formations, SKD outcomes, SKB scores.

    ``docs``: the formation documents if already parsed (:func:`formation_docs`).
    """
    try:
        policy = RankingPolicy.from_json(files[POLICY].decode("utf-8"))
    except KeyError:
        raise PublicationError(f"no {POLICY}") from None
    except PolicyError as exc:
        raise PublicationError(f"{POLICY}: {exc}") from None
    formations: list[Formation] = []
    outcomes: list[CandidateOutcome] = []
    skb: dict[str, SkbScore] | None = None
    for path, doc in docs if docs is not None else formation_docs(files):
        try:
            if doc["stage"] == "skd":
                formations.append(_formation_of(doc))
                for e in doc["entries"]:
                    outcomes.append(
                        CandidateOutcome(
                            registration_number=e["registration_number"],
                            formation=doc["formation"]["id"],
                            category=e["category"],
                            status=e["status"],
                            scores=e["scores"] or {},
                            responses_hash=e["responses_hash"],
                            name=e["name"],
                            gpa=e["gpa"],
                            birth_date=parse_date(e["birth_date"], "birth_date"),
                            status_note=e["status_note"],
                        )
                    )
            else:
                skb = skb if skb is not None else {}
                for e in doc["entries"]:
                    if e["meaning"] == "appointed_optimised":
                        continue
                    pts = e["skb"]
                    skb[e["registration_number"]] = SkbScore(
                        e["registration_number"],
                        e["skb_status"],
                        None if pts is None else policy.points(pts),
                        e["skb_note"],
                        tuple(
                            ComponentScore.from_dict(c, f"{path}: skb_components")
                            for c in e.get("skb_components", ())
                        ),
                    )
        except (KeyError, TypeError, ValueError) as exc:
            raise PublicationError(f"{path}: malformed entry ({exc!r})") from None
    return policy, formations, outcomes, skb


def rebuild_files(
    exam: ExamInfo,
    policy: RankingPolicy,
    formations: Sequence[Formation],
    outcomes: Sequence[CandidateOutcome],
    skb: Mapping[str, SkbScore] | None,
    *,
    optimised: bool,
    missing_is_absent: bool = False,
) -> dict[str, bytes]:
    """Rank, integrate, optionally optimise, and render the content files."""
    skd = rank_skd(policy, formations, outcomes)
    final = None
    if skb is not None:
        final = integrate(policy, skd, skb, missing_is_absent=missing_is_absent)
        if optimised:
            final = optimise(policy, skd, final)
    return build_files(exam, policy, skd, final)


# -- verification -------------------------------------------------------------------


@dataclass
class VerifyReport:
    """What :func:`verify_publication` checked; ``ok`` only when ``problems`` is empty."""

    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Things wrong with the copy that do not make the signed content wrong (a
    # public_key.pem that is not the announced key): the command exits non-zero
    # on them unless told otherwise, the pages show them.
    warnings: list[str] = field(default_factory=list)
    root: str = ""
    key_fingerprint: str = ""
    key_source: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def _first_difference(a: bytes, b: bytes) -> str:
    """Where published CSV ``a`` first differs from ``b``, rendered from the JSON:
    the candidate and the column when both have the same header and rows
    (``A1 skb:WWN: published '90', the JSON gives '88.889'``), else the line."""
    ra = list(csv.reader(io.StringIO(a.decode("utf-8", "replace"))))
    rb = list(csv.reader(io.StringIO(b.decode("utf-8", "replace"))))
    if ra and rb and ra[0] == rb[0] and len(ra) == len(rb):
        header = rb[0]
        regno = header.index("registration_number") if "registration_number" in header else 0
        for got, want in zip(ra[1:], rb[1:], strict=True):
            if got != want and len(got) == len(want):
                col = next(i for i, (u, v) in enumerate(zip(got, want, strict=True)) if u != v)
                return (
                    f"{want[regno]} {header[col]}: published {got[col]!r}, "
                    f"the JSON gives {want[col]!r}"
                )
    la, lb = a.decode("utf-8", "replace").splitlines(), b.decode("utf-8", "replace").splitlines()
    for i, (x, y) in enumerate(zip(la, lb, strict=False)):
        if x != y:
            return f"line {i + 1}: published {x.strip()!r}, expected {y.strip()!r}"
    return f"published {len(la)} lines, expected {len(lb)}"


def verify_publication(
    files: Mapping[str, bytes],
    public_key: Ed25519PublicKey | None = None,
    *,
    announced: Any = None,
) -> VerifyReport:
    """Check a publication offline (see the module docstring); never raises on bad data.

    ``public_key``: the key the agency announced. Without it the copy inside the
    publication is used, which proves integrity but not who signed; with it, a
    copy that is another key is reported in ``warnings``.
    ``announced``: counts announced before this publication (:data:`Counts`,
    possibly partial, or an earlier manifest); each formation whose counts
    differ is a problem. This is what catches a candidate deleted and the
    whole publication re-signed by someone holding the signing key.
    """
    rep = VerifyReport()
    try:
        manifest = json.loads(files[MANIFEST].decode("utf-8"))
        exam = ExamInfo(**manifest["exam"])
        listed = {f["path"]: f for f in manifest["files"]}
        root_hex = str(manifest["merkle"]["root"])
        fingerprint = str(manifest["signature"]["public_key_sha256"])
        optimised = bool(manifest["optimised"])
    except KeyError as exc:
        rep.problems.append(f"{MANIFEST}: missing {exc}")
        return rep
    except (ValueError, TypeError) as exc:
        rep.problems.append(f"{MANIFEST}: malformed ({exc})")
        return rep
    rep.root = root_hex

    # 1. the signature over the manifest's exact bytes
    key = public_key
    rep.key_source = "given"
    if key is None:
        rep.key_source = f"{PUBLIC_KEY} inside the publication"
        try:
            key = load_public_key(files[PUBLIC_KEY])
        except (KeyError, PublicationError) as exc:
            rep.problems.append(f"{PUBLIC_KEY}: {exc}")
    else:
        _check_key_copy(files, key, rep)
    if key is not None:
        rep.key_fingerprint = public_key_fingerprint(key)
        if rep.key_fingerprint != fingerprint:
            rep.problems.append(
                f"{MANIFEST}: signed by key {fingerprint[:16]}…, but the key used is "
                f"{rep.key_fingerprint[:16]}…"
            )
        try:
            sig = base64.b64decode(files[SIGNATURE].strip(), validate=True)
            key.verify(sig, files[MANIFEST])
            rep.checks.append("Ed25519 signature over manifest.json is valid")
        except KeyError:
            rep.problems.append(f"{SIGNATURE}: missing")
        except (InvalidSignature, ValueError):
            rep.problems.append(f"{SIGNATURE}: the signature does not match manifest.json")

    # 2. every listed file, byte for byte; nothing unlisted
    bad_files = 0
    for path, meta in sorted(listed.items()):
        data = files.get(path)
        if data is None:
            rep.problems.append(f"{path}: listed in the manifest but missing")
            bad_files += 1
        elif sha256_hex(data) != meta.get("sha256") or len(data) != meta.get("bytes"):
            rep.problems.append(f"{path}: SHA-256 differs from the manifest (file changed)")
            bad_files += 1
    extra = sorted(set(files) - set(listed) - {MANIFEST, SIGNATURE, PUBLIC_KEY})
    for path in extra:
        rep.problems.append(f"{path}: not listed in the manifest")
    if not bad_files:
        rep.checks.append(f"{len(listed)} files match their SHA-256 in the manifest")
    content = {p: files[p] for p in listed if p in files}

    # 3. CSV = JSON, 4. Merkle root, 5. the rules re-applied
    try:
        docs = formation_docs(content)  # parsed once for all the checks below
        policy, formations, outcomes, skb = inputs_from_files(content, docs)
    except PublicationError as exc:
        rep.problems.append(str(exc))
        return rep
    csv_bad = 0
    breakdown = csv_has_breakdown(manifest)
    for path, doc in docs:
        csv_path = path[: -len(".json")] + ".csv"
        expected_csv = formation_csv(doc, policy.subtest_codes, skb_breakdown=breakdown)
        if content.get(csv_path) != expected_csv:
            csv_bad += 1
            got = content.get(csv_path, b"")
            rep.problems.append(
                f"{csv_path}: differs from {path} ({_first_difference(got, expected_csv)})"
            )
    if not csv_bad:
        rep.checks.append(f"{len(docs)} CSV files match their JSON")
    leaves = leaves_of(content, docs)
    root = merkle_root(merkle_levels([leaf_hash(x) for x in leaves])).hex()
    if root != root_hex:
        rep.problems.append(f"Merkle root of the entries is {root}, manifest says {root_hex}")
    else:
        rep.checks.append(f"Merkle root over {len(leaves)} entries matches: {root}")
    rule_bad = 0
    try:
        skd = rank_skd(policy, formations, outcomes)
    except ValueError as exc:
        rep.problems.append(f"re-applying the rules to the SKD scores failed: {exc}")
        return rep
    rebuilt = build_files(exam, policy, skd, with_csv=False)
    if skb is not None:
        try:
            final = integrate(policy, skd, skb)
            if optimised:
                final = optimise(policy, skd, final)
            rebuilt = build_files(exam, policy, skd, final, with_csv=False)
        except ValueError as exc:
            rule_bad += 1
            rep.problems.append(
                "final/: the published SKB scores do not fit the SKD ranking the rules "
                f"give ({exc})"
            )
    for path in sorted(set(rebuilt) | {p for p, _ in docs} | {POLICY}):
        if not path.endswith(".json") or (path.startswith("final/") and rule_bad):
            continue
        if content.get(path) != rebuilt.get(path):
            rule_bad += 1
            diff = _describe_difference(content.get(path, b""), rebuilt.get(path, b""))
            rep.problems.append(f"{path}: not what the published rules give ({diff})")
    if not rule_bad:
        rep.checks.append(
            f"re-applying policy {policy.version} to the published scores gives the published "
            f"rankings ({len(outcomes)} candidates, {len(formations)} formations)"
        )
    _check_counts(manifest, formation_counts(policy, docs), announced, rep)
    if "version" in manifest:
        # A corrected version: the whole chain back to version 1 (imported here,
        # versions builds on this module).
        from exam_server.results.versions import check_version

        check_version(files, manifest, public_key, rep)
    return rep


def _check_key_copy(
    files: Mapping[str, bytes], announced: Ed25519PublicKey, rep: VerifyReport
) -> None:
    """Warn when the publication's own key file is not the announced key.

    The signature is checked with the announced key whatever the copy says,
    but whoever passes the publication on may lead others to check against
    the wrong copy: that copy must not go unremarked.
    """
    want = public_key_fingerprint(announced)
    try:
        copy = load_public_key(files[PUBLIC_KEY])
    except KeyError:
        rep.warnings.append(f"{PUBLIC_KEY}: missing from the publication (announced key {want})")
        return
    except PublicationError as exc:
        rep.warnings.append(f"{PUBLIC_KEY}: unreadable ({exc}); announced key {want}")
        return
    got = public_key_fingerprint(copy)
    if got != want:
        rep.warnings.append(
            f"{PUBLIC_KEY} inside the publication is NOT the announced key: its fingerprint is "
            f"{got}, the announced key's is {want}. Do not pass this copy on; anyone checking "
            "against it checks against the wrong key"
        )
    else:
        rep.checks.append(f"{PUBLIC_KEY} inside the publication is the announced key")


def _check_counts(
    manifest: Mapping[str, Any], counts: Counts, announced: Any, rep: VerifyReport
) -> None:
    if "counts" not in manifest:
        rep.checks.append(f"{MANIFEST} has no candidate counts (an older publication)")
    elif manifest["counts"] != counts:
        listed_all = manifest["counts"]
        if not isinstance(listed_all, Mapping) or not all(
            isinstance(v, Mapping) for v in listed_all.values()
        ):
            rep.problems.append(f"{MANIFEST}: counts malformed")
            listed_all = {}
        for stage in sorted(set(counts) | set(listed_all)):
            fids = set(counts.get(stage, {})) | set(listed_all.get(stage, {}))
            for fid in sorted(fids):
                got, listed = counts.get(stage, {}).get(fid), listed_all.get(stage, {}).get(fid)
                if got != listed:
                    rep.problems.append(
                        f"{stage}/{fid}: the manifest counts {listed}, the entries give {got}"
                    )
    else:
        n = sum(len(f) for f in counts.values())
        rep.checks.append(f"candidate counts in the manifest match the entries ({n} listings)")
    if announced is None:
        return
    try:
        diffs = compare_counts(announced_counts(announced), counts)
    except PublicationError as exc:
        rep.problems.append(str(exc))
        return
    rep.problems.extend(diffs)
    if not diffs:
        rep.checks.append("candidate counts match the counts announced earlier")


def _describe_difference(published: bytes, expected: bytes) -> str:
    """The first differing candidate and field of two formation files, else the first line."""
    try:
        a = json.loads(published.decode("utf-8"))
        b = json.loads(expected.decode("utf-8"))
    except ValueError:
        return _first_difference(published, expected)
    if a == b:
        return "same content, but not in the canonical form the rules' output is written in"
    try:
        ea, eb = a["entries"], b["entries"]
    except (KeyError, TypeError):
        return _first_difference(published, expected)
    for x, y in zip(ea, eb, strict=False):
        if x != y:
            who = x.get("registration_number", "?")
            if who != y.get("registration_number"):
                return f"{who} is listed where the rules put {y.get('registration_number', '?')}"
            field = next(k for k in sorted(set(x) | set(y)) if x.get(k) != y.get(k))
            return f"{who} {field}: published {x.get(field)!r}, the rules give {y.get(field)!r}"
    if len(ea) != len(eb):
        return f"published {len(ea)} entries, the rules give {len(eb)}"
    return _first_difference(published, expected)


def compare_files(published: Mapping[str, bytes], recomputed: Mapping[str, bytes]) -> list[str]:
    """Differences between a publication's content files and a recomputation from source."""
    problems = []
    skip = {MANIFEST, SIGNATURE, PUBLIC_KEY}
    for path in sorted((set(published) | set(recomputed)) - skip):
        a, b = published.get(path), recomputed.get(path)
        if a is None:
            problems.append(f"{path}: recomputed from the source but not published")
        elif b is None:
            problems.append(f"{path}: published but not recomputed from the source")
        elif a != b:
            problems.append(f"{path}: differs from the source ({_describe_difference(a, b)})")
    return problems


# -- inclusion proofs -----------------------------------------------------------------


@dataclass(frozen=True)
class ProofIndex:
    """A publication's Merkle tree, built once, to answer many proof requests.

    ``leaves``: leaf bytes in tree order; ``levels``: the tree bottom-up;
    ``by_regno``: registration number → indices of that candidate's leaves.
    """

    exam: str
    manifest_sha256: str
    leaves: list[bytes]
    levels: list[list[bytes]]
    by_regno: dict[str, list[int]]

    @classmethod
    def build(cls, files: Mapping[str, bytes]) -> ProofIndex:
        manifest = json.loads(files[MANIFEST].decode("utf-8"))
        leaves: list[bytes] = []
        by_regno: dict[str, list[int]] = {}
        for _, doc in formation_docs(files):
            for e in doc["entries"]:
                by_regno.setdefault(e["registration_number"], []).append(len(leaves))
                leaves.append(compact_json(_leaf(doc["stage"], doc["formation"]["id"], e)))
        return cls(
            exam=str(manifest["exam"]["id"]),
            manifest_sha256=sha256_hex(files[MANIFEST]),
            leaves=leaves,
            levels=merkle_levels([leaf_hash(x) for x in leaves]),
            by_regno=by_regno,
        )

    @property
    def root(self) -> str:
        return merkle_root(self.levels).hex()

    def prove(self, registration_number: str) -> list[dict[str, Any]]:
        root = self.root
        return [
            {
                "schema": PROOF_SCHEMA,
                "exam": self.exam,
                "algorithm": MERKLE_ALGORITHM,
                "leaf": self.leaves[i].decode("utf-8"),
                "index": i,
                "tree_size": len(self.leaves),
                "path": [h.hex() for h in audit_path(self.levels, i)],
                "root": root,
                "manifest_sha256": self.manifest_sha256,
            }
            for i in self.by_regno.get(registration_number, [])
        ]


def prove(files: Mapping[str, bytes], registration_number: str) -> list[dict[str, Any]]:
    """Inclusion proofs of every entry of ``registration_number`` (SKD, final) in the tree.

    For many requests build a :class:`ProofIndex` once and call its ``prove``.
    """
    return ProofIndex.build(files).prove(registration_number)


def verify_proof(proof: Mapping[str, Any], root: str | None = None) -> bool:
    """Whether ``proof`` puts its leaf in the tree with ``root`` (default: the proof's own).

    Pass the root printed in the manifest or shown on the public page: a proof
    checked only against the root it carries proves nothing.
    """
    try:
        leaf = str(proof["leaf"]).encode("utf-8")
        path = [bytes.fromhex(h) for h in proof["path"]]
        got = root_from_path(leaf, int(proof["index"]), int(proof["tree_size"]), path)
        want = root if root is not None else str(proof["root"])
    except (KeyError, ValueError, TypeError):
        return False
    return got is not None and got.hex() == want.lower()


def recompute(
    files: Mapping[str, bytes],
    formations: Sequence[Formation],
    outcomes: Sequence[CandidateOutcome],
) -> list[str]:
    """Differences between a publication and the same rules applied to source records.

    The exam, the policy, the SKB scores and whether optimisation ran are taken
    from the publication; the formations and SKD outcomes from the source (the
    database via :mod:`.from_db`, or an input document). An empty list means
    the source reproduces the publication byte for byte.
    """
    try:
        manifest = json.loads(files[MANIFEST].decode("utf-8"))
        exam = ExamInfo(**manifest["exam"])
        optimised = bool(manifest["optimised"])
    except (KeyError, ValueError, TypeError) as exc:
        return [f"{MANIFEST}: unreadable ({exc!r})"]
    try:
        policy, _, _, skb = inputs_from_files(files)
        rebuilt = rebuild_files(exam, policy, formations, outcomes, skb, optimised=optimised)
    except ValueError as exc:
        return [f"recomputing from the source failed: {exc}"]
    return compare_files(files, rebuilt)
