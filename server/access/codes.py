"""One-time enrollment codes.

A code is 12 characters of Crockford base32 (60 random bits), shown as XXXX-XXXX-XXXX.
The first four characters are a lookup key; the other eight (40 bits) are the secret.
Only an HMAC of the whole code is stored.

Guessing is limited per client (ENROLL_FAILURES: 10 wrong codes per 15 minutes), never by
locking a code: a lock per code would let anyone who knows a code's first four characters
block its owner with five wrong guesses. Wrong guesses are still counted on the code
(failed_attempts) for the record. With 40 secret bits, even 10 000 addresses guessing at the
client limit for the code's whole life (14 days) have about one chance in 800 000 of hitting it.

A staff code issued in the web app needs a second administrator's approval before it works
(needs_approval / approved_by): one administrator alone cannot give themselves clinical access.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import ratelimit
from server.access.models import Account, Delegation, EnrollmentCode
from server.db import utcnow
from server.forms import Form

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
LOOKUP_LENGTH = 4
MAX_FAILURES_PER_CLIENT = ratelimit.ENROLL_FAILURES.hits
CLIENT_WINDOW = ratelimit.ENROLL_FAILURES.window
LOOKUP_RETENTION = timedelta(days=90)
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


def normalise(raw: str) -> str:
    return "".join(ch for ch in raw.upper() if ch.isalnum()).translate(_CONFUSABLE)


def display(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def _digest(secret_key: str, code: str) -> str:
    return hmac.new(secret_key.encode(), code.encode(), hashlib.sha256).hexdigest()


digest = _digest  # the same HMAC for relative codes (access/delegations.py)


async def issue(db: AsyncSession, secret_key: str, account_id: int, created_by: int | None, days: int,
                needs_approval: bool = False) -> str:
    """Revoke the account's earlier unused codes and issue a new one. Returns it for display, once.

    With `needs_approval` the code works only after another administrator approves it (approve())."""
    now = utcnow()
    await db.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.account_id == account_id, EnrollmentCode.used_at.is_(None),
               EnrollmentCode.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=created_by, lookup=None)
    )
    # Free the lookup keys of codes that expired long ago (recently expired ones still say "expired").
    await db.execute(update(EnrollmentCode).where(EnrollmentCode.expires_at < now - LOOKUP_RETENTION)
                     .values(lookup=None))
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        lookup = code[:LOOKUP_LENGTH]
        taken = await db.scalar(select(func.count()).select_from(EnrollmentCode).where(EnrollmentCode.lookup == lookup))
        if not taken:
            break
    db.add(EnrollmentCode(account_id=account_id, lookup=lookup, code_hash=_digest(secret_key, code),
                          created_by=created_by, created_at=now, expires_at=now + timedelta(days=days),
                          needs_approval=needs_approval))
    await db.flush()
    return display(code)


@dataclass(frozen=True)
class CodeCheck:
    """A typed code checked: an enrollment code (`code`, `account`) or a relative's code (`delegation`)."""

    ok: bool
    error: str = ""  # "format" | "wrong" | "expired" | "pending" | "client_limited"
    code: EnrollmentCode | None = None
    account: Account | None = None
    delegation: Delegation | None = None


@dataclass(frozen=True)
class TypedCode:
    """A one-time code as typed into its form (enrollment or relative), and what became of it: the code
    page shows `typed` again with `errors` (field id -> msgid) and `status` (422, or 429 for a limited
    client) unless `ok`."""

    typed: str
    check: CodeCheck | None = None
    errors: dict[str, str] = field(default_factory=dict)
    status: int = 200

    @property
    def ok(self) -> bool:
        return self.check is not None and self.check.ok


async def check_typed(form: Form, check: Callable[[str], Awaitable[CodeCheck]],
                      messages: dict[str, str], fallback: str = "") -> TypedCode:
    """The one redemption step both code forms share: the form's own rules, then `check` (which counts
    wrong codes against the client's rate limit), then the message for what went wrong."""
    typed = form.get("code")[:64]
    if not form.validate():
        return TypedCode(typed, errors=form.error_map, status=422)
    result = await check(typed)
    if not result.ok:
        return TypedCode(typed, result, {"code": messages.get(result.error, fallback)},
                         429 if result.error == "client_limited" else 422)
    return TypedCode(typed, result)


async def client_limited(db: AsyncSession, client: str) -> bool:
    return await ratelimit.is_limited(db, ratelimit.ENROLL_FAILURES, client)


async def check(db: AsyncSession, secret_key: str, raw: str, client: str) -> CodeCheck:
    """Check a typed code. Wrong codes count against the client; nothing is consumed here."""
    if await client_limited(db, client):
        return CodeCheck(False, "client_limited")
    code = normalise(raw)
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return CodeCheck(False, "format")
    now = utcnow()
    row = await db.scalar(select(EnrollmentCode).where(EnrollmentCode.lookup == code[:LOOKUP_LENGTH]))
    if row is None or row.used_at or row.revoked_at:
        await ratelimit.count_hit(db, ratelimit.ENROLL_FAILURES, client)
        return CodeCheck(False, "wrong")
    if not hmac.compare_digest(row.code_hash, _digest(secret_key, code)):
        # Counted on the code for the record (an atomic increment: concurrent guesses all count),
        # but never locking it: the limit is on the guessing client.
        await db.execute(
            update(EnrollmentCode).where(EnrollmentCode.id == row.id)
            .values(failed_attempts=EnrollmentCode.failed_attempts + 1)
            .execution_options(synchronize_session=False)
        )
        await ratelimit.count_hit(db, ratelimit.ENROLL_FAILURES, client)
        return CodeCheck(False, "wrong")
    if row.expires_at <= now:
        return CodeCheck(False, "expired")
    if row.needs_approval and row.approved_at is None:
        return CodeCheck(False, "pending")
    account = await db.get(Account, row.account_id)
    if account is None or not account.active:
        return CodeCheck(False, "wrong")
    return CodeCheck(True, code=row, account=account)


async def consume(db: AsyncSession, code_id: int) -> bool:
    """Mark a code used; False if it was used, revoked, expired or unapproved meanwhile (single use)."""
    now = utcnow()
    result = await db.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.id == code_id, EnrollmentCode.used_at.is_(None),
               EnrollmentCode.revoked_at.is_(None), EnrollmentCode.expires_at > now,
               (EnrollmentCode.needs_approval.is_(False)) | EnrollmentCode.approved_at.is_not(None))
        .values(used_at=now, lookup=None)
    )
    return result.rowcount == 1


async def pending(db: AsyncSession) -> list[EnrollmentCode]:
    """Staff codes waiting for a second administrator, oldest first."""
    return list((await db.scalars(
        select(EnrollmentCode).where(EnrollmentCode.needs_approval.is_(True), EnrollmentCode.approved_at.is_(None),
                                     EnrollmentCode.revoked_at.is_(None), EnrollmentCode.used_at.is_(None),
                                     EnrollmentCode.expires_at > utcnow())
        .order_by(EnrollmentCode.created_at)
    )).all())


def may_decide(code: EnrollmentCode, admin_id: int) -> bool:
    """Another administrator than the one who issued it, and not the account it is for."""
    return admin_id not in (code.created_by, code.account_id)


async def decide(db: AsyncSession, code_id: int, admin_id: int, approve: bool) -> EnrollmentCode | None:
    """Approve or reject a pending code; None if it is not pending or this admin may not decide it."""
    code = await db.get(EnrollmentCode, code_id)
    now = utcnow()
    if (code is None or not code.needs_approval or code.approved_at or code.revoked_at or code.used_at
            or code.expires_at <= now or not may_decide(code, admin_id)):
        return None
    # One conditional UPDATE: when two administrators decide at the same moment, only the first
    # statement still finds the code pending; the other changes no row and is told it was decided.
    values = ({"approved_by": admin_id, "approved_at": now} if approve
              else {"revoked_by": admin_id, "revoked_at": now, "lookup": None})
    result = await db.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.id == code.id, EnrollmentCode.approved_at.is_(None),
               EnrollmentCode.revoked_at.is_(None), EnrollmentCode.used_at.is_(None))
        .values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return None
    await db.refresh(code)
    return code
