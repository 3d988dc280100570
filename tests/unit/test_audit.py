"""The append-only, hash-chained audit log: appending, verifying, detecting tampering, the CLI."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditEvent
from server.audit.service import GENESIS, AuditContext, record, verify
from server.cli import audit_verify
from tests.helpers import seal

CLINICIAN = AuditContext(account_id=7, role="clinician", request_id="req-1")


async def _append_five(db) -> None:
    """Five events: seq 1 (no patient), 2-3 (one call, two patients), 4, 5."""
    await record(db, CLINICIAN, "patient.list_view", patient_ids=[None])
    await record(db, CLINICIAN, "patient.list_view", patient_ids=[11, 12])
    await record(db, AuditContext(None, "anonymous"), "auth.user_handle_mismatch", outcome="refused")
    await record(db, CLINICIAN, "patient.stage_moved", patient_ids=[11], detail="stage 4->5")
    await db.commit()
    await seal(db)


async def _verify_fresh(db, batch: int = 5000):
    """Verify in a new session, as the CLI does (nothing cached from the writes)."""
    async with AsyncSession(db.bind) as fresh:
        result = await verify(fresh, batch=batch)
        await fresh.rollback()
    return result


async def _rows(db) -> list[AuditEvent]:
    async with AsyncSession(db.bind) as fresh:
        rows = list((await fresh.scalars(select(AuditEvent).order_by(AuditEvent.seq, AuditEvent.id))).all())
        fresh.expunge_all()
        await fresh.rollback()
    return rows


async def _tamper(db, sql: str, **params) -> None:
    async with AsyncSession(db.bind) as fresh:
        await fresh.execute(text(sql), params)
        await fresh.commit()


async def test_record_appends_a_hash_chain(db, client):
    await _append_five(db)
    rows = await _rows(db)
    assert [row.seq for row in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS
    for previous, row in zip(rows, rows[1:], strict=False):
        assert row.prev_hash == previous.hash
    assert len({row.hash for row in rows}) == 5
    assert [row.patient_id for row in rows] == [None, 11, 12, None, 11]
    assert rows[3].outcome == "refused"
    assert rows[4].detail == "stage 4->5"
    assert rows[4].actor_account_id == 7 and rows[4].actor_role == "clinician"


async def test_the_chain_continues_across_transactions_and_sessions(db, client):
    await _append_five(db)
    async with AsyncSession(db.bind) as other:
        await record(other, CLINICIAN, "patient.view", patient_ids=[12])
        await other.commit()
    await seal(db)
    rows = await _rows(db)
    assert [row.seq for row in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[5].prev_hash == rows[4].hash


async def test_an_empty_log_verifies(db):
    assert await _verify_fresh(db) == (0, None)


async def test_an_intact_chain_verifies(db, client):
    await _append_five(db)
    assert await _verify_fresh(db) == (5, None)


async def test_an_intact_chain_verifies_across_batches(db, client):
    await _append_five(db)
    assert await _verify_fresh(db, batch=2) == (5, None)


@pytest.mark.parametrize("column, value", [
    ("action", "'patient.nothing_to_see'"),
    ("patient_id", "99"),
    ("patient_id", "NULL"),
    ("detail", "'stage 4->9'"),
    ("actor_role", "'admin'"),
    ("actor_account_id", "8"),
    ("outcome", "'refused'"),
])
async def test_tampering_with_one_row_is_found_at_that_row(db, client, column, value):
    await _append_five(db)
    await _tamper(db, f"UPDATE audit_events SET {column} = {value} WHERE seq = 2")
    assert await _verify_fresh(db) == (1, 2)


async def test_tampering_is_found_across_batches(db, client):
    await _append_five(db)
    await _tamper(db, "UPDATE audit_events SET action = 'x' WHERE seq = 5")
    assert await _verify_fresh(db, batch=2) == (4, 5)


async def test_tampering_with_the_first_row_is_found(db, client):
    await _append_five(db)
    await _tamper(db, "UPDATE audit_events SET action = 'x' WHERE seq = 1")
    assert await _verify_fresh(db) == (0, 1)


async def test_rewriting_a_hash_breaks_the_next_link(db, client):
    await _append_five(db)
    rows = await _rows(db)
    # Recompute row 3 as if its action were different: its own hash is then consistent,
    # but row 4 still points at the old hash.
    from server.audit.service import _canonical, compute_hash

    row = rows[2]
    forged = compute_hash(row.prev_hash, _canonical(row.seq, row.at, row.actor_account_id, row.actor_role,
                                                    row.patient_id, "forged", row.outcome, row.request_id,
                                                    row.detail))
    await _tamper(db, "UPDATE audit_events SET action = 'forged', hash = :h WHERE seq = 3", h=forged)
    assert await _verify_fresh(db) == (3, 4)


async def test_deleting_a_middle_row_is_found(db, client):
    await _append_five(db)
    await _tamper(db, "DELETE FROM audit_events WHERE seq = 3")
    assert await _verify_fresh(db) == (2, 3)


async def test_deleting_the_first_row_is_found(db, client):
    await _append_five(db)
    await _tamper(db, "DELETE FROM audit_events WHERE seq = 1")
    assert await _verify_fresh(db) == (0, 1)


async def test_cli_audit_verify_reports_an_intact_chain(db, client, settings, capsys):
    await _append_five(db)
    assert await asyncio.to_thread(audit_verify, settings) == 0
    out = capsys.readouterr().out
    assert "OK" in out
    assert "5" in out


async def test_cli_audit_verify_reports_a_broken_chain(db, client, settings, capsys):
    await _append_five(db)
    await _tamper(db, "UPDATE audit_events SET patient_id = 12 WHERE seq = 4")
    assert await asyncio.to_thread(audit_verify, settings) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out
    assert "event 4" in out


async def test_cli_audit_verify_reports_a_deleted_row(db, client, settings, capsys):
    await _append_five(db)
    await _tamper(db, "DELETE FROM audit_events WHERE seq = 2")
    assert await asyncio.to_thread(audit_verify, settings) == 1
    assert "event 2" in capsys.readouterr().out


# --- Unsealed events and the sealer ------------------------------------------------------------

async def test_events_are_stored_unsealed_with_the_request_and_sealed_later(db, client):
    await record(db, CLINICIAN, "patient.viewed", patient_ids=[11])
    await db.commit()
    [row] = await _rows(db)
    assert row.action == "patient.viewed" and row.id == 1
    assert row.seq is None and row.hash is None and row.prev_hash is None  # stored, not yet in the chain
    assert await _verify_fresh(db) == (0, None)
    assert await seal(db) == 1
    [row] = await _rows(db)
    assert row.seq == 1 and row.prev_hash == GENESIS and row.hash
    assert await _verify_fresh(db) == (1, None)
    assert await seal(db) == 0  # nothing left


async def test_events_sealed_in_several_rounds_and_batches_make_one_chain(db, client):
    from server.audit.service import seal as seal_with

    await _append_five(db)
    for i in range(7):
        await record(db, CLINICIAN, "patient.viewed", patient_ids=[i])
    await db.commit()
    async with AsyncSession(db.bind) as sealer:
        assert await seal_with(sealer, batch=3) == 7
    assert await _verify_fresh(db) == (12, None)


async def test_a_rolled_back_request_leaves_no_event(db, client):
    await db.execute(select(1))  # as every request: it has read something first
    await record(db, CLINICIAN, "patient.viewed", patient_ids=[11])
    await db.rollback()
    await db.commit()
    assert await _rows(db) == []


async def test_sealers_running_at_once_seal_every_event_once(db, client, settings):
    """Several app processes each run a sealer: the chain lock serialises them."""
    from server.audit.service import pending_database, seal_database

    async def writer(n: int) -> None:
        from server.db import make_engine, make_sessionmaker
        engine = make_engine(settings.database_url)
        try:
            for i in range(10):
                async with make_sessionmaker(engine)() as session:
                    await record(session, AuditContext(n, "clinician"), "patient.viewed", patient_ids=[i])
                    await session.commit()
                await asyncio.sleep(0)
        finally:
            await engine.dispose()

    async def sealer() -> None:
        for _ in range(5):
            await seal_database(settings.database_url)

    await asyncio.gather(writer(1), writer(2), sealer(), sealer(), sealer())
    await seal_database(settings.database_url)
    assert await pending_database(settings.database_url) == 0
    assert await _verify_fresh(db) == (20, None)
    assert sorted(row.seq for row in await _rows(db)) == list(range(1, 21))


# --- One event for a list of patients ------------------------------------------------------------

async def test_a_list_is_one_event_naming_its_patients_in_the_hash(db, client):
    from server.audit.models import AuditEventPatient

    await record(db, CLINICIAN, "patient.list_view", patient_ids=[12, 11, 13], detail="worklist", as_list=True)
    await db.commit()
    await seal(db)
    [row] = await _rows(db)
    assert row.patient_id is None and row.patient_count == 3 and row.detail == "worklist"
    listed = (await db.execute(select(AuditEventPatient.patient_id).where(AuditEventPatient.event_id == row.id))).all()
    await db.commit()
    assert sorted(p for (p,) in listed) == [11, 12, 13]
    assert await _verify_fresh(db) == (1, None)
    # Naming another person as the one who saw the list breaks it; so do removing or adding a patient.
    await _tamper(db, "UPDATE audit_event_patients SET actor_account_id = 8 WHERE patient_id = 12")
    assert await _verify_fresh(db) == (0, 1)
    await _tamper(db, "UPDATE audit_event_patients SET actor_account_id = 7")
    assert await _verify_fresh(db) == (1, None)
    await _tamper(db, "DELETE FROM audit_event_patients WHERE patient_id = 12")
    assert await _verify_fresh(db) == (0, 1)
    await _tamper(db, "INSERT INTO audit_event_patients (patient_id, event_id) VALUES (12, 1), (99, 1)")
    assert await _verify_fresh(db) == (0, 1)


# --- PostgreSQL: requests never wait for the chain lock, nor for each other's audit ------------------

def _postgresql_only(settings) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one write transaction at a time")


async def test_a_request_commits_its_audit_while_the_chain_lock_is_held(db, client, settings):
    """Before: every request took the chain lock (advisory lock) for its audit insert, so a request
    waited for any transaction holding it (a sealer, another request between insert and commit)."""
    from server.audit.service import _PG_LOCK_KEY, _append_pending
    from server.db import make_engine, make_sessionmaker

    _postgresql_only(settings)
    engine = make_engine(settings.database_url)
    maker = make_sessionmaker(engine)
    try:
        async with maker() as holder, maker() as slow_request:
            await holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            # Another request has inserted its audit event (the commit hook ran) but not committed yet.
            await record(slow_request, CLINICIAN, "patient.viewed", patient_ids=[1])
            await slow_request.run_sync(_append_pending)
            async with maker() as request:
                await record(request, CLINICIAN, "plan.viewed", patient_ids=[2])
                await asyncio.wait_for(request.commit(), 10)  # waited for the lock before
            await slow_request.commit()
            await holder.rollback()
    finally:
        await engine.dispose()
    await seal(db)
    assert await _verify_fresh(db) == (2, None)


async def test_the_chain_order_is_the_seal_order_when_a_lower_id_commits_late(db, client, settings):
    from server.audit.service import _append_pending
    from server.db import make_engine, make_sessionmaker

    _postgresql_only(settings)
    engine = make_engine(settings.database_url)
    maker = make_sessionmaker(engine)
    try:
        async with maker() as late:
            await record(late, CLINICIAN, "patient.viewed", patient_ids=[1])
            await late.run_sync(_append_pending)  # id 1, not committed
            async with maker() as early:
                await record(early, CLINICIAN, "plan.viewed", patient_ids=[2])
                await early.commit()  # id 2, committed
            assert await seal(db) == 1
            await late.commit()
    finally:
        await engine.dispose()
    assert await seal(db) == 1
    rows = await _rows(db)
    assert [(row.id, row.seq) for row in sorted(rows, key=lambda r: r.id)] == [(1, 2), (2, 1)]
    assert await _verify_fresh(db) == (2, None)
