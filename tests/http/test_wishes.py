"""The patient's SHM wishes: draft as they go, send, see the state; the clinic reviews them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from server.access.models import UserSession
from server.db import utcnow
from server.meetings.models import MeetingWishes
from tests import factories
from tests.conftest import csrf_token, post_form

GP = {"attend": "yes", "part": "whole"}
NAV = {"attend": "unsure", "part": "part", "part_note": "Jeg er sykmeldt"}
PLACE = {"choice": "home", "note": "Lang reisevei"}


async def _wishes(db, patient_id) -> MeetingWishes | None:
    row = await db.scalar(select(MeetingWishes).where(MeetingWishes.patient_id == patient_id))
    await db.commit()
    return row


async def _answer(client, step, data):
    return await post_form(client, f"/meeting/wishes/{step}", data, token_from=f"/meeting/wishes/{step}")


async def _fill_required(client):
    await _answer(client, "gp", GP)
    await _answer(client, "nav", NAV)
    await _answer(client, "place", PLACE)


async def test_each_step_saves_a_draft_and_goes_to_the_next_question(client, world, db):
    patient, account = await world.patient("Kari Nordmann", stage=4)
    await world.login_as(account)
    page = await client.get("/meeting/wishes/gp")
    assert "Should your GP take part?" in page.text and "Berit Bø" in page.text
    response = await _answer(client, "gp", GP)
    assert response.status_code == 200 and response.url.path == "/meeting/wishes/nav"
    wishes = await _wishes(db, patient.id)
    assert wishes.status == "draft" and wishes.answers["gp"] == GP


async def test_validation_error_keeps_what_was_typed_and_saves_it_as_draft(client, world, db):
    patient, account = await world.patient()
    await world.login_as(account)
    response = await _answer(client, "others", {"role_0": "employer", "name_0": "Per Hansen", "organisation_0": "Bakeriet",
                                                 "contact_0": "", "part_0": "part"})
    assert response.status_code == 422
    assert "<title>Error: " in response.text and 'href="#contact_0"' in response.text
    assert 'value="Per Hansen"' in response.text and 'value="Bakeriet"' in response.text
    assert (await _wishes(db, patient.id)).answers["others"][0]["name"] == "Per Hansen"


async def test_duplicate_relatives_are_refused(client, world):
    _, account = await world.patient()
    await world.login_as(account)
    response = await _answer(client, "relatives", {"name_0": "Ola", "relation_0": "mann", "name_1": "ola", "relation_1": ""})
    assert response.status_code == 422 and "already on the list" in response.text


async def test_htmx_autosave_answers_with_the_status_only(client, world, db):
    patient, account = await world.patient()
    await world.login_as(account)
    token = await csrf_token(client, "/meeting/wishes/topics")
    response = await client.post("/meeting/wishes/topics/autosave",
                                 data={"suggested": ["sleep", "work"], "text": "Å sove en hel natt", "_csrf_token": token},
                                 headers={"HX-Request": "true", "HX-Target": "autosave-status", "x-csrftoken": token})
    assert response.status_code == 200 and response.text.startswith('<p class="ds-paragraph" data-size="sm" id="autosave-status"')
    assert "Draft saved." in response.text
    assert (await _wishes(db, patient.id)).answers["topics"] == {"suggested": ["sleep", "work"], "text": "Å sove en hel natt"}


async def test_send_needs_the_required_answers_then_shows_sent_not_read(client, world, db):
    patient, account = await world.patient()
    await world.login_as(account)
    await _answer(client, "gp", GP)
    refused = await post_form(client, "/meeting/wishes-submit", token_from="/meeting/wishes")
    assert "Some answers are missing" in refused.text and "Needs an answer" in refused.text
    await _answer(client, "nav", NAV)
    await _answer(client, "place", PLACE)
    sent = await post_form(client, "/meeting/wishes-submit", token_from="/meeting/wishes")
    assert "Your answers were sent to the clinic" in sent.text and "not read yet" in sent.text
    wishes = await _wishes(db, patient.id)
    assert wishes.status == "submitted" and wishes.submitted_answers["place"] == PLACE


async def test_clinic_reads_and_sees_what_changed_since(client, world, db):
    patient, account = await world.patient("Kari Nordmann")
    clinician = await world.staff()
    await world.login_as(account)
    await _fill_required(client)
    await post_form(client, "/meeting/wishes-submit", token_from="/meeting/wishes")

    await world.login_as(clinician)
    review = await client.get(f"/clinic/patients/{patient.id}/wishes")
    assert "Lang reisevei" in review.text and "Jeg er sykmeldt" in review.text and "not read yet" in review.text
    await post_form(client, f"/clinic/patients/{patient.id}/wishes/read", token_from=f"/clinic/patients/{patient.id}/wishes")

    await world.login_as(account)
    assert "Read by the clinic" in (await client.get("/meeting/wishes")).text
    await _answer(client, "place", {"choice": "clinic", "note": ""})
    assert "changes that are not sent yet" in (await client.get("/meeting/wishes")).text
    await post_form(client, "/meeting/wishes-submit", token_from="/meeting/wishes")

    await world.login_as(clinician)
    review = (await client.get(f"/clinic/patients/{patient.id}/wishes")).text
    assert "1 answer changed since the clinic last read it" in review
    assert review.count(">Changed<") == 1


async def test_draft_survives_a_session_timeout_and_relogin(client, world, db):
    patient, account = await world.patient()
    await world.login_as(account)
    await _answer(client, "topics", {"suggested": ["mood"], "text": "Hvordan jeg kan jobbe igjen"})
    await db.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(hours=1)))
    await db.commit()
    assert (await client.get("/meeting/wishes/topics", follow_redirects=False)).status_code == 303
    await world.login_as(account)
    page = (await client.get("/meeting/wishes/topics")).text
    assert "Hvordan jeg kan jobbe igjen" in page and 'value="mood" checked' in page


async def test_answers_are_locked_once_the_meeting_is_scheduled(client, world, db):
    patient, account = await world.patient()
    await world.login_as(account)
    await _fill_required(client)
    await factories.meeting(db, patient.id, video_link="https://video.example/x")
    response = await _answer(client, "place", {"choice": "gp"})
    assert "can no longer be changed" in response.text
    assert (await _wishes(db, patient.id)).answers["place"] == PLACE


async def test_patients_never_reach_each_others_wishes(client, world):
    patient_a, account_a = await world.patient("Anne Aas")
    _, account_b = await world.patient("Bjørn Berg")
    await world.login_as(account_a)
    await _fill_required(client)
    await world.login_as(account_b)
    page = (await client.get("/meeting/wishes")).text
    assert "Lang reisevei" not in page and "You have not started yet." in page
    assert (await client.get(f"/clinic/patients/{patient_a.id}/wishes")).status_code == 403


async def test_unknown_step_is_404(client, world):
    _, account = await world.patient()
    await world.login_as(account)
    assert (await client.get("/meeting/wishes/shoe-size")).status_code == 404
