"""The state machines of recruitment: a need's approval and a registration's life.

Each machine is a table of (state, action) → next state; :func:`step` refuses
anything else with :class:`TransitionError`, so an illegal move is an error
where it is attempted, never a silent no-op. Who may act (a different
account approves, a recused verifier never decides) is checked here too, in
:func:`check_need_actor` and :func:`check_second_person`.
"""

from __future__ import annotations

from enum import StrEnum


class TransitionError(ValueError):
    """A move the machine does not allow, in Bahasa Indonesia and English."""

    def __init__(self, text_id: str, text_en: str) -> None:
        super().__init__(f"{text_id} / {text_en}")
        self.text_id = text_id
        self.text_en = text_en


class NeedStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    RETURNED = "returned"


NEED_MOVES: dict[tuple[NeedStatus, str], NeedStatus] = {
    (NeedStatus.DRAFT, "submit"): NeedStatus.SUBMITTED,
    (NeedStatus.RETURNED, "submit"): NeedStatus.SUBMITTED,
    (NeedStatus.SUBMITTED, "approve"): NeedStatus.APPROVED,
    (NeedStatus.SUBMITTED, "return"): NeedStatus.RETURNED,
}


class Status(StrEnum):
    """A registration: draft → submitted → ms | tms_proposed; tms_proposed →
    tms (second person agrees) | submitted (sent back); tms → appealed →
    ms (appeal accepted) | tms_final; ms → scheduled. Any submitted state →
    void: the committee found it fraudulent (someone else's NIK), which frees
    the NIK for its owner (:data:`FREE_STATES`). A scheduled one only while
    its exam candidate has no attempt: the void takes it out of its exam
    session (``exam_server.recruitment.voids.void_registration``)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    MS = "ms"
    TMS_PROPOSED = "tms_proposed"
    TMS = "tms"
    APPEALED = "appealed"
    TMS_FINAL = "tms_final"
    SCHEDULED = "scheduled"
    VOID = "void"


REG_MOVES: dict[tuple[Status, str], Status] = {
    (Status.DRAFT, "submit"): Status.SUBMITTED,
    (Status.SUBMITTED, "ms"): Status.MS,
    (Status.SUBMITTED, "tms"): Status.TMS_PROPOSED,
    (Status.TMS_PROPOSED, "approve_tms"): Status.TMS,
    (Status.TMS_PROPOSED, "reject_tms"): Status.SUBMITTED,
    (Status.TMS, "appeal"): Status.APPEALED,
    (Status.APPEALED, "accept_appeal"): Status.MS,
    (Status.APPEALED, "reject_appeal"): Status.TMS_FINAL,
    (Status.MS, "schedule"): Status.SCHEDULED,
    **{
        (s, "void"): Status.VOID
        for s in (
            Status.SUBMITTED,
            Status.TMS_PROPOSED,
            Status.MS,
            Status.TMS,
            Status.APPEALED,
            Status.TMS_FINAL,
            Status.SCHEDULED,
        )
    },
}

#: The states whose registration holds its NIK in its period: one per NIK and
#: period (a partial unique index, ``recruitment.models``). A draft reserves
#: nothing (anyone may type any NIK; the first submitted wins), a void one no
#: longer holds it.
FREE_STATES = (Status.DRAFT, Status.VOID)

#: What a candidate reads about each state.
STATUS_TEXT: dict[Status, tuple[str, str]] = {
    Status.DRAFT: ("Belum dikirim", "Not submitted yet"),
    Status.SUBMITTED: ("Terkirim, menunggu verifikasi", "Submitted, awaiting verification"),
    Status.TMS_PROPOSED: ("Terkirim, menunggu verifikasi", "Submitted, awaiting verification"),
    Status.MS: ("Memenuhi syarat (MS)", "Meets the requirements (MS)"),
    Status.TMS: (
        "Tidak memenuhi syarat (TMS); sanggah dapat diajukan",
        "Does not meet the requirements (TMS); an appeal may be filed",
    ),
    Status.APPEALED: ("Sanggah diajukan, menunggu jawaban", "Appeal filed, awaiting the answer"),
    Status.TMS_FINAL: ("Tidak memenuhi syarat (final)", "Does not meet the requirements (final)"),
    Status.SCHEDULED: (
        "Memenuhi syarat; jadwal ujian tersedia",
        "Meets the requirements; the exam schedule is ready",
    ),
    Status.VOID: (
        "Dibatalkan oleh panitia; hubungi panitia seleksi",
        "Voided by the committee; contact the selection committee",
    ),
}


#: What staff read about a need's state.
NEED_STATUS_TEXT: dict[NeedStatus, tuple[str, str]] = {
    NeedStatus.DRAFT: ("Draf", "Draft"),
    NeedStatus.SUBMITTED: ("Diajukan, menunggu persetujuan", "Submitted, awaiting approval"),
    NeedStatus.APPROVED: ("Disetujui; formasi dibuat", "Approved; formations made"),
    NeedStatus.RETURNED: ("Dikembalikan", "Returned"),
}


def step_need(state: str, action: str) -> NeedStatus:
    try:
        return NEED_MOVES[(NeedStatus(state), action)]
    except (KeyError, ValueError):
        raise TransitionError(
            f"kebutuhan berstatus {state} tidak dapat di-{action}",
            f"a need in state {state} cannot be {action}ed",
        ) from None


def step(state: str, action: str) -> Status:
    try:
        return REG_MOVES[(Status(state), action)]
    except (KeyError, ValueError):
        raise TransitionError(
            f"pendaftaran berstatus {state} tidak dapat diproses ({action})",
            f"a registration in state {state} does not allow {action}",
        ) from None


def check_second_person(first: str, second: str) -> None:
    """The four-eyes rule: approving needs and TMS decisions takes another account."""
    if first == second:
        raise TransitionError(
            "persetujuan harus oleh akun lain", "the approval must come from another account"
        )
