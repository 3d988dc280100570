"""The clinic's worklist: new input, unanswered GP invitations, answers to deal with, deadlines."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from server.db import utcnow
from server.i18n import today_oslo
from server.meetings import invitations
from server.meetings.models import Invitation
from tests import factories
from tests.conftest import SECRET, post_form
from tests.helpers import audit_count


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
    # What the date is for, as the patient's own page says it (stage 3: the assessment must start).
    assert "Start of the assessment:" in deadline_section


async def test_worklist_is_for_clinicians_only(client, world):
    _, account = await world.patient()
    await world.login_as(account)
    assert (await client.get("/clinic/worklist")).status_code == 403


async def _answers_section(client) -> str:
    html = (await client.get("/clinic/worklist")).text
    return html.split('id="answers-heading"')[1].split("</section>")[0]


async def test_a_decline_or_proposal_stays_until_the_clinic_has_dealt_with_it(client, world, db):
    """Issue 8: declines and "another time" stay on the worklist until a clinician marks them as dealt with
    (who and when are stored, the marking is audited); a new answer after that puts the row back."""
    patient, _ = await world.patient("Kari Nordmann", stage=5)
    now = utcnow()
    declined = Invitation(nonce="nonce-declined-abcdefghijklmnop", expires_at=now + timedelta(days=30),
                          answer="declined", answered_at=now)
    proposed = Invitation(nonce="nonce-proposed-abcdefghijklmnop", expires_at=now + timedelta(days=30),
                          answer="proposed", proposed_time="Tirsdag etter kl. 13", answered_at=now)
    meeting = await factories.meeting(db, patient.id, starts_at=now + timedelta(days=10), participants=[
        factories.participant("nav", "Nils Nav", invitation=declined),
        factories.participant("other", "Fysio Frida", invitation=proposed)])
    nav = meeting.participants[0].id
    clinician = await world.staff("clinician", "Lege Lise")
    await world.login_as(clinician)
    rows = await _answers_section(client)
    assert "Nils Nav" in rows and "Fysio Frida" in rows
    assert rows.count("Mark as dealt with") == 2
    assert f'action="/clinic/worklist/answers/{nav}/handled"' in rows

    done = await post_form(client, f"/clinic/worklist/answers/{nav}/handled", token_from="/clinic/worklist")
    assert done.url.path == "/clinic/worklist" and "The answer from Nils Nav is marked as dealt with." in done.text
    rows = await _answers_section(client)
    assert "Nils Nav" not in rows and "Fysio Frida" in rows
    stored = await db.scalar(select(Invitation).where(Invitation.participant_id == nav)
                             .execution_options(populate_existing=True))
    await db.commit()
    assert stored.handled_by == clinician.id and stored.handled_at is not None
    assert await audit_count(db, "invitation.handled", patient.id) == 1
    # Pressed twice (two tabs): nothing more is stored or audited.
    await post_form(client, f"/clinic/worklist/answers/{nav}/handled", token_from="/clinic/worklist")
    assert await audit_count(db, "invitation.handled", patient.id) == 1

    # Nils answers again, now proposing another time: the row is back, to be dealt with again.
    await world.login_as(None)
    token = invitations.make_token(SECRET, stored)
    await post_form(client, f"/invitation/{token}/answer", {"answer": "proposed", "proposed_time": "Neste uke"},
                    token_from=f"/invitation/{token}")
    await world.login_as(clinician)
    rows = await _answers_section(client)
    assert "Nils Nav" in rows and "Neste uke" in rows


async def test_a_moved_meeting_is_dealt_with_until_it_moves_again(client, world, db):
    patient, _ = await world.patient("Kari Nordmann", stage=5)
    now = utcnow()
    yes = Invitation(nonce="nonce-moved-abcdefghijklmnopqrs", expires_at=now + timedelta(days=30),
                     answer="pending", answer_before_move="accepted", answered_at=now)
    meeting = await factories.meeting(db, patient.id, starts_at=now + timedelta(days=10),
                                      participants=[factories.participant("gp", "Berit Bø", invitation=yes)])
    gp = meeting.participants[0].id
    clinician = await world.staff("clinician", "Lege Lise")
    await world.login_as(clinician)
    assert "must confirm the new time" in await _answers_section(client)
    await post_form(client, f"/clinic/worklist/answers/{gp}/handled", token_from="/clinic/worklist")
    assert "Berit Bø" not in await _answers_section(client)
    path = f"/clinic/meetings/{meeting.id}/reschedule"
    moved = await post_form(client, path, {"date": (now + timedelta(days=20)).date().isoformat(), "time": "13:00",
                                           "duration": "60", "version": "1", "reason": "Sykdom"}, token_from=path)
    assert moved.status_code == 200
    assert "Berit Bø" in await _answers_section(client)


async def test_only_an_existing_invitation_can_be_marked(client, world, db):
    patient, account = await world.patient("Kari Nordmann", stage=5)
    meeting = await factories.meeting(db, patient.id, participants=[factories.participant("nav", "Nils Nav")])
    await world.login_as(await world.staff())
    no_link = await post_form(client, f"/clinic/worklist/answers/{meeting.participants[0].id}/handled",
                              token_from="/clinic/worklist")
    assert no_link.status_code == 404
    assert (await post_form(client, "/clinic/worklist/answers/999999/handled",
                            token_from="/clinic/worklist")).status_code == 404
    await world.login_as(account)
    assert (await post_form(client, f"/clinic/worklist/answers/{meeting.participants[0].id}/handled",
                            token_from="/home")).status_code == 403
