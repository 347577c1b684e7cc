"""``seleksi results``: rank, publish, verify and prove an exam's results.

    seleksi results keygen --out DIR
    seleksi results export --db URL --exam CODE --out input.json
    seleksi results publish (--db URL --exam CODE | --input FILE) --key KEY --out DIR
                            [--policy FILE] [--skb CSV [--skb-missing-absent]] [--optimise]
                            [--published-at TEXT] [--title TEXT]
                            [--receipt-key PEM ...]
    seleksi results verify DIR [--public-key PEM] [--announced-counts FILE]
                           [--accept-wrong-key-copy] [--db URL --exam CODE | --input FILE]
    seleksi results counts (DIR | --db URL --exam CODE | --input FILE) [--policy FILE]
    seleksi results prove REGNO --publication DIR [--out FILE] [--receipt CODE|FILE]
    seleksi results check-proof PROOF --root HEX
    seleksi results serve DIR [--host H] [--port P]

``verify`` exits 0 when every check passes and 1 otherwise, listing each
problem; a ``public_key.pem`` inside the publication that is not the announced
key also exits 1 unless ``--accept-wrong-key-copy`` is given. ``prove`` with a
receipt exits 0 only when the published line matches the receipt. See
``docs/results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from seleksi.cli import CommandError, examples
from seleksi.outputs import check_output, write_output


def register(sub: Any) -> None:
    p = sub.add_parser(
        "results",
        help="rank per formation, publish signed results, verify and prove them",
        description="Rank the candidates of an exam per formation under its ranking policy, "
        "publish the ranking signed (Ed25519) with a Merkle root over every line, and let "
        "anyone verify the publication, prove one candidate's line, or check a receipt. "
        "The exam's data come from the database (--db, with --exam) or from an input "
        "document (--input). See docs/results.md.",
        epilog=examples(
            "seleksi results keygen --out keys/",
            "seleksi results publish --exam SKD-DEMO --key keys/results-signing.key "
            "--out seleksi-data/results --published-at 2025-01-31",
            "seleksi results verify seleksi-data/results --public-key keys/results-signing.pub",
        ),
    )
    rsub = p.add_subparsers(dest="results_command", metavar="ACTION")
    rsub.required = True

    k = rsub.add_parser(
        "keygen",
        help="make an Ed25519 key pair for signing publications",
        description="Make the key pair that signs publications: results-signing.key "
        "(private, written readable by its owner only) and results-signing.pub (announce "
        "it, and its fingerprint, before publishing).",
        epilog=examples("seleksi results keygen --out keys/"),
    )
    k.add_argument(
        "--out", required=True, metavar="DIR", help="folder for results-signing.key/.pub"
    )
    k.add_argument("--force", action="store_true", help="overwrite an existing key")
    k.set_defaults(func=_keygen)

    e = rsub.add_parser(
        "export",
        help="write the ranking input document from the database",
        description="Write an exam's ranking input (candidates, formations, scores and the "
        "exam's stored policy) as one JSON document, which publish, verify and counts take "
        "with --input, away from the database.",
        epilog=examples("seleksi results export --exam SKD-DEMO --out input.json"),
    )
    _source_args(e, required=True)
    e.add_argument("--out", required=True, metavar="FILE", help="input JSON file to write")
    e.set_defaults(func=_export)

    pub = rsub.add_parser(
        "publish",
        help="rank and write a signed publication",
        description="Rank per formation under the exam's stored ranking policy (and, with "
        "--skb, integrate the SKB scores) and write the signed publication: a folder of "
        "JSON/CSV files, manifest.json and manifest.sig, which `seleksi serve` shows at "
        "/results/ when it is the server's results folder.",
        epilog=examples(
            "seleksi results publish --exam SKD-DEMO --key keys/results-signing.key "
            "--out seleksi-data/results --published-at 2025-01-31",
            "seleksi results publish --input input.json --skb skb.csv "
            "--key keys/results-signing.key --out final/",
        ),
    )
    _source_args(pub, required=True)
    pub.add_argument(
        "--key",
        required=True,
        metavar="PEM",
        help="Ed25519 private key (PEM): the results-signing.key from keygen",
    )
    pub.add_argument("--out", required=True, metavar="DIR", help="publication folder to write")
    pub.add_argument(
        "--policy",
        help="ranking policy JSON: must be the one the exam stores (--db); for --input "
        "without a stored policy it is the policy (default: the 2024 rules)",
    )
    pub.add_argument("--skb", help="SKB scores CSV: registration_number,skb[,status,note]")
    pub.add_argument(
        "--skb-missing-absent",
        action="store_true",
        help="treat candidates called to SKB but missing from the CSV as absent",
    )
    pub.add_argument("--optimise", action="store_true", help="fill vacant openings (needs --skb)")
    pub.add_argument(
        "--published-at",
        help="announcement date/time printed in the manifest (the clock is never read, "
        "so a recomputation gives the same bytes); default: the input's, else required",
    )
    pub.add_argument("--title", help="exam title (default: the exam's name)")
    pub.add_argument(
        "--receipt-key",
        action="append",
        default=[],
        metavar="PEM|LIST",
        help="public key that signed candidates' receipts, listed in the manifest so a receipt "
        "is checked with nothing from the server (repeat for several keys); or the server's "
        "receipt key list (….receipt-keys.json beside its checkpoint key: current and retired "
        "keys with their periods)",
    )
    pub.set_defaults(func=_publish)

    v = rsub.add_parser(
        "verify",
        help="check a publication offline",
        description="Check a publication with nothing from the server: the signature over "
        "the manifest, every file's digest, the Merkle root, the ranking rules applied to "
        "every formation, and (with a source) that recomputing from the data gives the same "
        "bytes. Exits 0 only when every check passes.",
        epilog=examples(
            "seleksi results verify published/ --public-key results-signing.pub",
            "seleksi results verify published/ --public-key results-signing.pub "
            "--announced-counts counts.json --input input.json",
        ),
    )
    v.add_argument("publication", metavar="DIR", help="publication folder")
    v.add_argument(
        "--public-key",
        metavar="PEM",
        help="the announced public key (PEM); default: the copy inside",
    )
    v.add_argument(
        "--announced-counts",
        metavar="FILE",
        help="candidate counts announced earlier (from `seleksi results counts`, or an earlier "
        "manifest.json): a formation whose counts differ fails verification",
    )
    v.add_argument(
        "--accept-wrong-key-copy",
        action="store_true",
        help="exit 0 even when public_key.pem inside the publication is not the announced key "
        "(the warning is still printed)",
    )
    _source_args(v, required=False)
    v.set_defaults(func=_verify)

    n = rsub.add_parser(
        "counts",
        help="candidates per formation and result code, to announce before publishing",
        description="Count the candidates per formation and result code, from a publication "
        "or from the source. Announced before the publication, the counts let anyone see a "
        "candidate removed by someone holding the signing key (verify --announced-counts).",
        epilog=examples(
            "seleksi results counts --exam SKD-DEMO --out counts.json",
            "seleksi results counts published/",
        ),
    )
    n.add_argument(
        "publication", nargs="?", metavar="DIR", help="publication folder (else give a source)"
    )
    n.add_argument(
        "--policy",
        help="ranking policy JSON for a source (must match a stored one; default: the 2024 rules)",
    )
    n.add_argument(
        "--out", metavar="FILE", help="write the counts JSON here (default: standard output)"
    )
    _source_args(n, required=False)
    n.set_defaults(func=_counts)

    pr = rsub.add_parser(
        "prove",
        help="inclusion proof of one candidate's entries",
        description="Write the Merkle inclusion proof of one candidate's lines in a "
        "publication (check it with check-proof against the root on the public page), or, "
        "with --receipt, say whether the published line matches the candidate's signed "
        "receipt.",
        epilog=examples(
            "seleksi results prove 2025000123 --publication published/ --out proof.json",
            "seleksi results prove 2025000123 --publication published/ --receipt receipt.txt",
        ),
    )
    pr.add_argument(
        "registration_number", metavar="REGISTRATION_NUMBER", help="the candidate's number"
    )
    pr.add_argument("--publication", required=True, metavar="DIR", help="publication folder")
    pr.add_argument(
        "--out", metavar="FILE", help="write the proof JSON here (default: standard output)"
    )
    pr.add_argument(
        "--receipt",
        metavar="CODE|FILE",
        help="the candidate's signed receipt (its text code, or a file holding it): says "
        "whether the published line matches it, differs from it, or is missing",
    )
    pr.set_defaults(func=_prove)

    sv = rsub.add_parser(
        "serve",
        help="serve the public results pages of a publication",
        description="Serve a publication's public pages (/results/) on their own, without "
        "the exam server, until stopped (Ctrl+C).",
        epilog=examples("seleksi results serve published/ --port 8080"),
    )
    sv.add_argument("publication", metavar="DIR", help="publication folder")
    sv.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address to listen on (default 127.0.0.1)",
    )
    sv.add_argument("--port", type=int, default=8080, metavar="PORT", help="port (default 8080)")
    sv.set_defaults(func=_serve)

    c = rsub.add_parser(
        "check-proof",
        help="check an inclusion proof against a Merkle root",
        description="Check a proof from `seleksi results prove` against the Merkle root "
        "printed on the public page (exit 0: the lines are in that publication).",
        epilog=examples("seleksi results check-proof proof.json --root 3f5a…"),
    )
    c.add_argument("proof", metavar="PROOF.json", help="proof JSON file from `prove`")
    c.add_argument(
        "--root", required=True, metavar="HEX", help="the Merkle root printed on the public page"
    )
    c.set_defaults(func=_check_proof)


def _source_args(p: argparse.ArgumentParser, *, required: bool) -> None:
    from seleksi.database import add_db_argument

    g = p.add_argument_group("source (the database with --exam, or an input document)")
    add_db_argument(g)
    g.add_argument("--exam", metavar="CODE", help="exam code in the database")
    g.add_argument(
        "--input", metavar="FILE", help="input document JSON (from export; docs/results.md)"
    )
    p.set_defaults(_source_required=required)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror}") from None


def _load_source(args: argparse.Namespace) -> tuple[dict[str, Any], list[Any], list[Any]] | None:
    from exam_server.results.inputs import InputError, load_input

    if args.input and (args.db or args.exam):
        raise CommandError("give either --input or --db with --exam, not both")
    if args.input:
        try:
            return load_input(_read(args.input).decode("utf-8"))
        except (InputError, UnicodeDecodeError) as exc:
            raise CommandError(f"{args.input}: {exc}") from None
    if args.db or args.exam:
        if not args.exam:
            raise CommandError("--db needs --exam CODE (the exam to rank)")
        from exam_server.results.from_db import (
            SourceError,
            exam_document,
            load_outcomes,
            read_engine,
        )
        from seleksi.database import require_database, url_of

        url = url_of(args.db)
        require_database(url)  # reading never creates the database
        engine = read_engine(url)
        try:
            exam = exam_document(engine, args.exam)
            formations, outcomes = load_outcomes(engine, args.exam)
        except SourceError as exc:
            raise CommandError(str(exc)) from None
        finally:
            engine.dispose()
        return exam, formations, outcomes
    if args._source_required:
        raise CommandError("give the source: --db URL --exam CODE, or --input FILE")
    return None


def _keygen(args: argparse.Namespace) -> int:
    from exam_server.results.publication import generate_key, private_key_pem, public_key_pem

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    key_path, pub_path = out / "results-signing.key", out / "results-signing.pub"
    if key_path.exists() and not args.force:
        raise CommandError(f"{key_path} exists; use --force to replace it")
    key = generate_key()
    # The private key is written readable by its owner only.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_key_pem(key))
    pub_path.write_bytes(public_key_pem(key.public_key()))
    from exam_server.results.publication import public_key_fingerprint

    print(f"private key: {key_path} (keep it secret)")
    print(f"public key:  {pub_path} (announce it)")
    print(f"fingerprint: {public_key_fingerprint(key.public_key())}")
    return 0


def _key(path: str, private: bool) -> Any:
    """The Ed25519 key in the PEM file ``path`` (private or public), or one line saying
    what the file is instead."""
    from exam_server.results import publication as pubm

    pem = _read(path)
    try:
        return pubm.load_private_key(pem) if private else pubm.load_public_key(pem)
    except pubm.PublicationError:
        pass
    if private and b"PUBLIC KEY" in pem:
        found = "a public key (give the private results-signing.key from keygen)"
    elif not private and b"PRIVATE KEY" in pem:
        found = "a private key (give the public .pub file; never hand out the private key)"
    else:
        found = "not an Ed25519 key in PEM"
    raise CommandError(f"{path}: {found}")


def _receipt_keys(path: str) -> list[Any]:
    """The receipt keys in ``path``: a key list (JSON) or one public key (PEM)."""
    from exam_server import receipts

    data = _read(path)
    if not data.lstrip().startswith(b"{"):
        return [_key(path, private=False)]
    try:
        return receipts.parse_key_list(json.loads(data))
    except ValueError as exc:
        raise CommandError(f"{path}: {exc}") from None


def _export(args: argparse.Namespace) -> int:
    from exam_server.results.inputs import dump_input

    check_output(args.out, "--out")
    source = _load_source(args)
    assert source is not None
    exam, formations, outcomes = source
    write_output(args.out, dump_input(exam, formations, outcomes))
    print(f"{args.out}: {len(outcomes)} candidates, {len(formations)} formations")
    return 0


def _policy_for(args: argparse.Namespace, exam_doc: dict[str, Any]) -> Any:
    """The ranking policy to rank with: the one the exam stores (its candidates
    were judged by it on the terminal); ``--policy`` must then be that same
    document, and is refused otherwise. Without a stored one (an input file
    that carries none): ``--policy``, else the 2024 rules."""
    from exam_server.results.rules import PolicyError, RankingPolicy

    try:
        given = RankingPolicy.from_json(_read(args.policy).decode("utf-8")) if args.policy else None
        stored = exam_doc.get("policy")
        own = None if stored is None else RankingPolicy.from_dict(stored)
    except PolicyError as exc:
        raise CommandError(f"{args.policy or 'the exam policy'}: {exc}") from None
    if own is None:
        return given or RankingPolicy.default_2024()
    if given is not None and given.to_json() != own.to_json():
        raise CommandError(
            f"--policy {args.policy} (version {given.version}) is not the ranking policy exam "
            f"{exam_doc['id']} stores (version {own.version}), under which its candidates were "
            "judged on the terminal: leave --policy out, or change the exam's policy before "
            "any of its sessions opens"
        )
    return own


def _publish(args: argparse.Namespace) -> int:
    from exam_server.results import publication as pubm
    from exam_server.results.integration import SkbImportError, integrate, optimise, parse_skb_csv
    from exam_server.results.ranking import rank_skd

    key = _key(args.key, private=True)  # a wrong key file is said before any work
    source = _load_source(args)
    assert source is not None
    exam_doc, formations, outcomes = source
    policy = _policy_for(args, exam_doc)
    published_at = args.published_at or exam_doc.get("published_at")
    if not published_at:
        raise CommandError("give --published-at (the announcement date shown in the manifest)")
    exam = pubm.ExamInfo(
        id=str(exam_doc["id"]),
        title=args.title or str(exam_doc.get("title") or exam_doc["id"]),
        published_at=str(published_at),
    )
    if args.optimise and not args.skb:
        raise CommandError("--optimise needs --skb: optimisation fills openings left after SKB")
    try:
        skd = rank_skd(policy, formations, outcomes)
        final = None
        if args.skb:
            skb = parse_skb_csv(_read(args.skb).decode("utf-8-sig"), policy)
            final = integrate(policy, skd, skb, missing_is_absent=args.skb_missing_absent)
            if args.optimise:
                final = optimise(policy, skd, final)
    except SkbImportError as exc:
        raise CommandError(f"{args.skb}: {exc}") from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    receipt_keys = [rk for k in args.receipt_key for rk in _receipt_keys(k)]
    if args.db:
        # From the database: with the keys registered for the sites holding the
        # exam's sessions, each limited to its site's candidates (docs/sites.md).
        from exam_server.results.from_db import read_engine
        from exam_server.sites.receipt_keys import receipt_keys_on
        from seleksi.database import url_of

        engine = read_engine(url_of(args.db))
        try:
            receipt_keys = receipt_keys_on(engine, receipt_keys, exam.id)
        finally:
            engine.dispose()
    publication = pubm.publish(exam, policy, skd, key, final, receipt_keys=receipt_keys)
    pubm.write_publication(args.out, publication.files)
    m = publication.manifest
    print(
        f"published {exam.id} to {args.out}: {len(outcomes)} candidates, "
        f"{len(formations)} formations, {m['merkle']['leaves']} entries"
    )
    print(f"merkle root: {publication.root}")
    print(f"signed by:   {m['signature']['public_key_sha256']}")
    for rk in [*m["receipt_keys"], *m.get("site_receipt_keys", [])]:
        ends = (rk.get("valid_from", ""), rk.get("valid_until", ""))
        period = f" (in use {ends[0] or '…'} – {ends[1] or '…'})" if any(ends) else ""
        if rk.get("site"):
            until = rk.get("until_checkpoint")
            lines = f"checkpoints {rk['from_checkpoint']}–{'…' if until is None else until - 1}"
            n = sum(len(r) for r in rk["sessions"].values())
            period = f" site {rk['site']}, {lines}, {n} candidates{period}"
        print(f"receipt key: {rk['sha256']}{period}")
    return 0


def _json_file(path: str) -> Any:
    try:
        return json.loads(_read(path).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: not JSON ({exc})") from None


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


def _counts(args: argparse.Namespace) -> int:
    from exam_server.results import publication as pubm
    from exam_server.results.ranking import rank_skd

    source = _load_source(args)
    if (source is None) == (not args.publication):  # an empty DIR is no directory
        raise CommandError("give a publication directory, or a source (--db/--exam or --input)")
    if args.publication:
        try:
            files = pubm.read_publication(args.publication)
            counts = json.loads(files[pubm.MANIFEST])["counts"]
        except pubm.PublicationError as exc:
            raise CommandError(str(exc)) from None
        except KeyError:
            raise CommandError(f"{args.publication}: the manifest has no counts") from None
    else:
        assert source is not None
        exam_doc, formations, outcomes = source
        policy = _policy_for(args, exam_doc)
        try:
            skd = rank_skd(policy, formations, outcomes)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        files = pubm.build_files(
            pubm.ExamInfo(str(exam_doc["id"]), "", ""), policy, skd, with_csv=False
        )
        counts = pubm.formation_counts(policy, pubm.formation_docs(files))
    text = pubm.canonical_json(counts).decode("utf-8")
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{args.out}: counts of {sum(len(f) for f in counts.values())} listing(s)")
    else:
        sys.stdout.write(text)
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
    proofs = doc.get("proofs", [doc]) if isinstance(doc, dict) else []
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


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import RedirectResponse
    from starlette.routing import Route

    from exam_server.results import publication as pubm
    from exam_server.results.pages import routes

    if not (Path(args.publication) / pubm.MANIFEST).is_file():
        raise CommandError(f"{args.publication}: no {pubm.MANIFEST}; is this a publication?")

    async def home(_request: Any) -> RedirectResponse:
        return RedirectResponse("/results/")

    app = Starlette(routes=[Route("/", home), *routes(args.publication)])
    print(f"results pages: http://{args.host}:{args.port}/results/")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
