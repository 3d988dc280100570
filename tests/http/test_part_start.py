"""A participant invited for part of the meeting sees when their part starts: set in the scheduling form
(within the meeting), shown on their invitation page and used as the start of their calendar file."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from server.dates import format_clock
from server.i18n import OSLO
from server.meetings.models import Meeting, MeetingParticipant
from tests import factories
from tests.conftest import post_form
from tests.helpers import calendar_event, html, utc_time
from tests.http.test_invitations import _link
from tests.http.test_meetings import _future_day, _valid_form

UTC = timezone.utc


async def _participants(db, patient_id) -> dict[str, MeetingParticipant]:
    meeting_id = await db.scalar(select(Meeting.id).where(Meeting.patient_id == patient_id))
    rows = (await db.scalars(select(MeetingParticipant).where(MeetingParticipant.meeting_id == meeting_id)
                             .execution_options(populate_existing=True))).all()
    await db.commit()
    return {p.name: p for p in rows}


async def test_the_part_start_is_checked_against_the_meeting_and_stored(client, world, db):
    patient, _ = await world.patient()
    await world.login_as(await world.staff())
    path = f"/clinic/patients/{patient.id}/meetings/new?number=1"
    # 10:00 for 90 minutes: 11:30 is the end, so a part cannot start then
    refused = await post_form(client, path, _valid_form(p1_part="part", p1_part_start="11:30"), token_from=path)
    assert refused.status_code == 422
    doc = html(refused.text)
    assert doc.find("a", href="#p1_part_start") is not None and doc.by_id("p1_part_start").attrs["value"] == "11:30"
    assert "Their part must start while the meeting is on" in refused.text
    response = await post_form(client, path, _valid_form(p1_part="part", p1_part_start="10.45",
                                                         p0_part="whole", p0_part_start="10:30"), token_from=path)
    assert response.status_code == 200 and "/clinic/meetings/" in str(response.url)
    people = await _participants(db, patient.id)
    day = datetime.fromisoformat(_future_day()).date()
    assert people["Nils NAV"].part_starts_at == datetime(day.year, day.month, day.day, 10, 45, tzinfo=OSLO).astimezone(UTC)
    assert people["Fastlege Berit Bø"].part_starts_at is None  # the whole meeting: no part start
    assert "Part of the meeting, from 10:45" in response.text


async def test_the_invitee_sees_when_their_part_starts_and_gets_it_in_the_calendar_file(client, world, db):
    patient, _ = await world.patient()
    starts = datetime(2030, 6, 10, 8, 0, tzinfo=UTC)  # 10:00 in Oslo
    part_start = starts + timedelta(minutes=30)
    meeting = await factories.meeting(db, patient.id, starts_at=starts, duration_minutes=90, participants=[
        factories.participant("nav", "Nils Nav", whole_meeting=False, part_starts_at=part_start),
        factories.participant("gp", "Berit Bø")])
    nav, gp = meeting.participants
    _, nav_token = await _link(db, nav, meeting)
    _, gp_token = await _link(db, gp, meeting)
    page = html((await client.get(f"/invitation/{nav_token}")).text)
    # (the clock's style is the dates module's: "10:30" or "10:30 AM")
    assert page.find(None, data_part_start=True).text.startswith("Your part of the meeting starts at 10:30")
    event = calendar_event((await client.get(f"/invitation/{nav_token}/calendar.ics")).text)
    assert utc_time(event, "DTSTART") == part_start and utc_time(event, "DTEND") == starts + timedelta(minutes=90)
    # the GP takes part in the whole meeting: no part start, the calendar starts with the meeting
    assert html((await client.get(f"/invitation/{gp_token}")).text).find(None, data_part_start=True) is None
    assert utc_time(calendar_event((await client.get(f"/invitation/{gp_token}/calendar.ics")).text), "DTSTART") == starts


async def test_bokmal_says_din_del_av_motet_starter(client, world, db):
    patient, _ = await world.patient()
    starts = datetime(2030, 6, 10, 8, 0, tzinfo=UTC)
    meeting = await factories.meeting(db, patient.id, starts_at=starts, duration_minutes=90, participants=[
        factories.participant("nav", "Nils Nav", whole_meeting=False, part_starts_at=starts + timedelta(minutes=30))])
    _, token = await _link(db, meeting.participants[0], meeting)
    client.cookies.clear()
    page = html((await client.get(f"/invitation/{token}")).text)
    assert re.match(r"Din del av møtet starter kl\. 10[:.]30\.", page.find(None, data_part_start=True).text)


async def test_a_moved_meeting_moves_the_part_with_it(client, world, db):
    patient, _ = await world.patient()
    starts = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=20)
    meeting = await factories.meeting(db, patient.id, starts_at=starts, duration_minutes=90, participants=[
        factories.participant("nav", "Nils Nav", whole_meeting=False, part_starts_at=starts + timedelta(minutes=30))])
    await world.login_as(await world.staff())
    new_start = (starts + timedelta(days=1, hours=2)).astimezone(OSLO)
    path = f"/clinic/meetings/{meeting.id}/reschedule"
    response = await post_form(client, path, {"date": new_start.date().isoformat(), "time": new_start.strftime("%H:%M"),
                                              "duration": "90", "version": "1", "reason": "Sykdom"}, token_from=path)
    assert response.status_code == 200
    nav = (await _participants(db, patient.id))["Nils Nav"]
    assert nav.part_starts_at == new_start.astimezone(UTC) + timedelta(minutes=30)


async def test_the_patient_sees_when_a_partial_participant_joins(client, world, db):
    patient, account = await world.patient()
    starts = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=20)
    await factories.meeting(db, patient.id, starts_at=starts, duration_minutes=90, participants=[
        factories.participant("nav", "Nils Nav", whole_meeting=False, part_starts_at=starts + timedelta(minutes=30))])
    await world.login_as(account)
    item = html((await client.get("/meeting")).text).find("li", data_participant="nav")
    clock = " ".join(format_clock(starts + timedelta(minutes=30), "en").split())  # the page text collapses spaces
    assert f"(part of the meeting, from {clock})" in item.text
