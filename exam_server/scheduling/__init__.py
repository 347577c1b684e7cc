"""Setting up exam day: sites, rooms, exams, sessions, formations, candidates,
staff, check-in PINs. Plain blocking functions on an ``Engine`` (the REST
handlers run them in a thread; the demo and tests call them directly).

Each function is one transaction: it stores everything or nothing, and
raises :class:`SetupError` with per-row/field errors for bad input.

The code lives in six modules, whose public names this package gives (callers
write ``from exam_server import scheduling as sch; sch.create_site(...)`` or
import a name from here): :mod:`.common` (:class:`SetupError`, the code
pattern, the one-row lookup), :mod:`.rooms` (sites and rooms), :mod:`.exams`
(exams and their documents: design, ranking policy, options), :mod:`.sessions`
(sessions scheduled, opened and closed; check-in PINs), :mod:`.candidates`
(formations and the candidates' CSV import) and :mod:`.staff` (staff accounts
and their passwords).
"""

from exam_server.scheduling.candidates import (
    CSV_COLUMNS,
    CSV_OPTIONAL,
    REG_RE,
    add_formations,
    create_formations,
    import_candidates_csv,
)
from exam_server.scheduling.common import CODE_RE, SetupError
from exam_server.scheduling.exams import (
    check_policy_fits_design,
    create_exam,
    exam_documents,
    exam_opened,
    exam_summary,
    set_exam_documents,
)
from exam_server.scheduling.rooms import create_room, create_site
from exam_server.scheduling.sessions import (
    create_session,
    issue_pin,
    mark_session_closed,
    open_session,
    session_id_of,
)
from exam_server.scheduling.staff import (
    MIN_PASSWORD_LENGTH,
    check_staff_password,
    create_staff,
    set_staff_disabled,
    set_staff_password,
    staff_username,
)

__all__ = [
    "CODE_RE",
    "CSV_COLUMNS",
    "CSV_OPTIONAL",
    "MIN_PASSWORD_LENGTH",
    "REG_RE",
    "SetupError",
    "add_formations",
    "check_policy_fits_design",
    "check_staff_password",
    "create_exam",
    "create_formations",
    "create_room",
    "create_session",
    "create_site",
    "create_staff",
    "exam_documents",
    "exam_opened",
    "exam_summary",
    "import_candidates_csv",
    "issue_pin",
    "mark_session_closed",
    "open_session",
    "session_id_of",
    "set_exam_documents",
    "set_staff_disabled",
    "set_staff_password",
    "staff_username",
]
