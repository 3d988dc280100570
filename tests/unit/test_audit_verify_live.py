"""`audit-verify` on a live database: writers are not blocked while it runs, and tampering is still found."""

from __future__ import annotations

import asyncio

from sqlalchemy import insert, text

from server.audit.models import AuditEvent
from server.audit.service import (
    GENESIS,
    AuditContext,
    _canonical,
    compute_hash,
    pending_database,
    record,
    seal_database,
    verify_database,
)
from server.db import make_engine, make_sessionmaker, utcnow

EVENTS = 20_000
BATCH = 250


async def _bulk_chain(db, count: int) -> None:
    """`count` chained events, inserted in bulk (record() one by one would take minutes)."""
    prev, at, rows = GENESIS, utcnow(), []
    for seq in range(1, count + 1):
        canonical = _canonical(seq, at, 7, "clinician", seq % 50, "patient.viewed", "ok", f"req-{seq}", "")
        digest = compute_hash(prev, canonical)
        rows.append({"seq": seq, "at": at, "actor_account_id": 7, "actor_role": "clinician", "patient_id": seq % 50,
                     "action": "patient.viewed", "outcome": "ok", "request_id": f"req-{seq}", "detail": "",
                     "prev_hash": prev, "hash": digest})
        prev = digest
    for start in range(0, count, 5000):
        await db.execute(insert(AuditEvent), rows[start:start + 5000])
    await db.commit()


async def test_a_request_can_write_while_the_log_is_verified(db, client, settings):
    await _bulk_chain(db, EVENTS)
    started, progress = asyncio.Event(), []

    def on_batch(checked: int) -> None:
        progress.append(checked)
        started.set()

    verifying = asyncio.create_task(verify_database(settings.database_url, batch=BATCH, progress=on_batch))
    await asyncio.wait_for(started.wait(), 30)
    engine = make_engine(settings.database_url)  # the live service's engine: BEGIN IMMEDIATE on SQLite
    try:
        async with make_sessionmaker(engine)() as live:
            await record(live, AuditContext(7, "clinician", "live"), "patient.viewed", patient_ids=[1])
            await live.commit()  # "database is locked" here before the fix (or a wait until the scan ends)
    finally:
        await engine.dispose()
    assert not verifying.done(), "the write had to wait for the whole scan"
    assert await verifying == (EVENTS, None)
    assert len(progress) > 1
    assert await pending_database(settings.database_url) == 1  # the live write waits for the sealer
    assert await seal_database(settings.database_url) == 1
    assert await verify_database(settings.database_url) == (EVENTS + 1, None)  # and is chained on


async def test_tampering_in_a_large_log_is_found(db, client, settings):
    await _bulk_chain(db, EVENTS)
    await db.execute(text("UPDATE audit_events SET patient_id = 999 WHERE seq = 12345"))
    await db.commit()
    assert await verify_database(settings.database_url, batch=BATCH) == (12344, 12345)
