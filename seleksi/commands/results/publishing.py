"""``seleksi results export``, ``publish`` and ``counts``: from the source to
the ranking input document, the signed publication, and the candidate counts
to announce before publishing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from seleksi.cli import CommandError
from seleksi.commands.results.keys import _key, _receipt_keys
from seleksi.commands.results.sources import _load_source, _policy_for, _read
from seleksi.outputs import check_output, write_output


def _export(args: argparse.Namespace) -> int:
    from exam_server.results.inputs import dump_input

    check_output(args.out, "--out")
    source = _load_source(args)
    assert source is not None
    exam, formations, outcomes = source
    write_output(args.out, dump_input(exam, formations, outcomes))
    print(f"{args.out}: {len(outcomes)} candidates, {len(formations)} formations")
    return 0


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
