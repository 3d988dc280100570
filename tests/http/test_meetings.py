"""Scheduling SHM 1 / SHM 2, the clinic's meeting page, reschedule and cancel, the patient's meeting page,
the calendar file, the camera check and the inbox."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from server.db import utcnow
from server.i18n import OSLO
from server.meetings.models import Invitation, Meeting, MeetingChange, MeetingParticipant
from server.notify.models import Notification
from server.notify.service import notify
from tests import factories
from tests.conftest import post_form
from tests.helpers import audit_count, calendar_event, count, utc_time

UTC = timezone.utc


_count, _audit = count, audit_count


def _future_day(days: int = 30) -> str:
    return (datetime.now(OSLO).date() + timedelta(days=days)).isoformat()


def _valid_form(**changes) -> dict[str, str]:
    form = {"date": _future_day(), "time": "10:00", "duration": "90", "format": "digital",
            "video_link": "https://meet.example.no/abc-123",
            "p0_name": "Fastlege Berit Bø", "p0_organisation": "Sentrum legekontor", "p0_contact": "73 00 00 00",
            "p0_part": "whole",
            "p1_name": "Nils NAV", "p1_organisation": "NAV Trondheim", "p1_contact": "nils@nav.no", "p1_part": "part",
            "p2_kind": "relative", "p2_name": "Per Nordmann", "p2_role": "Husband", "p2_contact": "900 00 000",
            "s0_title": "Feedback from the assessment", "s0_p0": "yes", "s0_p2": "yes",
            "s1_title": "Work and NAV", "s1_p1": "yes", "clinic_note": "We also invite your physiotherapist later."}
    form.update(changes)
    return form


async def _schedule(client, patient_id: int, number: int = 1, **changes):
    path = f"/clinic/patients/{patient_id}/meetings/new?number={number}"
    return await post_form(client, path, _valid_form(**changes), token_from=path)


async def _add_meeting(db, patient_id: int, starts_at: datetime, number: int = 1, **fields) -> Meeting:
    """A meeting written straight to the database, with a GP, NAV, another actor and a relative."""
    expires = starts_at + timedelta(days=1)
    participants = [
        factories.participant("gp", "Berit Bø", contact="73 00 00 00", invitation=Invitation(
            nonce="a", expires_at=expires, answer="accepted", answered_at=utcnow())),
        factories.participant("nav", "Nils NAV", contact="nils@nav.no", whole_meeting=False, invitation=Invitation(
            nonce="b", expires_at=expires, answer="declined", answered_at=utcnow())),
        factories.participant("other", "Eva Fysio", role="Physiotherapist", contact="e@f.no",
                              invitation=Invitation(nonce="c", expires_at=expires)),
        factories.participant("relative", "Per Nordmann", role="Husband", contact="9"),
    ]
    values = {"duration_minutes": 90, "address": "", "video_link": "https://meet.example.no/j1", "clinic_note": "",
              "changes": [MeetingChange(kind="scheduled", new_starts_at=starts_at)]} | fields
    return await factories.meeting(db, patient_id, starts_at=starts_at, number=number, participants=participants,
                                   segments=[("Feedback from the assessment", [0]), ("Work and NAV", [1])], **values)


async def _wishes(db, patient_id: int, answers: dict, number: int = 1) -> None:
    await factories.wishes(db, patient_id, answers, number=number)


# --- Clinic: schedule ---------------------------------------------------------------------

async def test_schedule_page_prefills_the_gp_and_the_patients_wishes(client, world, db):
    patient, _ = await world.patient("Kari Nordmann", stage=4)
    await _wishes(db, patient.id, {
        "nav": {"attend": "yes", "part": "part", "part_note": "Only about work"},
        "relatives": [{"name": "Per Nordmann", "relation": "Husband", "part": "whole"}],
        "place": {"choice": "clinic"}, "needs": {"interpreter": "Arabic", "wheelchair": True},
        "topics": {"suggested": ["sleep"], "text": "I want to work again"}})
    await world.login_as(await world.staff())
    html = (await client.get(f"/clinic/patients/{patient.id}/meetings/new?number=1")).text
    assert "Schedule collaboration meeting 1" in html
    assert 'value="Berit Bø"' in html and 'value="Sentrum legekontor"' in html
    assert 'value="Per Nordmann"' in html and 'value="Husband"' in html
    assert 'value="Feedback from the assessment"' in html
    assert re.search(r'id="format-clinic" name="format" value="clinic" checked', html)
    assert "Interpreter: Arabic" in html and "Wheelchair access" in html and "I want to work again" in html
    assert "Only about work" in html
    shm2 = (await client.get(f"/clinic/patients/{patient.id}/meetings/new?number=2")).text
    assert 'value="Evaluation of the action plan"' in shm2 and "more than 26 weeks" in shm2
    assert (await client.get(f"/clinic/patients/{patient.id}/meetings/new?number=3")).status_code == 404
    assert (await client.get("/clinic/patients/999999/meetings/new?number=1")).status_code == 404
    assert await _audit(db, "meeting.schedule_form_viewed", patient.id) == 2


async def test_scheduling_creates_the_meeting_notifies_and_shows_it_to_the_clinic(client, world, db):
    patient, _ = await world.patient("Kari Nordmann", stage=5)
    await world.login_as(await world.staff())
    response = await _schedule(client, patient.id)
    assert response.status_code == 200  # followed the redirect
    meeting = await db.scalar(select(Meeting).where(Meeting.patient_id == patient.id))
    await db.commit()
    assert response.url.path == f"/clinic/meetings/{meeting.id}"
    assert meeting.starts_at.astimezone(OSLO).strftime("%H:%M") == "10:00" and meeting.starts_at.tzinfo is not None
    html = response.text
    assert "Collaboration meeting 1 is scheduled" in html
    assert "Fastlege Berit Bø" in html and "Nils NAV" in html and "Per Nordmann" in html
    assert "Work and NAV" in html and "With: Nils NAV" in html
    assert "No invitation yet" in html and f'href="/clinic/meetings/{meeting.id}/invitations"' in html
    assert 'data-change="scheduled"' in html
    assert await _count(db, MeetingParticipant, MeetingParticipant.meeting_id == meeting.id) == 3
    assert await _count(db, MeetingChange, MeetingChange.meeting_id == meeting.id,
                        MeetingChange.kind == "scheduled") == 1
    note = await db.scalar(select(Notification).where(Notification.patient_id == patient.id))
    await db.commit()
    assert note.link == "/meeting" and note.params["number"] == "1"
    assert await _audit(db, "meeting.scheduled", patient.id) == 1
    assert await _audit(db, "meeting.viewed", patient.id) == 1


async def test_bad_input_gives_422_with_errors_and_keeps_the_answers(client, world, db):
    patient, _ = await world.patient()
    await world.login_as(await world.staff())
    response = await _schedule(client, patient.id, date=(datetime.now(OSLO).date() - timedelta(days=1)).isoformat(),
                               video_link="http://meet.example.no/abc", p1_contact="",
                               p3_kind="relative", p3_name="per nordmann", p3_contact="1",
                               clinic_note="x" * 2001, duration="600")
    assert response.status_code == 422
    html = response.text
    assert "<title>Error: " in html
    for field in ("date", "video_link", "p1_contact", "p3_name", "clinic_note", "duration"):
        assert f'href="#{field}"' in html, field
    assert 'value="http://meet.example.no/abc"' in html and 'value="Nils NAV"' in html and 'value="600"' in html
    assert re.search(r'id="video_link" name="video_link" type="url" value="http://meet.example.no/abc"[^>]*'
                     r'aria-invalid="true"', html)
    assert "must start with https://" in html and "already on the list" in html and "must be in the future" in html
    assert await _count(db, Meeting, Meeting.patient_id == patient.id) == 0
    assert await _audit(db, "meeting.schedule_refused", patient.id) == 1


async def test_the_spring_gap_and_the_address_are_checked(client, world, db):
    patient, _ = await world.patient()
    await world.login_as(await world.staff())
    response = await _schedule(client, patient.id, date="2027-03-28", time="02:30", format="clinic", address="")
    assert response.status_code == 422
    assert "the clocks go forward" in response.text and 'href="#address"' in response.text


async def test_shm1_once_and_shm2_after_it_within_26_weeks_or_with_a_reason(client, world, db):
    patient, _ = await world.patient(stage=5)
    shm1_at = datetime.combine(datetime.now(OSLO).date() + timedelta(days=20), datetime.min.time()).replace(
        hour=10, tzinfo=OSLO).astimezone(UTC)
    await _add_meeting(db, patient.id, shm1_at)
    await world.login_as(await world.staff())
    again = await _schedule(client, patient.id, number=1)
    assert again.status_code == 422 and "already scheduled" in again.text
    day1 = shm1_at.astimezone(OSLO).date()
    before = await _schedule(client, patient.id, number=2, date=day1.isoformat(), time="11:00")
    assert before.status_code == 422 and "must start after meeting 1 has ended" in before.text
    late_day = (day1 + timedelta(weeks=26, days=1)).isoformat()
    late = await _schedule(client, patient.id, number=2, date=late_day)
    assert late.status_code == 422 and 'href="#late_reason"' in late.text
    ok = await _schedule(client, patient.id, number=2, date=late_day, late_reason="The patient asked for later.")
    assert ok.status_code == 200 and "Collaboration meeting 2 is scheduled" in ok.text
    shm2 = await db.scalar(select(Meeting).where(Meeting.patient_id == patient.id, Meeting.number == 2))
    await db.commit()
    assert shm2.late_reason == "The patient asked for later."


# --- Clinic: reschedule and cancel ------------------------------------------------------------

async def test_reschedule_keeps_history_notifies_and_detects_conflicts(client, world, db):
    patient, _ = await world.patient(stage=5)
    meeting = await _add_meeting(db, patient.id, utcnow() + timedelta(days=10))
    await world.login_as(await world.staff("clinician", "Lege Lise"))
    path = f"/clinic/meetings/{meeting.id}/reschedule"
    page = await client.get(path)
    assert page.status_code == 200 and 'name="version" value="1"' in page.text
    new_day = _future_day(40)
    stale = await post_form(client, path, {"date": new_day, "time": "13:00", "duration": "60", "version": "0"},
                            token_from=path)
    assert stale.status_code == 422 and "Someone else changed this meeting" in stale.text
    bad = await post_form(client, path, {"date": new_day, "time": "13:00", "duration": "5", "version": "1"},
                          token_from=path)
    assert bad.status_code == 422 and 'href="#duration"' in bad.text and f'value="{new_day}"' in bad.text
    moved = await post_form(client, path, {"date": new_day, "time": "13:00", "duration": "60", "version": "1",
                                           "reason": "The GP is away"}, token_from=path)
    assert moved.status_code == 200 and "The meeting was moved" in moved.text
    assert 'data-change="rescheduled"' in moved.text and "The GP is away" in moved.text and "Lege Lise" in moved.text
    await db.refresh(meeting)
    await db.commit()
    assert meeting.version == 2 and meeting.duration_minutes == 60
    assert meeting.starts_at.astimezone(OSLO).strftime("%Y-%m-%d %H:%M") == f"{new_day} 13:00"
    change = await db.scalar(select(MeetingChange).where(MeetingChange.kind == "rescheduled"))
    await db.commit()
    assert change.old_starts_at is not None and change.new_starts_at == meeting.starts_at
    expiries = set((await db.scalars(select(Invitation.expires_at))).all())
    await db.commit()
    assert expiries == {meeting.starts_at + timedelta(minutes=60)}  # the links follow the new time
    assert "was moved to" in (await db.scalar(select(Notification.message)))
    await db.commit()
    assert await _audit(db, "meeting.rescheduled", patient.id) == 1


async def test_cancel_needs_a_confirmation_page_and_a_reason(client, world, db):
    patient, account = await world.patient(stage=5)
    meeting = await _add_meeting(db, patient.id, utcnow() + timedelta(days=10))
    clinician = await world.staff()
    await world.login_as(clinician)
    path = f"/clinic/meetings/{meeting.id}/cancel"
    page = await client.get(path)
    assert "Cancel collaboration meeting 1?" in page.text and "Yes, cancel the meeting" in page.text
    refused = await post_form(client, path, {"version": "1", "reason": "  "}, token_from=path)
    assert refused.status_code == 422 and 'href="#reason"' in refused.text
    done = await post_form(client, path, {"version": "1", "reason": "The patient is ill"}, token_from=path)
    assert done.status_code == 200 and "Cancelled" in done.text and 'data-change="cancelled"' in done.text
    assert "/reschedule" not in done.text
    await db.refresh(meeting)
    await db.commit()
    assert meeting.status == "cancelled"
    assert "cancelled" in (await db.scalar(select(Notification.message)))
    await db.commit()
    assert await _audit(db, "meeting.cancelled", patient.id) == 1
    again = await client.get(f"/clinic/meetings/{meeting.id}/reschedule")
    assert "cannot be changed" in again.text
    await world.login_as(account)
    assert "No meeting is planned yet" in (await client.get("/meeting")).text


# --- Patient: the meeting page ----------------------------------------------------------------

async def test_patient_sees_the_meeting_who_comes_and_their_answers(client, world, db):
    patient, account = await world.patient(stage=5)
    await _wishes(db, patient.id, {"topics": {"suggested": ["sleep", "work"], "text": "Getting back to work"}})
    starts = datetime(2027, 3, 28, 10, 0, tzinfo=OSLO).astimezone(UTC)
    meeting = await _add_meeting(db, patient.id, starts, clinic_note="The psychologist joins later.")
    await world.login_as(account)
    html = (await client.get("/meeting")).text
    assert "Collaboration meeting 1" in html
    assert "Sunday 28 March 2027, 10:00" in html and "until 11:30" in html and "90 minutes" in html
    assert re.search(r"Your GP, Berit Bø\s*<span[^>]*>Has accepted", html)
    assert re.search(r"NAV counsellor Nils NAV\s*\(part of the meeting\)\s*<span[^>]*>Cannot come", html)
    assert re.search(r"Eva Fysio \(Physiotherapist\)\s*<span[^>]*>Has not answered yet", html)
    assert "Feedback from the assessment" in html and "with Berit Bø" in html
    assert "Sleep" in html and "Work" in html and "Getting back to work" in html
    assert "The psychologist joins later." in html and "Write down questions" in html
    assert f'href="/meeting/{meeting.id}/calendar.ics"' in html and 'href="/meeting/check"' in html
    assert await _audit(db, "meeting.patient_viewed", patient.id) == 1


async def test_patient_without_a_meeting_sees_what_happens_first(client, world):
    _, account = await world.patient(stage=4)
    await world.login_as(account)
    html = (await client.get("/meeting")).text
    assert "When the clinic has planned your meeting, you will see it here" in html
    assert "Join the meeting" not in html


async def test_join_link_works_only_from_15_minutes_before_until_the_end(client, world, db):
    patient, account = await world.patient(stage=5)
    meeting = await _add_meeting(db, patient.id, utcnow() + timedelta(minutes=30))
    await world.login_as(account)
    soon = (await client.get("/meeting")).text
    assert 'data-join-state="soon"' in soon and "You can join from" in soon
    assert 'href="https://meet.example.no/j1"' not in soon and "disabled" in soon
    for offset in (timedelta(minutes=10), timedelta(minutes=-80)):
        meeting.starts_at = utcnow() + offset
        await db.commit()
        html = (await client.get("/meeting")).text
        assert 'data-join-state="open"' in html and 'href="https://meet.example.no/j1"' in html
    meeting.starts_at = utcnow() - timedelta(minutes=91)
    await db.commit()
    gone = (await client.get("/meeting")).text
    assert 'href="https://meet.example.no/j1"' not in gone and "No meeting is planned yet" in gone


async def test_both_meetings_have_their_own_section(client, world, db):
    patient, account = await world.patient(stage=7)
    await _add_meeting(db, patient.id, utcnow() + timedelta(days=2))
    await _add_meeting(db, patient.id, utcnow() + timedelta(weeks=20), number=2, format="clinic",
                       address="Smerteklinikken, St. Olavs hospital", video_link="")
    await world.login_as(account)
    html = (await client.get("/meeting")).text
    assert 'data-meeting="1"' in html and 'data-meeting="2"' in html
    assert "At the pain clinic: Smerteklinikken, St. Olavs hospital" in html


async def test_calendar_file_downloads_with_the_right_headers_and_times(client, world, db):
    patient, account = await world.patient(stage=5)
    starts = datetime(2027, 10, 31, 10, 0, tzinfo=OSLO).astimezone(UTC)
    meeting = await _add_meeting(db, patient.id, starts, format="hybrid", address="Legekontoret, Storgata 1; 2. etg")
    await world.login_as(account)
    response = await client.get(f"/meeting/{meeting.id}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="samhandlingsmote-1.ics"'
    body = response.content.decode("utf-8")
    event = calendar_event(body)
    assert utc_time(event, "DTSTART") == datetime(2027, 10, 31, 9, 0, tzinfo=UTC)
    assert utc_time(event, "DTEND") == datetime(2027, 10, 31, 10, 30, tzinfo=UTC)
    assert str(event["SUMMARY"]) == "Samhandlingsmøte 1"
    assert str(event["LOCATION"]) == "Legekontoret, Storgata 1; 2. etg"
    assert str(event["UID"]) == f"meeting-{meeting.id}@testserver.local"
    assert "https://meet.example.no/j1" in str(event["DESCRIPTION"]) and "Berit" not in body.replace("\r\n ", "")
    assert await _audit(db, "meeting.calendar_downloaded", patient.id) == 1


async def test_camera_check_asks_for_nothing_until_the_button(client, world):
    _, account = await world.patient()
    await world.login_as(account)
    html = (await client.get("/meeting/check")).text
    assert "Start the check" in html and re.search(r'<meter id="mic-level"', html)
    assert '<label class="ds-label" for="mic-level">' in html and 'aria-live="polite"' in html
    for message in ("unsupported", "denied", "notfound"):
        assert f'hidden data-msg="{message}"' in html
    assert re.search(r'<video hidden muted playsinline', html)
    script = re.search(r'<script src="(/static/js/check\.[0-9a-f]+\.js)" defer>', html).group(1)
    js = (await client.get(script)).text
    assert "getUserMedia" in js and 'addEventListener("click"' in js
    assert js.index('start.addEventListener("click"') < js.index("getUserMedia({")  # only on the click


# --- Patient: inbox -------------------------------------------------------------------------

async def test_inbox_lists_newest_first_and_marks_read_only_by_post(client, world, db):
    patient, account = await world.patient()
    await world.login_as(account)
    empty = (await client.get("/inbox")).text
    assert "You have no messages yet" in empty and "Mark all as read" not in empty
    await db.commit()
    starts = datetime(2027, 3, 28, 8, 0, tzinfo=UTC)
    await notify(db, patient.id, "Your collaboration meeting %(number)s is planned for %(when)s.", link="/meeting",
                 number="1", when=starts.isoformat())
    await db.commit()
    await notify(db, patient.id, "Your collaboration meeting %(number)s was moved to %(when)s.", link="/meeting",
                 number="1", when=(starts + timedelta(days=1)).isoformat())
    await db.commit()
    html = (await client.get("/inbox")).text
    first = html.index("was moved to Monday 29 March 2027, 10:00")
    assert first < html.index("is planned for Sunday 28 March 2027, 10:00")
    assert html.count('data-unread="true"') == 2 and 'href="/meeting"' in html
    assert html.count('data-unread="true"') == (await client.get("/inbox")).text.count('data-unread="true"')
    done = await post_form(client, "/inbox/read", token_from="/inbox")
    assert done.status_code == 200 and done.url.path == "/inbox"
    assert 'data-unread="true"' not in done.text and "Mark all as read" not in done.text
    assert await _count(db, Notification, Notification.read_at.is_(None)) == 0


async def test_another_patient_never_sees_a_meeting_or_messages(client, world, db):
    patient_a, account_a = await world.patient("Anne Aas", stage=5)
    _, account_b = await world.patient("Bjørn Berg", stage=5)
    meeting = await _add_meeting(db, patient_a.id, utcnow() + timedelta(days=3))
    await db.commit()
    await notify(db, patient_a.id, "Your collaboration meeting %(number)s is planned for %(when)s.", number="1",
                 when=meeting.starts_at.isoformat())
    await db.commit()
    await world.login_as(account_b)
    assert (await client.get(f"/meeting/{meeting.id}/calendar.ics")).status_code == 404
    assert (await client.get("/meeting/999999/calendar.ics")).status_code == 404
    assert "No meeting is planned yet" in (await client.get("/meeting")).text
    assert "You have no messages yet" in (await client.get("/inbox")).text
    for path in (f"/clinic/meetings/{meeting.id}", f"/clinic/meetings/{meeting.id}/cancel",
                 f"/clinic/patients/{patient_a.id}/meetings/new?number=1"):
        assert (await client.get(path)).status_code == 403, path
    await world.login_as(await world.staff())
    assert (await client.get("/meeting")).status_code == 403
    assert (await client.get("/clinic/meetings/999999")).status_code == 404
