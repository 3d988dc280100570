"""Invitation links for external participants, their answers, the GP's acceptance and the clinic's page."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from server.audit.models import AuditEvent
from server.dates import format_date
from server.db import utcnow
from server.i18n import today_oslo
from server.meetings import invitations
from server.meetings.models import Invitation, MeetingParticipant
from server.notify.models import Notification
from server.pathway.models import Patient
from tests import factories
from tests.conftest import BASE_URL, LANG_COOKIE, SECRET, post_form

# Monday 10 June 2030, 10:00-11:30 in Oslo (summer time, UTC+2).
STARTS = datetime(2030, 6, 10, 8, 0, tzinfo=timezone.utc)


async def _fresh(db, model, row_id):
    await db.commit()
    row = await db.get(model, row_id, populate_existing=True)
    await db.commit()
    return row


async def _meeting(db, world, name="Kari Nordmann", number=1, starts_at=STARTS, video="https://video.example/kari"):
    """A patient at stage 4 with a meeting: the GP (whole meeting) and NAV (only the work segment)."""
    patient, account = await world.patient(name, stage=4)
    meeting = await factories.meeting(
        db, patient.id, number=number, starts_at=starts_at, duration_minutes=90, video_link=video,
        participants=[factories.participant("gp", "Berit Bø", role="Fastlege"),
                      factories.participant("nav", "Nils Nav", role="NAV-veileder", whole_meeting=False)],
        segments=[("Feedback from the assessment", [0]), ("Work and NAV", [0, 1])])
    gp, nav = meeting.participants
    return patient, account, meeting, gp, nav


async def _link(db, participant, meeting) -> tuple[Invitation, str]:
    invitation = Invitation(participant_id=participant.id, nonce=f"nonce-{participant.id}-abcdefghijklmnop",
                            expires_at=invitations.meeting_end(meeting))
    db.add(invitation)
    await db.commit()
    return invitation, invitations.make_token(SECRET, invitation)


async def _answer(client, token, **data):
    return await post_form(client, f"/invitation/{token}/answer", data, token_from=f"/invitation/{token}")


async def _audit(db, action, **where):
    query = select(AuditEvent).where(AuditEvent.action == action)
    for key, value in where.items():
        query = query.where(getattr(AuditEvent, key) == value)
    rows = list((await db.scalars(query)).all())
    await db.commit()
    return rows


async def _move_to_5(client, patient_id, version):
    return await post_form(client, f"/clinic/patients/{patient_id}/stage", {"to_stage": "5", "version": str(version),
                           "note": "", "reason": ""}, token_from=f"/clinic/patients/{patient_id}")


# --- The external page ----------------------------------------------------------------------

async def test_page_shows_time_format_and_their_segments_without_login_or_patient_details(client, db, world):
    patient, _, meeting, gp, nav = await _meeting(db, world)
    _, token = await _link(db, nav, meeting)
    response = await client.get(f"/invitation/{token}", follow_redirects=False)
    html = response.text
    assert response.status_code == 200
    assert "Monday 10 June 2030, 10:00 to 11:30 (Norwegian time)" in html and "90 minutes" in html
    assert "Video meeting" in html and 'href="https://video.example/kari"' in html
    assert "Nils Nav" in html and "NAV-veileder" in html
    assert "Work and NAV" in html and "Feedback from the assessment" not in html  # only their segment
    # Issue 8: NAV (chosen by the patient in the wishes) is told whom the meeting concerns; still no health details.
    assert 'data-patient' in html and "Kari Nordmann" in html
    assert "a patient you follow" not in html
    assert response.headers["cache-control"] == "no-store" and "noindex" in response.headers["x-robots-tag"]
    assert 'name="_csrf_token"' in html
    [row] = await _audit(db, "invitation.viewed")
    assert (row.actor_account_id, row.actor_role, row.patient_id) == (None, f"participant:{nav.id}", patient.id)


async def test_the_gp_sees_the_whole_agenda_and_a_patient_they_follow(client, db, world):
    _, _, meeting, gp, _ = await _meeting(db, world)
    _, token = await _link(db, gp, meeting)
    html = (await client.get(f"/invitation/{token}")).text
    assert "a patient you follow" in html and "You are invited to the whole meeting." in html
    assert "Feedback from the assessment" in html and "Work and NAV" in html
    assert "<strong>Concerns:</strong> Kari Nordmann, born" in html  # issue 8: which patient it concerns


async def test_page_is_in_bokmal_by_default(client, db, world):
    _, _, meeting, gp, _ = await _meeting(db, world)
    _, token = await _link(db, gp, meeting)
    client.cookies.delete(LANG_COOKIE, domain="testserver.local")
    response = await client.get(f"/invitation/{token}")
    assert response.status_code == 200 and '<html lang="nb">' in response.text and "mandag 10. juni 2030, fra kl. 10.00 til 11.30" in response.text


async def test_accept_then_propose_then_decline(client, db, world):
    patient, _, meeting, _, nav = await _meeting(db, world)
    invitation, token = await _link(db, nav, meeting)
    accepted = await _answer(client, token, answer="accepted", proposed_time="ignored", comment="")
    assert accepted.status_code == 200 and "Thank you for your answer" in accepted.text
    assert "Yes, I will take part" in accepted.text
    row = await _fresh(db, Invitation, invitation.id)
    assert (row.answer, row.proposed_time, row.recorded_by) == ("accepted", "", None) and row.answered_at
    page = (await client.get(f"/invitation/{token}")).text
    assert "Your answer now: Yes, I will take part" in page

    proposed = await _answer(client, token, answer="proposed", proposed_time="Tuesday after 13:00",
                             comment="I have a course that day.")
    assert proposed.status_code == 200 and "Tuesday after 13:00" in proposed.text
    row = await _fresh(db, Invitation, invitation.id)
    assert (row.answer, row.proposed_time, row.comment) == ("proposed", "Tuesday after 13:00", "I have a course that day.")

    declined = await _answer(client, token, answer="declined", proposed_time="", comment="")
    assert "No, I cannot take part" in declined.text
    row = await _fresh(db, Invitation, invitation.id)
    assert (row.answer, row.proposed_time, row.comment) == ("declined", "", "")
    answers = await _audit(db, "invitation.answered", actor_role=f"participant:{nav.id}", patient_id=patient.id)
    assert [r.detail for r in answers] == [f"invitation {invitation.id}: {a}" for a in ("accepted", "proposed", "declined")]
    assert all(r.actor_account_id is None for r in answers)


async def test_propose_without_a_time_is_a_422_that_keeps_the_comment(client, db, world):
    _, _, meeting, _, nav = await _meeting(db, world)
    invitation, token = await _link(db, nav, meeting)
    response = await _answer(client, token, answer="proposed", proposed_time="  ", comment="Mornings are best for me.")
    assert response.status_code == 422
    assert "<title>Error:" in response.text and "Write the time you propose." in response.text
    assert "Mornings are best for me.</textarea>" in response.text
    assert re.search(r'id="answer-proposed"[^>]*checked', response.text)
    too_long = await _answer(client, token, answer="declined", comment="x" * 1001)
    assert too_long.status_code == 422 and "at most 1000 characters" in too_long.text
    nothing = await _answer(client, token, comment="")
    assert nothing.status_code == 422 and "Choose whether you can take part." in nothing.text
    row = await _fresh(db, Invitation, invitation.id)
    assert (row.answer, row.answered_at, row.comment) == ("pending", None, "")


async def test_tampered_expired_revoked_and_cancelled_links_show_a_plain_page_and_change_nothing(client, db, world):
    patient, _, meeting, gp, nav = await _meeting(db, world)
    gp_invitation, gp_token = await _link(db, gp, meeting)
    nav_invitation, nav_token = await _link(db, nav, meeting)
    head, nonce, sig = gp_token.split(".")
    tampered = [f"{head}.{nonce}.{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}", f"{head}.{nonce[:-1]}x.{sig}",
                f"{int(head) + 1}.{nonce}.{sig}", "not-a-token"]
    for token in tampered:
        page = await client.get(f"/invitation/{token}")
        assert page.status_code == 404 and "This link cannot be used" in page.text, token
        assert "video.example" not in page.text and "Berit" not in page.text
        posted = await _answer(client, token, answer="accepted", comment="")
        assert posted.status_code == 404

    nav_invitation.expires_at = utcnow() - timedelta(minutes=1)
    gp_invitation.revoked_at = utcnow()
    await db.commit()
    for token in (nav_token, gp_token):
        page = await client.get(f"/invitation/{token}")
        assert page.status_code == 410 and "This link cannot be used" in page.text
        assert "video.example" not in page.text
        assert (await _answer(client, token, answer="accepted", comment="")).status_code == 410

    gp_invitation.revoked_at = None
    meeting.status = "cancelled"
    await db.commit()
    assert (await client.get(f"/invitation/{gp_token}")).status_code == 410
    assert (await _answer(client, gp_token, answer="accepted", comment="")).status_code == 410

    for row_id in (gp_invitation.id, nav_invitation.id):
        row = await _fresh(db, Invitation, row_id)
        assert (row.answer, row.answered_at) == ("pending", None)
    fresh = await _fresh(db, Patient, patient.id)
    assert fresh.gp_accepted_on is None and fresh.version == 1
    assert not await _audit(db, "invitation.answered") and not await _audit(db, "invitation.viewed")
    refused = await _audit(db, "invitation.refused", outcome="refused")
    assert {r.actor_role for r in refused} == {f"participant:{gp.id}", f"participant:{nav.id}"}


async def test_the_gp_accepting_shm1_opens_stage_5(client, db, world):
    patient, account, meeting, gp, _ = await _meeting(db, world)
    _, token = await _link(db, gp, meeting)
    clinician = await world.staff()
    await world.login_as(clinician)
    refused = await _move_to_5(client, patient.id, 1)
    assert refused.status_code == 422 and "only be sent after the GP has accepted" in refused.text

    await world.login_as(None)
    assert (await _answer(client, token, answer="accepted", comment="Glad to join.")).status_code == 200
    fresh = await _fresh(db, Patient, patient.id)
    assert fresh.gp_accepted_on == today_oslo() and fresh.gp_accepted_recorded_by is None and fresh.version == 2
    [note] = list((await db.scalars(select(Notification).where(Notification.patient_id == patient.id))).all())
    await db.commit()
    assert note.message == "Your GP has accepted the invitation to collaboration meeting 1."
    [recorded] = await _audit(db, "patient.gp_acceptance_recorded", patient_id=patient.id)
    assert recorded.actor_role == f"participant:{gp.id}" and recorded.actor_account_id is None

    await world.login_as(clinician)
    moved = await _move_to_5(client, patient.id, fresh.version)
    assert moved.status_code == 200 and "Stage 5 of 9" in moved.text
    assert (await _fresh(db, Patient, patient.id)).stage == 5


async def test_a_later_decline_withdraws_only_an_acceptance_given_through_the_link(client, db, world):
    patient, _, meeting, gp, _ = await _meeting(db, world)
    _, token = await _link(db, gp, meeting)
    await _answer(client, token, answer="accepted", comment="")
    await _answer(client, token, answer="declined", comment="Sorry, not that day.")
    fresh = await _fresh(db, Patient, patient.id)
    assert fresh.gp_accepted_on is None and fresh.version == 3
    assert await _audit(db, "patient.gp_acceptance_withdrawn", patient_id=patient.id)

    # The manual fallback (attributed to the clinician) is not undone by the link.
    clinician = await world.staff()
    await world.login_as(clinician)
    manual = await post_form(client, f"/clinic/patients/{patient.id}/gp-acceptance",
                             {"accepted_on": today_oslo().isoformat()}, token_from=f"/clinic/patients/{patient.id}")
    assert "The GP accepted on" in manual.text
    await world.login_as(None)
    await _answer(client, token, answer="accepted", comment="")
    await _answer(client, token, answer="declined", comment="")
    fresh = await _fresh(db, Patient, patient.id)
    assert fresh.gp_accepted_on == today_oslo() and fresh.gp_accepted_recorded_by == clinician.id


async def test_nav_answers_and_a_gp_answer_to_shm2_do_not_open_stage_5(client, db, world):
    patient, _, meeting, gp, nav = await _meeting(db, world)
    _, nav_token = await _link(db, nav, meeting)
    await _answer(client, nav_token, answer="accepted", comment="")
    await _answer(client, nav_token, answer="declined", comment="")
    shm2 = await factories.meeting(db, patient.id, number=2, starts_at=STARTS + timedelta(weeks=20), format="clinic",
                                   address="Smerteklinikken, Trondheim", video_link="",
                                   participants=[factories.participant("gp", "Berit Bø")])
    _, gp2_token = await _link(db, shm2.participants[0], shm2)
    assert "Smerteklinikken, Trondheim" in (await client.get(f"/invitation/{gp2_token}")).text
    await _answer(client, gp2_token, answer="accepted", comment="")
    fresh = await _fresh(db, Patient, patient.id)
    assert fresh.gp_accepted_on is None and fresh.version == 1
    await world.login_as(await world.staff())
    assert (await _move_to_5(client, patient.id, 1)).status_code == 422


async def test_a_link_never_opens_another_meeting(client, db, world):
    _, _, meeting_a, gp_a, _ = await _meeting(db, world, "Anne Aas", video="https://video.example/anne")
    _, _, meeting_b, gp_b, _ = await _meeting(db, world, "Bjørn Berg", video="https://video.example/bjorn")
    invitation_a, token_a = await _link(db, gp_a, meeting_a)
    invitation_b, token_b = await _link(db, gp_b, meeting_b)
    page_a = (await client.get(f"/invitation/{token_a}")).text
    assert "video.example/anne" in page_a and "video.example/bjorn" not in page_a
    _, nonce_a, sig_a = token_a.split(".")
    for forged in (f"{invitation_b.id}.{nonce_a}.{sig_a}",
                   invitations.make_token(SECRET, Invitation(id=invitation_b.id, nonce=invitation_a.nonce))):
        response = await client.get(f"/invitation/{forged}")
        assert response.status_code == 404 and "video.example" not in response.text
        assert (await _answer(client, forged, answer="accepted", comment="")).status_code == 404
    await _answer(client, token_a, answer="accepted", comment="")
    assert (await _fresh(db, Invitation, invitation_a.id)).answer == "accepted"
    assert (await _fresh(db, Invitation, invitation_b.id)).answer == "pending"


# --- The clinic -----------------------------------------------------------------------------

async def test_clinic_creates_a_link_shown_once_and_makes_a_new_one(client, db, world):
    patient, _, meeting, gp, nav = await _meeting(db, world)
    clinician = await world.staff()
    await world.login_as(clinician)
    base = f"/clinic/meetings/{meeting.id}/invitations"
    page = await client.get(base)
    assert page.status_code == 200 and "Kari Nordmann" in page.text and "Nils Nav" in page.text
    assert page.text.count('data-link-state="none"') == 2

    created = await post_form(client, f"{base}/{nav.id}/create", token_from=base)
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    url = re.search(r'<textarea[^>]*id="invitation-link"[^>]*>([^<]+)</textarea>', created.text).group(1)
    assert url.startswith(f"{BASE_URL}/invitation/") and 'data-copy="#invitation-link"' in created.text
    token = url.rsplit("/", 1)[1]
    again = await client.get(base)
    assert token not in again.text and 'data-link-state="active"' in again.text  # shown only once

    await world.login_as(None)
    assert (await client.get(f"/invitation/{token}")).status_code == 200
    await world.login_as(clinician)
    twice = await post_form(client, f"{base}/{nav.id}/create", token_from=base)
    assert "already has a link" in twice.text
    renewed = await post_form(client, f"{base}/{nav.id}/new", token_from=base)
    new_token = re.search(r'id="invitation-link"[^>]*>[^<]*/invitation/([^<]+)</textarea>', renewed.text).group(1)
    assert new_token != token
    await world.login_as(None)
    assert (await client.get(f"/invitation/{token}")).status_code == 404
    assert (await client.get(f"/invitation/{new_token}")).status_code == 200
    audit = await _audit(db, "invitation.created", actor_account_id=clinician.id, patient_id=patient.id)
    assert len(audit) == 1 and len(await _audit(db, "invitation.renewed", actor_account_id=clinician.id)) == 1
    assert await _audit(db, "invitation.clinic_viewed", actor_account_id=clinician.id)


async def test_revoke_asks_for_confirmation_first(client, db, world):
    _, _, meeting, _, nav = await _meeting(db, world)
    invitation, token = await _link(db, nav, meeting)
    clinician = await world.staff()
    await world.login_as(clinician)
    base = f"/clinic/meetings/{meeting.id}/invitations"
    confirm = await client.get(f"{base}/{nav.id}/revoke")
    assert confirm.status_code == 200 and "Stop the link for Nils Nav?" in confirm.text
    assert (await _fresh(db, Invitation, invitation.id)).revoked_at is None
    done = await post_form(client, f"{base}/{nav.id}/revoke", token_from=f"{base}/{nav.id}/revoke")
    assert done.status_code == 200 and "The link for Nils Nav no longer works." in done.text
    assert 'data-link-state="revoked"' in done.text
    assert (await _fresh(db, Invitation, invitation.id)).revoked_at is not None
    assert (await client.get(f"/invitation/{token}")).status_code == 410
    assert await _audit(db, "invitation.revoked", actor_account_id=clinician.id)


async def test_record_by_phone_is_attributed_to_the_clinician(client, db, world):
    patient, _, meeting, gp, _ = await _meeting(db, world)
    clinician = await world.staff("clinician", "Lege Lise")
    await world.login_as(clinician)
    base = f"/clinic/meetings/{meeting.id}/invitations"
    form = await client.get(f"{base}/{gp.id}/record")
    assert form.status_code == 200 and "Record the answer from Berit Bø" in form.text
    invalid = await post_form(client, f"{base}/{gp.id}/record", {"comment": "Called at 9."}, token_from=base)
    assert invalid.status_code == 422 and "Choose the answer they gave." in invalid.text
    assert "Called at 9.</textarea>" in invalid.text
    recorded = await post_form(client, f"{base}/{gp.id}/record", {"answer": "accepted", "comment": "Called at 9."},
                               token_from=base)
    assert recorded.status_code == 200 and "The answer from Berit Bø was recorded." in recorded.text
    assert "recorded by Lege Lise" in recorded.text
    row = await db.scalar(select(Invitation).where(Invitation.participant_id == gp.id))
    await db.commit()
    assert (row.answer, row.recorded_by, row.comment) == ("accepted", clinician.id, "Called at 9.")
    fresh = await _fresh(db, Patient, patient.id)
    assert fresh.gp_accepted_on == today_oslo() and fresh.gp_accepted_recorded_by == clinician.id
    [audit] = await _audit(db, "invitation.answer_recorded", actor_account_id=clinician.id)
    assert audit.actor_role == "clinician" and audit.patient_id == patient.id
    assert (await _move_to_5(client, patient.id, fresh.version)).status_code == 200


async def test_a_participant_of_another_meeting_or_an_unknown_meeting_is_a_404(client, db, world):
    _, _, meeting_a, _, _ = await _meeting(db, world, "Anne Aas")
    _, _, meeting_b, gp_b, _ = await _meeting(db, world, "Bjørn Berg")
    _, token_b = await _link(db, gp_b, meeting_b)
    await world.login_as(await world.staff())
    base_a = f"/clinic/meetings/{meeting_a.id}/invitations"
    assert (await client.get(f"{base_a}/{gp_b.id}/revoke")).status_code == 404
    assert (await client.get(f"{base_a}/{gp_b.id}/record")).status_code == 404
    for action in ("create", "new", "revoke", "record"):
        response = await post_form(client, f"{base_a}/{gp_b.id}/{action}", {"answer": "accepted"}, token_from=base_a)
        assert response.status_code == 404, action
    assert (await client.get(f"/clinic/meetings/{meeting_b.id + 100}/invitations")).status_code == 404
    row = await db.scalar(select(Invitation).where(Invitation.participant_id == gp_b.id))
    await db.commit()
    assert (row.answer, row.revoked_at) == ("pending", None)
    assert await db.scalar(select(func.count()).select_from(Invitation)) == 1


async def test_patients_and_anonymous_users_cannot_use_the_clinic_routes(client, db, world):
    _, account, meeting, gp, _ = await _meeting(db, world)
    base = f"/clinic/meetings/{meeting.id}/invitations"
    await world.login_as(account)
    assert (await client.get(base)).status_code == 403
    assert (await client.get(f"{base}/{gp.id}/record")).status_code == 403
    for action in ("create", "new", "revoke", "record"):
        assert (await post_form(client, f"{base}/{gp.id}/{action}", {"answer": "accepted"},
                                token_from="/home")).status_code == 403
    await world.login_as(None)
    anonymous = await client.get(base, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    assert await db.scalar(select(func.count()).select_from(Invitation)) == 0


# --- Issue 8: whom it concerns, a calendar file, and the clinic's contact details ------------------

async def test_gp_page_names_the_patient_offers_a_calendar_file_and_the_clinic_contact(client, db, world):
    from tests.helpers import calendar_event

    patient, _, meeting, gp, _ = await _meeting(db, world)
    _, token = await _link(db, gp, meeting)
    html = (await client.get(f"/invitation/{token}")).text
    assert "Kari Nordmann" in html and f"born {format_date(patient.birth_date, 'en')}" in html
    assert f'href="/invitation/{token}/calendar.ics"' in html
    assert 'href="tel:+4773000000"' in html and "Smerteklinikken test" in html
    response = await client.get(f"/invitation/{token}/calendar.ics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    event = calendar_event(response.text)
    assert "video.example/kari" in str(event["LOCATION"]) and "Kari" not in response.text
    [row] = await _audit(db, "invitation.calendar_downloaded")
    assert (row.actor_role, row.patient_id) == (f"participant:{gp.id}", patient.id)


async def test_a_relative_is_not_shown_the_patients_birth_date(client, db, world):
    patient, _, meeting, _, _ = await _meeting(db, world)
    relative = MeetingParticipant(meeting_id=meeting.id, kind="relative", name="Per Nordmann", position=5)
    db.add(relative)
    await db.commit()
    _, token = await _link(db, relative, meeting)
    assert "data-patient" not in (await client.get(f"/invitation/{token}")).text
