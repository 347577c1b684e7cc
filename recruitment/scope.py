"""Who among the agency staff may do what, and to which agency's objects.

In CASN many agencies (instansi: ministries, provinces, regencies) recruit in
the same national period. A staff account belongs to one agency, or to none:
a national account (the BKN-like administrator) acts for every agency. An
agency's objects are its needs, the formations made from them and the
registrations for those formations (with their verifications and appeals);
what belongs to the whole period (publishing the announcement, scheduling,
the outbox) is a national object (agency ``None``): only national accounts
touch it.

:func:`check` is the one place this is decided; the service calls it before
every staff operation (``exam_server.recruitment.periods.authorise``) and the
pages call it too, before reading a form: with the account's own agency
for an action on an agency's object (so only the role counts there; the
object's agency is checked by the service) and with ``None`` for an action on
the whole period (:data:`PERIOD_ACTIONS`). An object
of another agency is answered as missing (:class:`OutOfScope`, shown as 404),
so a guessed URL does not tell whether it exists.
"""

from __future__ import annotations

from dataclasses import dataclass

#: action → the roles that may do it (any agency's scope comes on top).
ROLE_ACTIONS: dict[str, tuple[str, ...]] = {
    "needs": ("operator", "admin"),
    "decide_need": ("approver", "admin"),
    "verify": ("verifier",),
    # Void a fraudulent registration (someone else's NIK): frees the NIK.
    "void": ("verifier", "admin"),
    "publish": ("admin",),
    "schedule": ("admin",),
    "outbox": ("admin",),
}

#: Actions on the whole period, not on one agency's object (agency ``None``).
PERIOD_ACTIONS = frozenset({"publish", "schedule", "outbox"})


@dataclass(frozen=True)
class StaffScope:
    """An account as the rules see it. agency_id: None for a national account."""

    username: str
    role: str
    agency_id: int | None

    @property
    def national(self) -> bool:
        return self.agency_id is None


class RoleRefused(PermissionError):
    """The account's role may not do the action (the page says so: 409)."""


class OutOfScope(LookupError):
    """The object belongs to another agency (answered as not found: 404)."""


def role_may(role: str, action: str) -> bool:
    return role in ROLE_ACTIONS[action]


def in_scope(staff: StaffScope, agency_id: int | None) -> bool:
    """Whether ``staff`` may see an object of ``agency_id`` (None: the period's)."""
    return staff.national or (agency_id is not None and staff.agency_id == agency_id)


def check(staff: StaffScope, action: str | None, agency_id: int | None) -> None:
    """May ``staff`` do ``action`` (None: only read) to an object of ``agency_id``?

    Raises :class:`RoleRefused` first (the pages check the role before they
    read an object, so the answer does not depend on what exists), then
    :class:`OutOfScope` (another agency's object is not there for this account)."""
    if action is not None and not role_may(staff.role, action):
        raise RoleRefused(f"{staff.username} ({staff.role}) may not {action}")
    if not in_scope(staff, agency_id):
        raise OutOfScope(f"{staff.username}: not in the scope of agency {agency_id}")
