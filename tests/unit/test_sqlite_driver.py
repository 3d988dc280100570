"""The SQLite driver (server/sqlite_driver.py) keeps what an operator relies on: a failed request leaves
nothing behind and does not keep the database locked, what was committed is on disk for anyone who opens
the file, writers in one process queue instead of failing with "database is locked", and a cancelled
request does not wedge the connection. SQLite only (the driver is SQLite's)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from server.db import make_engine, make_sessionmaker
from server.i18n import today_oslo
from server.pathway.models import Patient, StageEvent
from server.seed import build_patient


@pytest.fixture
def sqlite_url(db_template, tmp_path) -> str:
    return db_template.fresh_url("sqlite", tmp_path)


def _file(url: str) -> str:
    return url.split(":///", 1)[1]


def _another_process_can_write(url: str) -> None:
    """What a second process (or `samhandling seal`) sees: the write lock is free right now, no waiting."""
    other = sqlite3.connect(_file(url), timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # raises "database is locked" if anyone still holds the lock
        other.execute("ROLLBACK")
    finally:
        other.close()


async def _add_patient(engine, name: str) -> int:
    async with make_sessionmaker(engine)() as db:
        patient = build_patient(name, 3, today_oslo() - timedelta(days=20))
        db.add(patient)
        await db.commit()
        return patient.id


async def test_a_failed_write_leaves_nothing_behind_and_releases_the_lock(sqlite_url):
    engine = make_engine(sqlite_url)
    try:
        async with make_sessionmaker(engine)() as db:
            db.add(build_patient("Half Written", 2, today_oslo()))
            await db.flush()  # written inside the transaction
            db.add(StageEvent(patient_id=999_999, from_stage=None, to_stage=1))
            with pytest.raises(IntegrityError):  # no such patient: the foreign key refuses
                await db.flush()
            await db.rollback()
        _another_process_can_write(sqlite_url)
        async with make_sessionmaker(engine)() as db:
            assert (await db.scalars(select(Patient.name))).all() == []
        # the same connection goes on working after the failure
        await _add_patient(engine, "Next Request")
        _another_process_can_write(sqlite_url)
    finally:
        await engine.dispose()


async def test_committed_data_is_on_disk_for_a_new_connection_and_plain_sqlite3(sqlite_url):
    engine = make_engine(sqlite_url)
    patient_id = await _add_patient(engine, "Kari Committed")
    await engine.dispose()
    reopened = make_engine(sqlite_url)
    try:
        async with make_sessionmaker(reopened)() as db:
            assert await db.scalar(select(Patient.name).where(Patient.id == patient_id)) == "Kari Committed"
    finally:
        await reopened.dispose()
    plain = sqlite3.connect(_file(sqlite_url))
    try:
        assert plain.execute("SELECT name FROM patients WHERE id = ?", (patient_id,)).fetchone() == ("Kari Committed",)
    finally:
        plain.close()


async def test_concurrent_read_then_write_requests_in_one_process_all_succeed_and_none_is_lost(sqlite_url):
    engine = make_engine(sqlite_url)
    try:
        patient_id = await _add_patient(engine, "Counted")
        sessions = make_sessionmaker(engine)
        order: list[int] = []

        async def bump(i: int) -> None:
            async with sessions() as db:
                order.append(i)  # the transaction has begun: this request holds the write lock
                version = await db.scalar(text("SELECT version FROM patients WHERE id = :id"), {"id": patient_id})
                await asyncio.sleep(0)  # let every other request try to get in meanwhile
                await db.execute(text("UPDATE patients SET version = :v WHERE id = :id"),
                                 {"v": version + 1, "id": patient_id})
                await db.commit()

        async with sessions() as db:
            start = await db.scalar(text("SELECT version FROM patients WHERE id = :id"), {"id": patient_id})
        await asyncio.gather(*(bump(i) for i in range(30)))  # no "database is locked"
        async with sessions() as db:
            assert await db.scalar(text("SELECT version FROM patients WHERE id = :id"), {"id": patient_id}) == start + 30
        assert order == list(range(30))  # first come, first served
        _another_process_can_write(sqlite_url)
    finally:
        await engine.dispose()


async def test_a_reading_tool_keeps_its_snapshot_and_does_not_block_the_writer(sqlite_url):
    """`audit-verify` and the tests' own sessions read with deferred transactions while the app writes."""
    writer, reader = make_engine(sqlite_url), make_engine(sqlite_url, immediate=False)
    try:
        first = await _add_patient(writer, "Before The Snapshot")
        async with make_sessionmaker(reader)() as snapshot:
            assert (await snapshot.scalars(select(Patient.id))).all() == [first]
            await _add_patient(writer, "While Reading")  # not blocked by the open read
            assert (await snapshot.scalars(select(Patient.id))).all() == [first]
        async with make_sessionmaker(reader)() as later:
            assert len((await later.scalars(select(Patient.id))).all()) == 2
    finally:
        await writer.dispose()
        await reader.dispose()


async def test_a_request_cancelled_during_a_statement_leaves_the_database_usable(sqlite_url):
    """A client that goes away mid-request cancels its task; the one connection must not stay locked."""
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    slow = text("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) "
                "SELECT count(*) FROM n")
    try:
        async def abandoned() -> None:
            async with sessions() as db:
                await db.execute(slow)  # the transaction's first statement: in the connection's thread
                db.add(build_patient("Never Committed", 2, today_oslo()))
                await db.commit()

        task = asyncio.create_task(abandoned())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        patient_id = await _add_patient(engine, "After The Cancel")
        async with sessions() as db:
            assert (await db.scalars(select(Patient.id))).all() == [patient_id]
        _another_process_can_write(sqlite_url)
    finally:
        await engine.dispose()
