"""Staff accounts checked against the audit chain.

Whoever can edit ``exam_staff`` could make an assessor an administrator, put
their own password hash on an administrator's account (and log in as it),
enable a disabled account or give a proctor another room. Every change of an
account is written in the same transaction as an audit event that holds it
(:mod:`exam_server.scheduling.staff`, :func:`exam_server.admin.scope.assign_rooms`,
:func:`exam_server.assessment.setup.add_assessor`, the demos):

* ``staff_created``: username, role, name and ``password_sha256``;
* ``staff_password``: username and ``password_sha256`` (a new password);
* ``staff_disabled`` / ``staff_enabled``: username;
* ``staff_rooms``: username and ``room_ids`` (sorted), the rooms it supervises.

``password_sha256`` is the SHA-256 hex of the stored ``password_hash`` string
(:func:`password_sha256`): never the password, and the scrypt hash itself
stays out of the log. :func:`check_staff` compares every row with the last
event of each kind and reports each difference, and each account the log
names that is gone. An account with no ``staff_created`` event at all was
made before accounts were audited (by older code) only if the
``staff_baseline`` event lists it: the upgrade that first meets such
accounts writes that event once, with each one's password digest
(:func:`record_baseline`). Such an account is a note, not a problem, so
databases made before still verify; any other account without its event is
a problem, whatever its id (a review inserted an administrator with id 0,
below every audited one, with another admin's hash).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from exam_server.audit.chain import AUDIT

#: The event, written once by the upgrade that meets accounts made before
#: accounts were audited, that lists them with their password digests
#: (:func:`record_baseline`): every later account must have its own event.
BASELINE = "staff_baseline"
#: The audit events that say what a staff account holds.
STAFF_KINDS = (
    BASELINE,
    "staff_created",
    "staff_password",
    "staff_disabled",
    "staff_enabled",
    "staff_rooms",
)


def password_sha256(password_hash: str) -> str:
    """What the audit log holds of a stored password hash: its SHA-256 hex."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()


def record_created(conn: Connection, actor: str, staff: Any) -> None:
    """The ``staff_created`` event of a new account (a ``Staff`` row, flushed),
    in the caller's transaction: what :func:`check_staff` compares."""
    from exam_server import audit

    data = {
        "username": staff.username,
        "role": staff.role,
        "name": staff.name,
        "password_sha256": password_sha256(staff.password_hash),
    }
    audit.append(conn, "staff_created", actor, data=data)


def record_password(conn: Connection, actor: str, staff: Any) -> None:
    """The ``staff_password`` event of an account's new stored hash (never the
    password), in the caller's transaction."""
    from exam_server import audit

    data = {"username": staff.username, "password_sha256": password_sha256(staff.password_hash)}
    audit.append(conn, "staff_password", actor, data=data)


@dataclass
class StaffFacts:
    """What the staff events say, by username (later events win).

    created: username → the ``staff_created`` data; password: username → the
    digest of the last ``staff_created``/``staff_password`` (None: the last
    one, from older code, holds none); disabled: username → the last
    ``staff_disabled``/``staff_enabled``; rooms: username → the last
    ``staff_rooms``; named: every username an event names."""

    created: dict[str, dict[str, Any]] = field(default_factory=dict)
    password: dict[str, str | None] = field(default_factory=dict)
    disabled: dict[str, bool] = field(default_factory=dict)
    rooms: dict[str, list[int]] = field(default_factory=dict)
    named: set[str] = field(default_factory=set)
    #: username → password digest of the accounts the baseline lists (None:
    #: no baseline event).
    baseline: dict[str, str] | None = None

    def take(self, row: Mapping[Any, Any]) -> None:
        """Note what one audit event (a row of ``exam_audit``) says."""
        kind = row["kind"]
        if kind not in STAFF_KINDS:
            return
        try:
            data = json.loads(row["data_json"] or "{}")
        except ValueError:
            return  # the chain's own check reports a damaged event
        if kind == BASELINE:
            listed = data.get("accounts") if isinstance(data, dict) else None
            if self.baseline is None and isinstance(listed, dict):  # the first one counts
                self.baseline = {str(u): str(d) for u, d in listed.items()}
            return
        user = data.get("username") if isinstance(data, dict) else None
        if not isinstance(user, str):
            return
        self.named.add(user)
        digest = data.get("password_sha256")
        digest = digest if isinstance(digest, str) else None
        if kind == "staff_created":
            self.created[user] = data
            self.password[user] = digest
        elif kind == "staff_password":
            self.password[user] = digest
        elif kind in ("staff_disabled", "staff_enabled"):
            self.disabled[user] = kind == "staff_disabled"
        else:
            raw = data.get("room_ids")
            self.rooms[user] = sorted(
                int(r) for r in (raw if isinstance(raw, list) else []) if isinstance(r, int)
            )


def record_baseline(conn: Connection) -> bool:
    """Write the ``staff_baseline`` event once, when the chain has none:
    where no account was audited yet, every account (made by code from before
    accounts were audited) with its password digest; where some were, none
    (an account without its event was then inserted past the code). From then
    on an account with neither its own event nor a line here is reported, and
    an old account's password hash is checked against its digest. Run by the
    upgrade (``exam_server.migrations.upgrade``) in its transaction; True
    when written."""
    from exam_server import audit
    from exam_server.models import Staff

    facts = staff_facts(conn)
    if facts.baseline is not None:
        return False
    staff = Staff.__table__  # type: ignore[attr-defined]
    old: dict[str, str] = {}
    if not facts.created:
        # Nothing about accounts was audited yet: every account is an old one.
        old = {
            str(user): password_sha256(str(pw))
            for user, pw in conn.execute(select(staff.c.username, staff.c.password_hash))
        }
    # Where accounts were already audited (code of this day or later), an
    # account without its event was inserted past the code: the baseline then
    # lists nobody, written all the same, so that no later upgrade lists it
    # (a review saw the next upgrade launder an admin inserted by SQL).
    audit.append(conn, BASELINE, "upgrade", data={"accounts": dict(sorted(old.items()))})
    return True


def staff_facts(conn: Connection) -> StaffFacts:
    """The staff events of the chain, in chain order, gathered."""
    facts = StaffFacts()
    for row in conn.execute(
        select(AUDIT.c.kind, AUDIT.c.data_json)
        .where(AUDIT.c.kind.in_(STAFF_KINDS))
        .order_by(AUDIT.c.id)
    ).mappings():
        facts.take(row)
    return facts


def check_staff(conn: Connection) -> tuple[list[str], list[str]]:
    """(problems, notes): every ``exam_staff`` row (and its rooms in
    ``exam_staff_room``) against the audit events that recorded it, read in
    the caller's snapshot. A problem is a value no event explains (role,
    name, password hash, disabled, rooms) or an account the log names that
    is gone; a note is an account made before accounts were audited."""
    from exam_server.models import Staff, StaffRoom

    staff = Staff.__table__  # type: ignore[attr-defined]
    links = StaffRoom.__table__  # type: ignore[attr-defined]
    facts = staff_facts(conn)
    rooms: dict[int, list[int]] = {}
    for sid, rid in conn.execute(
        select(links.c.staff_id, links.c.room_id).order_by(links.c.room_id)
    ):
        rooms.setdefault(int(sid), []).append(int(rid))
    problems: list[str] = []
    notes: list[str] = []
    present: set[str] = set()
    cols = (staff.c.id, staff.c.username, staff.c.name, staff.c.role, staff.c.password_hash)
    rows = conn.execute(select(*cols, staff.c.disabled).order_by(staff.c.id)).all()
    # An account without a staff_created event is an old one only if the
    # baseline lists it, or if nothing about accounts was ever audited here.
    # (Before the baseline, ids told: a review inserted an admin with id 0.)
    audited_here = facts.baseline is not None or bool(facts.created)
    legacy = facts.baseline or {}
    for sid, user, name, role, pw_hash, disabled in rows:
        user = str(user)
        present.add(user)
        who = f"staff account {user} (id {sid})"
        created = facts.created.get(user)
        stored_rooms = rooms.get(int(sid), [])
        if created is None and audited_here and user not in legacy:
            problems.append(
                f"{who}: no staff_created event, and not among the accounts made "
                "before accounts were audited (inserted into the table?)"
            )
            continue
        if created is None:
            # Made by code from before accounts were audited: what it holds
            # is unchecked unless a later event, or the baseline, recorded it.
            unchecked = ["role", "name"]
            digest = facts.password.get(user) or legacy.get(user)
            if digest is None:
                unchecked.append("password")
            elif password_sha256(str(pw_hash)) != digest:
                problems.append(
                    f"{who}: its password hash is not the one its last staff_password "
                    "event (or the staff_baseline) recorded (replaced in the table?)"
                )
            if user not in facts.disabled and disabled:
                unchecked.append("disabled state")
            problems += _disabled(who, bool(disabled), facts.disabled.get(user), legacy=True)
            if user in facts.rooms:
                problems += _rooms(who, stored_rooms, facts.rooms[user])
            elif stored_rooms:
                unchecked.append("rooms")
            notes.append(
                f"{who}: created before staff accounts were audited (no staff_created "
                f"event); its {', '.join(unchecked)} cannot be checked"
            )
            continue
        differs = [
            f"{what} {got!r} stored, {want!r} by its staff_created event"
            for what, got, want in (
                ("role", role, created.get("role")),
                ("name", name, created.get("name")),
            )
            if got != want
        ]
        if differs:
            problems.append(f"{who}: {'; '.join(differs)}")
        digest = facts.password.get(user)
        if digest is None:
            notes.append(
                f"{who}: its last password change was recorded by older code "
                "(no password_sha256); its password hash cannot be checked"
            )
        elif password_sha256(str(pw_hash)) != digest:
            problems.append(
                f"{who}: its password hash is not the one its last staff_created/"
                "staff_password event recorded (replaced in the table?)"
            )
        problems += _disabled(who, bool(disabled), facts.disabled.get(user), legacy=False)
        problems += _rooms(who, stored_rooms, facts.rooms.get(user, []))
    problems += [
        f"staff account {user}: named by the audit log, but no longer in exam_staff "
        "(deleted or renamed?)"
        for user in sorted(facts.named - present)
    ]
    return problems, notes


def _disabled(who: str, stored: bool, want: bool | None, *, legacy: bool) -> list[str]:
    if want is None:
        # Never disabled or enabled by an audited change: it must be enabled
        # (an account disabled before those were audited may be disabled).
        if stored and not legacy:
            return [f"{who}: disabled, but no staff_disabled event says so"]
        return []
    if stored != want:
        state = {True: "disabled", False: "enabled"}
        return [
            f"{who}: {state[stored]} stored, {state[want]} by its last "
            "staff_disabled/staff_enabled event"
        ]
    return []


def _rooms(who: str, stored: list[int], want: list[int]) -> list[str]:
    if stored != want:
        return [f"{who}: supervises rooms {stored} stored, {want} by its last staff_rooms event"]
    return []
