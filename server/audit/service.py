"""Appending to and verifying the hash-chained audit log.

`record()` queues events on the session; they are appended to the chain when that transaction commits
(a `before_commit` hook), in the order they were recorded. Appending reads the chain head and so must
be serialised: on PostgreSQL by a transaction-scoped advisory lock, on SQLite by BEGIN IMMEDIATE. Taking
that lock at commit time makes it the LAST lock every transaction takes, held only while appending:
a transaction holding it never waits for a row lock, so it cannot close a deadlock cycle. (Taken where
record() was called, it did: a stage move that recorded and then wrote the session's flash message waited
for another request of the same clinician that held the session row and waited for the chain lock.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from server.audit.models import AuditEvent
from server.db import make_engine, utcnow

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


_PENDING = "audit_pending"


async def record(
    db: AsyncSession,
    ctx: AuditContext,
    action: str,
    *,
    patient_ids: list[int | None] | tuple[int | None, ...] = (None,),
    outcome: str = "ok",
    detail: str = "",
) -> None:
    """One event per patient, appended in the caller's transaction when it commits (lost if it rolls back)."""
    pending = db.sync_session.info.setdefault(_PENDING, [])
    pending.extend((ctx, action, patient_id, outcome, detail) for patient_id in patient_ids)


@event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()  # every other write (and its row locks) first: after the chain lock only the INSERT
    if session.bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS)
    at = utcnow()
    rows = []
    for ctx, action, patient_id, outcome, detail in pending:
        seq += 1
        canonical = _canonical(seq, at, ctx.account_id, ctx.role, patient_id, action, outcome, ctx.request_id, detail,
                               ctx.on_behalf_of)
        digest = compute_hash(prev, canonical)
        rows.append({"seq": seq, "at": at, "actor_account_id": ctx.account_id, "actor_role": ctx.role,
                     "patient_id": patient_id, "on_behalf_of": ctx.on_behalf_of, "action": action,
                     "outcome": outcome, "request_id": ctx.request_id, "detail": detail, "prev_hash": prev,
                     "hash": digest})
        prev = digest
    # A Core insert (one executemany): no ORM objects to build, track and flush for rows never read back.
    session.execute(insert(AuditEvent.__table__), rows)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction: SessionTransaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)


_CHAIN = (AuditEvent.seq, AuditEvent.at, AuditEvent.actor_account_id, AuditEvent.actor_role, AuditEvent.patient_id,
          AuditEvent.action, AuditEvent.outcome, AuditEvent.request_id, AuditEvent.detail, AuditEvent.on_behalf_of,
          AuditEvent.prev_hash, AuditEvent.hash)


async def verify(db: AsyncSession, batch: int = 5000,
                 progress: Callable[[int], None] | None = None) -> tuple[int, int | None]:
    """Walk the chain up to its head as it is when the walk starts (events appended meanwhile are left
    for the next run). Keyset batches on seq, read as plain rows: nothing piles up in the session, and
    nothing is written. Returns (events checked, seq of the first broken link or None)."""
    head = await db.scalar(select(func.max(AuditEvent.seq))) or 0
    prev, expected_seq, checked = GENESIS, 1, 0
    while True:
        rows = (await db.execute(
            select(*_CHAIN).where(AuditEvent.seq >= expected_seq, AuditEvent.seq <= head)
            .order_by(AuditEvent.seq).limit(batch)
        )).all()
        if not rows:
            return checked, None
        for row in rows:
            canonical = _canonical(row.seq, row.at, row.actor_account_id, row.actor_role, row.patient_id,
                                   row.action, row.outcome, row.request_id, row.detail, row.on_behalf_of)
            if row.seq != expected_seq or row.prev_hash != prev or row.hash != compute_hash(prev, canonical):
                return checked, row.seq if row.seq == expected_seq else expected_seq
            prev, expected_seq, checked = row.hash, expected_seq + 1, checked + 1
        if progress is not None:
            progress(checked)


async def verify_database(url: str, batch: int = 5000,
                          progress: Callable[[int], None] | None = None) -> tuple[int, int | None]:
    """`verify` from one read snapshot that never blocks the live service's writers.

    SQLite: a deferred transaction that only reads (WAL: writers go on meanwhile; a write-locking
    BEGIN IMMEDIATE would make every request fail with "database is locked" for the whole scan).
    PostgreSQL: a REPEATABLE READ, READ ONLY transaction."""
    engine = make_engine(url, immediate=False)
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    try:
        async with AsyncSession(engine) as db:
            result = await verify(db, batch=batch, progress=progress)
            await db.rollback()
            return result
    finally:
        await engine.dispose()


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
