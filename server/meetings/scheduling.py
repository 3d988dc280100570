"""Scheduling SHM 1 / SHM 2: plain async functions, each writing its audit rows and notifications.

Forms and validation are in meetings/schedule_forms.py; the calendar file in meetings/ics.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from server import json_rows
from server.audit.service import AuditContext, record
from server.db import utcnow
from server.i18n import N_
from server.json_rows import json_array, json_object
from server.meetings import answers, ics, invitations
from server.meetings.models import AgendaSegment, Invitation, Meeting, MeetingChange, MeetingParticipant, MeetingWishes
from server.meetings.schedule_forms import TOPIC_LABELS, MeetingPlan, Slot
from server.notify import reminders
from server.notify.service import notify
from server.pathway.models import Patient

JOIN_OPENS_BEFORE = timedelta(minutes=15)

MSG_SCHEDULED = N_("Your collaboration meeting %(number)s is planned for %(when)s.")
MSG_RESCHEDULED = N_("Your collaboration meeting %(number)s was moved to %(when)s.")
MSG_CANCELLED = N_("Your collaboration meeting %(number)s on %(when)s was cancelled.")
DIGITAL_FORMATS = ("digital", "hybrid")  # the reminders say: test camera and microphone first


def ends_at(meeting: Meeting) -> datetime:
    return meeting.starts_at + timedelta(minutes=meeting.duration_minutes)


def slots(meetings: list[Meeting], leave_out: int | None = None) -> list[Slot]:
    """The patient's scheduled (not cancelled) meetings, for the ordering rules."""
    return [Slot(m.number, m.starts_at, m.duration_minutes) for m in meetings
            if m.status == "scheduled" and m.id != leave_out]


# --- Loading --------------------------------------------------------------------------------

def _full():
    return (selectinload(Meeting.participants).selectinload(MeetingParticipant.invitation),
            selectinload(Meeting.segments), selectinload(Meeting.changes))


async def load_meeting(db: AsyncSession, meeting_id: int, lock: bool = False) -> Meeting | None:
    """`lock`: hold the meeting row (PostgreSQL) while a change checks and bumps its version."""
    query = select(Meeting).options(*_full()).where(Meeting.id == meeting_id)
    return await db.scalar(query.with_for_update(of=Meeting) if lock else query)


async def patient_meetings(db: AsyncSession, patient_id: int) -> list[Meeting]:
    """All of the patient's meetings, cancelled ones included, in order."""
    return list((await db.scalars(select(Meeting).options(*_full()).where(Meeting.patient_id == patient_id)
                                  .order_by(Meeting.number, Meeting.starts_at, Meeting.id))).all())


async def submitted_wishes(db: AsyncSession, patient_id: int, number: int) -> dict | None:
    """What the patient sent for SHM `number` (never the unsent draft)."""
    wishes = await db.scalar(select(MeetingWishes).where(MeetingWishes.patient_id == patient_id,
                                                         MeetingWishes.meeting_number == number))
    return wishes.submitted_answers if wishes is not None and wishes.submitted_answers else None


async def schedule_form_wishes(db: AsyncSession, ctx: AuditContext, patient: Patient, number: int) -> dict | None:
    """What the patient sent for SHM `number`, read for the scheduling form (an audited read)."""
    wishes = await submitted_wishes(db, patient.id, number)
    await record(db, ctx, "meeting.schedule_form_viewed", patient_ids=[patient.id])
    return wishes


async def viewed(db: AsyncSession, ctx: AuditContext, meeting: Meeting) -> None:
    await record(db, ctx, "meeting.viewed", patient_ids=[meeting.patient_id], detail=f"meeting {meeting.id}")


async def refuse(db: AsyncSession, ctx: AuditContext, action: str, patient_id: int, detail: str = "") -> None:
    """A change refused by its form's rules: audited, nothing stored."""
    await record(db, ctx, action, patient_ids=[patient_id], outcome="refused", detail=detail)


async def calendar_file(db: AsyncSession, ctx: AuditContext, meeting: Meeting, *, description: str, location: str,
                        uid_host: str) -> str:
    """The meeting as an .ics file for the patient's calendar (an audited read)."""
    body = ics.meeting_ics(meeting, summary=f"Samhandlingsmøte {meeting.number}", description=description,
                           location=location, uid_host=uid_host, now=utcnow())
    await record(db, ctx, "meeting.calendar_downloaded", patient_ids=[meeting.patient_id],
                 detail=f"meeting {meeting.id}")
    return body


# --- Changes --------------------------------------------------------------------------------

async def schedule(db: AsyncSession, ctx: AuditContext, patient: Patient, number: int, plan: MeetingPlan) -> Meeting:
    meeting = Meeting(patient_id=patient.id, number=number, starts_at=plan.starts_at,
                      duration_minutes=plan.duration_minutes, format=plan.format, address=plan.address,
                      video_link=plan.video_link, status="scheduled", late_reason=plan.late_reason,
                      clinic_note=plan.clinic_note, version=1, created_by=ctx.account_id, segments=[])
    by_row: dict[int, MeetingParticipant] = {}
    for position, p in enumerate(plan.participants):
        by_row[p.row] = MeetingParticipant(kind=p.kind, name=p.name, role=p.role, organisation=p.organisation,
                                           contact=p.contact, whole_meeting=p.whole_meeting, position=position,
                                           part_starts_at=p.part_starts_at)
    meeting.participants = list(by_row.values())
    meeting.changes = [MeetingChange(kind="scheduled", by_account_id=ctx.account_id, new_starts_at=plan.starts_at)]
    db.add(meeting)
    await db.flush()  # participant ids for the segments
    meeting.segments.extend(AgendaSegment(position=j, title=title, participant_ids=[by_row[i].id for i in rows])
                            for j, (title, rows) in enumerate(plan.segments))
    await db.flush()
    await notify(db, patient.id, MSG_SCHEDULED, link="/meeting", number=str(number),
                 when=plan.starts_at.isoformat())
    await reminders.meeting_planned(db, patient_id=patient.id, meeting_id=meeting.id, number=number,
                                    starts_at=plan.starts_at, digital=plan.format in DIGITAL_FORMATS)
    await record(db, ctx, "meeting.scheduled", patient_ids=[patient.id], detail=f"meeting {meeting.id}")
    return meeting


async def reschedule(db: AsyncSession, ctx: AuditContext, meeting: Meeting, starts_at: datetime, duration: int,
                     reason: str, late_reason: str | None) -> None:
    meeting.changes.append(MeetingChange(kind="rescheduled", by_account_id=ctx.account_id,
                                         old_starts_at=meeting.starts_at, new_starts_at=starts_at,
                                         reason=reason.strip()))
    moved = starts_at != meeting.starts_at
    move_part_starts(meeting, starts_at, duration)
    meeting.starts_at = starts_at
    meeting.duration_minutes = duration
    if late_reason is not None:
        meeting.late_reason = late_reason.strip()
    meeting.version += 1
    if moved:
        ask_again(meeting)
    await db.flush()
    await invitations.refresh_expiry(db, meeting)  # links stay valid until the (new) end
    note = await notify(db, meeting.patient_id, MSG_RESCHEDULED, link="/meeting", number=str(meeting.number),
                        when=starts_at.isoformat())
    await reminders.meeting_planned(db, patient_id=meeting.patient_id, meeting_id=meeting.id, number=meeting.number,
                                    starts_at=starts_at, digital=meeting.format in DIGITAL_FORMATS)
    await reminders.meeting_changed(db, patient_id=meeting.patient_id, meeting_id=meeting.id, notification_id=note.id,
                                    message=MSG_RESCHEDULED, cancelled=False, number=str(meeting.number),
                                    when=starts_at.isoformat())
    await record(db, ctx, "meeting.rescheduled", patient_ids=[meeting.patient_id], detail=f"meeting {meeting.id}")


def move_part_starts(meeting: Meeting, starts_at: datetime, duration: int) -> None:
    """A part keeps its place in the moved meeting (10:30 in a meeting from 10:00 → 14:30 from 14:00); a part
    that would fall outside a shortened meeting loses its start time."""
    shift = starts_at - meeting.starts_at
    for participant in meeting.participants:
        if participant.part_starts_at is None:
            continue
        moved = participant.part_starts_at + shift
        inside = starts_at <= moved < starts_at + timedelta(minutes=duration)
        participant.part_starts_at = moved if inside else None


def ask_again(meeting: Meeting) -> None:
    """A new time needs new answers: an answer to the old time is kept aside and the invitee is asked again.
    (The GP's acceptance that opened stage 5 stays: it was an acceptance to take part, not of a time.)"""
    for participant in meeting.participants:
        invitation = participant.invitation
        if invitation is not None and invitation.answer != "pending":
            invitation.answer_before_move = invitation.answer
            invitation.answer = "pending"
        if invitation is not None:
            invitation.handled_at = invitation.handled_by = None  # a new time is back on the clinic's worklist


async def cancel(db: AsyncSession, ctx: AuditContext, meeting: Meeting, reason: str) -> None:
    meeting.changes.append(MeetingChange(kind="cancelled", by_account_id=ctx.account_id,
                                         old_starts_at=meeting.starts_at, reason=reason.strip()))
    meeting.status = "cancelled"
    meeting.version += 1
    await db.flush()
    note = await notify(db, meeting.patient_id, MSG_CANCELLED, link="/meeting", number=str(meeting.number),
                        when=meeting.starts_at.isoformat())
    await reminders.meeting_changed(db, patient_id=meeting.patient_id, meeting_id=meeting.id, notification_id=note.id,
                                    message=MSG_CANCELLED, cancelled=True, number=str(meeting.number),
                                    when=meeting.starts_at.isoformat())
    await record(db, ctx, "meeting.cancelled", patient_ids=[meeting.patient_id], detail=f"meeting {meeting.id}")


# --- The patient's view -------------------------------------------------------------------

@dataclass(frozen=True)
class JoinState:
    state: str  # soon | open | ended
    opens_at: datetime


def join_state(meeting: Meeting, now: datetime | None = None) -> JoinState:
    """Server-side: the join link works from 15 minutes before the start until the end."""
    now = now or utcnow()
    opens_at = meeting.starts_at - JOIN_OPENS_BEFORE
    if now < opens_at:
        return JoinState("soon", opens_at)
    return JoinState("open" if now <= ends_at(meeting) else "ended", opens_at)


def answer_of(participant: MeetingParticipant) -> str:
    """pending | accepted | declined | proposed, 'moved' (answered the old time, not yet the new one),
    or 'not_invited' when no invitation exists yet."""
    invitation = participant.invitation
    if invitation is None:
        return "not_invited"
    if invitation.answer == "pending" and invitation.answer_before_move:
        return "moved"
    return invitation.answer


def segment_names(meeting: Meeting, segment: AgendaSegment) -> list[str]:
    names = {p.id: p.name for p in meeting.participants}
    return [names[i] for i in segment.participant_ids or [] if i in names]


def patient_topics(wishes: dict | None) -> dict[str, Any]:
    topics = answers.decode(wishes).topics or answers.Topics()
    return {"suggested": [TOPIC_LABELS[t] for t in topics.suggested if t in TOPIC_LABELS], "text": topics.text}


def _item(meeting: Meeting, now: datetime, topics: dict[str, Any] | None = None) -> dict[str, Any]:
    item = {"meeting": meeting, "ends_at": ends_at(meeting), "join": join_state(meeting, now)}
    return item if topics is None else item | {"topics": topics}


async def _viewed_upcoming(db: AsyncSession, ctx: AuditContext, patient_id: int, meetings: list[Meeting]) -> None:
    await record(db, ctx, "meeting.patient_viewed", patient_ids=[patient_id],
                 detail=" ".join(f"meeting {m.id}" for m in meetings))


# The patient's scheduled (not cancelled) meetings as ONE JSON value (server/json_rows): participants with their
# invitations, and for the meeting page the agenda; not the change history. SCHEDULED_JSON is a column of a
# statement that selects the patient (the home page's one read); `_MEETING_PAGE_READ` is the meeting page's
# one read, with the submitted wishes (the topics the patient asked for).
_INVITATION_JSON = select(json_object(Invitation)).where(
    Invitation.participant_id == MeetingParticipant.id).scalar_subquery()
_PARTICIPANTS_JSON = select(json_array(json_object(MeetingParticipant, invitation=_INVITATION_JSON))).where(
    MeetingParticipant.meeting_id == Meeting.id).scalar_subquery()
_SEGMENTS_JSON = select(json_array(json_object(AgendaSegment))).where(
    AgendaSegment.meeting_id == Meeting.id).scalar_subquery()
SCHEDULED_JSON = select(json_array(json_object(Meeting, participants=_PARTICIPANTS_JSON))).where(
    Meeting.patient_id == Patient.id, Meeting.status == "scheduled").scalar_subquery()
_MEETING_PAGE_READ = select(
    select(json_array(json_object(Meeting, participants=_PARTICIPANTS_JSON, segments=_SEGMENTS_JSON)))
    .where(Meeting.patient_id == bindparam("patient_id"), Meeting.status == "scheduled")
    .scalar_subquery().label("meetings"),
    select(json_array(json_object(MeetingWishes, keys=("meeting_number", "submitted_answers"))))
    .where(MeetingWishes.patient_id == bindparam("patient_id")).scalar_subquery().label("wishes"))


def scheduled_from_json(data: list | None) -> list[Meeting]:
    """The meetings of a SCHEDULED_JSON value (transient objects, for reading) by number and start;
    participants (with their invitation) and agenda segments (when read) by position."""
    meetings = []
    for item in data or []:
        participants = sorted((json_rows.one(MeetingParticipant, p,
                                             invitation=json_rows.one(Invitation, p["invitation"]))
                               for p in item["participants"] or []), key=lambda p: (p.position, p.id))
        segments = sorted(json_rows.objects(AgendaSegment, item.get("segments")), key=lambda s: (s.position, s.id))
        meetings.append(json_rows.one(Meeting, item, participants=participants, segments=segments))
    return sorted(meetings, key=lambda m: (m.number, m.starts_at, m.id))


async def upcoming_for_patient(db: AsyncSession, ctx: AuditContext, patient_id: int,
                               now: datetime | None = None) -> list[dict[str, Any]]:
    """The patient's scheduled meetings that have not ended, with agenda and their own topics (one statement)."""
    now = now or utcnow()
    row = (await db.execute(_MEETING_PAGE_READ, {"patient_id": patient_id})).one()
    meetings = [m for m in scheduled_from_json(row.meetings) if ends_at(m) >= now]
    wishes = {w["meeting_number"]: w["submitted_answers"] for w in row.wishes or []}
    result = [_item(meeting, now, patient_topics(wishes.get(meeting.number) or None)) for meeting in meetings]
    await _viewed_upcoming(db, ctx, patient_id, meetings)
    return result


async def upcoming_and_held(db: AsyncSession, ctx: AuditContext, patient_id: int, meetings: list[Meeting],
                            now: datetime | None = None) -> tuple[list[dict[str, Any]], list[Meeting]]:
    """For the home page, of the patient's scheduled meetings (`scheduled_from_json`): those that have not
    ended (as `upcoming_for_patient` gives them but without agenda and topics, which the home page does not
    show; audited the same way), and those that have (held)."""
    now = now or utcnow()
    upcoming = [m for m in meetings if ends_at(m) >= now]
    await _viewed_upcoming(db, ctx, patient_id, upcoming)
    return [_item(m, now) for m in upcoming], [m for m in meetings if ends_at(m) < now]
