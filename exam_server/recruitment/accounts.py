"""The candidates' accounts: sign-up, email verification, password reset,
login (their messages go through :mod:`exam_server.recruitment.outbox`).

Part of the recruitment operations (:mod:`exam_server.recruitment.service`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from exam_server import audit
from exam_server.auth import verify_password
from exam_server.db import writer
from exam_server.recruitment.outbox import enqueue
from exam_server.recruitment.periods import _get, _view
from recruitment.models import (
    RecAccount,
    RecDocument,
    RecOutbox,
    RecPeriod,
    RecRegistration,
)

# -- candidate accounts -------------------------------------------------------------------


def signup(
    engine: Engine,
    email: str,
    name: str,
    password_hash: str,
    verify_link: Callable[[int], str],
    now: float,
) -> int | None:
    """A new account and its verification message; None if the email is taken
    (the page says the same either way: it does not tell who has an account)."""
    with Session(writer(engine)) as s:
        if (
            s.execute(select(col(RecAccount.id)).where(col(RecAccount.email) == email)).first()
            is not None
        ):
            return None
        acc = RecAccount(email=email, name=name, password_hash=password_hash, created_at=now)
        s.add(acc)
        try:
            s.flush()
        except IntegrityError:
            s.rollback()
            return None
        assert acc.id is not None
        _verification_message(s, email, name, verify_link(acc.id), now)
        audit.append(
            s.connection(), "rec_signup", f"account:{acc.id}", data={"account": acc.id}, at=now
        )
        s.commit()
        return acc.id


def _verification_message(s: Session, email: str, name: str, link: str, now: float) -> None:
    enqueue(
        s,
        email,
        "Verifikasi email pendaftaran / Verify your registration email",
        f"Yth. {name},\n\nBuka tautan ini untuk memverifikasi email Anda:\n{link}\n\n"
        f"Open this link to verify your email:\n{link}\n",
        "verify_email",
        now,
    )


#: A new verification link is sent at most this often (seconds) per account.
RESEND_SECONDS = 600.0


def resend_verification(
    engine: Engine, account_id: int, verify_link: Callable[[int], str], now: float
) -> bool:
    """A new link for an account not yet verified (its owner logged in with the
    right password), unless one went out in the last ``RESEND_SECONDS``."""
    with Session(writer(engine)) as s:
        acc: RecAccount = _get(s, RecAccount, account_id, lock=True)
        if acc.email_verified_at is not None:
            return False
        recent = s.execute(
            select(col(RecOutbox.id)).where(
                col(RecOutbox.to_addr) == acc.email,
                col(RecOutbox.kind) == "verify_email",
                col(RecOutbox.created_at) > now - RESEND_SECONDS,
            )
        ).first()
        if recent is not None:
            return False
        _verification_message(s, acc.email, acc.name, verify_link(account_id), now)
        s.commit()
        return True


def verify_email(engine: Engine, account_id: int, now: float) -> None:
    with Session(writer(engine)) as s:
        acc: RecAccount = _get(s, RecAccount, account_id, lock=True)
        if acc.email_verified_at is None:
            acc.email_verified_at = now
            s.add(acc)
            s.flush()
            audit.append(s.connection(), "rec_email_verified", f"account:{account_id}", at=now)
        s.commit()


def password_fingerprint(password_hash: str) -> str:
    """A short digest of the stored hash, put in password-reset links: once the
    password changes, every link made before stops working (single use)."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def request_password_reset(
    engine: Engine, email: str, reset_link: Callable[[int, str], str], now: float
) -> None:
    """Email a reset link if ``email`` has an account (the page says the same
    either way)."""
    with Session(writer(engine)) as s:
        acc = s.execute(select(RecAccount).where(col(RecAccount.email) == email)).scalars().first()
        if acc is None or acc.id is None:
            return
        link = reset_link(acc.id, password_fingerprint(acc.password_hash))
        enqueue(
            s,
            acc.email,
            "Atur ulang kata sandi / Reset your password",
            f"Yth. {acc.name},\n\nBuka tautan ini (berlaku satu jam) untuk membuat kata sandi "
            f"baru:\n{link}\n\nOpen this link (valid for one hour) to choose a new password:"
            f"\n{link}\n\nAbaikan bila Anda tidak memintanya. / Ignore it if you did not ask.\n",
            "password_reset",
            now,
        )
        audit.append(s.connection(), "rec_reset_requested", f"account:{acc.id}", at=now)
        s.commit()


def reset_password(
    engine: Engine, account_id: int, fingerprint: str, password_hash: str, now: float
) -> bool:
    """Set a new password if the link's fingerprint still matches (False: the
    link was used already or the password changed since)."""
    with Session(writer(engine)) as s:
        acc = s.get(RecAccount, account_id, with_for_update=True)
        if acc is None or not hmac.compare_digest(
            password_fingerprint(acc.password_hash), fingerprint
        ):
            return False
        acc.password_hash = password_hash
        # The link reached the mailbox: the address is the person's.
        acc.email_verified_at = acc.email_verified_at or now
        s.add(acc)
        s.flush()
        audit.append(s.connection(), "rec_password_reset", f"account:{account_id}", at=now)
        s.commit()
        return True


# -- changing the account's email ------------------------------------------------------


def email_fingerprint(email: str) -> str:
    """A short digest of the account's current address, put in email-change
    links: once the address changes, every link made before stops working."""
    return hashlib.sha256(email.encode()).hexdigest()[:16]


def masked(email: str) -> str:
    """``b***@example.org``: enough for the owner of an address to know which
    one is meant, without spelling it out in a message to another mailbox."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def password_ok(engine: Engine, account_id: int, password: str, dummy_hash: str) -> bool:
    """Whether ``password`` is the account's (blocking: scrypt runs either way)."""
    with Session(engine) as s:
        acc = s.get(RecAccount, account_id)
    ok = verify_password(password, acc.password_hash if acc is not None else dummy_hash)
    return acc is not None and ok


def request_email_change(
    engine: Engine,
    account_id: int,
    new_email: str,
    confirm_link: Callable[[int, str, str], str],
    now: float,
) -> None:
    """A confirmation link to ``new_email`` and a notice to the current address.

    The address changes only when the link is opened (:func:`confirm_email_change`):
    it proves the new mailbox is the candidate's, and the notice tells the
    owner of the old one, who can reset the password if it was not them.
    Whether another account holds ``new_email`` is not told here (the page
    says the same either way). confirm_link(account id, new email, fingerprint
    of the current address)."""
    with Session(writer(engine)) as s:
        acc: RecAccount = _get(s, RecAccount, account_id, lock=True)
        link = confirm_link(account_id, new_email, email_fingerprint(acc.email))
        enqueue(
            s,
            new_email,
            "Konfirmasi email baru / Confirm your new email",
            f"Yth. {acc.name},\n\nBuka tautan ini (berlaku tiga hari) untuk memakai alamat ini "
            f"pada akun pendaftaran Anda:\n{link}\n\nOpen this link (valid for three days) to "
            f"use this address for your registration account:\n{link}\n\n"
            "Abaikan bila Anda tidak memintanya. / Ignore it if you did not ask.\n",
            "email_change",
            now,
        )
        enqueue(
            s,
            acc.email,
            "Permintaan ganti email / A change of email was asked for",
            f"Yth. {acc.name},\n\nAda permintaan untuk mengganti email akun Anda menjadi "
            f"{masked(new_email)}. Alamat ini tetap dipakai sampai tautan yang dikirim ke alamat "
            "baru dibuka. Bila bukan Anda yang memintanya, atur ulang kata sandi Anda sekarang "
            "(Lupa kata sandi) dan hubungi panitia seleksi.\n\n"
            f"Someone asked to change your account's email to {masked(new_email)}. This address "
            "stays in use until the link sent to the new one is opened. If it was not you, "
            "reset your password now (Forgot the password) and contact the selection "
            "committee.\n",
            "email_change_notice",
            now,
        )
        audit.append(
            s.connection(),
            "rec_email_change_requested",
            f"account:{account_id}",
            data={"account": account_id},
            at=now,
        )
        s.commit()


def confirm_email_change(
    engine: Engine, account_id: int, new_email: str, fingerprint: str, now: float
) -> str:
    """Change the address from a confirmation link: ``changed``; ``used`` when
    the address is no longer the one the link was made for (used already, or
    changed since); ``taken`` when another account has ``new_email``."""
    with Session(writer(engine)) as s:
        acc = s.get(RecAccount, account_id, with_for_update=True)
        if acc is None or not hmac.compare_digest(email_fingerprint(acc.email), fingerprint):
            return "used"
        if acc.email == new_email:
            return "used"
        other = s.execute(
            select(col(RecAccount.id)).where(col(RecAccount.email) == new_email)
        ).first()
        if other is not None:
            return "taken"
        old = acc.email
        acc.email = new_email
        # The link reached the new mailbox: the address is the person's.
        acc.email_verified_at = now
        s.add(acc)
        try:
            s.flush()
        except IntegrityError:  # taken between the check and the write
            s.rollback()
            return "taken"
        enqueue(
            s,
            old,
            "Email akun diganti / Your account's email was changed",
            f"Yth. {acc.name},\n\nEmail akun pendaftaran Anda kini {masked(new_email)}; pesan "
            "berikutnya dikirim ke sana. Bila bukan Anda yang menggantinya, hubungi panitia "
            "seleksi.\n\n"
            f"Your registration account's email is now {masked(new_email)}; further messages "
            "go there. If you did not change it, contact the selection committee.\n",
            "email_changed",
            now,
        )
        audit.append(
            s.connection(),
            "rec_email_changed",
            f"account:{account_id}",
            data={"account": account_id},
            at=now,
        )
        s.commit()
        return "changed"


def account_login(engine: Engine, email: str, password: str, dummy_hash: str) -> RecAccount | None:
    """Blocking (scrypt); a hash is computed whether or not the email exists."""
    with Session(engine) as s:
        acc = s.execute(select(RecAccount).where(col(RecAccount.email) == email)).scalars().first()
        ok = verify_password(password, acc.password_hash if acc else dummy_hash)
        return acc if acc is not None and ok else None


def account(engine: Engine, account_id: int) -> RecAccount | None:
    with Session(engine) as s:
        return s.get(RecAccount, account_id)


# -- registration -------------------------------------------------------------------------


def registration_of(engine: Engine, period_id: int, account_id: int) -> RecRegistration | None:
    with Session(engine) as s:
        return (
            s.execute(
                select(RecRegistration).where(
                    col(RecRegistration.period_id) == period_id,
                    col(RecRegistration.account_id) == account_id,
                )
            )
            .scalars()
            .first()
        )


def registrations_by_period(
    engine: Engine, account_id: int, today: dt.date
) -> list[dict[str, Any]]:
    """The account's registration in each period, newest period first: every
    period it registered in, and every period whose registration is open
    ``today`` (status None: not registered there yet). One registration per
    period (and per NIK in a period) is the rule; in another period one may
    register again."""
    with Session(engine) as s:
        rows = s.execute(
            select(RecPeriod, RecRegistration)
            .outerjoin(
                RecRegistration,
                (col(RecRegistration.period_id) == col(RecPeriod.id))
                & (col(RecRegistration.account_id) == account_id),
            )
            .order_by(col(RecPeriod.id).desc())
        ).all()
    out = []
    for period, reg in rows:
        pv = _view(period)
        is_open = pv.schedule.registration_open(today)
        if reg is None and not is_open:
            continue
        out.append(
            {
                "period": pv.code,
                "name": pv.name,
                "status": reg.status if reg is not None else None,
                "number": reg.registration_number if reg is not None else None,
                "registration_open": is_open,
                "registration_closes": pv.schedule.registration_closes.isoformat(),
            }
        )
    return out


def documents_of(engine: Engine, registration_id: int) -> dict[str, RecDocument]:
    with Session(engine) as s:
        rows = s.execute(
            select(RecDocument).where(col(RecDocument.registration_id) == registration_id)
        ).scalars()
        return {d.kind: d for d in rows}
