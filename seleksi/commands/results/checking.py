"""``seleksi results verify``, ``prove`` and ``check-proof``: checking a
publication offline, one candidate's inclusion proof, a receipt held against
the published line (of a publication that verifies first), and a proof
against a Merkle root.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from seleksi.cli import CommandError
from seleksi.commands.results.keys import _key
from seleksi.commands.results.sources import _json_file, _load_source, _read


def _verify(args: argparse.Namespace) -> int:
    from exam_server.results import publication as pubm

    try:
        files = pubm.read_publication(args.publication)
    except pubm.PublicationError as exc:
        raise CommandError(str(exc)) from None
    key = _key(args.public_key, private=False) if args.public_key else None
    announced = _json_file(args.announced_counts) if args.announced_counts else None
    report = pubm.verify_publication(files, key, announced=announced)
    source = _load_source(args)
    if source is not None:
        _, formations, outcomes = source
        diffs = pubm.recompute(files, formations, outcomes)
        if diffs:
            report.problems.extend(f"source: {d}" for d in diffs)
        else:
            report.checks.append(
                f"recomputing from the source reproduces the publication byte for byte "
                f"({len(outcomes)} candidates)"
            )
    for c in report.checks:
        print(f"ok    {c}")
    for p in report.problems:
        print(f"FAIL  {p}")
    for w in report.warnings:
        print(f"WARNING  {w}")
    print(f"key: {report.key_fingerprint or '?'} ({report.key_source})")
    if not args.public_key:
        print("note: no --public-key given; compare this fingerprint with the announced one")
    if not args.announced_counts:
        print(
            "note: no --announced-counts given; a candidate deleted by someone holding the "
            "signing key shows only against counts announced earlier (or a candidate's receipt)"
        )
    print(f"merkle root: {report.root}")
    if not report.ok:
        print(f"NOT VERIFIED: {len(report.problems)} problem(s)")
        return 1
    if report.warnings:
        if args.accept_wrong_key_copy:
            print("VERIFIED against the announced key (the copy's warning accepted)")
            return 0
        print(
            "VERIFIED against the announced key, but with a WARNING about the copy "
            "(exit 1; --accept-wrong-key-copy to exit 0)"
        )
        return 1
    print("VERIFIED")
    return 0


def _prove(args: argparse.Namespace) -> int:
    from exam_server.results import publication as pubm

    try:
        files = pubm.read_publication(args.publication)
    except pubm.PublicationError as exc:
        raise CommandError(str(exc)) from None
    proofs = pubm.prove(files, args.registration_number)
    finding_ok = True
    if args.receipt:
        # A receipt is held against a publication that verifies, never against a
        # copy whose lines nobody signed: the same check as `results verify`.
        key = _key(args.public_key, private=False) if args.public_key else None
        report = pubm.verify_publication(files, key)
        if not report.ok:
            print(
                f"NOT VERIFIED: this copy of the publication does not verify "
                f"({report.problems[0]}{'; …' if len(report.problems) > 1 else ''}); "
                "no finding on the receipt. Run `seleksi results verify` for every problem."
            )
            return 3
        for w in report.warnings:
            print(f"WARNING  {w}")
        print(f"publication verified: signed by key {report.key_fingerprint} ({report.key_source})")
        if not args.public_key:
            print("note: no --public-key given; compare this fingerprint with the announced one")
        finding_ok = _check_receipt(files, args.receipt, args.registration_number)
    if not proofs:
        if args.receipt:
            return 1  # the receipt's finding (missing) is the answer
        raise CommandError(f"{args.registration_number}: not in this publication")
    text = json.dumps({"proofs": proofs}, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{args.out}: {len(proofs)} proof(s), root {proofs[0]['root']}")
    elif not args.receipt:
        sys.stdout.write(text)
    return 0 if finding_ok else 1


def _check_receipt(files: dict[str, bytes], receipt: str, regno: str) -> bool:
    """Print what the publication says against the receipt; True only if it matches."""
    from exam_server.results.receipt_check import check_receipt_text

    text = receipt
    if not receipt.strip().upper().startswith("SELEKSI-") and Path(receipt).is_file():
        text = _read(receipt).decode("utf-8", "replace")
    finding = check_receipt_text(files, text)
    if finding.outcome not in ("invalid", "other_exam") and finding.registration_number != regno:
        raise CommandError(f"the receipt is for {finding.registration_number}, not {regno}")
    print(finding.headline("id"))
    print(finding.headline("en"))
    for d in finding.details:
        print(f"  {d}")
    if finding.key_fingerprint:
        retired = ", retired since" if finding.key is not None and finding.key.retired else ""
        k = finding.key
        period = f", {'' if k.site else 'in use '}{k.period()}{retired}" if k is not None else ""
        print(
            f"receipt signed by: {finding.key_fingerprint} (listed in the signed manifest{period})"
        )
    if finding.outcome in ("missing", "differs"):
        print(
            "Keep the receipt code and this publication's manifest.json and manifest.sig: "
            "together they show the difference to anyone, without the server."
        )
    return finding.ok


def _check_proof(args: argparse.Namespace) -> int:
    from exam_server.results.publication import verify_proof

    try:
        doc = json.loads(_read(args.proof).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CommandError(f"{args.proof}: not JSON ({exc})") from None
    except RecursionError:
        raise CommandError(
            f"{args.proof}: not JSON (arrays or objects nested too deeply)"
        ) from None
    proofs = doc.get("proofs", [doc]) if isinstance(doc, dict) else []
    if not isinstance(proofs, list):
        raise CommandError(f"{args.proof}: field 'proofs': expected a list of proofs")
    if not proofs:
        raise CommandError(f"{args.proof}: no proof in it")
    ok = True
    for p in proofs:
        good = verify_proof(p, args.root)
        ok &= good
        leaf = p.get("leaf", "?") if isinstance(p, dict) else "?"
        print(f"{'ok  ' if good else 'FAIL'}  {leaf}")
    print("INCLUDED" if ok else "NOT PROVEN against this root")
    return 0 if ok else 1
