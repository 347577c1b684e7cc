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
    seleksi results prove REGNO --publication DIR [--out FILE]
                          [--receipt CODE|FILE [--public-key PEM]]
    seleksi results check-proof PROOF --root HEX
    seleksi results serve DIR [--host H] [--port P]

``verify`` exits 0 when every check passes and 1 otherwise, listing each
problem; a ``public_key.pem`` inside the publication that is not the announced
key also exits 1 unless ``--accept-wrong-key-copy`` is given. ``prove`` with a
receipt first verifies the publication as ``verify`` does (signature, hashes,
rules) and exits 3 without a finding when it does not; else it exits 0 only
when the published line matches the receipt, 1 otherwise. See
``docs/results.md``.

The command lives in this package: :func:`register` (here) builds its parser,
and each action is in the module named for what it does: :mod:`.sources`
(what the actions read: files, the source, the ranking policy), :mod:`.keys`
(``keygen``, signing and receipt keys), :mod:`.publishing` (``export``,
``publish``, ``counts``), :mod:`.checking` (``verify``, ``prove``,
``check-proof``) and :mod:`.serving` (``serve``). Every module imports its
heavy dependencies inside the action that needs them, so ``seleksi results
verify`` stays free of the database and web stacks.
"""

from __future__ import annotations

import argparse
from typing import Any

from seleksi.cli import examples
from seleksi.commands.results.checking import _check_proof, _prove, _verify
from seleksi.commands.results.keys import _keygen
from seleksi.commands.results.publishing import _counts, _export, _publish
from seleksi.commands.results.serving import _serve


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
        "with --receipt, verify the publication and say whether the published line matches "
        "the candidate's signed receipt.",
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
        help="the candidate's signed receipt (its text code, or a file holding it): verifies "
        "the publication first (exit 3 if it does not verify), then says whether the published "
        "line matches it (exit 0), differs from it, or is missing (exit 1)",
    )
    pr.add_argument(
        "--public-key",
        metavar="PEM",
        help="with --receipt: the announced public key (PEM) the publication is verified "
        "against; default: the copy inside",
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
