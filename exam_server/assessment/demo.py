"""The demo's SKB (``seleksi demo``): an interview day in progress on the demo's
finished exam (SKD-HASIL), made through the same service functions the SKB
endpoints call, so every rule (caps, the 3x cut, double booking, blind
sheets, the adjudication margin) holds for it as for a real one.

What :func:`seed_skb_demo` makes, for the formation with the most candidates
called to the SKB whose SKD is final:

* a plan: the CAT field test (60 %) and an interview (40 %) on a three-criterion
  rubric, averaged by three assessors with a 25-point adjudication margin;
* three assessor accounts, the first of them the panel's chair, and the panel;
* nine interview slots, six today and three in two days (WIB);
* four candidates scheduled: one final (three sheets that agree), one waiting
  for the chair's adjudication (three sheets that do not), one with two of its
  three sheets, one in two days (which the candidate may still move); a fifth
  called candidate is left for the administrator to schedule.

The accounts' passwords are kept in :data:`DEMO_FILE` beside the database
(the database keeps only their hashes), so that running the demo again prints
the same ones (:func:`skb_demo_lines`); ``seleksi demo --reset`` deletes it.
Each scheduled candidate's SKD receipt is printed with them: the code their
finished sitting got at the terminal, signed again from the stored sitting
with the server's checkpoint key (the same code: Ed25519 is deterministic),
the candidate's proof on ``/skb-candidate.html`` (never the date of birth,
which the results publication lists).
It needs the finished exam, which the demo seeds in a background process
(``exam_server.after_test.demo_background``): the SKB is seeded right after
it there, so the demo's start does not wait for either.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assessment.models import SkbPanel, SkbSlot
from exam_server.assessment import service as svc
from exam_server.assessment.common import panel_ctx
from exam_server.assessment.reports import candidate_state
from exam_server.audit.staff_records import record_password
from exam_server.auth import hash_password, verify_password
from exam_server.db import writer
from exam_server.models import Candidate, Formation, Staff
from exam_server.receipts.again import sitting_receipt

#: The SKB accounts' passwords, in the demo's data folder (mode 0600).
DEMO_FILE = "skb-demo.json"
#: The demo's interview panel; its existence says the SKB part is seeded.
PANEL = "WWN-DEMO"
COMPONENT = "WWN"
#: The exam whose (final) SKD calls the candidates to the demo's SKB.
EXAM = "SKD-HASIL"
#: The demo's administrator (``exam_server.demo.seed_exam``) does the set-up.
ACTOR = "admin:admin"
#: username, name, chair
ASSESSORS = (
    ("asesor1", "Dra. Rina Kusumawati, M.Si.", True),
    ("asesor2", "Bambang Sutrisno, M.Psi.", False),
    ("asesor3", "Sri Wahyuni, S.Sos.", False),
)
MEETING_URL = "https://meet.example.org/skb-demo"
_WIB = dt.timezone(dt.timedelta(hours=7))
_LEVELS = [
    {"points": p, "label_id": lid, "label_en": len_}
    for p, lid, len_ in (
        (1, "kurang", "poor"),
        (2, "cukup", "fair"),
        (3, "baik", "good"),
        (4, "sangat baik", "very good"),
    )
]
_CRITERIA = (
    ("komunikasi", "Komunikasi", "Communication"),
    ("integritas", "Integritas", "Integrity"),
    ("pelayanan", "Orientasi pelayanan", "Service orientation"),
)
#: Each scheduled candidate's sheets (komunikasi, integritas, pelayanan) by
#: assessor, in the order the candidates are called: the first agree (final),
#: the second differ by far more than the margin (the chair adjudicates), the
#: third misses asesor3's sheet, the fourth is interviewed in two days.
_SHEETS: tuple[dict[str, tuple[int, int, int]], ...] = (
    {"asesor1": (4, 3, 4), "asesor2": (3, 3, 4), "asesor3": (4, 4, 3)},
    {"asesor1": (1, 2, 1), "asesor2": (4, 4, 3), "asesor3": (3, 2, 3)},
    {"asesor1": (3, 3, 3), "asesor2": (3, 4, 3)},
    {},
)
#: Which slot each of them sits in: today's first three, the later day's first.
_SLOT_OF = (0, 1, 2, 6)


def plan(formation: str) -> dict[str, Any]:
    """The demo formation's SKB plan (within the 2024 caps: CAT at least 50 %)."""
    rubric = {
        "criteria": [
            {"code": code, "name_id": name_id, "name_en": name_en, "levels": _LEVELS}
            for code, name_id, name_en in _CRITERIA
        ]
    }
    return {
        "formation": formation,
        "components": [
            {"code": "CAT", "kind": "cat", "name_id": "Tes bidang (CAT)",
             "name_en": "Field test (CAT)", "weight": 60},
            {"code": COMPONENT, "kind": "interview", "name_id": "Wawancara",
             "name_en": "Interview", "weight": 40, "minimum": 20, "rubric": rubric,
             "assessors": 3, "reschedule_notice_hours": 24,
             "finalisation": {"rule": "mean", "adjudication_margin": 25}},
        ],
    }  # fmt: skip


def seeded(engine: Engine) -> bool:
    """Whether the demo's SKB is in the database (its panel is made after the
    plan and the accounts, before the slots and sheets)."""
    with Session(engine) as s:
        return s.exec(select(SkbPanel.id).where(SkbPanel.code == PANEL)).first() is not None


def _formation(engine: Engine) -> tuple[str, list[str]] | None:
    """The formation with the most candidates called to the SKB whose SKD is
    final (the demo's other formations have candidates still to sit SKD-DEMO),
    and its called candidates; None when none has any."""
    with Session(engine) as s:
        formations = s.exec(select(Formation).order_by(col(Formation.id))).all()
        members = {
            f.id: set(
                s.exec(
                    select(Candidate.registration_number).where(Candidate.formation_id == f.id)
                ).all()
            )
            for f in formations
        }
    best: tuple[str, list[str]] | None = None
    for f in formations:
        assert f.id is not None
        try:
            called = sorted(svc.called_to_skb(engine, f.id) & members[f.id])
        except svc.Refused:  # its SKD is not final (a session still open)
            continue
        if called and (best is None or len(called) > len(best[1])):
            best = (f.code, called)
    return best


def _windows(now: float) -> list[tuple[dt.datetime, dt.datetime]]:
    """Today 08.00-12.00 WIB and, two days later, 08.00-10.00 WIB: the demo's
    interviews are today's on the assessor's page, and one can still be moved."""
    today = dt.datetime.fromtimestamp(now, _WIB).date()
    out = []
    for days, hours in ((0, 4), (2, 2)):
        start = dt.datetime.combine(today + dt.timedelta(days=days), dt.time(8), _WIB)
        out.append((start, start + dt.timedelta(hours=hours)))
    return out


def seed_skb_demo(engine: Engine, data_dir: Path, now: float | None = None) -> list[str]:
    """The demo's SKB (see the module docstring); lines to print, the accounts'
    passwords among them. Seeded before: the lines of :func:`skb_demo_lines`.
    Nothing (no lines) when no formation has a final SKD yet."""
    if seeded(engine):
        return skb_demo_lines(engine, data_dir)
    chosen = _formation(engine)
    if chosen is None:
        return []
    formation, called = chosen
    now = time.time() if now is None else now
    try:
        return _seed(engine, data_dir, formation, called, now)
    except svc.Refused as exc:
        # Someone made SKB records of these names on the demo's pages before
        # this part was seeded (a demo from before it had one): say so, once a
        # start, rather than fail the background process.
        return [f"SKB demo: not seeded ({exc.message}); `seleksi demo --reset` starts over"]


def _seed(
    engine: Engine, data_dir: Path, formation: str, called: list[str], now: float
) -> list[str]:
    svc.save_plan(engine, plan(formation), ACTOR)
    passwords: dict[str, str] = {}
    for username, name, _chair in ASSESSORS:
        passwords[username] = secrets.token_urlsafe(9)
        svc.add_assessor(engine, username, name, passwords[username], ACTOR)
    chair = next(u for u, _n, c in ASSESSORS if c)
    svc.create_panel(
        engine, PANEL, formation, COMPONENT, [u for u, _n, _c in ASSESSORS], chair, ACTOR
    )
    slots = svc.create_slots(engine, PANEL, _windows(now), 30, 10, MEETING_URL, "WIB", ACTOR)
    # Each assessor works as on their page: declares no conflict, then scores.
    staff = _staff_ids(engine)
    for regno, sheets, slot in zip(called, _SHEETS, _SLOT_OF, strict=False):
        svc.assign_slot(engine, slots[slot], regno, ACTOR, now)
        for username, marks in sheets.items():
            svc.declare(engine, staff[username], PANEL, regno, False, "", now)
            points = {c[0]: p for c, p in zip(_CRITERIA, marks, strict=True)}
            svc.submit_sheet(engine, staff[username], PANEL, regno, points, now)
    _save(data_dir, _kept(engine, passwords))
    return _lines(engine, passwords)


def demo_skb(database_url: str, data_dir: Path) -> list[str]:
    """:func:`seed_skb_demo` on the demo database (the background process's
    second part, after the finished exam)."""
    from exam_server.db import make_engine

    engine = make_engine(database_url)
    try:
        return seed_skb_demo(engine, data_dir)
    finally:
        engine.dispose()


def _staff_ids(engine: Engine) -> dict[str, int]:
    names = [u for u, _n, _c in ASSESSORS]
    with Session(engine) as s:
        rows = s.exec(select(Staff).where(col(Staff.username).in_(names))).all()
        return {st.username: st.id for st in rows if st.id is not None}


def _kept(engine: Engine, passwords: dict[str, str]) -> dict[str, list[str]]:
    """What the file keeps per account: the password and the hash it was set
    with (see :func:`skb_demo_lines`)."""
    with Session(engine) as s:
        rows = s.exec(select(Staff).where(col(Staff.username).in_(list(passwords)))).all()
        return {st.username: [passwords[st.username], st.password_hash] for st in rows}


def _save(data_dir: Path, accounts: dict[str, list[str]]) -> None:
    path = data_dir / DEMO_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"accounts": accounts}, f, indent=1)
        f.write("\n")


def _load(data_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((data_dir / DEMO_FILE).read_text())
    except (OSError, ValueError):
        return {}
    accounts = data.get("accounts") if isinstance(data, dict) else None
    return accounts if isinstance(accounts, dict) else {}


def skb_demo_lines(engine: Engine, data_dir: Path) -> list[str]:
    """The lines of a demo SKB seeded before (none when it is not): the saved
    passwords where they still open their accounts, new ones where not (the
    database keeps only hashes), and each scheduled candidate's state now.

    A saved password whose account's hash is the one it was saved with still
    opens it, which a string comparison tells; only a changed hash costs a
    password check (scrypt, about 0.1 s), so the demo's start stays quick."""
    if not seeded(engine):
        return []
    saved = _load(data_dir)
    passwords: dict[str, str] = {}
    changed = False
    with Session(writer(engine)) as s:
        for st in s.exec(select(Staff).where(col(Staff.username).in_(_usernames()))).all():
            kept = saved.get(st.username)
            if (
                isinstance(kept, list)
                and len(kept) == 2
                and all(isinstance(x, str) for x in kept)
                and (kept[1] == st.password_hash or verify_password(kept[0], st.password_hash))
            ):
                passwords[st.username] = kept[0]
                changed |= kept[1] != st.password_hash
                continue
            passwords[st.username] = secrets.token_urlsafe(9)
            st.password_hash = hash_password(passwords[st.username])
            s.add(st)
            # A new password is audited like any other (exam_server.audit.staff_records).
            record_password(s.connection(), "demo", st)
            changed = True
        s.commit()
    if changed or set(saved) != set(passwords):
        _save(data_dir, _kept(engine, passwords))
    return _lines(engine, passwords)


def _usernames() -> list[str]:
    return [u for u, _n, _c in ASSESSORS]


def _lines(engine: Engine, passwords: dict[str, str]) -> list[str]:
    with Session(engine) as s:
        pc = panel_ctx(s, PANEL)
        formation = s.exec(
            select(Formation.code).where(Formation.id == pc.panel.formation_id)
        ).one()
        lines = [
            f"SKB demo (formation {formation}, panel {PANEL}): /skb-admin.html "
            "(as the demo's admin)"
        ]
        for username, _name, chair in ASSESSORS:
            if username not in passwords:
                continue
            where = f"  /skb-chair.html?panel={PANEL}" if chair else ""
            role = "assessor chair" if chair else "assessor"
            lines.append(
                f"  {role:14s} {username:14s} {passwords[username]}  /skb-assessor.html{where}"
            )
        lines.append(
            "  candidates on /skb-candidate.html (registration number, interview, state;"
            " under each its SKD receipt, to paste):"
        )
        key = _receipt_key(engine)
        for slot in s.exec(
            select(SkbSlot)
            .where(SkbSlot.panel_id == pc.id, col(SkbSlot.candidate_id).is_not(None))
            .order_by(col(SkbSlot.starts_at))
        ).all():
            cand = s.get(Candidate, slot.candidate_id)
            assert cand is not None
            state = candidate_state(s, pc, cand, None)
            again = (
                sitting_receipt(
                    engine, key, exam_code=EXAM, registration_number=cand.registration_number
                )
                if key
                else None
            )
            code = again.code if again else None
            lines += [
                f"    {cand.registration_number}  "
                f"{dt.datetime.fromtimestamp(slot.starts_at, _WIB):%Y-%m-%d %H.%M} WIB  "
                f"{_state_text(state)}",
                f"      receipt: {code or '(none: no finished SKD sitting or no key)'}",
            ]
    return lines


def _receipt_key(engine: Engine) -> Ed25519PrivateKey | None:
    """The demo server's checkpoint key, which signs its receipts (the one
    ``exam_server.after_test.demo_content`` signed the finished exam's
    receipts with); None while there is none."""
    from exam_server.checkpoints import load_or_create_key, paths_for

    path = paths_for(engine.url.render_as_string(hide_password=False))[1]
    return load_or_create_key(path) if path.is_file() else None


def _state_text(state: dict[str, Any]) -> str:
    if state["state"] == "final":
        return f"interview score final: {state['final']}"
    if state["state"] == "adjudication":
        return "waiting for the chair's adjudication"
    return f"{state['submitted']} of {state['expected']} sheets in"
