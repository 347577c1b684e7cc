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

The code lives in seven modules, whose public names this package gives:
:mod:`.documents` (the file names and schemas, canonical JSON, a formation's
entries, JSON document and CSV), :mod:`.merkle` (the Merkle tree and inclusion
proofs), :mod:`.keys` (signing keys: PEM, fingerprints, the receipt keys a
manifest lists), :mod:`.counts` (candidate counts by result code),
:mod:`.manifest` (the content files, the manifest, :func:`publish`),
:mod:`.files` (a publication directory on disk and the inputs it embeds) and
:mod:`.verification` (:func:`verify_publication`, :func:`recompute`).
"""

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exam_server.results.publication.counts import (
    Counts,
    announced_counts,
    compare_counts,
    formation_counts,
)
from exam_server.results.publication.documents import (
    BREAKDOWN_SCHEMA,
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
    canonical_json,
    compact_json,
    csv_has_breakdown,
    final_entry_dict,
    formation_csv,
    formation_docs,
    formation_json,
    kinds_published,
    leaves_of,
    sha256_hex,
    skb_component_codes,
    skd_entry_dict,
)
from exam_server.results.publication.files import (
    Inputs,
    inputs_from_files,
    read_publication,
    rebuild_files,
    skb_line_problems,
    write_publication,
)
from exam_server.results.publication.keys import (
    generate_key,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_fingerprint,
    public_key_pem,
    receipt_key_entry,
    receipt_keys_of,
)
from exam_server.results.publication.manifest import (
    Publication,
    build_files,
    build_manifest,
    publish,
)
from exam_server.results.publication.merkle import (
    MERKLE_ALGORITHM,
    PROOF_SCHEMA,
    ProofIndex,
    audit_path,
    leaf_hash,
    merkle_levels,
    merkle_root,
    node_hash,
    prove,
    root_from_path,
    verify_proof,
)
from exam_server.results.publication.verification import (
    VerifyReport,
    compare_files,
    recompute,
    verify_publication,
)

# Ed25519PrivateKey: callers have taken the key class from this module
# (tests/after_test/conftest.py); it stays given here.
__all__ = [
    "BREAKDOWN_SCHEMA",
    "FORMATION_SCHEMA",
    "KINDS_SCHEMA",
    "MANIFEST",
    "MANIFEST_SCHEMA",
    "MERKLE_ALGORITHM",
    "POLICY",
    "PROOF_SCHEMA",
    "PUBLIC_KEY",
    "SIGNATURE",
    "SITE_KEYS_SCHEMA",
    "STAGES",
    "Counts",
    "Ed25519PrivateKey",
    "ExamInfo",
    "Inputs",
    "ProofIndex",
    "Publication",
    "PublicationError",
    "VerifyReport",
    "announced_counts",
    "audit_path",
    "build_files",
    "build_manifest",
    "canonical_json",
    "compact_json",
    "compare_counts",
    "compare_files",
    "csv_has_breakdown",
    "final_entry_dict",
    "formation_counts",
    "formation_csv",
    "formation_docs",
    "formation_json",
    "generate_key",
    "inputs_from_files",
    "kinds_published",
    "leaf_hash",
    "leaves_of",
    "load_private_key",
    "load_public_key",
    "merkle_levels",
    "merkle_root",
    "node_hash",
    "private_key_pem",
    "prove",
    "public_key_fingerprint",
    "public_key_pem",
    "publish",
    "read_publication",
    "rebuild_files",
    "receipt_key_entry",
    "receipt_keys_of",
    "recompute",
    "root_from_path",
    "sha256_hex",
    "skb_component_codes",
    "skb_line_problems",
    "skd_entry_dict",
    "verify_proof",
    "verify_publication",
    "write_publication",
]
