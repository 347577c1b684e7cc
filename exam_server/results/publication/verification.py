"""Checking a publication offline (:func:`verify_publication`: signature, file
hashes, CSV = JSON, Merkle root, the SKB lines' range and plans, counts, the
rules re-applied) and against
source records (:func:`recompute`, :func:`compare_files`)."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from exam_server.results.integration import integrate, optimise
from exam_server.results.outcomes import CandidateOutcome, Formation
from exam_server.results.publication.counts import (
    Counts,
    announced_counts,
    compare_counts,
    formation_counts,
)
from exam_server.results.publication.documents import (
    MANIFEST,
    POLICY,
    PUBLIC_KEY,
    SIGNATURE,
    ExamInfo,
    PublicationError,
    csv_has_breakdown,
    formation_csv,
    formation_docs,
    kinds_published,
    leaves_of,
    sha256_hex,
)
from exam_server.results.publication.files import (
    inputs_from_files,
    rebuild_files,
    skb_line_problems,
)
from exam_server.results.publication.keys import load_public_key, public_key_fingerprint
from exam_server.results.publication.manifest import build_files
from exam_server.results.publication.merkle import leaf_hash, merkle_levels, merkle_root
from exam_server.results.ranking import rank_skd
from exam_server.results.rules import fmt


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
        except KeyError:
            rep.problems.append(
                f"{PUBLIC_KEY}: missing, so there is no key to check the signature with "
                "(give the announced key)"
            )
        except PublicationError as exc:
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
    # The SKB lines: scores within range, one plan of components per formation.
    skb_bad = skb_line_problems(policy, docs, kinds=kinds_published(manifest))
    rep.problems.extend(skb_bad)
    if skb is not None and not skb_bad:
        rep.checks.append(
            "every published SKB score is within 0–"
            f"{fmt(policy.skb_max_points)}, and every formation's lines carry the same SKB "
            "components (weights, minimums)"
            + (
                ", whose kinds and weights obey the policy's SKB caps"
                if kinds_published(manifest)
                else ""
            )
        )
    rule_bad = 0
    try:
        skd = rank_skd(policy, formations, outcomes)
    except ValueError as exc:
        rep.problems.append(f"re-applying the rules to the SKD scores failed: {exc}")
        return rep
    rebuilt = build_files(exam, policy, skd, with_csv=False)
    if skb is not None and skb_bad:
        rule_bad += 1  # the final lists are not re-ranked from SKB lines that break the rules
    elif skb is not None:
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
