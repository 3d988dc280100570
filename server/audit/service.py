"""Appending to and verifying the hash-chained audit log."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditEvent
from server.db import utcnow

GENESIS = "0" * 64
# Any constant: serialises appends across app instances on PostgreSQL.
_PG_LOCK_KEY = 7_462_001


def _canonical(seq: int, at: datetime, actor_account_id, actor_role, patient_id, action, outcome, request_id,
               detail, on_behalf_of=None) -> str:
    fields = [seq, at.isoformat(timespec="microseconds"), actor_account_id, actor_role, patient_id,
              action, outcome, request_id, detail]
    if on_behalf_of is not None:  # only relatives' events carry it: earlier events hash as before
        fields.append(["on_behalf_of", on_behalf_of])
    return json.dumps(fields, separators=(",", ":"))


def compute_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


@dataclass(frozen=True)
class AuditContext:
    """Who is acting, for the audit rows written during one request."""

    account_id: int | None
    role: str
    request_id: str = ""
    on_behalf_of: int | None = None  # the patient a relative acts for


async def record(
    db: AsyncSession,
    ctx: AuditContext,
    action: str,
    *,
    patient_ids: list[int | None] | tuple[int | None, ...] = (None,),
    outcome: str = "ok",
    detail: str = "",
) -> None:
    """Append one event per patient, in the caller's transaction."""
    if db.bind.dialect.name == "postgresql":
        await db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = (await db.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1))).first()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS)
    at = utcnow()
    for patient_id in patient_ids:
        seq += 1
        canonical = _canonical(seq, at, ctx.account_id, ctx.role, patient_id, action, outcome, ctx.request_id, detail,
                               ctx.on_behalf_of)
        digest = compute_hash(prev, canonical)
        db.add(AuditEvent(seq=seq, at=at, actor_account_id=ctx.account_id, actor_role=ctx.role,
                          patient_id=patient_id, on_behalf_of=ctx.on_behalf_of, action=action, outcome=outcome,
                          request_id=ctx.request_id, detail=detail, prev_hash=prev, hash=digest))
        prev = digest
    await db.flush()


async def verify(db: AsyncSession, batch: int = 5000) -> tuple[int, int | None]:
    """Walk the chain. Returns (events checked, seq of the first broken link or None)."""
    prev, expected_seq, checked = GENESIS, 1, 0
    while True:
        rows = (await db.execute(
            select(AuditEvent).where(AuditEvent.seq >= expected_seq).order_by(AuditEvent.seq).limit(batch)
        )).scalars().all()
        if not rows:
            return checked, None
        for row in rows:
            canonical = _canonical(row.seq, row.at, row.actor_account_id, row.actor_role, row.patient_id,
                                   row.action, row.outcome, row.request_id, row.detail, row.on_behalf_of)
            if row.seq != expected_seq or row.prev_hash != prev or row.hash != compute_hash(prev, canonical):
                return checked, row.seq if row.seq == expected_seq else expected_seq
            prev, expected_seq, checked = row.hash, expected_seq + 1, checked + 1


async def verify_rows(db: AsyncSession, rows: list[AuditEvent]) -> bool:
    """Do these events still hash as written, and link to the events just before them? A cost per row
    shown, not per event stored (the whole chain: `samhandling audit-verify`)."""
    if not rows:
        return True
    before = {row.seq - 1 for row in rows}
    hashes = dict((await db.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(before)))).all())
    hashes[0] = GENESIS
    for row in rows:
        canonical = _canonical(row.seq, row.at, row.actor_account_id, row.actor_role, row.patient_id,
                               row.action, row.outcome, row.request_id, row.detail, row.on_behalf_of)
        if hashes.get(row.seq - 1) != row.prev_hash or row.hash != compute_hash(row.prev_hash, canonical):
            return False
    return True
