"""The public results pages over a written publication (Starlette test client)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from exam_server.results import publication as pub
from exam_server.results.pages import routes
from tests.results.results_cases import build, outcomes, receipt_code


@pytest.fixture(scope="module")
def pub_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("publication")
    pub.write_publication(d, build().files)
    return d


@pytest.fixture(scope="module")
def client(pub_dir: Path) -> TestClient:
    return TestClient(Starlette(routes=routes(pub_dir)))


def test_index_lists_formations_and_shows_root_and_the_fingerprint_to_compare(
    client: TestClient, pub_dir: Path
) -> None:
    r = client.get("/results/")
    assert r.status_code == 200
    manifest = json.loads((pub_dir / "manifest.json").read_text())
    root = manifest["merkle"]["root"]
    assert f'id="merkle-root">{root}<' in r.text
    fp = manifest["signature"]["public_key_sha256"]
    grouped = " ".join(fp[i : i + 4] for i in range(0, 64, 4))
    assert f'id="key-fingerprint">{grouped}<' in r.text
    assert "Bandingkan sidik ini dengan sidik kunci yang diumumkan instansi" in r.text
    assert "Formasi" in r.text
    assert "/results/formation/skd/FA" in r.text and "/results/formation/final/FB" in r.text
    en = client.get("/results/?lang=en")
    assert "Compare this fingerprint with the key fingerprint the agency announced" in en.text
    assert 'lang="en"' in en.text


def test_the_page_never_says_verified_on_the_servers_word_alone(client: TestClient) -> None:
    # A forgery re-signed with another key is consistent with itself: what the server
    # checked is shown as its own statement, never as a green "verified".
    for url in ("/results/", "/results/formation/skd/FA", "/results/search?regno=A1"):
        page = client.get(url).text
        assert "Terverifikasi" not in page and 'class="card ok"' not in page
        assert "Pemeriksaan oleh server ini" in page and "Ini belum bukti bagi Anda" in page
    en = client.get("/results/?lang=en").text
    assert "Verified" not in en and "That is not proof for you" in en


def test_index_explains_in_indonesian_first_how_to_check_without_the_server(
    client: TestClient,
) -> None:
    r = client.get("/results/")
    assert "Cara memeriksa tanpa mempercayai server ini" in r.text
    assert "Ambil sidik kunci penanda tangan dari pengumuman resmi instansi" in r.text
    assert 'href="http://testserver/results/verifier.html" download=' in r.text
    en = client.get("/results/?lang=en")
    assert "How to check without trusting this server" in en.text


def test_the_verifier_is_one_file_that_loads_nothing(client: TestClient) -> None:
    r = client.get("/results/verifier.html")
    assert r.status_code == 200
    assert "default-src 'none'" in r.headers["content-security-policy"]
    page = r.text
    # The same policy inside the file, so the saved copy keeps it offline.
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "SKD-2024-T" in page  # the exam it was downloaded for
    for external in ("src=", "<link", "@import", "url(", "http://", "https://"):
        assert external not in page, external


def test_formation_page_explains_every_code_in_both_languages(client: TestClient) -> None:
    r = client.get("/results/formation/skd/FA")
    assert r.status_code == 200
    for code, text in [
        ("P/L", "lanjut ke SKB"),
        ("TL", "Tidak memenuhi nilai ambang batas"),
        ("TH", "Tidak hadir"),
        ("DIS", "Diskualifikasi"),
    ]:
        assert f">{code}<" in r.text and text in r.text
    assert "tidak memenuhi nilai ambang batas kategori umum: TWK 60 &lt; 65" in r.text
    en = client.get("/results/formation/skd/FA?lang=en")
    assert "below the passing grade for general: TWK 60 &lt; 65" in en.text
    assert "What the codes mean" in en.text and "window.print()" in en.text
    assert "@media print" in en.text


def test_search_by_registration_number(client: TestClient) -> None:
    r = client.get("/results/search", params={"regno": "A4", "lang": "en"})
    assert r.status_code == 200
    # A4: P in FA's SKD, appointed by optimisation in FB's final list.
    assert "Formation <a" in r.text and ">FA</a>" in r.text
    assert ">P/L-O</span>" in r.text and "from formation FA" in r.text
    assert "/results/proof/A4" in r.text
    missing = client.get("/results/search", params={"regno": "ZZZ"})
    assert "Nomor peserta tidak ditemukan" in missing.text


def test_proof_endpoint_gives_proofs_that_verify(client: TestClient) -> None:
    root = client.get("/results/files/manifest.json").json()["merkle"]["root"]
    proofs = client.get("/results/proof/A2").json()["proofs"]
    assert len(proofs) == 2 and all(pub.verify_proof(p, root) for p in proofs)
    assert client.get("/results/proof/nobody").status_code == 404


def test_csv_export_is_the_published_file(client: TestClient, pub_dir: Path) -> None:
    r = client.get("/results/files/skd/FA.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content == (pub_dir / "skd" / "FA.csv").read_bytes()
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["registration_number"]: row["code"] for row in rows}["A4"] == "P"


@pytest.mark.parametrize(
    "path",
    ["/results/files/../manifest.json", "/results/files/%2e%2e/etc/passwd", "/results/files/x"],
)
def test_only_published_files_are_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_unknown_formation_is_404(client: TestClient) -> None:
    assert client.get("/results/formation/skd/NOPE").status_code == 404


def test_pages_follow_the_app_state_directory_and_reload(tmp_path: Path) -> None:
    app = Starlette(routes=routes())
    c = TestClient(app)
    assert c.get("/results/").status_code == 404  # nothing published yet
    app.state.results_publication_dir = str(tmp_path)
    assert "Belum ada publikasi" in c.get("/results/").text
    pub.write_publication(tmp_path, build(final=False).files)
    r = c.get("/results/")
    assert r.status_code == 200 and "/results/formation/final/" not in r.text
    pub.write_publication(tmp_path, build().files)
    assert "/results/formation/final/FA" in c.get("/results/").text


def test_a_tampered_publication_is_flagged_on_the_page(tmp_path: Path) -> None:
    pub.write_publication(tmp_path, build().files)
    p = tmp_path / "skd" / "FA.csv"
    p.write_bytes(p.read_bytes().replace(b",P,", b",P/L,", 1))
    c = TestClient(Starlette(routes=routes(tmp_path)))
    r = c.get("/results/?lang=en")
    assert "WARNING: this publication does not verify" in r.text
    assert 'class="card bad"' in r.text
    assert "skd/FA.csv: SHA-256 differs" in r.text


def test_a_receipt_is_held_against_the_published_line(tmp_path: Path) -> None:
    pub.write_publication(tmp_path, build(receipt_keys=True).files)
    c = TestClient(Starlette(routes=routes(tmp_path)))
    r = c.post("/results/receipt", data={"receipt": receipt_code()})
    assert r.status_code == 200
    assert "COCOK: baris A5 yang diumumkan sama dengan tanda terima Anda." in r.text
    # The server's word only: neutral, and pointing to the offline check.
    assert 'class="card info" id="receipt-finding"' in r.text
    changed = c.post("/results/receipt?lang=en", data={"receipt": receipt_code(TKP="210")})
    assert "DIFFERENT: the published line of A5 is not what your receipt says." in changed.text
    assert "TKP: published 200, receipt 210" in changed.text
    assert 'class="card bad" id="receipt-finding"' in changed.text
    bad = c.post("/results/receipt", data={"receipt": "SELEKSI-R1:ABC"})
    assert "TIDAK SAH" in bad.text
    assert c.post("/results/receipt", content=b"receipt=" + b"A" * 9000).status_code == 413


def test_a_receipt_is_not_held_against_a_publication_that_does_not_verify(
    tmp_path: Path,
) -> None:
    """Files changed after signing: the page says the receipt was not
    compared, never MATCHES (which would vouch for the changed files)."""
    pub.write_publication(tmp_path, build(receipt_keys=True).files)
    p = tmp_path / "skd" / "FA.csv"
    p.write_bytes(p.read_bytes().replace(b",P,", b",P/L,", 1))
    c = TestClient(Starlette(routes=routes(tmp_path)))
    r = c.post("/results/receipt?lang=en", data={"receipt": receipt_code()})
    assert "NOT CHECKED: this publication does not verify" in r.text
    assert "MATCHES" not in r.text
    assert 'class="card bad" id="receipt-finding"' in r.text
    assert "skd/FA.csv: SHA-256 differs" in r.text


def test_a_deleted_line_shows_as_missing_against_its_receipt(tmp_path: Path) -> None:
    # Whoever holds the signing key publishes without A5 and re-signs.
    cands = [o for o in outcomes() if o.registration_number != "A5"]
    pub.write_publication(tmp_path, build(cands, receipt_keys=True).files)
    c = TestClient(Starlette(routes=routes(tmp_path)))
    r = c.post("/results/receipt", data={"receipt": receipt_code()})
    assert "TIDAK ADA: A5 tidak tercantum dalam publikasi" in r.text
    assert 'class="card bad" id="receipt-finding"' in r.text
