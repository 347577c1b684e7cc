"""Building a publication: its content files (:func:`build_files`), the manifest
(:func:`build_manifest`) and the signed whole (:func:`publish`, :class:`Publication`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from exam_server.receipts import ReceiptKey
from exam_server.results.integration import FinalResult
from exam_server.results.publication.counts import formation_counts
from exam_server.results.publication.documents import (
    FORMATION_SCHEMA,
    KINDS_SCHEMA,
    MANIFEST,
    MANIFEST_SCHEMA,
    POLICY,
    PUBLIC_KEY,
    SIGNATURE,
    SITE_KEYS_SCHEMA,
    STAGES,
    ExamInfo,
    PublicationError,
    _formation_dict,
    canonical_json,
    final_entry_dict,
    formation_csv,
    formation_docs,
    formation_json,
    leaves_of,
    sha256_hex,
    skd_entry_dict,
)
from exam_server.results.publication.keys import (
    public_key_fingerprint,
    public_key_pem,
    receipt_key_entry,
)
from exam_server.results.publication.merkle import (
    MERKLE_ALGORITHM,
    leaf_hash,
    merkle_levels,
    merkle_root,
)
from exam_server.results.ranking import SkdResult
from exam_server.results.rules import RankingPolicy


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


def _site(key: Ed25519PublicKey | ReceiptKey) -> bool:
    """Whether ``key`` is an exam site's (it verifies its own candidates' receipts only)."""
    return isinstance(key, ReceiptKey) and bool(key.site)


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
    docs = formation_docs(files)
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
        "counts": formation_counts(policy, docs),
        "receipt_keys": [receipt_key_entry(k) for k in receipt_keys if not _site(k)],
        "signature": {
            "algorithm": "Ed25519",
            "file": SIGNATURE,
            "public_key_sha256": public_key_fingerprint(public_key),
        },
    }
    site_keys = [receipt_key_entry(k) for k in receipt_keys if _site(k)]
    if site_keys:
        manifest["schema"] = SITE_KEYS_SCHEMA
        manifest["site_receipt_keys"] = site_keys
    if any(e.get("skb_components") for _, doc in docs for e in doc["entries"]):
        # Lines with SKB components name their kinds; site keys listed as in 4.
        unnamed = sorted(
            {
                f"{path} ({e['registration_number']})"
                for path, doc in docs
                for e in doc["entries"]
                if any("kind" not in c for c in e.get("skb_components") or ())
            }
        )
        if unnamed:
            raise PublicationError(
                "SKB components without a kind on the lines of "
                + ", ".join(unnamed[:5])
                + (f" and {len(unnamed) - 5} more" if len(unnamed) > 5 else "")
                + ": a publication names every component's kind (cat, interview …)"
            )
        manifest["schema"] = KINDS_SCHEMA
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
