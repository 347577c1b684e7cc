"""The SKB on the server: plans, panels, interview slots, sheets, finalisation.

Every function takes the engine and does one thing in one transaction; the
rules themselves are ``assessment``'s (components, finalisation, scheduling,
agreement, the many-facet Rasch model). Every change is written to the audit
chain (``exam_server.audit``) in the same transaction, so a score stored is
a score audited. A refusal raises :class:`Refused` (HTTP status, code, a
message naming the field or the row) before anything is written.

The functions live in modules by job — ``setup`` (plans, assessors, panels),
``schedule`` (slots, assignment, moves, reminders), ``scoring`` (declarations,
sheets, finalisation, adjudication, the field test's scores) and ``reports``
(the pages' views, agreement, the severity model, the SKB records for the
publication); this module is the one name the endpoints and the command line
import.
"""

from __future__ import annotations

from exam_server.assessment.candidate_page import candidate_view
from exam_server.assessment.common import ASSESSOR, Refused, caps_of_formation, plan_of
from exam_server.assessment.reports import (
    ComponentModel,
    admin_view,
    assessor_view,
    chair_view,
    component_model,
    fair_scores,
    panel_report,
    skb_scores,
)
from exam_server.assessment.schedule import (
    assign_slot,
    called_to_skb,
    create_slots,
    free_slots,
    reschedule,
    schedule_message,
    send_reminders,
)
from exam_server.assessment.scoring import (
    adjudicate,
    declare,
    import_cat_scores,
    record_cat_score,
    submit_sheet,
)
from exam_server.assessment.setup import add_assessor, create_panel, save_plan

__all__ = [
    "ASSESSOR",
    "ComponentModel",
    "Refused",
    "add_assessor",
    "adjudicate",
    "admin_view",
    "assessor_view",
    "assign_slot",
    "called_to_skb",
    "candidate_view",
    "caps_of_formation",
    "chair_view",
    "component_model",
    "create_panel",
    "create_slots",
    "declare",
    "fair_scores",
    "free_slots",
    "import_cat_scores",
    "panel_report",
    "plan_of",
    "record_cat_score",
    "reschedule",
    "save_plan",
    "schedule_message",
    "send_reminders",
    "skb_scores",
    "submit_sheet",
]
