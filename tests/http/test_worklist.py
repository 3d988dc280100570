"""The clinic's worklist: new input, unanswered GP invitations, deadlines."""

from __future__ import annotations

from datetime import timedelta

from server.db import utcnow
from server.i18n import today_oslo
from server.meetings.models import Invitation
from tests import factories


async def test_worklist_shows_new_input_waiting_gps_and_deadlines(client, world, db):
    new_input, _ = await world.patient("Nina Ny", stage=4)
    read_input, _ = await world.patient("Rita Lest", stage=4)
    waiting, _ = await world.patient("Gunnar Venter", stage=4)
    overdue, _ = await world.patient("Olav Sen", stage=3, received=today_oslo() - timedelta(weeks=13))
    calm, _ = await world.patient("Kari Rolig", stage=7)
    now = utcnow()
    await factories.wishes(db, new_input.id, submitted_at=now)
    await factories.wishes(db, read_input.id, submitted_at=now - timedelta(days=2), read_at=now - timedelta(days=1))
    await factories.meeting(db, waiting.id, starts_at=now + timedelta(days=30), participants=[factories.participant(
        "gp", "Dr. Bø", contact="bo@legekontor.no",
        invitation=Invitation(nonce="n", created_at=now - timedelta(days=8), expires_at=now + timedelta(days=30)))])
    await world.login_as(await world.staff())
    html = (await client.get("/clinic/worklist")).text
    new_section = html.split('id="input-heading"')[1].split("</section>")[0]
    assert "Nina Ny" in new_section and "Rita Lest" not in new_section
    gp_section = html.split('id="gp-heading"')[1].split("</section>")[0]
    assert "Gunnar Venter" in gp_section
    deadline_section = html.split('id="deadline-heading"')[1].split("</section>")[0]
    assert "Olav Sen" in deadline_section and "Overdue" in deadline_section and "Kari Rolig" not in deadline_section


async def test_worklist_is_for_clinicians_only(client, world):
    _, account = await world.patient()
    await world.login_as(account)
    assert (await client.get("/clinic/worklist")).status_code == 403
