"""A candidate's registration: the form, documents, live eligibility,
submission with its number and receipt.

Part of the recruitment operations (:mod:`exam_server.recruitment.service`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from exam_server import audit
from exam_server.db import writer
from exam_server.recruitment import forms as f
from exam_server.recruitment.accounts import documents_of, enqueue, registration_of
from exam_server.recruitment.forms import FormError
from exam_server.recruitment.needs import formations, requirement_of
from exam_server.recruitment.periods import PeriodView, Refused, _get, today
from recruitment import documents as docs
from recruitment import eligibility as elig
from recruitment.models import (
    RecAccount,
    RecDocument,
    RecNikGrant,
    RecRegistration,
)
from recruitment.nik import NikError, nik_hash, parse_nik
from recruitment.receipts import make_receipt
from recruitment.registry import RegistryAdapter
from recruitment.states import (
    FREE_STATES,
    Status,
    step,
)


def parse_registration(
    form: dict[str, Any],
    period: PeriodView,
    forms: list[dict[str, Any]],
    locations: Sequence[str],
    now: float,
) -> dict[str, Any]:
    """The registration fields of a form, checked (NIK structure, dates,
    choices); :class:`FormError` naming each bad field. The NIK is returned
    only to be hashed and checked by the caller."""
    err = FormError()
    out: dict[str, Any] = {
        "name": f.text(form, "name", err),
        "birth_date": f.date(form, "birth_date", err),
        "sex": f.choice(form, "sex", err, ("M", "F")),
        "education_level": f.choice(form, "education_level", err, period.rules.education_levels),
        "major": f.text(form, "major", err),
        "formation": f.choice(form, "formation", err, [x["code"] for x in forms]),
        "test_location": f.choice(form, "test_location", err, locations),
        "accommodation": f.choice(
            form, "accommodation", err, list(period.rules.accommodations), required=False
        ),
    }
    nik_text = form.get("nik") if isinstance(form.get("nik"), str) else ""
    try:
        nik = parse_nik(str(nik_text), today(now))
    except NikError as exc:
        err.add("nik", exc.text_id, exc.text_en)
    else:
        if out["birth_date"] is not None and nik.birth_date != out["birth_date"]:
            err.add(
                "birth_date",
                "tidak sesuai tanggal lahir dalam NIK",
                "does not match the birth date in the NIK",
            )
        if out["sex"] and nik.sex != out["sex"]:
            err.add(
                "sex", "tidak sesuai jenis kelamin dalam NIK", "does not match the sex in the NIK"
            )
    err.raise_if_any()
    out["nik"] = str(nik_text)
    return out


#: A later submit of a NIK another registration of the period holds (and the
#: notice on the page of a draft with that NIK, whose save is not refused).
NIK_TAKEN = (
    "NIK ini sudah dipakai pendaftaran lain yang telah dikirim pada periode ini; "
    "bila ini NIK Anda, hubungi panitia seleksi",
    "this NIK is held by another registration already submitted in this period; "
    "if it is your NIK, contact the selection committee",
)


def _nik_holder(s: Session, period_id: int, h: str, account_id: int) -> int | None:
    """The id of another account's registration that holds NIK hash ``h`` in
    the period (submitted, not void: ``recruitment.states.FREE_STATES``)."""
    return s.execute(
        select(col(RecRegistration.id)).where(
            col(RecRegistration.period_id) == period_id,
            col(RecRegistration.nik_hash) == h,
            col(RecRegistration.account_id) != account_id,
            col(RecRegistration.status).not_in(FREE_STATES),
        )
    ).scalar()


def identity_refusal(identity_json: str) -> tuple[str, str] | None:
    """Why a registration whose stored identity check says the NIK belongs to
    someone else (the registry found it; the name or birth date differ)
    cannot be submitted, in both languages; None when nothing contradicts it
    (a match, or no answer: no registry configured, or the service down)."""
    try:
        got = json.loads(identity_json or "{}")
    except ValueError:
        return None
    if not isinstance(got, dict) or got.get("found") is not True:
        return None
    bad = [
        words
        for key, words in (
            ("name_matches", ("nama", "name")),
            ("birth_date_matches", ("tanggal lahir", "birth date")),
        )
        if got.get(key) is False
    ]
    if not bad:
        return None
    return (
        " dan ".join(w[0] for w in bad).capitalize()
        + " tidak sesuai data kependudukan (Dukcapil) untuk NIK ini; isi seperti pada KTP, "
        "atau hubungi panitia seleksi bila data Anda benar",
        "The "
        + " and ".join(w[1] for w in bad)
        + (" do" if len(bad) > 1 else " does")
        + " not match the population registry (Dukcapil) for this NIK; enter it as on "
        "the ID card, or contact the selection committee if yours is right",
    )


#: Saving or submitting outside the registration window, without a late
#: registration (:class:`recruitment.models.RecNikGrant`) for the NIK and
#: the account.
NOT_OPEN = ("pendaftaran tidak sedang dibuka", "registration is not open")
#: A submit whose draft was saved (or a document replaced) while it was being
#: checked: nothing is frozen; the candidate reloads and submits again.
CHANGED_MEANWHILE = (
    "pendaftaran baru saja diubah di jendela lain; muat ulang lalu kirim lagi",
    "the registration was just changed in another window; reload and submit again",
)


def grant_accounts(grant: RecNikGrant) -> list[int]:
    """The account ids a late registration is for (``accounts_json``; a
    malformed list is for nobody)."""
    return accounts_in(grant.accounts_json)


def accounts_in(accounts_json: str | None) -> list[int]:
    """The account ids of a grant's ``accounts_json`` (malformed: none)."""
    try:
        ids = json.loads(accounts_json or "[]")
    except ValueError:
        return []
    if not isinstance(ids, list):
        return []
    return [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]


def _running_grants(
    s: Session, period_id: int, now: float, h: str | None = None
) -> list[RecNikGrant]:
    """The late registrations of the period still running on ``today(now)``
    (for NIK hash ``h`` only, when given)."""
    q = select(RecNikGrant).where(
        col(RecNikGrant.period_id) == period_id,
        col(RecNikGrant.until) >= today(now).isoformat(),
    )
    if h is not None:
        q = q.where(col(RecNikGrant.nik_hash) == h)
    return list(s.execute(q).scalars())


def late_until(s: Session, period_id: int, h: str, account_id: int, now: float) -> dt.date | None:
    """The last day of the latest late registration for NIK hash ``h`` in the
    period that is still running on ``today(now)`` and is for the account
    (given when a registration holding that NIK was voided: the accounts
    whose draft held the NIK then, and the one the voiding staff named), or
    None. A grant is never for whoever types the NIK."""
    until = max(
        (g.until for g in _running_grants(s, period_id, now, h) if account_id in grant_accounts(g)),
        default=None,
    )
    return dt.date.fromisoformat(until) if until else None


def late_registration_running(engine: Engine, period_id: int, account_id: int, now: float) -> bool:
    """Whether a late registration of the period for the account is still
    running (the page then shows the form after the window, also to an
    account the voiding staff named that has no draft yet: for which NIK, it
    does not say; the save decides, :func:`may_register`)."""
    with Session(engine) as s:
        return any(account_id in grant_accounts(g) for g in _running_grants(s, period_id, now))


def may_register(s: Session, period: PeriodView, h: str, account_id: int, now: float) -> bool:
    """The one rule of when the account may save or submit a registration
    with NIK hash ``h``: within the period's registration window, or, after
    it, until the last day of a late registration the committee gave that
    NIK for that account when it voided a registration that held it
    (:func:`late_until`; another account with the same NIK is refused)."""
    if period.schedule.registration_open(today(now)):
        return True
    if today(now) < period.schedule.registration_opens:
        return False
    return late_until(s, period.id, h, account_id, now) is not None


def save_registration(
    engine: Engine,
    period: PeriodView,
    account_id: int,
    fields: dict[str, Any],
    nik_key: bytes,
    registry: RegistryAdapter,
    now: float,
) -> int:
    """Create or update the account's draft registration; refused once
    submitted, or when :func:`may_register` says no (outside the window,
    without a late registration for the NIK and the account). A draft holds no NIK: several
    accounts may save one, also while a submitted registration holds it (its
    owner's page then says so: :func:`nik_held_by_other`); the first
    submitted wins."""
    h = nik_hash(nik_key, period.code, fields["nik"])
    with Session(engine) as s:
        if not may_register(s, period, h, account_id, now):
            raise Refused(*NOT_OPEN)
    identity = registry.check(fields["nik"], fields["name"], fields["birth_date"])
    forms = {f["code"]: f for f in formations(engine, period.id)}
    chosen = forms[fields["formation"]]
    values = {
        "nik_hash": h,
        "name": fields["name"],
        "birth_date": fields["birth_date"].isoformat(),
        "sex": fields["sex"],
        "education_level": fields["education_level"],
        "major": fields["major"],
        "category": chosen["category"],
        "rec_formation_id": chosen["id"],
        "test_location": fields["test_location"],
        "accommodation": fields["accommodation"],
        "identity_json": json.dumps(identity.to_dict()),
        "updated_at": now,
    }
    with Session(writer(engine)) as s:
        reg = (
            s.execute(
                select(RecRegistration).where(
                    col(RecRegistration.period_id) == period.id,
                    col(RecRegistration.account_id) == account_id,
                )
            )
            .scalars()
            .first()
        )
        # A draft reserves no NIK, and is not refused while another account's
        # submitted registration holds it: its owner keeps a draft ready for
        # when the committee voids the fraud (the submit is what is refused).
        if reg is None:
            reg = RecRegistration(period_id=period.id, account_id=account_id, **values)
        else:
            if reg.status != Status.DRAFT:
                raise Refused(
                    "pendaftaran sudah dikirim dan dibekukan",
                    "the registration is submitted and frozen",
                )
            for k, v in values.items():
                setattr(reg, k, v)
        s.add(reg)
        try:
            s.flush()
        except IntegrityError:
            # Another request inserted first: this account's own registration
            # from a second tab (a draft holds no NIK: no other account's).
            s.rollback()
            raise Refused(
                "pendaftaran ini baru saja disimpan dari halaman lain; muat ulang lalu simpan lagi",
                "this registration was just saved from another page; reload and save again",
            ) from None
        audit.append(
            s.connection(),
            "rec_registration_save",
            f"account:{account_id}",
            data={"registration": reg.id, "formation": chosen["code"], "identity_ok": identity.ok},
            at=now,
        )
        s.commit()
        assert reg.id is not None
        return reg.id


def nik_held_by_other(engine: Engine, reg: RecRegistration) -> bool:
    """Whether the draft's NIK is held by another account's submitted
    registration of its period (its submit would be refused, :data:`NIK_TAKEN`:
    the page tells its owner to contact the committee)."""
    if reg.status != Status.DRAFT:
        return False
    with Session(engine) as s:
        return _nik_holder(s, reg.period_id, reg.nik_hash, reg.account_id) is not None


def upload_document(
    engine: Engine,
    store: docs.DocumentStore,
    period: PeriodView,
    registration_id: int,
    actor: str,
    kind: str,
    data: bytes,
    now: float,
    *,
    appeal: bool = False,
) -> RecDocument:
    """Check (type from the bytes, size) and store one document; a refused file
    stores nothing. A draft's documents can be replaced; after submit, only an
    appeal document can be added (``appeal``)."""
    if appeal:
        kind_rule = elig.DocumentKind(
            title_id="Dokumen sanggah", title_en="Appeal document", media=(docs.PDF,), max_kb=2048
        )
    else:
        if kind not in period.rules.documents:
            raise Refused("jenis dokumen tidak dikenal", "unknown document kind")
        kind_rule = period.rules.documents[kind]
    with Session(engine) as s:
        reg: RecRegistration = _get(s, RecRegistration, registration_id)
        wanted = Status.TMS if appeal else Status.DRAFT
        if reg.status != wanted:
            raise Refused(
                "dokumen tidak dapat diubah pada status ini",
                "documents cannot be changed in this state",
            )
    try:
        media = docs.check_upload(data, kind_rule.media, kind_rule.max_kb * 1024)
        data = docs.strip_metadata(data, media)
    except docs.DocumentError as exc:
        raise Refused(exc.text_id, exc.text_en) from None
    stored = store.put(data, media)
    with Session(writer(engine)) as s:
        # Checked again under the registration's lock: a submit that froze
        # the documents meanwhile must not see one replaced after it.
        locked: RecRegistration = _get(s, RecRegistration, registration_id, lock=True)
        if locked.status != wanted:
            raise Refused(
                "dokumen tidak dapat diubah pada status ini",
                "documents cannot be changed in this state",
            )
        row = (
            s.execute(
                select(RecDocument).where(
                    col(RecDocument.registration_id) == registration_id,
                    col(RecDocument.kind) == kind,
                )
            )
            .scalars()
            .first()
        )
        if row is None:
            row = RecDocument(registration_id=registration_id, kind=kind, sha256="", media_type="")
        row.sha256, row.media_type, row.size, row.uploaded_at = (
            stored.sha256,
            stored.media_type,
            stored.size,
            now,
        )
        s.add(row)
        s.flush()
        audit.append(
            s.connection(),
            "rec_document",
            actor,
            data={
                "registration": registration_id,
                "kind": kind,
                "sha256": stored.sha256,
                "size": stored.size,
            },
            at=now,
        )
        s.commit()
        s.refresh(row)
        return row


def eligibility_of(
    engine: Engine,
    period: PeriodView,
    reg: RecRegistration,
    forms: list[dict[str, Any]] | None = None,
    have: frozenset[str] | None = None,
) -> list[elig.Check]:
    """The registration's checks (``forms``/``have``: the period's formations
    and the kinds uploaded, when the caller has them already)."""
    by_id = {f["id"]: f for f in (forms if forms is not None else formations(engine, period.id))}
    if have is None:
        have = frozenset(documents_of(engine, reg.id or 0))
    applicant = elig.Applicant(
        birth_date=dt.date.fromisoformat(reg.birth_date),
        education_level=reg.education_level,
        major=reg.major,
        category=reg.category,
        accommodation=reg.accommodation,
        documents=have,
    )
    return elig.evaluate(period.rules, requirement_of(by_id[reg.rec_formation_id]), applicant)


def registration_number(period_code: str, registration_id: int) -> str:
    return f"{period_code}-{registration_id:07d}"


def submit_registration(
    engine: Engine, period: PeriodView, account_id: int, key: Ed25519PrivateKey, now: float
) -> RecRegistration:
    """Freeze the draft: every rule must pass; issues the registration number
    and a signed receipt. Submitting again returns the same registration
    (idempotent: a double click or a resent form changes nothing).

    Refused when :func:`may_register` says no (outside the window, without a
    late registration for the NIK and the account), when the population registry found the
    NIK under another name or birth date (:func:`identity_refusal`), and
    when another registration of the period holds the NIK (:data:`NIK_TAKEN`):
    the first submitted wins, decided by the partial unique index, so two
    submits at once give one."""
    reg = registration_of(engine, period.id, account_id)
    if reg is None:
        raise Refused("belum ada pendaftaran", "there is no registration yet")
    if reg.status != Status.DRAFT:
        return reg
    with Session(engine) as s:
        if not may_register(s, period, reg.nik_hash, account_id, now):
            raise Refused(*NOT_OPEN)
    refusal = identity_refusal(reg.identity_json)
    if refusal is not None:
        raise Refused(*refusal)
    checks = eligibility_of(engine, period, reg)
    if elig.verdict(checks) is not True:
        bad = [c for c in checks if c.ok is not True]
        raise Refused(
            "belum memenuhi syarat: " + "; ".join(c.text_id for c in bad),
            "requirements not met: " + "; ".join(c.text_en for c in bad),
        )
    assert reg.id is not None
    docs_now = documents_of(engine, reg.id)
    number = registration_number(period.code, reg.id)
    frozen = {
        "registration_number": number,
        "period": period.code,
        "name": reg.name,
        "birth_date": reg.birth_date,
        "education_level": reg.education_level,
        "major": reg.major,
        "category": reg.category,
        "formation_id": reg.rec_formation_id,
        "test_location": reg.test_location,
        "accommodation": reg.accommodation,
        "documents": {k: d.sha256 for k, d in sorted(docs_now.items())},
        "rules_version": period.rules.version,
        "submitted_at": now,
    }
    data, receipt = make_receipt(frozen, key)
    with Session(writer(engine)) as s:
        row: RecRegistration = _get(s, RecRegistration, reg.id, lock=True)
        if row.status != Status.DRAFT:  # submitted meanwhile by another request
            # Detached as loaded (a rollback would expire it; the session's
            # close then ends the transaction and releases the row lock).
            s.expunge(row)
            return row
        # What is frozen was read without the lock: a save or an upload that
        # ran meanwhile (another tab) would leave the row or its documents
        # other than the signed receipt says (found by a review; audit verify
        # then reported the registration as changed after it was submitted).
        held_docs = {
            d.kind: d.sha256
            for d in s.execute(
                select(RecDocument).where(col(RecDocument.registration_id) == row.id)
            ).scalars()
        }
        if row.updated_at != reg.updated_at or held_docs != frozen["documents"]:
            raise Refused(*CHANGED_MEANWHILE)
        if _nik_holder(s, period.id, row.nik_hash, account_id) is not None:
            raise Refused(*NIK_TAKEN)
        row.status = step(row.status, "submit")
        row.registration_number = number
        row.submitted_at = now
        row.submitted_json = data.decode("utf-8")
        row.receipt = json.dumps(receipt, ensure_ascii=False)
        row.updated_at = now
        s.add(row)
        try:
            s.flush()
        except IntegrityError:
            # Another account's submit of the same NIK committed first.
            s.rollback()
            raise Refused(*NIK_TAKEN) from None
        acc: RecAccount = _get(s, RecAccount, account_id)
        enqueue(
            s,
            acc.email,
            f"Pendaftaran {number} diterima / Registration {number} received",
            f"Nomor pendaftaran / registration number: {number}\n"
            "Pendaftaran Anda telah dikirim dan akan diverifikasi.\n"
            "Your registration is submitted and will be verified.\n",
            "submitted",
            now,
        )
        s.flush()
        audit.append(
            s.connection(),
            "rec_submit",
            f"account:{account_id}",
            data={
                "registration": reg.id,
                "number": number,
                "sha256": hashlib.sha256(data).hexdigest(),
            },
            at=now,
        )
        s.commit()
        s.refresh(row)
        return row


# -- verification -------------------------------------------------------------------------
