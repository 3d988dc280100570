"""The append-only, hash-chained audit log: appending, verifying, detecting tampering, the CLI."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditEvent
from server.audit.service import GENESIS, AuditContext, record, verify
from server.cli import audit_verify

CLINICIAN = AuditContext(account_id=7, role="clinician", request_id="req-1")


async def _append_five(db) -> None:
    """Five events: seq 1 (no patient), 2-3 (one call, two patients), 4, 5."""
    await record(db, CLINICIAN, "patient.list_view", patient_ids=[None])
    await record(db, CLINICIAN, "patient.list_view", patient_ids=[11, 12])
    await record(db, AuditContext(None, "anonymous"), "auth.user_handle_mismatch", outcome="refused")
    await record(db, CLINICIAN, "patient.stage_moved", patient_ids=[11], detail="stage 4->5")
    await db.commit()


async def _verify_fresh(db, batch: int = 5000):
    """Verify in a new session, as the CLI does (nothing cached from the writes)."""
    async with AsyncSession(db.bind) as fresh:
        result = await verify(fresh, batch=batch)
        await fresh.rollback()
    return result


async def _rows(db) -> list[AuditEvent]:
    async with AsyncSession(db.bind) as fresh:
        rows = list((await fresh.scalars(select(AuditEvent).order_by(AuditEvent.seq))).all())
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
