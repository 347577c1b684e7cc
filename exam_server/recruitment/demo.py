"""A demo recruitment: an agency, approved needs, an open announcement and a
few registrations in each state, made through the same service functions the
pages call (so the demo is also a walk through the whole flow).

:func:`seed_recruitment` needs an exam with a site and rooms in the database
(``exam_server.demo.seed_exam``); it adds two sessions open to the period (one
with extra time), and is skipped when its period already exists.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from exam_server import scheduling as sch
from exam_server.auth import hash_password
from exam_server.checkpoints import load_or_create_key
from exam_server.recruitment import service as svc
from recruitment.announcement import Schedule
from recruitment.documents import JPEG, PDF, PNG, DocumentStore
from recruitment.models import RecPeriod
from recruitment.nik import derive_key
from recruitment.registry import NoRegistry, RegistryAdapter

PERIOD = "CASN-DEMO"
AGENCY = "KEMCON"


def sample_pdf(text: str = "Seleksi demo") -> bytes:
    """A small, well-formed one-page PDF."""
    stream = f"BT /F1 18 Tf 50 750 Td ({text}) Tj ET".encode("latin-1", "replace")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def sample_png(
    width: int = 60, height: int = 80, rgb: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    """A plain-colour PNG (a stand-in passport photo on a red background)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def sample_jpeg() -> bytes:
    """The smallest byte string the sniffer takes for a JPEG (SOI … EOI); not an image."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def demo_nik(birth: dt.date, sex: str, serial: int, district: int = 1) -> str:
    """A structurally valid NIK (West Java, Bandung City) for demo people."""
    day = birth.day + (40 if sex == "F" else 0)
    return f"3273{district:02d}{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"


@dataclass
class DemoRecruitment:
    period: str
    staff: dict[str, tuple[str, str]]  # role → (username, password)
    candidates: list[dict[str, Any]] = field(default_factory=list)  # email, password, state

    def to_text(self, base_url: str = "") -> str:
        """The accounts to print; ``base_url``: the server's address, when known
        (the demo prints its addresses once it serves, on the port it got)."""
        lines = [f"Recruitment demo ({self.period}): {base_url}/recruitment/"]
        for role, (user, pw) in self.staff.items():
            lines.append(f"  staff {role:9s} {user:14s} {pw}")
        for c in self.candidates:
            lines.append(f"  candidate {c['state']:12s} {c['email']:28s} {c['password']}")
        return "\n".join(lines)


NEEDS: list[dict[str, Any]] = [
    {
        "code": "PRANATA-KOMP",
        "unit": "Pusat Data dan Informasi",
        "position": "Pranata Komputer Ahli Pertama",
        "location": "Jakarta",
        "education_level": "S1",
        "majors": ["Teknik Informatika", "Sistem Informasi", "Ilmu Komputer"],
        "max_age": 35,
        "other_requirements": "IPK paling rendah 3,00",
        "allocation": {"general": 3, "cumlaude": 1, "disability": 1},
    },
    {
        "code": "ANALIS-SDM",
        "unit": "Biro Sumber Daya Manusia",
        "position": "Analis SDM Aparatur Ahli Pertama",
        "location": "Bandung",
        "education_level": "S1",
        "majors": ["Psikologi", "Manajemen"],
        "max_age": 35,
        "other_requirements": "",
        "allocation": {"general": 2, "papua": 1},
    },
    {
        "code": "DOKTER",
        "unit": "Klinik Pratama",
        "position": "Dokter Ahli Pertama",
        "location": "Jayapura",
        "education_level": "S1",
        "majors": ["Pendidikan Dokter"],
        "max_age": 40,
        "other_requirements": "STR aktif",
        "allocation": {"general": 1, "papua": 1},
    },
]


def demo_schedule(today: dt.date) -> Schedule:
    """Every window open around ``today`` (a demo shows all the steps at once)."""
    d = dt.timedelta
    return Schedule(
        registration_opens=today - d(days=3),
        registration_closes=today + d(days=27),
        verification_ends=today + d(days=30),
        appeal_opens=today - d(days=3),
        appeal_closes=today + d(days=34),
        appeal_answer_days=7,
        exam_from=today + d(days=40),
        exam_to=today + d(days=45),
    )


def seed_recruitment(
    engine: Engine,
    *,
    key: Ed25519PrivateKey,
    nik_key: bytes,
    store: DocumentStore,
    now: float,
    passwords: dict[str, str],
    exam_code: str = "SKD-DEMO",
    site_code: str = "TILOK-01",
    room_code: str = "R2",
    scrypt_n: int = 2**14,
    registry: RegistryAdapter | None = None,
    locations: tuple[str, ...] = ("Jakarta", "Bandung"),
) -> DemoRecruitment | None:
    """Seed the demo (see the module doc); None if its period exists already.

    passwords: role → password for ``operator``, ``approver``, ``verifier``,
    ``verifier2``, ``verifier3`` (optional: the appeals' verifier), ``admin``
    and ``candidate`` (every demo candidate's)."""
    with Session(engine) as s:
        if s.execute(select(RecPeriod.id).where(RecPeriod.code == PERIOD)).first() is not None:  # type: ignore[call-overload]
            return None
    registry = registry or NoRegistry()
    today = svc.today(now)
    period_id = svc.create_period(
        engine,
        PERIOD,
        "Seleksi CASN (demo)",
        "Kementerian Contoh (demo)",
        demo_schedule(today),
        exam_code=exam_code,
    )
    users = {
        "operator": "operator",
        "approver": "penyetuju",
        "verifier": "verifikator1",
        "verifier2": "verifikator2",
        # A third verifier answers appeals: neither verifier of a TMS may.
        "verifier3": "verifikator3",
        "admin": "admin-rekrutmen",
    }
    users = {r: u for r, u in users.items() if r in passwords}
    # The agency's staff act for it; the admin is national (publishes, schedules).
    svc.create_agency(engine, AGENCY, "Kementerian Contoh (demo)")
    for role, user in users.items():
        agency = None if role == "admin" else AGENCY
        svc.create_staff(
            engine, user, user.title(), role.rstrip("23"), passwords[role], scrypt_n, agency
        )
    demo = DemoRecruitment(PERIOD, {r: (u, passwords[r]) for r, u in users.items()})
    period = svc.period_by_code(engine, PERIOD)
    # Needs: two approved, one left waiting for the approver.
    for i, need in enumerate(NEEDS):
        fields = {**need, "openings": sum(need["allocation"].values())}
        need_id = svc.create_need(engine, period_id, users["operator"], fields, now)
        svc.submit_need(engine, need_id, users["operator"], now)
        if i < 2:
            svc.decide_need(engine, need_id, users["approver"], True, "", now)
    svc.publish_announcement(engine, period_id, key, users["admin"], now)
    # Sessions open to the period: one per location, and one with extra time.
    start = dt.datetime.combine(period.schedule.exam_from, dt.time(8, 0), svc.WIB).timestamp()
    for j, loc in enumerate(locations):
        code = f"REK-{loc[:3].upper()}-1"
        sch.create_session(engine, code, exam_code, site_code, room_code, start + j * 7200)
        svc.add_slot(engine, period_id, code, loc)
    code = f"REK-{locations[0][:3].upper()}-X"
    svc.extended_exam(engine, exam_code, f"{exam_code}-X")
    sch.create_session(engine, code, f"{exam_code}-X", site_code, room_code, start + 4 * 7200)
    svc.add_slot(engine, period_id, code, locations[0], extended=True)

    forms = {f["code"]: f for f in svc.formations(engine, period_id)}
    digest = hash_password(passwords["candidate"], n=scrypt_n)
    people = [
        (
            "draft",
            "Ani Lestari",
            "F",
            dt.date(1998, 3, 14),
            "Teknik Informatika",
            "PRANATA-KOMP-GENERAL",
            "",
        ),
        (
            "submitted",
            "Budi Santoso",
            "M",
            dt.date(1996, 7, 2),
            "Sistem Informasi",
            "PRANATA-KOMP-GENERAL",
            "",
        ),
        (
            "submitted",
            "Citra Dewi",
            "F",
            dt.date(1999, 11, 23),
            "Psikologi",
            "ANALIS-SDM-GENERAL",
            "",
        ),
        ("tms", "Dedi Kurniawan", "M", dt.date(1995, 1, 30), "Manajemen", "ANALIS-SDM-GENERAL", ""),
        (
            "appealed",
            "Eka Putri",
            "F",
            dt.date(1997, 5, 9),
            "Ilmu Komputer",
            "PRANATA-KOMP-GENERAL",
            "",
        ),
        (
            "ms",
            "Fajar Hidayat",
            "M",
            dt.date(1994, 9, 17),
            "Teknik Informatika",
            "PRANATA-KOMP-CUMLAUDE",
            "",
        ),
        (
            "scheduled",
            "Gita Maharani",
            "F",
            dt.date(1993, 12, 1),
            "Psikologi",
            "ANALIS-SDM-GENERAL",
            "",
        ),
        (
            "scheduled",
            "Hadi Wibowo",
            "M",
            dt.date(1992, 4, 18),
            "Sistem Informasi",
            "PRANATA-KOMP-DISABILITY",
            "extra_time",
        ),
    ]
    later_ms: list[int] = []
    for n, (state, name, sex, born, major, fcode, acc) in enumerate(people, start=1):
        email = f"{name.split()[0].lower()}@contoh.id"
        account_id = svc.signup(engine, email, name, digest, lambda i: f"(demo) account {i}", now)
        assert account_id is not None
        svc.verify_email(engine, account_id, now)
        location = locations[0] if forms[fcode]["location"] == "Jakarta" else locations[-1]
        fields = {
            "nik": demo_nik(born, sex, n),
            "name": name,
            "birth_date": born,
            "sex": sex,
            "education_level": "S1",
            "major": major,
            "formation": fcode,
            "test_location": location,
            "accommodation": acc,
        }
        reg_id = svc.save_registration(engine, period, account_id, fields, nik_key, registry, now)
        for kind in period.rules.documents_for(forms[fcode]["category"]):
            media = period.rules.documents[kind].media
            data = (
                sample_png() if PNG in media and kind == "photo" else sample_pdf(f"{kind} {name}")
            )
            if PDF not in media and PNG not in media:
                data = sample_jpeg() if JPEG in media else data
            svc.upload_document(
                engine, store, period, reg_id, f"account:{account_id}", kind, data, now
            )
        demo.candidates.append({"email": email, "password": passwords["candidate"], "state": state})
        if state == "draft":
            continue
        svc.submit_registration(engine, period, account_id, key, now)
        if state == "submitted":
            continue
        if state in ("tms", "appealed"):
            svc.decide_registration(
                engine,
                period,
                reg_id,
                users["verifier"],
                "TMS",
                "DOC_UNREADABLE",
                "Ijazah tidak terbaca",
                now,
            )
            vid = svc.last_verification(engine, reg_id)
            assert vid is not None and vid.id is not None
            svc.approve_tms(engine, vid.id, users["verifier2"], True, now)
            if state == "appealed":
                svc.file_appeal(
                    engine, period, account_id, "Ijazah sudah diunggah ulang dengan jelas.", now
                )
            continue
        if state == "ms":
            later_ms.append(reg_id)
            continue
        svc.decide_registration(engine, period, reg_id, users["verifier"], "MS", "", "", now)
    # Scheduling places every MS registration; the ones meant to stay "ms" are
    # decided after the run so the demo shows both states.
    svc.schedule(engine, period, users["admin"], now)
    for reg_id in later_ms:
        svc.decide_registration(engine, period, reg_id, users["verifier"], "MS", "", "", now)
    return demo


#: The demo recruitment's passwords, in the demo's data folder (mode 0600).
DEMO_FILE = "recruitment-demo.json"


def demo_files(data_dir: Path) -> list[Path]:
    """What the demo recruitment writes in ``data_dir`` (``seleksi demo --reset`` deletes it)."""
    return [
        data_dir / DEMO_FILE,
        data_dir / "recruitment-documents",
        data_dir / "recruitment-signing.key",
        data_dir / "recruitment-signing.pub.pem",
    ]


def seed_demo(engine: Engine, secret_key: str, data_dir: Path, now: float | None = None) -> str:
    """The demo recruitment for ``seleksi demo`` (on the demo exam day), with the
    same files the served app uses (documents and signing key in ``data_dir``,
    the NIK key from ``secret_key``); returns the lines to print. Run again, it
    prints the accounts it made the first time."""
    path = data_dir / DEMO_FILE
    with Session(engine) as s:
        seeded = s.execute(select(col(RecPeriod.id)).where(col(RecPeriod.code) == PERIOD)).first()
    if seeded is not None and path.exists():
        saved = json.loads(path.read_text("utf-8"))
        demo = DemoRecruitment(
            saved["period"], {k: tuple(v) for k, v in saved["staff"].items()}, saved["candidates"]
        )
        return demo.to_text()
    passwords = {
        r: secrets.token_urlsafe(9)
        for r in ("operator", "approver", "verifier", "verifier2", "verifier3", "admin")
    }
    passwords["candidate"] = "peserta-demo-2024"
    made = seed_recruitment(
        engine,
        key=load_or_create_key(data_dir / "recruitment-signing.key"),
        nik_key=derive_key(secret_key),
        store=DocumentStore(data_dir / "recruitment-documents"),
        now=time.time() if now is None else now,
        passwords=passwords,
    )
    if made is None:
        return f"Recruitment demo ({PERIOD}): already in the database (its passwords file is gone)"
    path.write_text(
        json.dumps({"period": made.period, "staff": made.staff, "candidates": made.candidates})
    )
    with contextlib.suppress(OSError):
        path.chmod(0o600)
    return made.to_text()
