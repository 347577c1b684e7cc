"""Stored records checked against what the audit chain says of them.

The chain's hashes prove the events were not changed; these checks prove the
rows the results are made from still say what the events recorded:

* an attempt's session, and its candidate (registration number, category,
  formation, name, birth date, session and the session's exam), against its
  ``start`` event, and its ``status`` and
  ``finish_reason`` against its ``finish`` or ``void`` event (a finished
  attempt set to ``void`` would rank as DIS; a changed finish reason would
  be replayed as another end), and every attempt an event names still
  exists;
* an exam's design, ranking policy and options against the SHA-256 digests
  of its last ``create_exam`` / ``exam_documents`` event (the policy decides
  the cut and the weights of the published ranking);
* every SKB component score against its ``skb_final`` event, and every
  assessor's sheet against its last ``skb_sheet`` / ``skb_sheet_change``
  event.

:class:`ChainFacts` gathers what the events say while :func:`verify` walks
the chain once; the ``check_*`` functions compare it with the tables and
return one problem line per difference.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from exam_server.audit.chain import CANDIDATE, EXAM
from exam_server.results.outcomes import never_taken


@dataclass
class ChainFacts:
    """What the audit events say of the stored records (later events win).

    ends: attempt id → (``finish`` | ``void``, the event's reason); starts:
    attempt id → (the ``start`` event's actor, ``candidate:<id>``; the
    candidate facts it bound, None before they were); named:
    every attempt id an event names; documents: exam id → the digests of
    its documents; skb_finals: (registration number, component) → (score,
    source); skb_sheets: (panel code, registration number, username) →
    (score, points)."""

    ends: dict[int, tuple[str, str]] = field(default_factory=dict)
    starts: dict[int, tuple[str, dict[str, Any] | None]] = field(default_factory=dict)
    #: attempt id → the session its ``start`` event names (the event row's own column).
    start_sessions: dict[int, int | None] = field(default_factory=dict)
    #: attempt id → the ``form_sha256`` of the state it started in (since 2026-12-07).
    forms: dict[int, str] = field(default_factory=dict)
    named: set[int] = field(default_factory=set)
    #: attempts a terminal took by the chain: a ``start`` event with a
    #: terminal, or a ``bind_terminal`` event (a prepared test's first login).
    taken: set[int] = field(default_factory=set)
    documents: dict[int, dict[str, str]] = field(default_factory=dict)
    skb_finals: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    skb_sheets: dict[tuple[str, str, str], tuple[str, Any]] = field(default_factory=dict)
    #: (registration number, field) → the (from, to) of every published
    #: appeal correction of it, in chain order (``appeal_corrections_published``).
    corrections: dict[tuple[str, str], list[tuple[Any, Any]]] = field(default_factory=dict)

    def take(self, row: Mapping[Any, Any]) -> None:
        """Note what one audit event (a row of ``exam_audit``) says."""
        kind = row["kind"]
        if row["attempt_id"] is not None:
            aid = int(row["attempt_id"])
            self.named.add(aid)
            if kind in ("finish", "void"):
                self.ends[aid] = (kind, str(row["reason"] or ""))
            elif kind == "start":
                data = json.loads(row["data_json"] or "{}")
                bound = data.get("candidate")
                self.starts[aid] = (str(row["actor"]), bound if isinstance(bound, dict) else None)
                self.start_sessions[aid] = row["session_id"]
                if data.get("terminal_id") is not None:
                    self.taken.add(aid)
                if isinstance(data.get("form_sha256"), str):
                    self.forms[aid] = data["form_sha256"]
            elif kind == "bind_terminal":
                self.taken.add(aid)
            elif kind == "form_patched":  # a retired item swapped before the test began
                data = json.loads(row["data_json"] or "{}")
                if isinstance(data.get("form_sha256"), str):
                    self.forms[aid] = data["form_sha256"]
                else:  # patched before patches named their form: not bound any more
                    self.forms.pop(aid, None)
        if kind not in _DATA_KINDS:
            return
        data = json.loads(row["data_json"] or "{}")
        if kind in ("create_exam", "exam_documents") and isinstance(data.get("exam_id"), int):
            self.documents[int(data["exam_id"])] = {
                name: str(data[name]) for name in _DIGESTS if isinstance(data.get(name), str)
            }
        elif kind == "skb_final":
            key = (str(data.get("registration_number")), str(data.get("component")))
            self.skb_finals[key] = (str(data.get("score")), str(data.get("source")))
        elif kind == CORRECTIONS_PUBLISHED:
            for c in data.get("candidates_changed") or ():
                if isinstance(c, dict):
                    key = (str(c.get("registration_number")), str(c.get("field")))
                    self.corrections.setdefault(key, []).append((c.get("from"), c.get("to")))
        elif kind in ("skb_sheet", "skb_sheet_change"):
            username = str(row["actor"]).split(":", 1)[-1]
            sheet = (str(data.get("panel")), str(data.get("registration_number")), username)
            self.skb_sheets[sheet] = (str(data.get("score")), data.get("points"))


#: The event of an accepted appeal's corrections carried by a new results
#: version (written by ``exam_server.after_test.store.mark_published``): the
#: one audited way a candidate's category changes after the test.
CORRECTIONS_PUBLISHED = "appeal_corrections_published"
_DATA_KINDS = frozenset(
    {
        "create_exam",
        "exam_documents",
        "skb_final",
        "skb_sheet",
        "skb_sheet_change",
        CORRECTIONS_PUBLISHED,
    }
)
#: The digests ``exam_server.scheduling.exams`` records, by the column hashed.
#: ``bank_sha256``: the frozen bank (its keys); ``items_sha256``: the item texts
#: and options candidates read; both recorded since 2026-12-07, so earlier
#: events are checked for the other documents only.
_DIGESTS = {"design_sha256": "design_json", "policy_sha256": "policy_json",
            "options_sha256": "options_json", "bank_sha256": "bank_json",
            "items_sha256": "items_json"}  # fmt: skip


def check_attempt_end(facts: ChainFacts, a: Mapping[Any, Any]) -> list[str]:
    """An attempt row's ``status`` and ``finish_reason`` against its chained end."""
    aid = int(a["id"])
    status, reason = a["status"], a["finish_reason"] or ""
    end = facts.ends.get(aid)
    if end is None:
        if status in ("finished", "void"):
            return [f"attempt {aid}: status is {status!r}, but the audit log has no "
                    f"{'finish' if status == 'finished' else 'void'} event for it"]  # fmt: skip
        return []
    kind, event_reason = end
    want = ("finished", event_reason) if kind == "finish" else ("void", "void")
    out = []
    if status != want[0]:
        out.append(f"attempt {aid}: status is {status!r} stored, {want[0]!r} in its {kind} event")
    if reason != want[1]:
        out.append(
            f"attempt {aid}: finish_reason is {reason!r} stored, {want[1]!r} in its {kind} event"
        )
    return out


def check_attempt_taken(facts: ChainFacts, a: Mapping[Any, Any], answers: int) -> list[str]:
    """Whether a terminal took the attempt, as stored (``terminal_id`` and
    ``last_seq``, read by :func:`exam_server.results.outcomes.never_taken`:
    a test never taken ranks its candidate absent, TH) against the chain:
    a terminal in its ``start`` event or a ``bind_terminal`` event, or an
    answer (``answers``: the answers its chain holds). A prepared test of a
    candidate who did not come has a ``start`` event with no terminal (found
    by a review: a site's absentee was refused for having one), and setting
    a terminal on it turned TH into a finished 0 unnoticed."""
    aid = int(a["id"])
    if aid not in facts.starts:
        return []  # no start event: check_missing_attempts and the chain say why
    stored_never = never_taken(str(a["status"]), a["terminal_id"], int(a["last_seq"] or 0))
    chain_taken = aid in facts.taken or answers > 0
    if stored_never and chain_taken:
        return [f"attempt {aid}: stored as never taken, but a terminal took it in the chain"]
    if not stored_never and not chain_taken and a["status"] != "void":
        return [
            f"attempt {aid}: stored as taken (terminal {a['terminal_id']!r}, last seq"
            f" {a['last_seq']}), but no terminal took it and it holds no answer in the chain"
        ]
    return []


def check_attempt_candidate(facts: ChainFacts, a: Mapping[Any, Any]) -> list[str]:
    """An attempt's candidate against its ``start`` event: the same candidate
    (an attempt moved to another candidate gives them its score), and the
    registration number, category and formation the ranking reads as they
    were when the test started (a changed category moves the candidate to
    another list), as published appeal corrections changed them since (each
    from the value before it: :attr:`ChainFacts.corrections`). Rows started
    before the event bound them are checked for the candidate only."""
    aid = int(a["id"])
    start = facts.starts.get(aid)
    if start is None:
        return []
    actor, bound = start
    out = []
    began_in = facts.start_sessions.get(aid)
    if began_in is not None and a.get("attempt_session_id", began_in) != began_in:
        out.append(
            f"attempt {aid}: in session {a['attempt_session_id']} stored, "
            f"{began_in} in its start event"
        )
    if actor.startswith("candidate:") and actor != f"candidate:{a['candidate_id']}":
        out.append(
            f"attempt {aid}: belongs to {actor} in its start event, "
            f"candidate:{a['candidate_id']} stored"
        )
    regno = str((bound or {}).get("registration_number", a.get("registration_number")))
    for name, value in (bound or {}).items():
        for before, after in facts.corrections.get((regno, name), ()):
            if before != value:
                out.append(
                    f"attempt {aid}: an appeal correction changed the candidate's {name} "
                    f"from {before!r}, but it was {value!r} then"
                )
            value = after
        if name in a and a[name] != value:
            out.append(
                f"attempt {aid}: the candidate's {name} is {a[name]!r} stored, {value!r} "
                "when the test started"
                + (" and as corrected on appeal" if (regno, name) in facts.corrections else "")
            )
    return out


def check_missing_attempts(facts: ChainFacts, present: set[int]) -> list[str]:
    """Attempts the audit log names that are no longer in ``exam_attempt``."""
    return [
        f"attempt {aid}: named by the audit log, but no longer in exam_attempt (removed?)"
        for aid in sorted(facts.named - present)
    ]


def check_exam_documents(conn: Connection, facts: ChainFacts) -> list[str]:
    """Each audited exam's stored documents against their recorded digests.
    An exam with no such event (a site's copy of the centre's exam) is left
    to the centre's chain."""
    out: list[str] = []
    if not facts.documents:
        return out
    rows = conn.execute(
        select(EXAM.c.id, EXAM.c.code, EXAM.c.design_json, EXAM.c.policy_json,
               EXAM.c.options_json, EXAM.c.bank_json, EXAM.c.items_json)
        .where(EXAM.c.id.in_(sorted(facts.documents)))
    ).mappings()  # fmt: skip
    seen = set()
    for r in rows:
        eid = int(r["id"])
        seen.add(eid)
        for name, column in _DIGESTS.items():
            want = facts.documents[eid].get(name)
            got = hashlib.sha256((r[column] or "").encode()).hexdigest()
            if want is not None and got != want:
                out.append(
                    f"exam {eid} ({r['code']}): {column} differs from the one its last "
                    "create_exam/exam_documents event recorded"
                )
    out += [
        f"exam {eid}: named by the audit log, but no longer in exam_exam (removed?)"
        for eid in sorted(set(facts.documents) - seen)
    ]
    return out


def check_skb(conn: Connection, facts: ChainFacts) -> list[str]:
    """SKB component scores and assessors' sheets against their events."""
    from assessment.models import SkbComponentScore, SkbPanel, SkbSheet
    from exam_server.models import Staff

    final = SkbComponentScore.__table__  # type: ignore[attr-defined]
    sheet = SkbSheet.__table__  # type: ignore[attr-defined]
    panel = SkbPanel.__table__  # type: ignore[attr-defined]
    staff = Staff.__table__  # type: ignore[attr-defined]
    out: list[str] = []
    stored_finals: dict[tuple[str, str], tuple[str, str]] = {}
    for r in conn.execute(
        select(CANDIDATE.c.registration_number, final.c.component, final.c.score,
               final.c.source).join(CANDIDATE, CANDIDATE.c.id == final.c.candidate_id)
    ):  # fmt: skip
        stored_finals[(str(r[0]), str(r[1]))] = (str(r[2]), str(r[3]))
    out += _differences(
        stored_finals,
        facts.skb_finals,
        lambda k, got: f"SKB {k[1]} of {k[0]}: final score {got[0]} has no skb_final event",
        lambda k, want: (
            f"SKB {k[1]} of {k[0]}: the skb_final event's score {want[0]} is no longer stored"
        ),
        lambda k, got, want: (
            f"SKB {k[1]} of {k[0]}: final score is {got[0]} ({got[1]}) "
            f"stored, {want[0]} ({want[1]}) in its skb_final event"
        ),
    )
    stored_sheets: dict[tuple[str, str, str], tuple[str, Any]] = {}
    for r in conn.execute(
        select(panel.c.code, CANDIDATE.c.registration_number, staff.c.username, sheet.c.score,
               sheet.c.points_json)
        .join(panel, panel.c.id == sheet.c.panel_id)
        .join(CANDIDATE, CANDIDATE.c.id == sheet.c.candidate_id)
        .join(staff, staff.c.id == sheet.c.staff_id)
    ):  # fmt: skip
        stored_sheets[(str(r[0]), str(r[1]), str(r[2]))] = (str(r[3]), json.loads(r[4]))
    out += _differences(
        stored_sheets,
        facts.skb_sheets,
        lambda k, got: (
            f"SKB sheet of {k[2]} for {k[1]} on panel {k[0]}: stored, but no skb_sheet event"
        ),
        lambda k, want: (
            f"SKB sheet of {k[2]} for {k[1]} on panel {k[0]}: in the audit log, "
            "but no longer stored"
        ),
        lambda k, got, want: (
            f"SKB sheet of {k[2]} for {k[1]} on panel {k[0]}: score {got[0]} "
            f"and points stored differ from its last event (score {want[0]})"
        ),
    )
    return out


def _differences(
    stored: Mapping[Any, Any],
    chained: Mapping[Any, Any],
    unchained: Callable[[Any, Any], str],
    removed: Callable[[Any, Any], str],
    changed: Callable[[Any, Any, Any], str],
) -> list[str]:
    """One line per key whose stored value has no event (``unchained``), whose
    event's value is no longer stored (``removed``) or differs (``changed``)."""
    out = []
    for key in sorted(stored.keys() | chained.keys()):
        got, want = stored.get(key), chained.get(key)
        if want is None:
            out.append(unchained(key, got))
        elif got is None:
            out.append(removed(key, want))
        elif got != want:
            out.append(changed(key, got, want))
    return out
