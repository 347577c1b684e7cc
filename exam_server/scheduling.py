"""Setting up exam day: sites, rooms, exams, sessions, formations, candidates,
staff, check-in PINs. Plain blocking functions on an ``Engine`` (the REST
handlers run them in a thread; the demo and tests call them directly).

Each function is one transaction: it stores everything or nothing, and
raises :class:`SetupError` with per-row/field errors for bad input.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from cat_engine.bank import BankArrays
from cat_engine.design import TestDesign
from cat_engine.errors import EngineError
from cat_engine.pool import check_design_against_bank
from exam_server import audit
from exam_server.auth import hash_password, new_pin, new_session_token, pin_mac
from exam_server.db import writer
from exam_server.exam_options import ExamOptions
from exam_server.exams import exam_policy
from exam_server.models import (
    Candidate,
    CheckIn,
    Exam,
    ExamSession,
    Formation,
    Room,
    Site,
    Staff,
)
from exam_server.results.rules import RankingPolicy
from exam_server.snapshot import PublicItemContent, bank_to_json, items_to_json

REG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,39}$")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")
CSV_COLUMNS = ("registration_number", "name", "category", "formation_code", "session_code")
CSV_OPTIONAL = ("birth_date",)


@dataclass
class SetupError(Exception):
    """Bad setup input: ``errors`` = [{"row": n, "field": name, "message": text}]."""

    message: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    status: int = 422

    def __str__(self) -> str:
        lines = [self.message] + [
            f"  row {e.get('row', '-')}, {e.get('field', '-')}: {e['message']}" for e in self.errors
        ]
        return "\n".join(lines)


def _code(value: str, what: str) -> str:
    if not isinstance(value, str) or not CODE_RE.match(value):
        raise SetupError(
            f"{what}: invalid code {value!r}", [{"field": what, "message": "invalid code"}]
        )
    return value


def _one(s: Session, model: Any, **where: Any) -> Any:
    stmt = select(model)
    for k, v in where.items():
        stmt = stmt.where(getattr(model, k) == v)
    return s.execute(stmt).scalars().first()


def create_site(engine: Engine, code: str, name: str) -> int:
    with Session(writer(engine)) as s:
        if _one(s, Site, code=_code(code, "code")) is not None:
            raise SetupError(f"site {code} exists", [{"field": "code", "message": "exists"}], 409)
        site = Site(code=code, name=name)
        s.add(site)
        s.commit()
        assert site.id is not None
        return site.id


def create_room(engine: Engine, site_code: str, code: str, name: str, capacity: int = 0) -> int:
    with Session(writer(engine)) as s:
        site = _one(s, Site, code=site_code)
        if site is None:
            raise SetupError(f"no site {site_code}", [{"field": "site_code", "message": "unknown"}])
        if _one(s, Room, site_id=site.id, code=_code(code, "code")) is not None:
            raise SetupError(f"room {code} exists", [{"field": "code", "message": "exists"}], 409)
        room = Room(site_id=site.id, code=code, name=name, capacity=capacity)
        s.add(room)
        s.commit()
        assert room.id is not None
        return room.id


def create_exam(
    engine: Engine,
    code: str,
    name: str,
    design: TestDesign,
    bank: BankArrays,
    items: list[PublicItemContent],
    policy: RankingPolicy | None = None,
    options: ExamOptions | None = None,
) -> int:
    """Store an exam with a frozen copy of ``bank`` and the public ``items``
    (aligned with the bank's indices), and its documents: the test design,
    the ranking policy (default: the 2024 rules) and its options (default:
    :class:`ExamOptions`). Keys and points stay in the arrays, which are
    never sent to terminals."""
    _code(code, "code")
    policy = policy or RankingPolicy.default_2024()
    options = options or ExamOptions()
    if len(items) != bank.n_items:
        raise SetupError(f"{len(items)} item texts for {bank.n_items} items")
    if [it.item_id for it in items] != list(bank.item_ids):
        raise SetupError("item texts are not in the bank's order")
    limit = design.time_limit_seconds
    if limit is None or limit <= 0:
        raise SetupError(
            "the design has no overall time limit",
            [{"field": "design", "message": "time_limit_seconds"}],
        )
    try:
        check_design_against_bank(design, bank)
    except (EngineError, ValueError) as exc:
        raise SetupError(
            f"the design does not fit the bank: {exc}", [{"field": "design", "message": str(exc)}]
        ) from None
    check_policy_fits_design(policy, design)
    with Session(writer(engine)) as s:
        if _one(s, Exam, code=code) is not None:
            raise SetupError(f"exam {code} exists", [{"field": "code", "message": "exists"}], 409)
        exam = Exam(
            code=code,
            name=name,
            design_json=design.to_json(),
            bank_json=bank_to_json(bank),
            items_json=items_to_json(items),
            policy_json=policy.to_json(),
            options_json=options.to_json(),
            n_items=bank.n_items,
            created_at=time.time(),
        )
        s.add(exam)
        s.flush()
        assert exam.id is not None
        audit.append(
            s.connection(),
            "create_exam",
            "admin",
            data={
                "exam_id": exam.id,
                "code": code,
                "n_items": bank.n_items,
                **_document_digests(exam),
            },
        )
        s.commit()
        return exam.id


def create_session(
    engine: Engine, code: str, exam_code: str, site_code: str, room_code: str, starts_at: float
) -> int:
    with Session(writer(engine)) as s:
        exam = _one(s, Exam, code=exam_code)
        site = _one(s, Site, code=site_code)
        errors = []
        if exam is None:
            errors.append({"field": "exam_code", "message": f"no exam {exam_code}"})
        if site is None:
            errors.append({"field": "site_code", "message": f"no site {site_code}"})
        room = _one(s, Room, site_id=site.id, code=room_code) if site is not None else None
        if site is not None and room is None:
            errors.append({"field": "room_code", "message": f"no room {room_code} at {site_code}"})
        if _one(s, ExamSession, code=_code(code, "code")) is not None:
            raise SetupError(
                f"session {code} exists", [{"field": "code", "message": "exists"}], 409
            )
        if errors or exam is None or room is None:
            raise SetupError("cannot schedule the session", errors)
        sess = ExamSession(code=code, exam_id=exam.id, room_id=room.id, starts_at=starts_at)
        s.add(sess)
        s.commit()
        assert sess.id is not None
        return sess.id


def create_formations(engine: Engine, rows: list[dict[str, Any]]) -> int:
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    with Session(writer(engine)) as s:
        out = []
        for i, r in enumerate(rows, start=1):
            code = r.get("code")
            if not isinstance(code, str) or not CODE_RE.match(code):
                errors.append({"row": i, "field": "code", "message": "invalid code"})
                continue
            if code in seen or _one(s, Formation, code=code) is not None:
                errors.append({"row": i, "field": "code", "message": f"formation {code} exists"})
            seen.add(code)
            openings = r.get("openings", 1)
            if isinstance(openings, bool) or not isinstance(openings, int) or openings < 1:
                errors.append(
                    {"row": i, "field": "openings", "message": "must be a positive integer"}
                )
                continue
            out.append(
                Formation(
                    code=code,
                    agency=str(r.get("agency", ""))[:200],
                    position=str(r.get("position", ""))[:200],
                    location=str(r.get("location", ""))[:200],
                    openings=openings,
                )
            )
        if errors:
            raise SetupError("formations not imported", errors)
        s.add_all(out)
        s.commit()
        return len(out)


def import_candidates_csv(engine: Engine, text: str) -> int:
    """Import candidates from CSV (header: registration_number, name, category,
    formation_code, session_code[, birth_date]). Rows are numbered as in a
    spreadsheet (the header is row 1). All rows or none are stored. A
    category must be one of the ranking policy of the exam the candidate's
    session sits (``Exam.policy_json``)."""
    # A bare CR (old Mac line ends, or pasted text) is a line break, as a
    # spreadsheet would read it; the csv module refuses it otherwise.
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _import_candidate_rows(engine, reader)
    except csv.Error as exc:
        raise SetupError(
            "the CSV cannot be read", [{"row": reader.line_num, "field": "-", "message": str(exc)}]
        ) from None


def _import_candidate_rows(engine: Engine, reader: csv.DictReader[str]) -> int:
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise SetupError(
            "the CSV header is missing columns",
            [{"row": 1, "field": c, "message": "missing column"} for c in missing],
        )
    unknown = [h for h in header if h not in CSV_COLUMNS + CSV_OPTIONAL]
    if unknown:
        raise SetupError(
            "the CSV header has unknown columns",
            [{"row": 1, "field": c, "message": "unknown column"} for c in unknown],
        )
    errors: list[dict[str, Any]] = []
    with Session(writer(engine)) as s:
        formations = {f.code: f.id for f in s.execute(select(Formation)).scalars()}
        sessions = {x.code: x.id for x in s.execute(select(ExamSession)).scalars()}
        # The categories each session's exam defines (its ranking policy).
        categories = {
            code: set(exam_policy(exam).categories)
            for code, exam in s.execute(
                select(col(ExamSession.code), Exam).join(
                    Exam, col(Exam.id) == col(ExamSession.exam_id)
                )
            ).all()
        }
        existing = set(s.execute(select(Candidate.registration_number)).scalars())  # type: ignore[call-overload]
        seen: set[str] = set()
        out: list[Candidate] = []
        for i, raw in enumerate(reader, start=2):
            r = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            if None in raw:
                errors.append({"row": i, "field": "-", "message": "more cells than columns"})
                continue
            row_errors = []
            reg = r.get("registration_number", "")
            if not REG_RE.match(reg):
                row_errors.append(("registration_number", "3–40 letters, digits, '.', '_' or '-'"))
            elif reg in seen:
                row_errors.append(("registration_number", f"{reg} appears twice in the file"))
            elif reg in existing:
                row_errors.append(("registration_number", f"{reg} is already registered"))
            seen.add(reg)
            if not r.get("name") or len(r["name"]) > 200:
                row_errors.append(("name", "required, at most 200 characters"))
            cat = r.get("category", "")
            fcode = r.get("formation_code", "")
            if fcode not in formations:
                row_errors.append(("formation_code", f"no formation {fcode!r}"))
            scode = r.get("session_code", "")
            if scode not in sessions:
                row_errors.append(("session_code", f"no session {scode!r}"))
            allowed = categories.get(scode)
            if not cat or (allowed is not None and cat not in allowed):
                names = ", ".join(sorted(allowed)) if allowed else "a category"
                row_errors.append(("category", f"must be one of: {names}"))
            bd = r.get("birth_date") or None
            if bd is not None and not re.match(r"^\d{4}-\d{2}-\d{2}$", bd):
                row_errors.append(("birth_date", "use YYYY-MM-DD"))
            if row_errors:
                errors.extend({"row": i, "field": f, "message": m} for f, m in row_errors)
                continue
            out.append(
                Candidate(
                    registration_number=reg,
                    name=r["name"],
                    category=cat,
                    formation_id=formations[fcode],
                    session_id=sessions[scode],
                    birth_date=bd,
                )
            )
        if errors:
            raise SetupError(
                f"{len({e['row'] for e in errors})} rows have errors; nothing imported", errors
            )
        if not out:
            raise SetupError(
                "the CSV has no rows", [{"row": 2, "field": "-", "message": "no data"}]
            )
        s.add_all(out)
        s.flush()
        audit.append(s.connection(), "import_candidates", "admin", data={"count": len(out)})
        s.commit()
        return len(out)


#: The shortest staff password accepted (admin API and ``seleksi staff``).
MIN_PASSWORD_LENGTH = 8


def check_staff_password(password: str) -> None:
    """Raises :class:`SetupError` for a password too short to accept."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise SetupError(
            f"password too short (at least {MIN_PASSWORD_LENGTH} characters)",
            [{"field": "password", "message": f"at least {MIN_PASSWORD_LENGTH} characters"}],
        )


def create_staff(
    engine: Engine, username: str, name: str, role: str, password: str, scrypt_n: int = 2**14
) -> int:
    if role not in ("admin", "proctor"):
        raise SetupError("role must be admin or proctor", [{"field": "role", "message": "invalid"}])
    check_staff_password(password)
    digest = hash_password(password, n=scrypt_n)
    with Session(writer(engine)) as s:
        if _one(s, Staff, username=_code(username, "username")) is not None:
            raise SetupError(
                f"user {username} exists", [{"field": "username", "message": "exists"}], 409
            )
        st = Staff(username=username, name=name, role=role, password_hash=digest)
        s.add(st)
        s.commit()
        assert st.id is not None
        return st.id


def set_staff_password(
    engine: Engine, username: str, password: str, scrypt_n: int = 2**14, actor: str = "cli"
) -> None:
    """Replace a staff account's password (raises :class:`SetupError` 404 if no such
    user); audited as ``staff_password`` (who, by whom; never the password)."""
    check_staff_password(password)
    digest = hash_password(password, n=scrypt_n)
    with Session(writer(engine)) as s:
        st = _one(s, Staff, username=username)
        if st is None:
            raise SetupError(f"no user {username}", status=404)
        st.password_hash = digest
        audit.append(s.connection(), "staff_password", actor, data={"username": username})
        s.commit()


def set_staff_disabled(
    engine: Engine,
    username: str,
    disabled: bool,
    actor: str = "cli",
    actor_id: int | None = None,
    reason: str = "",
) -> None:
    """Refuse (``disabled``) or allow again a staff account's logins and tokens
    (404 if no such user); audited as ``staff_disabled`` / ``staff_enabled``.

    Nobody is locked out by it: the last enabled administrator cannot be
    disabled (409 ``last_admin``: nobody could enable anyone again from the
    admin pages), nor can the acting administrator disable their own account
    (409 ``own_account``; ``actor_id``: the acting staff id, None from the
    command line, which a server operator runs).
    """
    with Session(writer(engine)) as s:
        st = _one(s, Staff, username=username)
        if st is None:
            raise SetupError(f"no user {username}", status=404)
        if disabled and st.id == actor_id:
            raise SetupError(
                "you cannot disable your own account: ask another administrator",
                [{"field": "staff", "message": "own_account"}],
                409,
            )
        if disabled and st.role == "admin" and not st.disabled:
            others = s.execute(
                select(col(Staff.id)).where(
                    col(Staff.role) == "admin",
                    col(Staff.disabled).is_(False),
                    col(Staff.id) != st.id,
                )
            ).first()
            if others is None:
                raise SetupError(
                    f"{username} is the last enabled administrator: create or enable "
                    "another administrator first",
                    [{"field": "staff", "message": "last_admin"}],
                    409,
                )
        if st.disabled != disabled:
            st.disabled = disabled
            audit.append(
                s.connection(),
                "staff_disabled" if disabled else "staff_enabled",
                actor,
                reason=reason,
                data={"username": username},
            )
        s.commit()


def staff_username(engine: Engine, staff_id: int) -> str:
    """The username of staff account ``staff_id`` (SetupError 404 if there is none)."""
    with Session(engine) as s:
        st = s.get(Staff, staff_id)
        if st is None:
            raise SetupError(f"no staff account {staff_id}", status=404)
        return st.username


def open_session(engine: Engine, session_id: int, actor: str) -> str:
    """Open a session for logins; returns its (new) token."""
    token = new_session_token()
    with Session(writer(engine)) as s:
        sess = s.get(ExamSession, session_id)
        if sess is None:
            raise SetupError(f"no session {session_id}", status=404)
        if sess.status == "closed":
            raise SetupError("the session is closed", status=409)
        from exam_server.sites.keys import items_sealed  # a site's package (docs/sites.md)

        if items_sealed(s.connection(), session_id):
            raise SetupError(
                "the session's items are still sealed: release its key first", status=409
            )
        sess.status, sess.token, sess.opened_at = "open", token, time.time()
        s.add(sess)
        s.flush()
        audit.append(s.connection(), "open_session", actor, session_id=session_id)
        s.commit()
    return token


def mark_session_closed(engine: Engine, session_id: int, actor: str, reason: str) -> list[int]:
    """Close a session to logins; returns the ids of its unfinished attempts."""
    from exam_server.models import Attempt

    with Session(writer(engine)) as s:
        sess = s.get(ExamSession, session_id)
        if sess is None:
            raise SetupError(f"no session {session_id}", status=404)
        sess.status, sess.closed_at = "closed", time.time()
        s.add(sess)
        s.flush()
        audit.append(s.connection(), "close_session", actor, session_id=session_id, reason=reason)
        s.commit()
        rows = s.execute(
            select(col(Attempt.id)).where(
                col(Attempt.session_id) == session_id,
                col(Attempt.status).in_(("running", "paused")),
            )
        ).scalars()
        return [int(x) for x in rows]


def issue_pin(
    engine: Engine, secret_key: str, session_id: int, registration_number: str, actor: str
) -> str:
    """Issue (or re-issue) the check-in PIN of a candidate for a session."""
    pin = new_pin()
    with Session(writer(engine)) as s:
        c = _one(s, Candidate, registration_number=registration_number)
        if c is None or c.session_id != session_id:
            raise SetupError(
                f"{registration_number} is not scheduled in this session",
                [{"field": "registration_number", "message": "not in session"}],
                404,
            )
        mac = pin_mac(secret_key, session_id, c.id, pin)
        ci = _one(s, CheckIn, session_id=session_id, candidate_id=c.id)
        if ci is None:
            ci = CheckIn(session_id=session_id, candidate_id=c.id, pin_mac=mac)
        ci.pin_mac, ci.issued_at, ci.issued_by = mac, time.time(), actor
        s.add(ci)
        s.flush()
        audit.append(
            s.connection(),
            "checkin",
            actor,
            session_id=session_id,
            data={"registration_number": registration_number},
        )
        s.commit()
    return pin


def session_id_of(engine: Engine, code: str) -> int:
    with Session(writer(engine)) as s:
        sess = _one(s, ExamSession, code=code)
        if sess is None:
            raise SetupError(f"no session {code}", status=404)
        return int(sess.id)


def check_policy_fits_design(policy: RankingPolicy, design: TestDesign) -> None:
    """A ranking policy judges the subtests the design scores: the same codes."""
    sections = {sec.code for sec in design.sections}
    subtests = set(policy.subtest_codes)
    if sections != subtests:
        msg = (
            f"the ranking policy's subtests {sorted(subtests)} are not the design's "
            f"sections {sorted(sections)}"
        )
        raise SetupError(msg, [{"field": "policy", "message": msg}])


def _document_digests(exam: Exam) -> dict[str, str]:
    """SHA-256 of each stored document (audited, so a later change shows)."""
    import hashlib

    return {
        f"{name}_sha256": hashlib.sha256((text or "").encode()).hexdigest()
        for name, text in (
            ("design", exam.design_json),
            ("policy", exam.policy_json),
            ("options", exam.options_json),
        )
    }


def exam_opened(s: Session, exam_id: int) -> bool:
    """Whether a session of the exam has opened (its documents are then fixed)."""
    row = s.execute(
        select(col(ExamSession.id)).where(
            col(ExamSession.exam_id) == exam_id,
            or_(col(ExamSession.status) != "scheduled", col(ExamSession.opened_at).is_not(None)),
        )
    ).first()
    return row is not None


def set_exam_documents(
    engine: Engine,
    code: str,
    policy: RankingPolicy | None = None,
    options: ExamOptions | None = None,
    actor: str = "admin",
) -> dict[str, Any]:
    """Replace an exam's ranking policy and/or options, until a session of it
    has opened (then they are part of what candidates were judged by and are
    refused with 409)."""
    with Session(writer(engine)) as s:
        exam = _one(s, Exam, code=code)
        if exam is None or exam.id is None:
            raise SetupError(f"no exam {code}", [{"field": "code", "message": "unknown"}], 404)
        if exam_opened(s, exam.id):
            raise SetupError(
                f"exam {code} has had a session opened: its documents are fixed",
                [{"field": "code", "message": "a session has opened"}],
                409,
            )
        if policy is not None:
            check_policy_fits_design(policy, TestDesign.from_dict(json.loads(exam.design_json)))
            exam.policy_json = policy.to_json()
        if options is not None:
            exam.options_json = options.to_json()
        s.add(exam)
        s.flush()
        audit.append(
            s.connection(),
            "exam_documents",
            actor,
            data={"exam_id": exam.id, "code": code, **_document_digests(exam)},
        )
        s.commit()
        return exam_documents(exam)


def exam_documents(exam: Exam) -> dict[str, Any]:
    """An exam's documents as the admin API shows them."""
    policy = exam_policy(exam)
    options = ExamOptions.from_json(exam.options_json)
    return {
        "design": json.loads(exam.design_json),
        "policy": policy.to_dict(),
        "options": options.model_dump(by_alias=True),
        "warnings": options.warnings(),
        **_document_digests(exam),
    }


def exam_summary(engine: Engine) -> list[dict[str, Any]]:
    with Session(writer(engine)) as s:
        return [
            {
                "id": e.id,
                "code": e.code,
                "name": e.name,
                "n_items": e.n_items,
                "policy_version": exam_policy(e).version,
                **exam_documents(e),
            }
            for e in s.execute(select(Exam).order_by(Exam.id)).scalars()  # type: ignore[arg-type]
        ]
