"""Relatives with the "reminders" scope get the patient's reminders on their own account; others do not,
and the patient's inbox gets each reminder once (the patient's own copy)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from server.access.models import Delegation
from server.db import utcnow
from server.notify import reminders
from server.notify.models import Reminder


async def test_a_relative_with_the_reminders_scope_gets_the_patients_reminders(world, db):
    patient, own = await world.patient("Kari Nordmann")
    with_scope, _ = await world.relative(patient, ("see", "reminders"), "Ola Nordmann")
    without, _ = await world.relative(patient, ("see", "act"), "Per Nordmann")
    ended, ended_delegation = await world.relative(patient, ("reminders",), "Lise Nordmann")
    row = await db.get(Delegation, ended_delegation.id)
    row.ended_at = utcnow() - timedelta(minutes=1)
    await db.commit()

    got = await reminders.recipients(db, patient.id)
    await db.commit()

    assert own.id in got and with_scope.id in got
    assert without.id not in got, "no reminders scope, no reminders"
    assert ended.id not in got, "ended access ends the reminders too"
    assert len(got) == len(set(got))


async def test_every_recipient_gets_its_own_outbox_row(world, db):
    patient, own = await world.patient("Kari Nordmann", stage=4)
    relative, _ = await world.relative(patient, ("reminders",), "Ola Nordmann")
    await reminders.wishes_needed(db, patient_id=patient.id)
    await db.commit()
    rows = (await db.scalars(select(Reminder.recipient_id).where(Reminder.patient_id == patient.id))).all()
    await db.commit()
    assert rows, "stage 4 asks who should come"
    assert set(rows) == {own.id, relative.id}
    assert rows.count(own.id) == rows.count(relative.id)
