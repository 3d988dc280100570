"""The home page reads the patient, the stage history, the meetings and the plan in ONE statement, the meeting
page its meetings with the agenda and the wishes in one, the plan page the latest version with the updates in
one (issue 12): the related rows come back as JSON
(server/json_rows) and are turned into the models' objects again. Two things that must hold, on both databases:

- every value read that way equals what the ORM reads for the same row (UTC datetimes, dates, booleans,
  JSON documents, NULLs), so no page can show a different time, answer or status than before;
- the JSON columns belong to the patient asked for and to no one else (a subquery that does not correlate
  would hand one patient another's meetings or plan).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import inspect, select, text
from sqlalchemy.orm import selectinload

from server import json_rows
from server.audit.service import AuditContext
from server.db import utcnow
from server.meetings import scheduling
from server.meetings.models import Invitation, Meeting, MeetingParticipant
from server.pages.home import _HOME_READ
from server.pathway.models import StageEvent
from server.plan import view as plan_view
from server.plan.models import MeasureUpdate, PlanVersion
from tests import factories


def _plan(title: str) -> dict:
    return {"goals": [{"uid": "g-1", "text": f"Mål for {title}"}], "measures": [
        {"uid": "m-1", "title": title, "description": "", "responsible": "patient", "participant": "",
         "goal": "g-1", "start": "", "due": "2027-01-15", "timeframe": "", "status": "planned", "evaluation": None}]}


async def _patient_with_everything(world, db, name: str, gp_name: str, measure: str):
    """A patient with a stage history, two meetings (one held), participants with and without an
    invitation, a part-time participant, two plan versions and updates (one read by the clinic)."""
    patient, account = await world.patient(name, stage=5)
    db.add_all([StageEvent(patient_id=patient.id, from_stage=s - 1 if s > 1 else None, to_stage=s,
                           at=utcnow() - timedelta(days=40 - s), note=f"steg {s}") for s in range(1, 6)])
    await db.commit()
    await factories.wishes(db, patient.id, {"place": {"choice": "home"}})
    gp = factories.participant("gp", gp_name, invitation=Invitation(
        nonce=f"nonce-{patient.id}-abcdefghijklmnopqrstuvw", expires_at=utcnow() + timedelta(days=30),
        answer="accepted", answered_at=utcnow() - timedelta(hours=3)))
    nav = factories.participant("nav", f"NAV for {name}", whole_meeting=False,
                                part_starts_at=utcnow() + timedelta(days=20, minutes=30))
    await factories.meeting(db, patient.id, participants=[gp, nav], segments=[("Arbeid", [0, 1])])
    await factories.meeting(db, patient.id, number=1, starts_at=utcnow() - timedelta(days=30),
                            participants=[factories.participant("gp", gp_name)], held_at=utcnow() - timedelta(days=30))
    plan = await factories.plan(db, patient.id, _plan(f"{measure} (først)"), _plan(measure))
    db.add_all([
        MeasureUpdate(plan_id=plan.id, measure_uid="m-1", by_account_id=account.id, by_role="patient",
                      status="in_progress", note="", at=utcnow() - timedelta(days=2)),
        MeasureUpdate(plan_id=plan.id, measure_uid="m-1", by_account_id=account.id, by_role="patient",
                      note=f"Det går bra med {measure}", at=utcnow() - timedelta(days=1), read_at=utcnow(),
                      read_by=account.id)])
    await db.commit()
    return patient, account, plan


def _values(row) -> dict:
    return {attr.key: getattr(row, attr.key) for attr in inspect(type(row)).column_attrs}


async def test_every_value_read_as_json_equals_what_the_orm_reads(world, db):
    patient, _, plan = await _patient_with_everything(world, db, "Kari Nordmann", "Berit Bø", "Gå tur")
    if db.bind.dialect.name == "postgresql":  # JSON gives times in the session's zone: not always UTC
        await db.execute(text("SET LOCAL TIME ZONE 'Europe/Oslo'"))
    row = (await db.execute(_HOME_READ, {"patient_id": patient.id})).first()
    await db.commit()

    events = list(await db.scalars(select(StageEvent).where(StageEvent.patient_id == patient.id)
                                   .order_by(StageEvent.id)))
    from_json = sorted(json_rows.objects(StageEvent, row.events), key=lambda e: e.id)
    assert len(events) >= 5 and [_values(e) for e in from_json] == [_values(e) for e in events]
    assert all(e.at.utcoffset() == timedelta(0) for e in from_json)

    meetings = list((await db.scalars(
        select(Meeting).where(Meeting.patient_id == patient.id, Meeting.status == "scheduled")
        .order_by(Meeting.number, Meeting.starts_at).options(
            selectinload(Meeting.participants).selectinload(MeetingParticipant.invitation),
            selectinload(Meeting.segments)))).all())
    read = scheduling.scheduled_from_json(row.meetings)
    page_read = (await db.execute(scheduling._MEETING_PAGE_READ, {"patient_id": patient.id})).one()
    with_agenda = scheduling.scheduled_from_json(page_read.meetings)
    assert len(meetings) == 2 and [_values(m) for m in read] == [_values(m) for m in meetings]
    assert [_values(m) for m in with_agenda] == [_values(m) for m in meetings]
    for ours, agenda, orm in zip(read, with_agenda, meetings, strict=True):
        for meeting in (ours, agenda):
            assert [_values(p) for p in meeting.participants] == [_values(p) for p in orm.participants]
            assert [p.invitation and _values(p.invitation) for p in meeting.participants] == \
                   [p.invitation and _values(p.invitation) for p in orm.participants]
        assert [_values(s) for s in agenda.segments] == [_values(s) for s in orm.segments]
    assert [s.participant_ids for s in with_agenda[1].segments] == [[p.id for p in meetings[1].participants]]
    assert page_read.wishes == [{"meeting_number": 1, "submitted_answers": {"place": {"choice": "home"}}}]
    upcoming = read[1]
    # each related object points back as a load gives it (a participant's meeting, an invitation's participant)
    assert all(p.meeting is m for m in read + with_agenda for p in m.participants)
    assert all(s.meeting is m for m in with_agenda for s in m.segments)
    assert upcoming.participants[0].invitation.participant is upcoming.participants[0]
    assert upcoming.participants[1].whole_meeting is False and upcoming.participants[1].part_starts_at is not None
    assert upcoming.participants[0].invitation.answer == "accepted" and upcoming.participants[1].invitation is None

    version = await db.scalar(select(PlanVersion).where(PlanVersion.plan_id == plan.id)
                              .order_by(PlanVersion.number.desc()).limit(1))
    updates = list(await db.scalars(select(MeasureUpdate).where(MeasureUpdate.plan_id == plan.id)
                                    .order_by(MeasureUpdate.at)))
    ctx = AuditContext(account_id=None, role="patient")
    ours = await plan_view.read_loaded(db, ctx, patient.id, row.version, row.updates, "plan.viewed")
    assert version.number == 2 and _values(ours.version) == _values(version)
    plan_page = await plan_view.read_current(db, ctx, patient.id)  # the plan page's own one read
    assert _values(plan_page.version) == _values(version)
    assert [[_values(u) for u in m.notes] for m in plan_page.measures] == [[_values(updates[1])]]
    assert ours.version.content["measures"][0]["title"] == "Gå tur"
    assert len(updates) == 2 and [m.status for m in ours.measures] == ["in_progress"]
    assert [_values(u) for u in ours.measures[0].notes] == [_values(updates[1])]
    assert ours.measures[0].status_update is not None and _values(ours.measures[0].status_update) == _values(updates[0])


async def test_a_new_patient_without_meetings_or_plan_reads_as_none_and_sees_their_home(client, world, db):
    patient, account = await world.patient("Ola Tom", stage=1)
    row = (await db.execute(_HOME_READ, {"patient_id": patient.id})).first()
    assert row.MeetingWishes is None and not row.asked
    assert scheduling.scheduled_from_json(row.meetings) == [] and row.version is None
    assert json_rows.objects(MeasureUpdate, row.updates) == []
    assert [e.to_stage for e in json_rows.objects(StageEvent, row.events)] == [1]
    await db.commit()
    await world.login_as(account)
    page = await client.get("/home")
    assert page.status_code == 200 and "Ola Tom" in page.text


async def test_the_one_read_gives_the_patient_their_own_rows_and_no_one_elses(client, world, db):
    kari, kari_account, kari_plan = await _patient_with_everything(world, db, "Kari Nordmann", "Berit Bø", "Gå tur")
    ola, ola_account, ola_plan = await _patient_with_everything(world, db, "Ola Hansen", "Per Fastlege", "Svømming")
    for patient, plan in ((kari, kari_plan), (ola, ola_plan)):
        row = (await db.execute(_HOME_READ, {"patient_id": patient.id})).first()
        assert row.Patient.id == patient.id
        assert {e["patient_id"] for e in row.events} == {patient.id}
        assert {m["patient_id"] for m in row.meetings} == {patient.id}
        assert row.version["plan_id"] == plan.id and {u["plan_id"] for u in row.updates} == {plan.id}
    await db.commit()

    await world.login_as(kari_account)
    page = (await client.get("/home")).text
    assert "Berit Bø" in page and "Gå tur" in page
    assert "Per Fastlege" not in page and "Svømming" not in page and "Ola Hansen" not in page
    await world.login_as(ola_account)
    page = (await client.get("/home")).text
    assert "Per Fastlege" in page and "Svømming" in page
    assert "Berit Bø" not in page and "Gå tur" not in page and "Kari Nordmann" not in page
