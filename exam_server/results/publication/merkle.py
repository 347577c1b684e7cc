"""The Merkle tree over a publication's entries (RFC 6962/9162) and inclusion proofs.

Leaf and node hashes, the levels and audit paths; :class:`ProofIndex` and
:func:`prove` give a candidate's inclusion proofs, :func:`verify_proof` checks
one with nothing but ``hashlib``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exam_server.results.publication.documents import (
    MANIFEST,
    _leaf,
    compact_json,
    formation_docs,
    sha256_hex,
)

PROOF_SCHEMA = "seleksi/inclusion-proof/1"
MERKLE_ALGORITHM = "RFC 6962 SHA-256 (leaf 0x00, node 0x01) over canonical compact JSON entries"


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
    except (KeyError, ValueError, TypeError, OverflowError):  # OverflowError: int(inf)
        return False
    return got is not None and got.hex() == want.lower()
