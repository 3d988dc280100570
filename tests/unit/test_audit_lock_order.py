"""Recording audit events cannot be part of a deadlock.

Before the sealer: record() took the chain lock (PostgreSQL advisory lock) where it was called and held it
to the commit. A request that then wrote a row (e.g. the session's flash message after a stage move) could
wait for another request of the same user that held that row and waited for the chain lock: PostgreSQL
"deadlock detected" and a 500 for one of them (seen 26 times in 5 minutes of bench/soak.py). Then the lock
was taken last, at commit. Now requests take no chain lock at all (the sealer does, and holds no other
lock but the rows it seals); these scenarios must still run through, and the chain verify once sealed.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update

from server.access.models import Account
from server.access.service import create_account
from server.audit.service import AuditContext, record, seal_database, verify_database
from server.db import make_engine, make_sessionmaker

CTX = AuditContext(7, "clinician", "req")


async def test_recording_then_writing_a_row_another_transaction_holds_does_not_deadlock(db, client, settings):
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one write transaction at a time: no lock order to get wrong")
    account = await create_account(db, "clinician", "Lege Lise")
    await db.commit()
    engine = make_engine(settings.database_url)
    maker = make_sessionmaker(engine)
    a_holds_the_row, b_recorded = asyncio.Event(), asyncio.Event()

    async def a_row_then_record() -> None:
        async with maker() as session:
            await b_recorded.wait()
            await session.execute(update(Account).where(Account.id == account.id).values(display_name="A"))
            a_holds_the_row.set()
            await record(session, CTX, "patient.viewed", patient_ids=[1])
            await session.commit()

    async def b_record_then_row() -> None:
        async with maker() as session:
            await record(session, CTX, "patient.stage_moved", patient_ids=[1])
            b_recorded.set()
            await a_holds_the_row.wait()
            await session.execute(update(Account).where(Account.id == account.id).values(display_name="B"))
            await session.commit()

    try:
        await asyncio.wait_for(asyncio.gather(a_row_then_record(), b_record_then_row()), 30)
    finally:
        await engine.dispose()
    assert await seal_database(settings.database_url) == 2
    assert await verify_database(settings.database_url) == (2, None)


async def test_changes_still_unflushed_at_commit_do_not_deadlock_with_the_audit(db, client, settings):
    """As a flash message set after record(): the ORM writes it at commit, and it must not wait for a row
    while holding a lock another transaction waits for (bench/soak.py saw 315 deadlocks in 5 minutes when
    the chain lock was taken before it)."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one write transaction at a time: no lock order to get wrong")
    account = await create_account(db, "clinician", "Lege Lise")
    await db.commit()
    engine = make_engine(settings.database_url)
    maker = make_sessionmaker(engine)
    a_holds_the_row, b_commits = asyncio.Event(), asyncio.Event()

    async def a_row_then_commit() -> None:
        async with maker() as session:
            await session.execute(update(Account).where(Account.id == account.id).values(display_name="A"))
            a_holds_the_row.set()
            await b_commits.wait()
            await asyncio.sleep(0.3)  # B is now inside its commit, waiting for the row
            await record(session, CTX, "patient.viewed", patient_ids=[1])
            await session.commit()

    async def b_record_change_commit() -> None:
        async with maker() as session:
            await a_holds_the_row.wait()
            row = await session.get(Account, account.id)
            await record(session, CTX, "patient.stage_moved", patient_ids=[1])
            row.display_name = "B"  # written by the commit's flush
            b_commits.set()
            await session.commit()

    try:
        await asyncio.wait_for(asyncio.gather(a_row_then_commit(), b_record_change_commit()), 30)
    finally:
        await engine.dispose()
    assert await seal_database(settings.database_url) == 2
    assert await verify_database(settings.database_url) == (2, None)
