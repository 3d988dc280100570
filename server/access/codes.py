"""One-time enrollment codes.

A code is 12 characters of Crockford base32 (60 random bits), shown as XXXX-XXXX-XXXX.
The first four characters are a lookup key, so wrong guesses can be counted per code;
the other eight (40 bits) are the secret. Only an HMAC of the whole code is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.models import Account, EnrollmentCode, RateLimitHit
from server.db import utcnow

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
LOOKUP_LENGTH = 4
MAX_ATTEMPTS_PER_CODE = 5
MAX_FAILURES_PER_CLIENT = 10
CLIENT_WINDOW = timedelta(minutes=15)
LOOKUP_RETENTION = timedelta(days=90)
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


def normalise(raw: str) -> str:
    return "".join(ch for ch in raw.upper() if ch.isalnum()).translate(_CONFUSABLE)


def display(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def _digest(secret_key: str, code: str) -> str:
    return hmac.new(secret_key.encode(), code.encode(), hashlib.sha256).hexdigest()


async def issue(db: AsyncSession, secret_key: str, account_id: int, created_by: int | None, days: int) -> str:
    """Revoke the account's earlier unused codes and issue a new one. Returns it for display, once."""
    now = utcnow()
    await db.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.account_id == account_id, EnrollmentCode.used_at.is_(None),
               EnrollmentCode.revoked_at.is_(None))
        .values(revoked_at=now, lookup=None)
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
                          created_by=created_by, created_at=now, expires_at=now + timedelta(days=days)))
    await db.flush()
    return display(code)


@dataclass(frozen=True)
class CodeCheck:
    ok: bool
    error: str = ""  # "format" | "wrong" | "expired" | "locked" | "client_limited"
    code: EnrollmentCode | None = None
    account: Account | None = None


async def client_limited(db: AsyncSession, client: str) -> bool:
    if db.bind.dialect.name == "postgresql":
        # One check per client at a time (until this transaction ends), so parallel guesses cannot
        # all read "under the limit" before any of them is counted. SQLite already serialises writers.
        await db.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"enroll:{client}"})
    since = utcnow() - CLIENT_WINDOW
    hits = await db.scalar(select(func.count()).select_from(RateLimitHit)
                           .where(RateLimitHit.key == f"enroll:{client}", RateLimitHit.at >= since))
    return (hits or 0) >= MAX_FAILURES_PER_CLIENT


async def check(db: AsyncSession, secret_key: str, raw: str, client: str) -> CodeCheck:
    """Check a typed code. Failures are counted per client and per code; nothing is consumed here."""
    if await client_limited(db, client):
        return CodeCheck(False, "client_limited")
    code = normalise(raw)
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return CodeCheck(False, "format")
    now = utcnow()
    row = await db.scalar(select(EnrollmentCode).where(EnrollmentCode.lookup == code[:LOOKUP_LENGTH]))
    if row is None or row.used_at or row.revoked_at:
        await _fail(db, client, now)
        return CodeCheck(False, "wrong")
    if row.failed_attempts >= MAX_ATTEMPTS_PER_CODE:
        return CodeCheck(False, "locked")
    if not hmac.compare_digest(row.code_hash, _digest(secret_key, code)):
        # An atomic increment in SQL: concurrent wrong guesses all count.
        attempts = (await db.execute(
            update(EnrollmentCode).where(EnrollmentCode.id == row.id)
            .values(failed_attempts=EnrollmentCode.failed_attempts + 1)
            .returning(EnrollmentCode.failed_attempts)
            .execution_options(synchronize_session=False)
        )).scalar_one()
        await _fail(db, client, now)
        return CodeCheck(False, "locked" if attempts >= MAX_ATTEMPTS_PER_CODE else "wrong")
    if row.expires_at <= now:
        return CodeCheck(False, "expired")
    account = await db.get(Account, row.account_id)
    if account is None or not account.active:
        return CodeCheck(False, "wrong")
    return CodeCheck(True, code=row, account=account)


async def _fail(db: AsyncSession, client: str, now: datetime) -> None:
    db.add(RateLimitHit(key=f"enroll:{client}", at=now))
    await db.execute(delete(RateLimitHit).where(RateLimitHit.at < now - CLIENT_WINDOW))
    await db.flush()


async def consume(db: AsyncSession, code_id: int) -> bool:
    """Mark a code used; False if it was used, revoked or expired meanwhile (single use)."""
    now = utcnow()
    result = await db.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.id == code_id, EnrollmentCode.used_at.is_(None),
               EnrollmentCode.revoked_at.is_(None), EnrollmentCode.expires_at > now)
        .values(used_at=now, lookup=None)
    )
    return result.rowcount == 1
