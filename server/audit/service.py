"""Appending to, sealing and verifying the hash-chained audit log.

`record()` queues events on the session; they are inserted when that transaction commits (a
`before_commit` hook), so every read of patient data is stored with the request that made it, or not at
all. They are inserted UNSEALED: content and an autoincrement id, no chain position and no hash, and
without any lock: requests never wait for each other's audit.

`seal()` (a task inside every app process, and `samhandling seal`) takes the chain lock (PostgreSQL: a
transaction-scoped advisory lock; SQLite: the write lock of BEGIN IMMEDIATE), reads the unsealed events
in id order, gives them positions head+1, head+2 ... and their hashes, and commits. The chain order is
the seal order: an event committed late with a lower id simply gets a later position, so the chain has
no gaps to explain. Several sealers may run at once (several processes): the lock serialises them, and a
sealer that finds the lock taken leaves the round to the one holding it.

The sealer takes no other lock than the chain lock and the rows it seals (which no request touches), so
it cannot close a deadlock cycle with requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, event, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

from server.audit.models import AuditEvent, AuditEventPatient
from server.db import make_engine, make_sessionmaker, utcnow

GENESIS = "0" * 64
# Any constant: serialises sealing across app instances on PostgreSQL.
_PG_LOCK_KEY = 7_462_001
SEAL_BATCH = 2000
log = logging.getLogger(__name__)


def _canonical(seq: int, at: datetime, actor_account_id, actor_role, patient_id, action, outcome, request_id,
               detail, on_behalf_of=None, listed: list[int] | None = None) -> str:
    fields = [seq, at.isoformat(timespec="microseconds"), actor_account_id, actor_role, patient_id,
              action, outcome, request_id, detail]
    if on_behalf_of is not None:  # only relatives' events carry it: earlier events hash as before
        fields.append(["on_behalf_of", on_behalf_of])
    if listed is not None:  # one event for a list of patients: who was listed is part of the hash
        fields.append(["patients", listed])
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
_table = AuditEvent.__table__
_listed_table = AuditEventPatient.__table__
_INSERT = insert(_table)  # built once: every request that reads patient data runs it at commit
_INSERT_LIST_EVENT = insert(_table).returning(_table.c.id)
_INSERT_LISTED = insert(_listed_table)
# Set when a transaction inserted events: the in-app sealer then looks soon, instead of at its idle pace.
_recorded = False


async def record(
    db: AsyncSession,
    ctx: AuditContext,
    action: str,
    *,
    patient_ids: list[int | None] | tuple[int | None, ...] = (None,),
    outcome: str = "ok",
    detail: str = "",
    as_list: bool = False,
) -> None:
    """One event per patient, inserted in the caller's transaction when it commits (lost if it rolls back).

    `as_list`: ONE event naming all the patients (a worklist, a patient list); each patient's access log
    still finds it (audit_event_patients), and the list is part of the event's hash."""
    pending = db.sync_session.info.setdefault(_PENDING, [])
    if as_list:
        listed = sorted({pid for pid in patient_ids if pid is not None})
        pending.append((ctx, action, None, outcome, detail, listed))
    else:
        pending.extend((ctx, action, patient_id, outcome, detail, None) for patient_id in patient_ids)


def _row(ctx: AuditContext, at: datetime, action: str, patient_id, outcome: str, detail: str, listed) -> dict:
    return {"at": at, "actor_account_id": ctx.account_id, "actor_role": ctx.role, "patient_id": patient_id,
            "on_behalf_of": ctx.on_behalf_of, "action": action, "outcome": outcome, "request_id": ctx.request_id,
            "detail": detail, "patient_count": None if listed is None else len(listed)}


@event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    global _recorded
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    at = utcnow()
    plain = [_row(ctx, at, action, pid, outcome, detail, None)
             for ctx, action, pid, outcome, detail, listed in pending if listed is None]
    if plain:
        # A Core insert (one executemany), no lock, no chain head to read: the sealer hashes it later.
        session.execute(_INSERT, plain)
    for ctx, action, pid, outcome, detail, listed in pending:
        if listed is not None:
            event_id = session.execute(_INSERT_LIST_EVENT,
                                       _row(ctx, at, action, pid, outcome, detail, listed)).scalar_one()
            if listed:
                session.execute(_INSERT_LISTED, [{"event_id": event_id, "patient_id": p,
                                                         "actor_account_id": ctx.account_id} for p in listed])
    _recorded = True


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction: SessionTransaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)


async def _listed(db: AsyncSession, events: dict[int, int | None]) -> dict[int, list[int] | None]:
    """The patients named by these list events ({event id: its actor}), each list sorted (as hashed);
    None for an event whose side rows name another actor than the event (they were changed)."""
    out: dict[int, list[int] | None] = {event_id: [] for event_id in events}
    ids = list(events)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = await db.execute(select(AuditEventPatient.event_id, AuditEventPatient.patient_id,
                                       AuditEventPatient.actor_account_id)
                                .where(AuditEventPatient.event_id.in_(chunk)))
        for event_id, patient_id, actor in rows.all():
            if out[event_id] is not None and actor == events[event_id]:
                out[event_id].append(patient_id)
            else:
                out[event_id] = None
    for patients in out.values():
        if patients is not None:
            patients.sort()
    return out


def _row_canonical(row, seq: int, listed: dict[int, list[int] | None]) -> str:
    patients = None
    if row.patient_count is not None:
        patients = listed.get(row.id)
        if patients is None:  # side rows naming another actor: make the event fail to verify
            patients = ["altered"]
    return _canonical(seq, row.at, row.actor_account_id, row.actor_role, row.patient_id, row.action, row.outcome,
                      row.request_id, row.detail, row.on_behalf_of, patients)


_UNSEALED = (AuditEvent.id, AuditEvent.at, AuditEvent.actor_account_id, AuditEvent.actor_role, AuditEvent.patient_id,
             AuditEvent.action, AuditEvent.outcome, AuditEvent.request_id, AuditEvent.detail, AuditEvent.on_behalf_of,
             AuditEvent.patient_count)
_SEAL = (update(_table).where(_table.c.id == bindparam("b_id"), _table.c.seq.is_(None))
         .values(seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), hash=bindparam("b_hash")))


async def seal(db: AsyncSession, *, wait: bool = True, batch: int = SEAL_BATCH) -> int:
    """Seal every unsealed event (in batches, one transaction each). Returns how many were sealed.

    `wait=False`: if another sealer holds the chain lock (PostgreSQL), leave this round to it and return.
    On SQLite `db` must write-lock at BEGIN (the app's engine: BEGIN IMMEDIATE)."""
    sealed = 0
    postgresql = db.bind.dialect.name == "postgresql"
    while True:
        if postgresql:
            if wait:
                await db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            elif not await db.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY}):
                await db.rollback()
                return sealed
        rows = (await db.execute(select(*_UNSEALED).where(AuditEvent.seq.is_(None))
                                 .order_by(AuditEvent.id).limit(batch))).all()
        if not rows:
            await db.rollback()
            return sealed
        head = (await db.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.is_not(None))
                                 .order_by(AuditEvent.seq.desc()).limit(1))).first()
        seq, prev = (head[0], head[1]) if head else (0, GENESIS)
        listed = await _listed(db, {row.id: row.actor_account_id for row in rows if row.patient_count is not None})
        params = []
        for row in rows:
            seq += 1
            digest = compute_hash(prev, _row_canonical(row, seq, listed))
            params.append({"b_id": row.id, "b_seq": seq, "b_prev": prev, "b_hash": digest})
            prev = digest
        await db.execute(_SEAL, params)
        await db.commit()
        sealed += len(rows)
        if len(rows) < batch:
            return sealed


async def pending(db: AsyncSession) -> int:
    """How many events are not sealed yet (committed, not yet in the chain)."""
    return await db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None))) or 0


async def pending_database(url: str) -> int:
    engine = make_engine(url, immediate=False)
    try:
        async with AsyncSession(engine) as db:
            return await pending(db)
    finally:
        await engine.dispose()


async def seal_database(url: str) -> int:
    """`seal` on its own engine (the CLI, tests): waits for the chain lock."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db:
            return await seal(db)
    finally:
        await engine.dispose()


async def seal_periodically(sessionmaker: async_sessionmaker, every: float = 0.5, idle: float = 5.0) -> None:
    """The in-app sealer: every `every` seconds when this process recorded events, at least every `idle`
    seconds otherwise (events left by another process, a killed one, or the CLI). A failed round is
    logged and retried; nothing is lost, the events wait unsealed."""
    global _recorded
    last = 0.0
    while True:
        await asyncio.sleep(every)
        now = time.monotonic()
        if not _recorded and now - last < idle:
            continue
        _recorded, last = False, now
        try:
            async with sessionmaker() as db:
                await seal(db, wait=False)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the next round tries again
            _recorded = True
            log.exception("sealing the audit log failed; retrying")


_CHAIN = (AuditEvent.id, AuditEvent.seq, AuditEvent.at, AuditEvent.actor_account_id, AuditEvent.actor_role,
          AuditEvent.patient_id, AuditEvent.action, AuditEvent.outcome, AuditEvent.request_id, AuditEvent.detail,
          AuditEvent.on_behalf_of, AuditEvent.patient_count, AuditEvent.prev_hash, AuditEvent.hash)


async def verify(db: AsyncSession, batch: int = 5000,
                 progress: Callable[[int], None] | None = None) -> tuple[int, int | None]:
    """Walk the sealed chain up to its head as it is when the walk starts (events sealed meanwhile are
    left for the next run; unsealed events are not in the chain yet: `pending`). Keyset batches on seq,
    read as plain rows: nothing piles up in the session, and nothing is written. Returns (events checked,
    seq of the first broken link or None)."""
    head = await db.scalar(select(func.max(AuditEvent.seq))) or 0
    prev, expected_seq, checked = GENESIS, 1, 0
    while True:
        rows = (await db.execute(
            select(*_CHAIN).where(AuditEvent.seq >= expected_seq, AuditEvent.seq <= head)
            .order_by(AuditEvent.seq).limit(batch)
        )).all()
        if not rows:
            return checked, None
        listed = await _listed(db, {row.id: row.actor_account_id for row in rows if row.patient_count is not None})
        for row in rows:
            if row.seq != expected_seq or row.prev_hash != prev or row.hash != compute_hash(
                    prev, _row_canonical(row, row.seq, listed)):
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
    """Do these sealed events still hash as written, and link to the events just before them? A cost per
    row shown, not per event stored (the whole chain: `samhandling audit-verify`). Unsealed rows are
    skipped: they are not in the chain yet (the page says so)."""
    rows = [row for row in rows if row.seq is not None]
    if not rows:
        return True
    before = {row.seq - 1 for row in rows}
    hashes = dict((await db.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(before)))).all())
    hashes[0] = GENESIS
    listed = await _listed(db, {row.id: row.actor_account_id for row in rows if row.patient_count is not None})
    for row in rows:
        if hashes.get(row.seq - 1) != row.prev_hash or row.hash != compute_hash(
                row.prev_hash or "", _row_canonical(row, row.seq, listed)):
            return False
    return True
