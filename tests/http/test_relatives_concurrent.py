"""The patient changes a relative's access in two tabs at the same moment: one of the two is stored, never a
mix, and the audit log records both changes in the order they were stored (see test_concurrent_writes.py for
how two requests really run at once; on PostgreSQL both transactions overlap, on SQLite they are serialised)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from server.access.models import Delegation
from server.audit.models import AuditEvent
from server.audit.service import verify
from tests.http.test_concurrent_writes import ROUNDS, browser, running_app

TAB_ONE = (["see", "reminders"], "see,reminders")
TAB_TWO = (["act"], "see,act")  # acting brings seeing


async def _stored(db, delegation_id: int) -> str:
    scopes = await db.scalar(select(Delegation.scopes).where(Delegation.id == delegation_id))
    await db.commit()
    return scopes


async def _changes(db) -> list[str]:
    details = list((await db.scalars(select(AuditEvent.detail).where(AuditEvent.action == "delegation.changed")
                                     .order_by(AuditEvent.seq))).all())
    await db.commit()
    return details


async def test_two_tabs_changing_a_relatives_scopes_at_once_store_one_of_the_two_and_audit_both(world, db, settings):
    patient, account = await world.patient("Kari Nordmann")
    _, delegation = await world.relative(patient, ("see",))
    async with running_app(settings) as app:
        http, headers = await browser(world, app, account, "/access/relatives")  # one session, two tabs

        async def change(scopes: list[str]):
            return await http.post(f"/access/relatives/{delegation.id}/scopes", headers=headers,
                                   data={"scopes": scopes})

        for round_ in range(ROUNDS):
            before = await _changes(db)
            tabs = (TAB_ONE, TAB_TWO) if round_ % 2 else (TAB_TWO, TAB_ONE)
            responses = await asyncio.gather(*(change(scopes) for scopes, _ in tabs))
            assert [r.status_code for r in responses] == [200, 200], round_
            stored = await _stored(db, delegation.id)
            assert stored in (TAB_ONE[1], TAB_TWO[1]), (round_, stored)  # one of the two, never a mix
            new = (await _changes(db))[len(before):]
            assert sorted(new) == sorted(f"delegation {delegation.id} scopes {s}" for _, s in tabs), round_
            assert new[-1].endswith(f"scopes {stored}"), round_  # the last change recorded is the one stored
        await http.aclose()
    assert (await verify(db))[1] is None  # the chain holds
    await db.commit()
