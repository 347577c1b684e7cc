"""The REST API: staff login, admin setup and reports, proctor actions, candidate login.

Every endpoint is declared in :data:`ENDPOINTS` (router and OpenAPI schema
come from that list). Roles are separate: ``admin`` sets up exams and reads
results; ``proctor`` runs sessions (check-in PINs, pause, extend, release,
void, notes). Opening and closing a session is open to both. Every proctor
action needs a ``reason`` and lands in the audit chain.

A proctor acts only on the sessions held in the rooms they supervise
(``exam_staff_room``, carried in the signed staff token from login); any other
session or attempt gets 403 ``forbidden``. Admins are unrestricted.

The endpoints live in modules by what they hold, each with its own
``ENDPOINTS``, joined here in the order they were declared and re-exported
(callers unchanged): ``ops`` (health, schema), ``logins``, ``exam_setup``
(sites, rooms, exams and their documents), ``sessions`` (scheduling),
``imports`` (formations, candidates, bank items), ``staff`` (accounts),
``results`` (attempts and scores) and ``proctor``; ``scope`` holds the rooms a
proctor supervises, ``common`` the request helpers they all use.
"""

from __future__ import annotations

from exam_server.admin import exam_setup, imports, logins, ops, proctor, results, sessions, staff
from exam_server.admin.exam_setup import (  # noqa: F401
    create_exam,
    create_room,
    create_site,
    list_exams,
    set_exam_documents,
)
from exam_server.admin.imports import (  # noqa: F401
    create_formations,
    import_bank,
    import_candidates,
)
from exam_server.admin.logins import (  # noqa: F401
    candidate_login,
    candidate_receipt,
    clear_login_limits,
    login_limits,
    staff_login,
)
from exam_server.admin.ops import (  # noqa: F401
    healthz,
    openapi_schema,
)
from exam_server.admin.proctor import (  # noqa: F401
    ACTIONS,
    REASON,
    attempt_action,
    checkin,
    close_session,
    open_session,
    proctor_attempts,
    session_action,
    session_audit,
)
from exam_server.admin.results import (  # noqa: F401
    attempt_detail,
    session_attempts,
)
from exam_server.admin.scope import (  # noqa: F401
    assign_rooms,
    attempt_room,
    check_rooms,
    session_room,
    staff_rooms,
)
from exam_server.admin.sessions import (  # noqa: F401
    create_session,
    list_sessions,
    prepare_session,
)
from exam_server.admin.staff import (  # noqa: F401
    create_staff,
    set_staff_access,
    set_staff_password,
    set_staff_rooms,
)
from exam_server.http import Endpoint

ENDPOINTS: list[Endpoint] = [
    *ops.ENDPOINTS,
    *logins.ENDPOINTS,
    *exam_setup.ENDPOINTS,
    *sessions.ENDPOINTS,
    *imports.ENDPOINTS,
    *staff.ENDPOINTS,
    *results.ENDPOINTS,
    *proctor.ENDPOINTS,
]
