"""Staff accounts: created, their passwords set, disabled or enabled again
(nobody locked out), and their usernames.

Each change is audited in its own transaction (``staff_created``,
``staff_password``, ``staff_disabled`` / ``staff_enabled``) with what
:func:`exam_server.audit.staff_records.check_staff` compares the rows with:
the role, the name and the SHA-256 of the stored password hash (never the
password)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from exam_server import audit
from exam_server.audit.staff_records import record_created, record_password
from exam_server.auth import hash_password
from exam_server.db import writer
from exam_server.models import Staff
from exam_server.scheduling.common import SetupError, _code, _one

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
    engine: Engine,
    username: str,
    name: str,
    role: str,
    password: str,
    scrypt_n: int = 2**14,
    actor: str = "cli",
) -> int:
    """A new admin or proctor account (409 if the username is taken); audited
    as ``staff_created`` by ``actor`` (username, role, name and the digest of
    the stored hash: :func:`~exam_server.audit.staff_records.password_sha256`)."""
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
        s.flush()
        record_created(s.connection(), actor, st)
        s.commit()
        assert st.id is not None
        return st.id


def set_staff_password(
    engine: Engine, username: str, password: str, scrypt_n: int = 2**14, actor: str = "cli"
) -> None:
    """Replace a staff account's password (raises :class:`SetupError` 404 if no such
    user); audited as ``staff_password`` (who, by whom, the digest of the new
    stored hash; never the password)."""
    check_staff_password(password)
    digest = hash_password(password, n=scrypt_n)
    with Session(writer(engine)) as s:
        st = _one(s, Staff, username=username)
        if st is None:
            raise SetupError(f"no user {username}", status=404)
        st.password_hash = digest
        record_password(s.connection(), actor, st)
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
