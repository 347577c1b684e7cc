"""Bad input on the recruitment pages, over HTTP: CSRF, validation messages in
both languages, malformed and oversize uploads, double submission, one NIK
per period, the four-eyes rule on needs, login back-off."""

from __future__ import annotations

import datetime as dt
import html
import re
import socket
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import Session, col

from exam_server.auth import hash_password
from exam_server.recruitment import service as svc
from exam_server.recruitment.demo import demo_nik, sample_pdf
from exam_server.results.publication import load_public_key
from recruitment import announcement as ann
from recruitment.models import RecDocument, RecRegistration
from recruitment.states import TransitionError
from tests.conftest import TEST_SCRYPT_N
from tests.recruitment.conftest import PASSWORDS, RecServer

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def _csrf(client: httpx.Client, path: str) -> str:
    r = client.get(path)
    m = CSRF.search(r.text)
    assert m is not None, r.text[:500]
    return m.group(1)


def _login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    token = _csrf(client, "/recruitment/login")
    return client.post(
        "/recruitment/login", data={"csrf": token, "email": email, "password": password}
    )


def test_forms_refuse_without_csrf(rec_server: RecServer) -> None:
    with httpx.Client(base_url=rec_server.url) as c:
        r = c.post("/recruitment/signup", data={"name": "x", "email": "x@contoh.id"})
        assert r.status_code == 403 and "Muat ulang" in r.text
        _csrf(c, "/recruitment/signup")  # a cookie, but a forged token
        r = c.post("/recruitment/signup", data={"csrf": "0" * 64, "name": "x"})
        assert r.status_code == 403


def test_signup_validation_in_both_languages(rec_server: RecServer) -> None:
    with httpx.Client(base_url=rec_server.url) as c:
        token = _csrf(c, "/recruitment/signup")
        data = {
            "csrf": token,
            "name": "",
            "email": "not-an-email",
            "password": "short",
            "password2": "x",
        }
        r = c.post("/recruitment/signup", data=data)
        assert r.status_code == 400
        assert "wajib diisi" in r.text and "alamat email tidak sah" in r.text
        # Each message is tied to its field for screen readers.
        assert (
            'id="email" type="email" name="email" aria-invalid="true" aria-describedby="err-email"'
            in r.text
        )
        r = c.post("/recruitment/signup?lang=en", data=data)
        assert "not a valid email address" in r.text and "at least 10 characters" in r.text


def _registered_client(rec: RecServer) -> tuple[httpx.Client, str]:
    """Ani (the demo's draft registration, every document uploaded), logged in."""
    c = httpx.Client(base_url=rec.url)
    r = _login(c, "ani@contoh.id", PASSWORDS["candidate"])
    assert r.status_code == 303, r.text
    return c, _csrf(c, "/recruitment/me")


def _docs(rec: RecServer) -> int:
    with Session(rec.handle.db) as s:
        return int(s.execute(select(func.count()).select_from(RecDocument)).scalar_one())


def test_uploads_malformed_and_oversize_store_nothing(rec_server: RecServer) -> None:
    c, token = _registered_client(rec_server)
    files_before = sorted(p.name for p in rec_server.config.store.root.rglob("*") if p.is_file())
    rows = _docs(rec_server)
    cases = [
        (b"%PDF-1.4 but cut short", "bukan PDF"),
        (sample_pdf() + b"\0" * (1024 * 1024), "melebihi batas 1024 KB"),
    ]
    for data, why in cases:
        r = c.post(
            "/recruitment/me/upload",
            data={"csrf": token, "kind": "ijazah"},
            files={"file": ("ijazah.pdf", data, "application/pdf")},
        )
        assert r.status_code == 409 and why in r.text
    r = c.post(
        "/recruitment/me/upload",
        data={"csrf": token, "kind": "ijazah"},
        content=b"--x\r\nbroken",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code in (400, 403)
    assert (
        sorted(p.name for p in rec_server.config.store.root.rglob("*") if p.is_file())
        == files_before
    )
    assert _docs(rec_server) == rows
    c.close()


def test_double_submit_is_idempotent(rec_server: RecServer) -> None:
    c, token = _registered_client(rec_server)
    first = c.post("/recruitment/me/submit", data={"csrf": token})
    second = c.post("/recruitment/me/submit", data={"csrf": token})
    assert first.status_code == second.status_code == 303
    period = svc.current_period(rec_server.handle.db)
    assert period is not None
    with Session(rec_server.handle.db) as s:
        rows = (
            s.execute(select(RecRegistration).where(col(RecRegistration.name) == "Ani Lestari"))
            .scalars()
            .all()
        )
    assert len(rows) == 1 and rows[0].status == "submitted" and rows[0].registration_number
    receipt = c.get("/recruitment/me/receipt")
    assert rows[0].registration_number in receipt.text
    assert receipt.headers["cache-control"] == "no-store"
    assert receipt.headers["x-frame-options"] == "DENY"
    # Anyone can check the receipt's text; a changed one is not valid.
    text = html.unescape(re.search(r"<pre[^>]*>(.*?)</pre>", receipt.text, re.S).group(1))  # type: ignore[union-attr]
    check = _csrf(c, "/recruitment/check")
    r = c.post("/recruitment/check", data={"csrf": check, "text": text})
    assert "SAH" in r.text and "sama dengan data yang tersimpan" in r.text
    r = c.post("/recruitment/check", data={"csrf": check, "text": text.replace("Ani", "Anu")})
    assert "TIDAK SAH" in r.text
    # Frozen: saving again is refused and changes nothing.
    r = c.post(
        "/recruitment/me/save",
        data={
            "csrf": token,
            "nik": demo_nik(dt.date(1998, 3, 14), "F", 1),
            "name": "Ani L",
            "birth_date": "1998-03-14",
            "sex": "F",
            "education_level": "S1",
            "major": "Teknik Informatika",
            "formation": "PRANATA-KOMP-GENERAL",
            "test_location": "Jakarta",
        },
    )
    assert r.status_code == 409 and "dibekukan" in r.text
    c.close()


def test_one_registration_per_nik_and_period(rec_server: RecServer) -> None:
    db = rec_server.handle.db
    period = svc.current_period(db)
    assert period is not None
    account = svc.signup(db, "kembar@contoh.id", "Kembar", "x", lambda i: "", time.time())
    assert account is not None
    # Ani's NIK (the demo's first person), typed with spaces by someone else.
    nik = demo_nik(dt.date(1998, 3, 14), "F", 1)
    fields = {
        "nik": f"{nik[:6]} {nik[6:12]} {nik[12:]}",
        "name": "Ani Lestari",
        "birth_date": dt.date(1998, 3, 14),
        "sex": "F",
        "education_level": "S1",
        "major": "Teknik Informatika",
        "formation": "PRANATA-KOMP-GENERAL",
        "test_location": "Jakarta",
        "accommodation": "",
    }
    # The draft is saved (a draft holds no NIK, also while a submitted one
    # holds it: revision 0023_nik_grants); its page says the NIK is held.
    now = time.time()
    reg_id = svc.save_registration(
        db, period, account, fields, rec_server.config.nik_key, rec_server.config.registry, now
    )
    view = svc.candidate_view(db, period, account, now)
    assert view.registration is not None and view.registration.id == reg_id
    assert view.nik_held and view.registration.status == "draft"


_NEED_FIELDS = (
    "unit",
    "position",
    "location",
    "openings",
    "education_level",
    "majors",
    "max_age",
    "other_requirements",
    "allocation",
    "agency",
)


def test_need_approval_needs_another_account(rec_server: RecServer) -> None:
    db = rec_server.handle.db
    needs = {n["code"]: n for n in svc.needs(db, svc.current_period(db).id)}  # type: ignore[union-attr]
    waiting = needs["DOKTER"]
    assert waiting["status"] == "submitted"
    with pytest.raises(svc.Refused, match="your role may not do this"):
        svc.decide_need(db, waiting["id"], "operator", True, "", time.time())
    # The admin may approve needs, but not one it submitted itself.
    fields = {**{k: v for k, v in waiting.items() if k in _NEED_FIELDS}, "code": "FOUR-EYES"}
    own = svc.create_need(db, waiting["period_id"], "admin-rekrutmen", fields, time.time())
    svc.submit_need(db, own, "admin-rekrutmen", time.time())
    with pytest.raises(TransitionError):
        svc.decide_need(db, own, "admin-rekrutmen", True, "", time.time())
    svc.decide_need(db, own, "penyetuju", False, "Contoh empat mata", time.time())
    with pytest.raises(svc.Refused):
        svc.decide_need(db, waiting["id"], "penyetuju", False, "  ", time.time())
    assert svc.decide_need(db, waiting["id"], "penyetuju", True, "", time.time()) == [
        "DOKTER-GENERAL",
        "DOKTER-PAPUA",
    ]


def test_login_backs_off_but_does_not_lock_out(rec_server: RecServer) -> None:
    with httpx.Client(base_url=rec_server.url) as c:
        codes = [_login(c, "budi@contoh.id", "wrong-password").status_code for _ in range(6)]
        assert codes[:5] == [401] * 5 and codes[5] == 429
        r = _login(c, "budi@contoh.id", PASSWORDS["candidate"])
        # A wait, never a lock: bounded by the back-off's cap (300 s by default).
        wait = int(r.headers["Retry-After"])
        assert (
            r.status_code == 429
            and 1 <= wait <= rec_server.handle.settings.login_backoff_cap_seconds
        )


def _staff_client(rec: RecServer, user: str, password: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=rec.url)
    token = _csrf(c, "/recruitment/staff/login")
    r = c.post(
        "/recruitment/staff/login", data={"csrf": token, "username": user, "password": password}
    )
    assert r.status_code == 303, r.text
    return c, _csrf(c, "/recruitment/staff")


def test_roles_are_enforced(rec_server: RecServer) -> None:
    c, token = _staff_client(rec_server, "verifikator1", PASSWORDS["verifier"])
    r = c.post("/recruitment/staff/publish", data={"csrf": token})
    assert r.status_code == 409 and "peran Anda tidak diizinkan" in r.text
    r = c.post("/recruitment/staff/schedule?lang=en", data={"csrf": token})
    assert "your role may not do this" in r.text
    anonymous = httpx.Client(base_url=rec_server.url)
    r = anonymous.get("/recruitment/staff/reg/1")
    assert r.status_code == 303 and r.headers["location"].endswith("/recruitment/staff/login")
    c.close()
    anonymous.close()


def test_a_changed_announcement_is_a_new_signed_version(rec_server: RecServer) -> None:
    """After DOKTER's approval (above), publishing makes version 2 with what
    changed; version 1 stays readable; each verifies against the public key."""
    db = rec_server.handle.db
    period = svc.current_period(db)
    assert period is not None
    closes = period.schedule.registration_closes
    later = period.schedule.model_copy(
        update={"registration_closes": closes + dt.timedelta(days=3)}
    )
    svc.set_schedule(db, period.id, later, "admin-rekrutmen", time.time())
    c, token = _staff_client(rec_server, "admin-rekrutmen", PASSWORDS["admin"])
    assert 'id="outbox"' in c.get("/recruitment/staff").text  # the admin sees the outbox
    assert c.post("/recruitment/staff/publish", data={"csrf": token}).status_code == 303
    assert c.post("/recruitment/staff/publish", data={"csrf": token}).status_code == 303
    page = httpx.get(f"{rec_server.url}/recruitment/")
    assert "Versi 2" in page.text and "Formasi baru DOKTER-GENERAL" in page.text
    new_close = closes + dt.timedelta(days=3)
    assert f"Pendaftaran ditutup: {closes} → {new_close}" in html.unescape(page.text)
    assert "Versi 3" not in page.text  # nothing changed the second time
    old = httpx.get(f"{rec_server.url}/recruitment/announcement/1?lang=en")
    assert "An old version" in old.text and "DOKTER-GENERAL" not in old.text
    key = load_public_key(httpx.get(f"{rec_server.url}/recruitment/key.pem").content)
    for v in (1, 2):
        doc = httpx.get(f"{rec_server.url}/recruitment/announcement/{v}.json").content
        sig = httpx.get(f"{rec_server.url}/recruitment/announcement/{v}.sig").text.strip()
        assert ann.verify(doc, sig, key)
    assert not ann.verify(doc.replace(b"DOKTER", b"DOKTOR"), sig, key)
    c.close()


def test_bodies_without_a_length_or_too_long_are_refused_unread(rec_server: RecServer) -> None:
    c, token = _registered_client(rec_server)

    def chunks():  # type: ignore[no-untyped-def]
        yield f"csrf={token}&kind=ktp".encode()

    r = c.post(
        "/recruitment/me/upload",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 411
    c.close()
    # A declared length over the limit is answered before the body is read:
    # the client sends the headers and waits (no 26 MB on the wire).
    host, port = rec_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /recruitment/me/upload HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            + f"Content-Length: {26 * 1024 * 1024}\r\n\r\n".encode()
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 413")


def test_an_unverified_login_sends_a_new_link_now_and_then(rec_server: RecServer) -> None:
    db = rec_server.handle.db
    digest = hash_password("lupa-verifikasi-1", n=TEST_SCRYPT_N)
    assert svc.signup(db, "lupa@contoh.id", "Lupa", digest, lambda i: "old link", 0.0)
    with httpx.Client(base_url=rec_server.url) as c:
        r = _login(c, "lupa@contoh.id", "lupa-verifikasi-1")
        assert r.status_code == 403 and "Tautan baru baru saja dikirim" in r.text
        r = _login(c, "lupa@contoh.id", "lupa-verifikasi-1")
        assert r.status_code == 403 and "Tautan baru" not in r.text  # not again within 10 min
    assert rec_server.mail.wait_for("lupa@contoh.id", "Verifikasi", "/recruitment/verify?t=")


def test_password_reset_by_email_works_once(rec_server: RecServer) -> None:
    with httpx.Client(base_url=rec_server.url) as c:
        token = _csrf(c, "/recruitment/forgot")
        r = c.post("/recruitment/forgot", data={"csrf": token, "email": "citra@contoh.id"})
        assert r.status_code == 200 and "Jika alamat ini terdaftar" in r.text
        r = c.post("/recruitment/forgot", data={"csrf": token, "email": "siapa@contoh.id"})
        assert "Jika alamat ini terdaftar" in r.text  # the same answer for no account
        (_, _, body) = rec_server.mail.wait_for("citra@contoh.id", "Atur ulang")[-1]
        link = re.search(r"http\S+/recruitment/reset\?t=\S+", body)
        assert link is not None
        page = c.get(link.group(0))
        t = re.search(r'name="t" value="([^"]+)"', page.text)
        assert t is not None
        form = {"csrf": _csrf(c, "/recruitment/forgot"), "t": t.group(1)}
        r = c.post("/recruitment/reset", data={**form, "password": "pendek", "password2": "pendek"})
        assert r.status_code == 400 and "paling sedikit 10 karakter" in r.text
        new = {"password": "citra-baru-123", "password2": "citra-baru-123"}
        assert "Kata sandi diganti" in c.post("/recruitment/reset", data={**form, **new}).text
        assert c.post("/recruitment/reset", data={**form, **new}).status_code == 409  # used
    with httpx.Client(base_url=rec_server.url) as c:
        assert _login(c, "citra@contoh.id", "citra-baru-123").status_code == 303
        assert c.get("/recruitment/me").status_code == 200


def test_a_returned_need_is_changed_and_approved(rec_server: RecServer) -> None:
    """The operator enters a need on the page; the approver returns it with a
    reason; the operator changes it and submits again; the approver approves:
    its formations carry the changed allocation."""
    db = rec_server.handle.db
    op, op_token = _staff_client(rec_server, "operator", PASSWORDS["operator"])
    form = {
        "csrf": op_token,
        "code": "ARSIPARIS",
        "unit": "Sekretariat",
        "position": "Arsiparis",
        "location": "Bandung",
        "education_level": "D3",
        "majors": "Kearsipan",
        "max_age": "35",
        "other_requirements": "",
        "alloc_general": "1",
        "alloc_cumlaude": "x",
    }
    r = op.post("/recruitment/staff/needs", data=form)
    assert r.status_code == 400 and 'id="err-alloc_cumlaude"' in r.text  # nothing stored
    assert "ARSIPARIS" not in {n["code"] for n in svc.needs(db, svc.current_period(db).id)}  # type: ignore[union-attr]
    assert (
        op.post("/recruitment/staff/needs", data={**form, "alloc_cumlaude": "0"}).status_code == 303
    )
    need = next(n for n in svc.needs(db, svc.current_period(db).id) if n["code"] == "ARSIPARIS")  # type: ignore[union-attr]
    assert (
        op.post(
            f"/recruitment/staff/needs/{need['id']}/submit", data={"csrf": op_token}
        ).status_code
        == 303
    )
    ap, ap_token = _staff_client(rec_server, "penyetuju", PASSWORDS["approver"])
    r = ap.post(
        f"/recruitment/staff/needs/{need['id']}/decide",
        data={"csrf": ap_token, "decision": "return", "reason": "Tambah formasi umum"},
    )
    assert r.status_code == 303
    page = op.get(f"/recruitment/staff?edit={need['id']}")
    assert 'name="need_id"' in page.text and 'value="Kearsipan"' not in page.text  # a textarea
    assert ">Kearsipan</textarea>" in page.text and "Tambah formasi umum" in page.text
    r = op.post(
        "/recruitment/staff/needs",
        data={**form, "alloc_cumlaude": "0", "alloc_general": "2", "need_id": str(need["id"])},
    )
    assert r.status_code == 303
    op.post(f"/recruitment/staff/needs/{need['id']}/submit", data={"csrf": op_token})
    ap.post(
        f"/recruitment/staff/needs/{need['id']}/decide",
        data={"csrf": ap_token, "decision": "approve"},
    )
    made = {f["code"]: f["openings"] for f in svc.formations(db, svc.current_period(db).id)}  # type: ignore[union-attr]
    assert made["ARSIPARIS-GENERAL"] == 2 and "ARSIPARIS-CUMLAUDE" not in made
    op.close()
    ap.close()


@given(
    st.binary(max_size=400),
    st.sampled_from(["multipart/form-data; boundary=b", "application/x-www-form-urlencoded"]),
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_body_is_answered_never_a_crash(rec_server: RecServer, body: bytes, kind: str) -> None:
    """Whatever bytes arrive as a form, the answer is a refusal page (4xx), never a 500."""
    r = httpx.post(
        f"{rec_server.url}/recruitment/me/upload",
        content=body,
        headers={"content-type": kind},
        cookies={"rec_csrf": "x"},
    )
    assert 400 <= r.status_code < 500 or r.status_code == 303


def test_a_bounced_address_is_told_on_the_candidates_page(rec_server: RecServer) -> None:
    """When the receiving server returned our last message to a candidate
    (a bounce report, ``seleksi recruitment bounces``), their page says so,
    with the message and the server's words; a later message accepted hides
    it. A failure of our own mail relay is not shown (it says nothing about
    the address)."""
    from sqlalchemy import update

    from exam_server.recruitment.outbox import OUTBOX

    db = rec_server.handle.db
    who = "fajar@contoh.id"  # the demo's registration in the "ms" state
    now = time.time() + 60.0  # newer than every message the demo queued

    def add(subject: str, at: float, **outcome: object) -> None:
        with Session(db) as s:
            svc.enqueue(s, who, subject, "isi / body", "status", at)
            s.commit()
        with db.begin() as c:
            c.execute(
                update(OUTBOX)
                .where(OUTBOX.c.to_addr == who, OUTBOX.c.subject == subject)
                .values(**outcome)
            )

    def notice(lang: str = "id") -> str | None:
        with httpx.Client(base_url=rec_server.url) as client:
            assert _login(client, who, PASSWORDS["candidate"]).status_code in (200, 303)
            page = client.get("/recruitment/me", params={"lang": lang}).text
        m = re.search(r'<div class="box warn" id="mail-undelivered".*?</div>', page, re.S)
        return html.unescape(m.group(0)) if m else None

    assert notice() is None
    add("Relai gagal / Relay failed", now, status="failed", last_error="ConnectionRefusedError")
    assert notice() is None  # our relay's failure: staff see it, the candidate is not told
    add(
        "Status pendaftaran / Registration status",
        now + 1,
        status="failed",
        sent_at=now + 2,
        last_error="bounced 5.2.2 fajar@contoh.id: 552 5.2.2 mailbox full",
    )
    shown = notice()
    assert shown is not None
    assert "Email kami tidak sampai" in shown and "Ganti email akun" in shown
    assert "Our email did not reach you" in (notice("en") or "")
    assert "“Status pendaftaran / Registration status”" in shown
    assert "552 5.2.2 mailbox full (5.2.2)" in shown and who in shown
    add("Pengingat / Reminder", now + 3, status="sent", sent_at=now + 4)
    assert notice() is None  # delivered since


SWITCH = re.compile(r'<a class="lang-switch" href="([^"]+)"')


def test_a_form_answer_switches_language_to_a_page_that_exists(rec_server: RecServer) -> None:
    """The page answering a form (POST) has an address no GET answers: its
    language switch goes to the page the form was on, and a message shows
    its text in both languages (found by a review: the void's result page
    linked to its POST address, a 405)."""
    with httpx.Client(base_url=rec_server.url) as c:
        token = _csrf(c, "/recruitment/forgot")
        r = c.post(
            "/recruitment/forgot",
            data={"csrf": token, "email": "nobody@contoh.id"},
            headers={"Referer": f"{rec_server.url}/recruitment/forgot"},
        )
        assert r.status_code == 200
        page = html.unescape(r.text)
        assert "Periksa email Anda" in page
        assert "If this address has an account, a link to reset the password" in page
        (switch,) = SWITCH.findall(r.text)
        assert html.unescape(switch).endswith("/recruitment/forgot?lang=en")
        again = c.get(html.unescape(switch))
        assert again.status_code == 200 and 'lang="en"' in again.text
        # No (or a foreign) Referer: the announcement, in the other language.
        r = c.post(
            "/recruitment/forgot?lang=en",
            data={"csrf": token, "email": "nobody@contoh.id"},
            headers={"Referer": "https://elsewhere.example/recruitment/forgot"},
        )
        (switch,) = SWITCH.findall(r.text)
        assert html.unescape(switch).endswith("/recruitment/?lang=id")
        assert c.get(html.unescape(switch)).status_code == 200
        assert "Jika alamat ini terdaftar" in html.unescape(r.text)
        # The form was on a page that answered a form (its address answers
        # no GET: a review's 405 after sending a 400 page's form again).
        r = c.post(
            "/recruitment/forgot",
            data={"csrf": token, "email": "nobody@contoh.id"},
            headers={"Referer": f"{rec_server.url}/recruitment/me/save"},
        )
        (switch,) = SWITCH.findall(r.text)
        assert html.unescape(switch).endswith("/recruitment/?lang=en")
        assert c.get(html.unescape(switch)).status_code == 200
