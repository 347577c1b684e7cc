"""Issue 13 item 7: the ranking rules, the publication verifier and receipt checking run
without the web or database stack, so an outsider can install and run the verifier alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

# Run in a fresh interpreter: this test process has long imported everything.
SCRIPT = textwrap.dedent(
    """
    import sys
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    import exam_server.results.rules, exam_server.results.ranking
    import exam_server.results.integration, exam_server.results.receipt_check
    from exam_server import receipts
    from exam_server.results import publication as pub
    from seleksi.cli import main
    from tests.results.results_cases import KEY, build

    out, key_file = sys.argv[1], sys.argv[2]
    rkey = Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))
    p = build()
    # The same publication, listing the receipt key, re-signed (as publish would).
    m = p.manifest
    m["receipt_keys"] = [pub.receipt_key_entry(rkey.public_key())]
    files = dict(p.files)
    files[pub.MANIFEST] = pub.canonical_json(m)
    import base64
    files[pub.SIGNATURE] = base64.b64encode(KEY.sign(files[pub.MANIFEST])) + b"\\n"
    pub.write_publication(out, files)
    open(key_file, "wb").write(pub.public_key_pem(KEY.public_key()))
    code = receipts.encode(receipts.sign_receipt(
        rkey, registration_number="A5", exam="SKD-2024-T", session="S1",
        scores={"TWK": "60", "TIU": "120", "TKP": "200"}, total="380", chain_head=""))

    assert main(["results", "verify", out, "--public-key", key_file]) == 0
    assert main(["results", "prove", "A5", "--publication", out, "--receipt", code]) == 0
    assert main(["results", "counts", out]) == 0
    heavy = [m for m in ("starlette", "sqlalchemy", "sqlmodel", "uvicorn") if m in sys.modules]
    print("HEAVY", heavy)
    """
)


def test_verify_and_prove_import_neither_starlette_nor_sqlalchemy(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "pub"), str(tmp_path / "key.pem")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "VERIFIED" in r.stdout and "COCOK" in r.stdout
    assert "HEAVY []" in r.stdout, r.stdout.splitlines()[-1]
