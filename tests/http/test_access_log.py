"""The patient's access log ("Who has seen my data?") with unsealed events and list events."""

from __future__ import annotations

import re
from datetime import timedelta

from server.audit.service import AuditContext, record
from server.i18n import today_oslo
from tests.helpers import audit_count, html, listed_count, seal


def _table(page: str) -> str:
    return html(page).by_id("access-log").text


async def test_the_worklist_is_one_event_and_each_listed_patient_sees_the_clinicians_read(client, world, db):
    late = today_oslo() - timedelta(weeks=13)
    (first, first_account), (second, second_account) = [
        await world.patient(name, stage=3, received=late) for name in ("Olav Sen", "Siri Sen")]
    clinician = await world.staff(name="Lege Lise")
    await world.login_as(clinician)
    worklist = (await client.get("/clinic/worklist")).text
    assert "Olav Sen" in worklist and "Siri Sen" in worklist
    assert await audit_count(db, "patient.list_view") == 1  # one event, not one per listed patient
    assert await listed_count(db, "patient.list_view") == 2
    for account in (first_account, second_account):
        await world.login_as(account)
        table = _table((await client.get("/access/log")).text)
        assert "Lege Lise" in table and "Saw your name in a list of patients" in table
        only = _table((await client.get(f"/access/log?who={clinician.id}")).text)
        assert "Saw your name in a list of patients" in only
    assert first.id != second.id


async def test_the_patient_list_is_one_event_per_page_shown(client, world, db):
    _patient, account = await world.patient("Kari Nordmann")
    await world.patient("Per Hansen")
    await world.login_as(await world.staff(name="Lege Lise"))
    assert "Kari Nordmann" in (await client.get("/clinic/patients")).text
    assert await audit_count(db, "patient.list_view") == 1
    assert await listed_count(db, "patient.list_view") == 2
    await world.login_as(account)
    assert "Lege Lise" in _table((await client.get("/access/log")).text)


async def test_events_not_yet_sealed_are_shown_and_marked_not_as_tampering(client, world, db):
    patient, account = await world.patient("Kari Nordmann")
    await world.login_as(await world.staff(name="Lege Lise"))
    await client.get(f"/clinic/patients/{patient.id}")
    await world.login_as(account)
    page = (await client.get("/access/log")).text
    assert "Lege Lise" in _table(page) and "not yet sealed" in _table(page)
    assert "The log is complete" in page and "tampered" not in page
    assert html(page).by_id("pending-state") is not None
    await seal(db)
    page = (await client.get("/access/log")).text
    assert "Lege Lise" in _table(page) and "not yet sealed" not in page and "The log is complete" in page


async def test_the_log_pages_by_keyset_through_own_and_list_events(client, world, db):
    patient, account = await world.patient("Kari Nordmann")
    clinician = await world.staff(name="Lege Lise")
    ctx = AuditContext(clinician.id, "clinician")
    for i in range(60):  # alternately an event about her alone and one about a list she is on
        if i % 2:
            await record(db, ctx, "patient.viewed", patient_ids=[patient.id], detail=f"n{i}")
        else:
            await record(db, ctx, "patient.list_view", patient_ids=[patient.id, patient.id + 1000], as_list=True)
    await db.commit()
    await seal(db)
    await world.login_as(account)
    first = (await client.get("/access/log")).text
    rows = html(first).by_id("access-log").find_all("tr")
    assert len(rows) == 1 + 50  # header + a page
    older = re.search(r'href="(/access/log\?before=\d+)"', first).group(1)
    second = (await client.get(older.replace("&amp;", "&"))).text
    assert len(html(second).by_id("access-log").find_all("tr")) == 1 + 10
    assert "Older entries" not in second and "The log is complete" in second
