"""Moving a meeting asks everyone again (issue 8): an earlier "yes" is an answer to the old time, shown as such
to the patient, the clinic and the invitee; the worklist lists who must confirm the new time; the GP's
acceptance that opened stage 5 stays."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from server.db import utcnow
from server.meetings import invitations
from server.meetings.models import Invitation
from server.pathway.models import Patient
from tests import factories
from tests.conftest import post_form
from tests.http.test_invitations import SECRET


async def _moved(client, world, db):
    patient, account = await world.patient("Kari Nordmann", stage=5, gp_accepted_on=utcnow().date())
    yes = Invitation(nonce="nonce-yes-abcdefghijklmnopqrstuv", expires_at=utcnow() + timedelta(days=30),
                     answer="accepted", answered_at=utcnow())
    meeting = await factories.meeting(db, patient.id, starts_at=utcnow() + timedelta(days=10),
                                      participants=[factories.participant("gp", "Berit Bø", invitation=yes)])
    clinician = await world.staff("clinician", "Lege Lise")
    await world.login_as(clinician)
    path = f"/clinic/meetings/{meeting.id}/reschedule"
    new_day = (utcnow() + timedelta(days=20)).date().isoformat()
    moved = await post_form(client, path, {"date": new_day, "time": "13:00", "duration": "60", "version": "1",
                                           "reason": "Sykdom"}, token_from=path)
    assert moved.status_code == 200
    return patient, account, meeting, clinician


async def test_reschedule_asks_again_and_keeps_the_gp_acceptance(client, world, db):
    patient, account, meeting, _ = await _moved(client, world, db)
    invitation = await db.scalar(select(Invitation).execution_options(populate_existing=True))
    await db.commit()
    assert (invitation.answer, invitation.answer_before_move) == ("pending", "accepted")
    clinic_page = (await client.get(f"/clinic/meetings/{meeting.id}")).text
    assert "Answered yes to the old time" in clinic_page and ">Accepted<" not in clinic_page
    worklist = (await client.get("/clinic/worklist")).text
    assert 'data-answer-row="moved"' in worklist and "Berit Bø" in worklist
    assert "must confirm the new time" in worklist
    stored = await db.get(Patient, patient.id, populate_existing=True)
    await db.commit()
    assert stored.stage == 5 and stored.gp_accepted_on is not None
    await world.login_as(account)
    patient_page = (await client.get("/meeting")).text
    assert "Answered yes to the old time" in patient_page and "Has accepted" not in patient_page
    assert "Have confirmed:" not in (await client.get("/home")).text


async def test_invitee_is_told_the_meeting_moved_and_answers_again(client, world, db):
    await _moved(client, world, db)
    invitation = await db.scalar(select(Invitation).execution_options(populate_existing=True))
    await db.commit()
    token = invitations.make_token(SECRET, invitation)
    await world.login_as(None)
    page = (await client.get(f"/invitation/{token}")).text
    assert "data-moved" in page and "please answer again" in page and "data-current-answer" not in page
    await post_form(client, f"/invitation/{token}/answer", {"answer": "accepted"}, token_from=f"/invitation/{token}")
    await db.refresh(invitation)
    await db.commit()
    assert (invitation.answer, invitation.answer_before_move) == ("accepted", "")
    assert "data-moved" not in (await client.get(f"/invitation/{token}")).text
