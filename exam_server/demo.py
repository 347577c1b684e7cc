"""Seeding an exam day: the demo (``seleksi demo``) and the test fixtures use this.

:func:`seed_exam` creates a site, two rooms, an exam from given arrays and
item texts, a session, formations, candidates (with categories), an admin
and a proctor, opens the session and issues every candidate's check-in PIN.
:func:`seed_demo_exam` does it with the SKD design on the item bank already
in the database (the demo bank), and keeps the credentials it hands out in a
file beside the database so that running the demo again prints (and accepts)
the same PINs and staff passwords.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from cat_engine.bank import BankArrays
from cat_engine.design import TestDesign
from exam_server import scheduling as sch
from exam_server.admin import assign_rooms, session_room, staff_rooms
from exam_server.db import create_schema, writer
from exam_server.results.rules import RankingPolicy
from exam_server.snapshot import PublicItemContent

if TYPE_CHECKING:
    from exam_server.settings import Settings

# A spread of categories like a real session: mostly general.
_CATEGORY_CYCLE = ("general",) * 6 + ("cumlaude", "disability", "papua", "diaspora")
_FORMATIONS = [
    {
        "code": "F-ANALIS-KEU",
        "agency": "Kementerian Keuangan",
        "position": "Analis Keuangan",
        "location": "Jakarta",
        "openings": 3,
    },
    {
        "code": "F-PRANATA-KOMP",
        "agency": "Badan Kepegawaian Negara",
        "position": "Pranata Komputer",
        "location": "Jakarta",
        "openings": 2,
    },
    {
        "code": "F-GURU-MAT",
        "agency": "Pemerintah Kota Bandung",
        "position": "Guru Matematika",
        "location": "Bandung",
        "openings": 4,
    },
    {
        "code": "F-PERAWAT",
        "agency": "Pemerintah Provinsi Papua",
        "position": "Perawat",
        "location": "Jayapura",
        "openings": 2,
    },
    {
        "code": "F-AUDITOR",
        "agency": "Badan Pemeriksa Keuangan",
        "position": "Auditor Ahli Pertama",
        "location": "Surabaya",
        "openings": 1,
    },
]
_GIVEN = ("Ayu", "Budi", "Citra", "Dewi", "Eko", "Fajar", "Gita", "Hadi", "Indah", "Joko")
_FAMILY = ("Santoso", "Wijaya", "Lestari", "Pratama", "Siregar", "Nasution", "Hidayat", "Saputra")


@dataclass
class SeedSummary:
    """What a seeded exam day holds, with the secrets a proctor hands out."""

    exam_id: int
    exam_code: str
    session_id: int
    session_code: str
    session_token: str
    site_code: str
    room_code: str
    candidates: list[dict[str, Any]] = field(
        default_factory=list
    )  # reg, name, category, formation, pin
    admin: tuple[str, str] = ("", "")
    proctor: tuple[str, str] = ("", "")

    def pins(self) -> dict[str, str]:
        return {c["registration_number"]: c["pin"] for c in self.candidates}

    def to_text(self) -> str:
        lines = [
            f"Exam {self.exam_code} · session {self.session_code} (id {self.session_id}) "
            f"· room {self.site_code}/{self.room_code}",
            f"Session token (shown in the room): {self.session_token}",
            f"Admin:   {self.admin[0]} / {self.admin[1]}",
            f"Proctor: {self.proctor[0]} / {self.proctor[1]}",
            "Candidates (registration number, PIN, category, formation):",
        ]
        lines += [
            f"  {c['registration_number']}  {c['pin']}  {c['category']:<10} {c['formation']}"
            for c in self.candidates
        ]
        return "\n".join(lines)


def seed_exam(
    engine: Engine,
    secret_key: str,
    *,
    design: TestDesign,
    bank: BankArrays,
    items: list[PublicItemContent],
    n_candidates: int = 50,
    exam_code: str = "SKD-DEMO",
    exam_name: str = "SKD CPNS (demo)",
    session_code: str = "SESI-1",
    prefix: str = "2024",
    scrypt_n: int = 2**14,
    admin_password: str | None = None,
    proctor_password: str | None = None,
    open_session: bool = True,
    policy: RankingPolicy | None = None,
    categories: Sequence[str] | None = None,
) -> SeedSummary:
    """Create a whole exam day in the database (see the module docstring).

    policy: the exam's ranking policy (default: the 2024 rules); categories:
    the candidates' categories, in turn (default: every 2024 category)."""
    if n_candidates < 1:
        raise ValueError("n_candidates must be at least 1")
    create_schema(engine)
    site_code, room_code = "TILOK-01", "R1"
    sch.create_site(engine, site_code, "Kantor Regional BKN (demo)")
    sch.create_room(engine, site_code, room_code, "Ruang CAT 1", capacity=max(60, n_candidates))
    sch.create_room(engine, site_code, "R2", "Ruang CAT 2", capacity=60)
    exam_id = sch.create_exam(engine, exam_code, exam_name, design, bank, items, policy)
    cycle = tuple(categories or _CATEGORY_CYCLE)
    session_id = sch.create_session(
        engine, session_code, exam_code, site_code, room_code, time.time()
    )
    sch.create_formations(engine, _FORMATIONS, "demo")
    rows = ["registration_number,name,category,formation_code,session_code,birth_date"]
    people: list[dict[str, Any]] = []
    for i in range(n_candidates):
        reg = f"{prefix}{i + 1:04d}"
        name = f"{_GIVEN[i % len(_GIVEN)]} {_FAMILY[(i // len(_GIVEN)) % len(_FAMILY)]}"
        cat = cycle[i % len(cycle)]
        formation = _FORMATIONS[i % len(_FORMATIONS)]["code"]
        birth = f"{1990 + i % 10}-{1 + i % 12:02d}-{1 + i % 28:02d}"
        rows.append(f"{reg},{name},{cat},{formation},{session_code},{birth}")
        people.append(
            {"registration_number": reg, "name": name, "category": cat, "formation": formation}
        )
    sch.import_candidates_csv(engine, "\n".join(rows) + "\n")
    admin_pw = admin_password or secrets.token_urlsafe(9)
    proctor_pw = proctor_password or secrets.token_urlsafe(9)
    sch.create_staff(engine, "admin", "Administrator", "admin", admin_pw, scrypt_n, "demo")
    proctor_id = sch.create_staff(
        engine, "pengawas", "Pengawas Ruang 1", "proctor", proctor_pw, scrypt_n, "demo"
    )
    # The demo proctor supervises the demo room (proctors act only on their rooms).
    assign_rooms(engine, proctor_id, [_room_of(engine, session_id)], "demo")
    token = ""
    if open_session:
        token = sch.open_session(engine, session_id, "proctor:pengawas")
        for person in people:
            person["pin"] = sch.issue_pin(
                engine,
                secret_key,
                session_id,
                str(person["registration_number"]),
                "proctor:pengawas",
            )
    return SeedSummary(
        exam_id=exam_id,
        exam_code=exam_code,
        session_id=session_id,
        session_code=session_code,
        session_token=token,
        site_code=site_code,
        room_code=room_code,
        candidates=people,
        admin=("admin", admin_pw),
        proctor=("pengawas", proctor_pw),
    )


def seed_demo_exam(
    engine: Engine,
    secret_key: str,
    *,
    mode: str = "linear",
    n_candidates: int = 50,
    credentials: Path | None = None,
) -> SeedSummary:
    """The demo exam day on the item bank already in the database (the demo bank):
    the SKD 2024 design, 50 candidates. Raises ``LookupError`` if the bank is empty.

    credentials: a JSON file (``demo-credentials.json`` in the data folder) that
    keeps the PINs and staff passwords handed out, because the database stores
    only their hashes. A demo seeded before reuses every one that still matches
    its hash, so printed slips keep working; the rest are issued anew. Without
    the file every PIN and demo password is issued anew."""
    from cat_engine.design import skd_design
    from cat_engine.errors import EngineError
    from cat_engine.pool import check_design_against_bank
    from exam_server.bank_source import load_from_item_bank
    from exam_server.recruitment import demo as recruitment_demo

    create_schema(engine)
    saved = load_credentials(credentials) if credentials is not None else {}
    existing = _existing_demo(engine, secret_key, saved)
    if existing is not None:
        if credentials is not None:
            save_credentials(credentials, existing)
            print(recruitment_demo.seed_demo(engine, secret_key, credentials.parent))
            # The SKB is seeded in the background with the finished exam it
            # needs (serve_demo); once there, its accounts print with the others.
            from exam_server.assessment.demo import skb_demo_lines

            if skb := skb_demo_lines(engine, credentials.parent):
                print("\n".join(skb))
        return existing
    design = skd_design(mode=mode)
    bank, items = load_from_item_bank(engine, design)
    try:
        check_design_against_bank(design, bank)
    except EngineError:
        # The bank's content areas differ from the default blueprint: keep
        # the SKD lengths and limits without content constraints.
        design = skd_design(mode=mode, blueprint={})
    summary = seed_exam(
        engine, secret_key, design=design, bank=bank, items=items, n_candidates=n_candidates
    )
    if credentials is not None:
        save_credentials(credentials, summary)
        # The demo recruitment (issue 18) on this exam day, with its accounts.
        print(recruitment_demo.seed_demo(engine, secret_key, credentials.parent))
    return summary


#: The credentials of the demo, in its data folder (mode 0600).
CREDENTIALS_FILE = "demo-credentials.json"


def load_credentials(path: Path) -> dict[str, Any]:
    """What :func:`save_credentials` wrote (``{}`` if absent or unreadable)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_credentials(path: Path, summary: SeedSummary) -> None:
    """Keep the demo's session token, PINs and staff passwords in ``path``
    (created readable by its owner only: it holds passwords)."""
    data = {
        "session_id": summary.session_id,
        "session_token": summary.session_token,
        "pins": summary.pins(),
        "staff": {"admin": list(summary.admin), "proctor": list(summary.proctor)},
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")


def _room_of(engine: Engine, session_id: int) -> int:
    room = session_room(engine, session_id)
    assert room is not None
    return room


#: The staff accounts the demo creates (role → username); only these are reused
#: or reset, never an account an administrator added.
_DEMO_STAFF = {"admin": "admin", "proctor": "pengawas"}


def _existing_demo(engine: Engine, secret_key: str, saved: dict[str, Any]) -> SeedSummary | None:
    """A demo seeded before: its PINs and demo staff passwords from ``saved``
    (what :func:`load_credentials` read) where they still match the stored
    hashes, issued anew where not (only hashes are stored), so that the
    printed list works again."""
    from sqlalchemy import select
    from sqlmodel import Session, col

    from exam_server.audit.staff_records import record_password
    from exam_server.auth import check_pin, hash_password, verify_password
    from exam_server.models import Candidate, CheckIn, Exam, ExamSession, Formation, Staff

    with Session(writer(engine)) as s:
        exam = s.execute(select(Exam).where(col(Exam.code) == "SKD-DEMO")).scalars().first()
        if exam is None or exam.id is None:
            return None
        sess = (
            s.execute(select(ExamSession).where(col(ExamSession.exam_id) == exam.id))
            .scalars()
            .first()
        )
        if sess is None or sess.id is None:
            return None
        macs = {
            ci.candidate_id: ci.pin_mac
            for ci in s.execute(select(CheckIn).where(col(CheckIn.session_id) == sess.id)).scalars()
        }
        saved_pins = saved.get("pins")
        if not isinstance(saved_pins, dict):
            saved_pins = {}
        people: list[dict[str, Any]] = []
        for c, f in s.execute(
            select(Candidate, Formation)
            .outerjoin(Formation, col(Formation.id) == col(Candidate.formation_id))
            .where(col(Candidate.session_id) == sess.id)
            .order_by(col(Candidate.registration_number))
        ).all():
            person: dict[str, Any] = {
                "registration_number": c.registration_number,
                "name": c.name,
                "category": c.category,
                "formation": f.code if f else "",
            }
            pin = saved_pins.get(c.registration_number)
            stored = macs.get(c.id)
            if (
                isinstance(pin, str)
                and stored
                and c.id is not None
                and check_pin(secret_key, sess.id, c.id, pin, stored)
            ):
                person["pin"] = pin
            people.append(person)
        saved_staff = saved.get("staff")
        if not isinstance(saved_staff, dict):
            saved_staff = {}
        passwords: dict[str, tuple[str, str]] = {}
        for st in s.execute(select(Staff)).scalars():
            if _DEMO_STAFF.get(st.role) != st.username:
                continue
            kept = saved_staff.get(st.role)
            if (
                isinstance(kept, list)
                and len(kept) == 2
                and kept[0] == st.username
                and isinstance(kept[1], str)
                and verify_password(kept[1], st.password_hash)
            ):
                passwords[st.role] = (st.username, kept[1])
                continue
            pw = secrets.token_urlsafe(9)
            st.password_hash = hash_password(pw)
            passwords[st.role] = (st.username, pw)
            s.add(st)
            # A new password is audited like any other (exam_server.audit.staff_records).
            record_password(s.connection(), "demo", st)
        proctors = [st.id for st in s.execute(select(Staff)).scalars() if st.role == "proctor"]
        s.commit()
        session_id, session_code, status, token = sess.id, sess.code, sess.status, sess.token
        room_id, exam_id = sess.room_id, exam.id
    # A demo database from before room scopes: give its proctor the demo room.
    for pid in proctors:
        if pid is not None and not staff_rooms(engine, pid):
            assign_rooms(engine, pid, [room_id], "demo")
    if status != "open":
        token = sch.open_session(engine, session_id, "proctor:pengawas")
    for person in people:
        if "pin" not in person:
            person["pin"] = sch.issue_pin(
                engine,
                secret_key,
                session_id,
                str(person["registration_number"]),
                "proctor:pengawas",
            )
    return SeedSummary(
        exam_id=exam_id,
        exam_code="SKD-DEMO",
        session_id=session_id,
        session_code=session_code,
        session_token=token or "",
        site_code="TILOK-01",
        room_code="R1",
        candidates=people,
        admin=passwords.get("admin", ("", "")),
        proctor=passwords.get("proctor", ("", "")),
    )


def demo_secret(data_dir: Path) -> str:
    """The demo's server key, kept in ``data_dir/server-secret.key`` so that the
    PINs printed by one run still work when the demo is served again."""
    path = data_dir / "server-secret.key"
    if path.exists():
        key = path.read_text().strip()
        if len(key) >= 32:
            return key
    key = secrets.token_urlsafe(48)
    path.write_text(key + "\n")
    with contextlib.suppress(OSError):
        path.chmod(0o600)
    return key


#: The demo's finished exam (exam_server.after_test.seed.seed_after_test_demo).
DEMO_FINISHED_EXAM = "SKD-HASIL"
#: In the demo's data folder while that exam is seeded in the background:
#: ``{"pid": <the seeding process>, "exam": "SKD-HASIL"}``.
PREPARING_FILE = "after-test-preparing.json"


def being_prepared(settings: Settings | None) -> str | None:
    """The exam the demo is still seeding in the background, or None: the one
    question the after-the-test and results pages ask before saying "nothing
    here". Only a demo server has ``settings.demo_preparing_path``; its file
    counts while the process it names is alive, so a file left by a demo that
    was killed never says "being prepared" again. (A read of a few bytes of a
    local file, on the page's own thread.)"""
    path = settings.demo_preparing_path if settings is not None else None
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text())
        pid, exam = int(data["pid"]), str(data["exam"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)  # signal 0: does the process exist
    except PermissionError:
        pass  # it exists, under another user
    except OSError:
        return None
    return exam


@dataclass
class Preparing:
    """The demo's after-the-test part being seeded by ``proc`` (see
    :func:`exam_server.after_test.seed.start_demo_after_test`), and ``marker``,
    the file that tells the pages so; a thread removes it as soon as ``proc``
    ends, however it ends: done, failed or stopped."""

    proc: subprocess.Popen[bytes]
    marker: Path
    watcher: threading.Thread

    def wait(self, timeout: float | None = None) -> int:
        """The process's exit code once it ended and the marker is gone."""
        code = self.proc.wait(timeout)
        self.watcher.join(timeout)
        return code

    def stop(self) -> None:
        """Ask the process to stop and wait for it (and the marker's removal)."""
        from exam_server.after_test.seed import stop_demo_after_test

        stop_demo_after_test(self.proc)
        self.watcher.join(10.0)


def prepare_in_background(database_url: str, results_dir: Path, marker: Path) -> Preparing | None:
    """Start seeding the demo's finished exam in the background and write
    ``marker`` (:data:`PREPARING_FILE`) until it ends; None (and no marker)
    when the exam is there already."""
    from exam_server.after_test.seed import start_demo_after_test

    marker.unlink(missing_ok=True)  # one left by a demo that was killed
    proc = start_demo_after_test(database_url, results_dir)
    if proc is None:
        return None
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps({"pid": proc.pid, "exam": DEMO_FINISHED_EXAM}) + "\n")
    os.replace(tmp, marker)  # never half a file to a page

    def watch() -> None:
        try:
            proc.wait()
        finally:
            marker.unlink(missing_ok=True)

    watcher = threading.Thread(target=watch, name="demo-after-test-marker", daemon=True)
    watcher.start()
    return Preparing(proc, marker, watcher)


def serve_demo(
    database_url: str,
    secret_key: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    results_dir: str | None = None,
) -> None:
    """Serve the demo database until interrupted, printing where to look.

    results_dir: where ``seleksi results publish`` writes the demo's
    publication; served at ``/results`` once it exists.
    """
    from exam_server.serve import serve
    from exam_server.settings import Settings

    # After the test (issue 20): a finished exam with its publication, one
    # accepted appeal signed as version 2, survey answers and feedback. Its 60
    # sittings take about ten seconds to play: a process of its own seeds them
    # while the server starts, and prints its lines when done; until then its
    # pages say it is being prepared (being_prepared). The SKB interviews on
    # that exam (exam_server.assessment.demo) are seeded by the same process.
    after = (
        prepare_in_background(
            database_url, Path(results_dir), Path(results_dir).parent / PREPARING_FILE
        )
        if results_dir
        else None
    )
    settings = Settings(
        database_url=database_url,
        secret_key=secret_key,
        host=host,
        port=port,
        results_dir=results_dir,
        demo_preparing_path=str(after.marker) if after else None,
    )
    base = f"http://{host}:{port}"
    print()
    print(f"Serving on {base}  (Ctrl-C to stop)")
    print(f"  start page:         {base}/")
    print(f"  candidate terminal: {base}/terminal.html")
    print(f"  proctor console:    {base}/proctor.html")
    print(f"  live-score board:   {base}/board.html")
    print(f"  admin pages:        {base}/admin.html")
    print(f"  published results:  {base}/results/")
    print(f"  recruitment:        {base}/recruitment/  (staff: /recruitment/staff)")
    print(
        f"  after the test:     {base}/after/{DEMO_FINISHED_EXAM}/"
        + ("  (being prepared: its lines follow in a few seconds)" if after else "")
    )
    print(
        f"  SKB interviews:     {base}/skb-admin.html  (assessors: /skb-assessor.html, "
        "candidates: /skb-candidate.html)"
        + ("  (being prepared: its accounts follow the after-the-test lines)" if after else "")
    )
    print(f"  REST API schema:    {base}/api/openapi.json", flush=True)
    try:
        serve(settings, log_level="warning")
    finally:
        if after is not None:
            after.stop()
