"""``seleksi after``: after the results (issue 20).

    seleksi after publish-version --exam CODE --key KEY --dir DIR --published-at DATE
    seleksi after policy --exam CODE [--set FILE]
    seleksi after receipt --exam CODE --number REGNO --by NAME --reason TEXT

``publish-version`` signs the appeals the agency accepted (and that no
version carries yet) as the next version of the publication in ``--dir``:
the corrections applied to the previous version's inputs, the rules
re-applied, the previous version kept inside the new one; ``seleksi results
verify DIR`` then checks the whole chain. ``policy`` prints the
exam's after-the-test policy (appeal window, survey, feedback, training
standard and catalogue) or stores a new one from a JSON file. ``receipt``
gives a candidate who lost the receipt of their finished sitting the same
proof again (signed with the server's checkpoint key, audited with who gave
it and why): the SKB page and the after-test pages take nothing else.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from seleksi.cli import CommandError, examples
from seleksi.database import add_db_argument, require_database, url_of


def register(sub: Any) -> None:
    p = sub.add_parser(
        "after",
        help="after the results: publish accepted appeals as a new version; the policy",
        description="After the results: sign accepted appeals of results as the "
        "publication's next version, and read or set an exam's after-the-test policy.",
        epilog=examples(
            "seleksi after publish-version --exam SKD-2024 --key keys/results-signing.key "
            "--dir results --published-at 2025-02-03",
            "seleksi after policy --exam SKD-2024 > policy.json",
        ),
    )
    asub = p.add_subparsers(dest="after_command", metavar="ACTION")
    asub.required = True
    v = asub.add_parser(
        "publish-version",
        help="sign accepted appeals as the publication's next version",
        description="Apply the accepted appeals that no version carries yet to the "
        "publication in --dir, re-apply the rules, sign the result as the next version "
        "(the previous one kept inside it) and write it there. Exits 0 also when there is "
        "nothing to publish (it says so).",
        epilog=examples(
            "seleksi after publish-version --exam SKD-2024 --key keys/results-signing.key "
            "--dir results --published-at 2025-02-03"
        ),
    )
    add_db_argument(v)
    v.add_argument("--exam", required=True, help="the exam's code")
    v.add_argument("--key", required=True, help="the results signing key (PEM), as for publish")
    v.add_argument("--dir", required=True, help="the publication directory to extend")
    v.add_argument("--published-at", required=True, help="the new version's date (YYYY-MM-DD)")
    v.set_defaults(func=publish_version)
    pol = asub.add_parser(
        "policy",
        help="print or set an exam's after-the-test policy (JSON)",
        description="Print the exam's after-the-test policy document, or store the one in "
        "--set FILE (checked first; a bad document names its field and nothing is stored).",
        epilog=examples("seleksi after policy --exam SKD-2024 --set policy.json"),
    )
    add_db_argument(pol)
    pol.add_argument("--exam", required=True, help="the exam's code")
    pol.add_argument("--set", metavar="FILE", help="a policy document to store")
    pol.set_defaults(func=policy)
    rc = asub.add_parser(
        "receipt",
        help="give a candidate the receipt of their finished sitting again (audited)",
        description="Sign again, with the server's checkpoint key, the receipt of the "
        "candidate's finished sitting of --exam, for a candidate who lost theirs; print "
        "its text code and short code. Recorded as a receipt_again audit event with "
        "--by and --reason. Check who is asking first: the receipt is the candidate's "
        "proof on the SKB page and the after-test pages. Applicants with an account "
        "see it themselves on /recruitment/me.",
        epilog=examples(
            "seleksi after receipt --exam SKD-2024 --number 2024000123 --by sari "
            "--reason 'lost at home; ID card checked at the desk'"
        ),
    )
    add_db_argument(rc)
    rc.add_argument("--exam", required=True, help="the exam's code")
    rc.add_argument("--number", required=True, help="the candidate's registration number")
    rc.add_argument(
        "--by", required=True, metavar="USERNAME", help="the staff account giving it (audited)"
    )
    rc.add_argument("--reason", required=True, help="why, and how the person was checked")
    rc.add_argument(
        "--checkpoint-key",
        metavar="FILE",
        help="the server's checkpoint key (default: SELEKSI_CHECKPOINT_KEY_PATH, else for "
        "SQLite DB.checkpoint-key.pem beside the database, for PostgreSQL "
        "seleksi-checkpoint-key.pem here); refused unless it is one of the server's "
        "receipt keys",
    )
    rc.set_defaults(func=receipt_again)


def publish_version(args: argparse.Namespace) -> int:
    from exam_server.after_test import service
    from exam_server.db import make_engine
    from exam_server.results import publication as pub

    url = url_of(args.db)
    require_database(url, tables=("after_appeal",))
    try:
        key = pub.load_private_key(Path(args.key).read_bytes())
    except (OSError, pub.PublicationError) as exc:
        raise CommandError(f"{args.key}: {exc}") from None
    engine = make_engine(url)
    try:
        new = service.publish_corrections(engine, args.exam, args.dir, key, args.published_at)
    except (pub.PublicationError, OSError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        engine.dispose()
    if new is None:
        print(f"{args.exam}: no accepted appeal waits for a new version")
        return 0
    v = new.manifest["version"]
    print(
        f"{args.exam}: version {v['number']} written to {args.dir} with "
        f"{len(v['corrections'])} correction(s), {len(v['changes'])} entries changed; "
        f"check it with: seleksi results verify {args.dir}"
    )
    return 0


def policy(args: argparse.Namespace) -> int:
    from after_test.policy import AfterTestPolicy, PolicyDocumentError
    from exam_server.after_test import store
    from exam_server.db import make_engine

    url = url_of(args.db)
    require_database(url, tables=("after_policy",))
    engine = make_engine(url)
    try:
        if args.set:
            try:
                doc = AfterTestPolicy.from_json(Path(args.set).read_text(encoding="utf-8"))
            except (OSError, PolicyDocumentError) as exc:
                raise CommandError(f"{args.set}: {exc}") from None
            store.set_policy(engine, args.exam, doc)
            print(f"{args.exam}: after-the-test policy {doc.version} stored")
        else:
            print(store.policy_of(engine, args.exam).to_json())
    finally:
        engine.dispose()
    return 0


def receipt_again(args: argparse.Namespace) -> int:
    import os

    from exam_server.checkpoints import paths_for
    from exam_server.checkpoints.keys import read_private_key
    from exam_server.db import make_engine
    from exam_server.receipts import held_keys
    from exam_server.receipts.again import give_again

    url = url_of(args.db)
    require_database(url, tables=("exam_attempt",))
    if not args.by.strip() or not args.reason.strip():
        raise CommandError("--by and --reason must not be empty: the event says who and why")
    # The server's key, as `seleksi serve` finds it (SELEKSI_CHECKPOINT_KEY_PATH,
    # else beside the database): the receipt must verify under its key list.
    server_path = paths_for(url, None, os.environ.get("SELEKSI_CHECKPOINT_KEY_PATH"))[1]
    path = Path(args.checkpoint_key) if args.checkpoint_key else server_path
    try:
        key = read_private_key(path)
        current = read_private_key(server_path).public_key() if server_path != path else None
    except (OSError, ValueError) as exc:
        raise CommandError(
            f"{exc}; the receipts are signed with the server's checkpoint key "
            "(--checkpoint-key FILE, or SELEKSI_CHECKPOINT_KEY_PATH as for seleksi serve)"
        ) from None
    keys = held_keys(server_path, current or key.public_key())
    engine = make_engine(url)
    try:
        found = give_again(engine, key, args.exam, args.number, args.by.strip(), args.reason, keys)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    finally:
        engine.dispose()
    if found is None:
        raise CommandError(
            f"{args.number} has no finished sitting of {args.exam} in this database "
            "(not finished, voided, absent, or sat at an exam site whose records have not "
            "arrived or not verified: see the centre page)"
        )
    print(f"{found.registration_number} · {found.exam} · session {found.session}")
    print(f"short code: {found.short}")
    print(found.code)
    return 0
