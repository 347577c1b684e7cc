"""The recruitment pages (``/recruitment``): public, candidates, agency staff.

Server-rendered with Jinja2 (autoescape, ``templates/``), Bahasa Indonesia
first and English with ``?lang=en``. Every form carries a CSRF token bound to
a cookie of the browser (:func:`csrf_token`), checked before anything else;
every field is validated on the server (``forms``) and a refused form is
shown again with a message per field in both languages, nothing stored.

* Public: ``/recruitment/`` — the newest period's signed announcement
  (``/recruitment/p/CODE/`` any period's; searchable by agency, education
  level, major and location; printable), its earlier versions and what
  changed, the signature files, and per-agency appeal statistics;
  ``/recruitment/vacancies`` — every open vacancy of every period whose
  registration has not closed, across agencies, with the same search.
* Candidates: ``signup`` (email verified through the outbox), ``login``,
  ``me`` (registration form with live eligibility, uploads, submit), the
  receipt, the appeal, the exam card.
* Staff: ``staff`` — needs and their approval, publishing, the verification
  queue, TMS review by a second person, conflicts of interest, appeals,
  scheduling, the email outbox (pending and failed messages; send again).

Logins and sign-ups back off per account and source under the rules of
``exam_server.limits`` (scope ``recruit``): waits grow and are capped, so
nobody is locked out for good. Sessions are cookies signed with the server
key (itsdangerous, one salt each for candidates and staff).

The pages live in modules by who uses them, re-exported here (callers use
``routes()``): ``public``, ``accounts`` (sign-up, password reset, logins),
``registration`` (the candidate's ``me`` pages), ``staff`` (the staff page,
needs, publishing, scheduling) and ``verification`` (the verifier's pages);
``plumbing`` holds what they all use (templates, CSRF, rendering, the guard).
"""

from __future__ import annotations

import threading

from starlette.routing import BaseRoute, Mount, Route

from exam_server.recruitment.pages.accounts import (  # noqa: F401
    RESET_SECONDS,
    change_email,
    confirm_email,
    forgot,
    login,
    logout,
    reset,
    signup,
    staff_login,
    verify,
)
from exam_server.recruitment.pages.plumbing import (  # noqa: F401
    _ENV,
    CANDIDATE_COOKIE,
    CSRF_COOKIE,
    EMAIL_LINK_SECONDS,
    MAX_BODY,
    ROLE_ACTIONS,
    SCOPE,
    SESSION_SECONDS,
    STAFF_COOKIE,
    Handler,
    csrf_token,
    message,
    render,
)
from exam_server.recruitment.pages.public import (
    announcement_file,
    check,
    public_index,
    public_key,
    vacancies,
)
from exam_server.recruitment.pages.registration import (
    me,
    me_appeal,
    me_card,
    me_check,
    me_document,
    me_receipt,
    me_save,
    me_submit,
    me_upload,
)
from exam_server.recruitment.pages.staff import (
    staff_home,
    staff_need_create,
    staff_need_decide,
    staff_need_submit,
    staff_outbox_again,
    staff_publish,
    staff_schedule,
)
from exam_server.recruitment.pages.verification import (
    staff_appeal,
    staff_conflict,
    staff_decide,
    staff_document,
    staff_grant,
    staff_registration,
    staff_tms,
    staff_void,
)


def _compile_templates() -> None:
    for name in _ENV.list_templates():
        _ENV.get_template(name)


def routes() -> list[BaseRoute]:
    """One Mount at ``/recruitment``. The templates are compiled in a thread
    of their own from here: compiled on its first request, a page held the event
    loop for a quarter of a second on a loaded machine (a request that comes
    first still compiles its page; Jinja2's cache is thread-safe)."""
    threading.Thread(target=_compile_templates, name="rec-templates", daemon=True).start()
    both = ["GET", "POST"]
    return [
        Mount(
            "/recruitment",
            routes=[
                Route("/", public_index, name="rec_index"),
                Route("/announcement/{version:int}", public_index, name="rec_version"),
                Route("/announcement/{version:int}.{ext}", announcement_file, name="rec_file"),
                Route("/key.pem", public_key, name="rec_key"),
                Route("/vacancies", vacancies, name="rec_vacancies"),
                # A period's own pages have a stable address (the others take ?period=).
                Route("/p/{period}/", public_index, name="rec_period"),
                Route("/p/{period}/announcement/{version:int}", public_index),
                Route("/p/{period}/announcement/{version:int}.{ext}", announcement_file),
                Route("/check", check, methods=both, name="rec_check"),
                Route("/signup", signup, methods=both, name="rec_signup"),
                Route("/verify", verify, name="rec_verify"),
                Route("/login", login, methods=both, name="rec_login"),
                Route("/forgot", forgot, methods=both, name="rec_forgot"),
                Route("/reset", reset, methods=both, name="rec_reset"),
                Route("/logout", logout, methods=["POST"], name="rec_logout"),
                Route("/me", me, name="rec_me"),
                Route("/me/email", change_email, methods=both, name="rec_email"),
                Route("/email/confirm", confirm_email, name="rec_email_confirm"),
                Route("/me/save", me_save, methods=["POST"]),
                Route("/me/check", me_check, methods=["POST"]),
                Route("/me/upload", me_upload, methods=["POST"]),
                Route("/me/submit", me_submit, methods=["POST"]),
                Route("/me/receipt", me_receipt),
                Route("/me/appeal", me_appeal, methods=["POST"]),
                Route("/me/card", me_card),
                Route("/me/doc/{kind}", me_document),
                Route("/staff", staff_home, name="rec_staff"),
                Route("/staff/login", staff_login, methods=both),
                Route("/staff/needs", staff_need_create, methods=["POST"]),
                Route("/staff/needs/{id:int}/submit", staff_need_submit, methods=["POST"]),
                Route("/staff/needs/{id:int}/decide", staff_need_decide, methods=["POST"]),
                Route("/staff/publish", staff_publish, methods=["POST"]),
                Route("/staff/schedule", staff_schedule, methods=["POST"]),
                Route("/staff/outbox/again", staff_outbox_again, methods=["POST"]),
                Route("/staff/outbox/{id:int}/again", staff_outbox_again, methods=["POST"]),
                Route("/staff/reg/{id:int}", staff_registration),
                Route("/staff/reg/{id:int}/doc/{kind}", staff_document),
                Route("/staff/reg/{id:int}/decide", staff_decide, methods=["POST"]),
                Route("/staff/reg/{id:int}/conflict", staff_conflict, methods=["POST"]),
                Route("/staff/reg/{id:int}/void", staff_void, methods=["POST"]),
                Route("/staff/reg/{id:int}/grant", staff_grant, methods=["POST"]),
                Route("/staff/tms/{id:int}", staff_tms, methods=["POST"]),
                Route("/staff/appeal/{id:int}", staff_appeal, methods=["POST"]),
            ],
        )
    ]
