"""Relatives (pårørende) with delegated access: giving, redeeming, changing and ending it.

The code a patient hands to a relative follows the enrollment code rules (access/codes.py): 12
characters, only an HMAC stored, single use, 7 days, wrong guesses counted against the client's
rate limit. The relative enrolls their own account and passkey with it, or adds the delegation to
the account they already have. What a delegation allows is decided by `policy.can` only.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import codes, ratelimit
from server.access.codes import CodeCheck
from server.access.models import Account, Credential, Delegation, EnrollmentCode
from server.access.policy import SCOPE_ACT, SCOPE_SEE, SCOPES
from server.audit.service import AuditContext, record
from server.db import utcnow

CODE_DAYS = 7
DEFAULT_MONTHS = 12
MAX_DAYS = 3 * 366  # never open-ended: at most three years ahead
RELATIONS = ("partner", "parent", "child", "other")


def clean_scopes(scopes: set[str] | frozenset[str] | list[str]) -> frozenset[str]:
    """Known scopes only; acting on someone's page needs seeing it, so act brings see."""
    chosen = frozenset(s for s in scopes if s in SCOPES)
    if SCOPE_ACT in chosen:
        chosen |= {SCOPE_SEE}
    return chosen


def _joined(scopes: frozenset[str]) -> str:
    return ",".join(s for s in SCOPES if s in scopes)


def is_live(delegation: Delegation, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return delegation.ended_at is None and delegation.ends_at > now and delegation.relative_account_id is not None


def default_end(now: datetime | None = None) -> datetime:
    return (now or utcnow()) + timedelta(days=365)


async def _new_code(db: AsyncSession, secret_key: str) -> tuple[str, str, str]:
    while True:
        code = "".join(secrets.choice(codes.ALPHABET) for _ in range(codes.CODE_LENGTH))
        lookup = code[:codes.LOOKUP_LENGTH]
        taken = await db.scalar(select(func.count()).select_from(Delegation).where(Delegation.code_lookup == lookup))
        if not taken:
            return code, lookup, codes.digest(secret_key, code)


async def give(db: AsyncSession, secret_key: str, ctx: AuditContext, patient_id: int, patient_name: str,
               name: str, relation: str,
               scopes: frozenset[str], ends_at: datetime) -> tuple[Delegation, str]:
    """A new delegation waiting for its relative, and the one-time code to hand over (shown once)."""
    now = utcnow()
    code, lookup, digest = await _new_code(db, secret_key)
    delegation = Delegation(patient_id=patient_id, patient_name=patient_name, relative_name=name.strip(),
                            relation=relation,
                            scopes=_joined(clean_scopes(scopes)), ends_at=ends_at, created_by=ctx.account_id,
                            created_at=now, code_lookup=lookup, code_hash=digest,
                            code_expires_at=now + timedelta(days=CODE_DAYS))
    db.add(delegation)
    await db.flush()
    await record(db, ctx, "delegation.given", patient_ids=[patient_id],
                 detail=f"delegation {delegation.id} scopes {delegation.scopes}")
    return delegation, codes.display(code)


async def check_code(db: AsyncSession, secret_key: str, raw: str, client: str) -> CodeCheck:
    """Check a typed relative code; every failure but a limited client counts against the client."""
    if await codes.client_limited(db, client):
        return CodeCheck(False, "client_limited")
    code = codes.normalise(raw)
    now = utcnow()
    if len(code) != codes.CODE_LENGTH or any(ch not in codes.ALPHABET for ch in code):
        await ratelimit.count_hit(db, ratelimit.ENROLL_FAILURES, client)
        return CodeCheck(False, "format")
    row = await db.scalar(select(Delegation).where(Delegation.code_lookup == code[:codes.LOOKUP_LENGTH]))
    if row is None or row.code_used_at or row.ended_at or not hmac.compare_digest(row.code_hash,
                                                                                  codes.digest(secret_key, code)):
        if row is not None:
            row.code_failed_attempts += 1
        await ratelimit.count_hit(db, ratelimit.ENROLL_FAILURES, client)
        return CodeCheck(False, "wrong")
    if row.code_expires_at is None or row.code_expires_at <= now or row.ends_at <= now:
        await ratelimit.count_hit(db, ratelimit.ENROLL_FAILURES, client)
        return CodeCheck(False, "expired")
    return CodeCheck(True, delegation=row)


async def redeem(db: AsyncSession, ctx: AuditContext, delegation_id: int, account_id: int) -> bool:
    """Bind the delegation to the relative's account, using up its code (single use)."""
    now = utcnow()
    result = await db.execute(
        update(Delegation)
        .where(Delegation.id == delegation_id, Delegation.code_used_at.is_(None), Delegation.ended_at.is_(None),
               Delegation.code_expires_at > now)
        .values(code_used_at=now, code_lookup=None, relative_account_id=account_id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    delegation = await db.get(Delegation, delegation_id)
    await db.refresh(delegation)
    await record(db, ctx, "delegation.accepted", patient_ids=[delegation.patient_id],
                 detail=f"delegation {delegation_id} account {account_id}")
    return True


async def of_patient(db: AsyncSession, patient_id: int) -> list[Delegation]:
    return list((await db.scalars(select(Delegation).where(Delegation.patient_id == patient_id)
                                  .order_by(Delegation.created_at.desc(), Delegation.id.desc()))).all())


async def live_of_patient(db: AsyncSession, patient_id: int) -> list[Delegation]:
    return [d for d in await of_patient(db, patient_id) if is_live(d)]


async def of_relative(db: AsyncSession, account_id: int) -> list[Delegation]:
    return list((await db.scalars(select(Delegation).where(Delegation.relative_account_id == account_id)
                                  .order_by(Delegation.ends_at.desc()))).all())


async def own(db: AsyncSession, patient_id: int, delegation_id: int) -> Delegation | None:
    delegation = await db.get(Delegation, delegation_id)
    return delegation if delegation is not None and delegation.patient_id == patient_id else None


async def change_scopes(db: AsyncSession, ctx: AuditContext, delegation: Delegation, scopes: frozenset[str],
                        ends_at: datetime | None = None) -> None:
    """Two tabs changing the same delegation at once are serialised on its row (locked until commit, even when
    the value does not change): the one stored last is the one the audit log records last."""
    await db.refresh(delegation, with_for_update=True)
    delegation.scopes = _joined(clean_scopes(scopes))
    if ends_at is not None:
        delegation.ends_at = ends_at
    await db.flush()
    await record(db, ctx, "delegation.changed", patient_ids=[delegation.patient_id],
                 detail=f"delegation {delegation.id} scopes {delegation.scopes}")


async def end(db: AsyncSession, ctx: AuditContext, delegation: Delegation) -> None:
    await db.refresh(delegation, with_for_update=True)  # (serialised with a change in another tab)
    if delegation.ended_at is None:
        delegation.ended_at = utcnow()
        delegation.code_lookup = None
    await db.flush()
    await record(db, ctx, "delegation.ended", patient_ids=[delegation.patient_id],
                 detail=f"delegation {delegation.id}")


async def acting(db: AsyncSession, delegation_id: int, account_id: int) -> Delegation | None:
    """The delegation a session acts under, if it is this account's (live or not: see is_live)."""
    delegation = await db.get(Delegation, delegation_id)
    if delegation is None or delegation.relative_account_id != account_id:
        return None
    return delegation


async def lapse_unfinished(db: AsyncSession, now: datetime | None = None) -> int:
    """Relatives who redeemed a code but never made a passkey, once their enrollment can no longer be
    finished (no usable enrollment code left, at the latest CODE_DAYS after redeeming): the delegation ends
    (the patient sees it ended and can give a new code) and the account without a passkey is deleted."""
    now = now or utcnow()
    usable_code = exists().where(EnrollmentCode.account_id == Account.id, EnrollmentCode.used_at.is_(None),
                                 EnrollmentCode.revoked_at.is_(None), EnrollmentCode.expires_at > now)
    stranded = list((await db.scalars(
        select(Account).where(Account.role == "relative", Account.patient_id.is_(None),
                              Account.created_at < now - timedelta(days=CODE_DAYS),
                              ~exists().where(Credential.account_id == Account.id), ~usable_code)
    )).all())
    for account in stranded:
        for delegation in await of_relative(db, account.id):
            if delegation.ended_at is None:
                delegation.ended_at = now
            delegation.relative_account_id = None
            await record(db, AuditContext(None, "system"), "delegation.lapsed", patient_ids=[delegation.patient_id],
                         detail=f"delegation {delegation.id}: no passkey was made")
        await db.flush()
        await db.delete(account)
    await db.flush()
    return len(stranded)


async def relatives_with_scope(db: AsyncSession, patient_id: int, scope: str) -> list[int]:
    """Account ids of the patient's relatives whose live delegation has `scope` (e.g. "reminders")."""
    return [d.relative_account_id for d in await live_of_patient(db, patient_id) if scope in d.scope_set]
