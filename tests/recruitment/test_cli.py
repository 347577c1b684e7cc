"""``seleksi recruitment``: a period on PostgreSQL from the command line, its
accounts, and refusals that name the field."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from seleksi.cli import main

SCHEDULE = {
    "registration_opens": "2024-08-20",
    "registration_closes": "2024-09-06",
    "verification_ends": "2024-09-20",
    "appeal_opens": "2024-09-21",
    "appeal_closes": "2024-09-23",
    "appeal_answer_days": 7,
    "exam_from": "2024-10-01",
    "exam_to": "2024-10-30",
}


@pytest.mark.postgres
def test_period_and_accounts_on_postgres(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", postgres_url]
    assert main(["db", "migrate", *db]) == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**SCHEDULE, "appeal_closes": "2024-09-01"}))
    argv = ["recruitment", "period-create", "CASN-2024", "--name", "CASN 2024", "--agency", "K"]
    assert main([*argv, "--schedule", str(bad), *db]) == 1
    assert "appeal_closes (2024-09-01) is before appeal_opens" in capsys.readouterr().err
    good = tmp_path / "schedule.json"
    good.write_text(json.dumps(SCHEDULE))
    assert main([*argv, "--schedule", str(good), *db]) == 0
    pw = tmp_path / "pw.txt"
    pw.write_text("verifikator-rahasia\n")
    staff = ["recruitment", "staff-create", "v1", "--role", "verifier", "--password-file", str(pw)]
    assert main([*staff, *db]) == 0
    assert main([*staff, *db]) == 1  # the same name twice
    pw.write_text("verifikator-baru-2\n")
    assert main(["recruitment", "staff-password", "v1", "--password-file", str(pw), *db]) == 0
    assert main(["recruitment", "staff-password", "nobody", "--password-file", str(pw), *db]) == 1
    assert main(["recruitment", "staff-list", *db]) == 0
    out, err = capsys.readouterr()
    assert "v1" in out and "verifier" in out and "verifikator-baru-2" not in out + err
    assert main(["recruitment", "slot-add", "NO-SUCH", "--location", "Jakarta", *db]) == 1
    assert "no session NO-SUCH" in capsys.readouterr().err
    assert main(["recruitment", "status", *db]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["period"] == "CASN-2024" and out["rules"] == "casn-2024.1"


@pytest.mark.postgres
def test_demo_recruitment_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    """The whole demo flow (needs to scheduling) through the service on PostgreSQL."""
    import time

    from exam_server.db import make_engine
    from exam_server.recruitment import service as svc
    from exam_server.recruitment.demo import seed_recruitment
    from exam_server.results.publication import generate_key
    from recruitment.documents import DocumentStore
    from recruitment.nik import derive_key
    from recruitment.registry import NoRegistry
    from tests.conftest import TEST_SCRYPT_N, seed_small
    from tests.recruitment.conftest import PASSWORDS

    seed = seed_small(postgres_url)
    engine = make_engine(postgres_url)
    try:
        seed_recruitment(
            engine,
            key=generate_key(),
            nik_key=derive_key("k" * 40),
            store=DocumentStore(tmp_path),
            now=time.time(),
            passwords=PASSWORDS,
            scrypt_n=TEST_SCRYPT_N,
            site_code=seed.site_code,
            room_code="R2",
            exam_code=seed.exam_code,
        )
        period = svc.current_period(engine)
        assert period is not None
        assert svc.registrations_by_status(engine, period.id) == {
            "draft": 1,
            "submitted": 2,
            "tms": 1,
            "appealed": 1,
            "ms": 1,
            "scheduled": 2,
        }
        # Four submits of Ani's draft at once (a double click, a resent form,
        # two tabs): one registration number, one receipt, whatever the order.
        ani = svc.account_login(engine, "ani@contoh.id", PASSWORDS["candidate"], "")
        assert ani is not None and ani.id is not None
        key, start, ani_id = generate_key(), time.time(), ani.id
        with ThreadPoolExecutor(4) as pool:
            rows = list(
                pool.map(
                    lambda i: svc.submit_registration(engine, period, ani_id, key, start + i),
                    range(4),
                )
            )
        stored = svc.registration_of(engine, period.id, ani_id)
        assert stored is not None and stored.status == "submitted"
        assert {r.registration_number for r in rows} == {stored.registration_number}
        assert {r.receipt for r in rows} == {stored.receipt}
        # Two people typing one NIK at the same moment: a draft holds no NIK, so
        # both are saved; their two submits at once give one submitted
        # registration, and the other is told the NIK is held (the partial
        # unique index decides, not a check).
        import datetime as dt

        from exam_server.recruitment.demo import demo_nik, sample_pdf, sample_png
        from recruitment.documents import PNG

        ids = [svc.signup(engine, f"kembar{i}@contoh.id", "K", "x", str, start) for i in (1, 2)]
        fields = {
            "nik": demo_nik(dt.date(1996, 1, 2), "M", 4242),
            "name": "Kembar",
            "sex": "M",
            "birth_date": dt.date(1996, 1, 2),
            "education_level": "S1",
            "major": "Psikologi",
            "formation": "ANALIS-SDM-GENERAL",
            "test_location": "Bandung",
            "accommodation": "",
        }
        store = DocumentStore(tmp_path)

        def save(account: int | None) -> int:
            assert account is not None
            reg = svc.save_registration(
                engine, period, account, fields, b"n" * 32, NoRegistry(), start
            )
            for kind in period.rules.documents_for("general"):
                media = period.rules.documents[kind].media
                data = sample_png() if PNG in media and kind == "photo" else sample_pdf(kind)
                svc.upload_document(engine, store, period, reg, f"a:{account}", kind, data, start)
            return reg

        with ThreadPoolExecutor(2) as pool:
            assert len(set(pool.map(save, ids))) == 2

        def submit(account: int | None) -> str:
            assert account is not None
            try:
                return svc.submit_registration(engine, period, account, key, start).status
            except svc.Refused as exc:
                return exc.text_en

        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(submit, ids))
        assert outcomes[0] == "submitted"
        assert outcomes[1].startswith("this NIK is held by another registration already submitted")
    finally:
        engine.dispose()


def _recruitment_lines(out: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Recruitment demo"))
    return [line for line in lines[start + 1 :] if line.startswith("  ")][:13]


def test_seleksi_demo_seeds_the_recruitment_and_reset_starts_it_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from exam_server.db import make_engine
    from exam_server.recruitment import service as svc

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SELEKSI_DATABASE_URL", raising=False)
    argv = ["demo", "--no-serve", "--per-subtest", "80"]
    data = tmp_path / "seleksi-data"
    assert main(argv) == 0
    first = _recruitment_lines(capsys.readouterr().out)
    assert len(first) == 13 and first[0].split()[:3] == ["staff", "operator", "operator"]
    assert main(argv) == 0
    assert _recruitment_lines(capsys.readouterr().out) == first  # the same accounts
    engine = make_engine(f"sqlite:///{data / 'seleksi.db'}")
    try:
        user, password = first[0].split()[2:4]
        assert svc.staff_login(engine, user, password, "") is not None
        period = svc.current_period(engine)
        assert period is not None and svc.announcement_versions(engine, period.id)
    finally:
        engine.dispose()
    assert main([*argv, "--reset"]) == 0
    fresh = _recruitment_lines(capsys.readouterr().out)
    assert fresh[0] != first[0]  # new passwords with the new database
