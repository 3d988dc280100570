"""Invitation links for external participants (GP, NAV counsellor, others) and their answers.

A link is /invitation/{id}.{nonce}.{signature}: `nonce` is random and stored on the row, `signature`
is base64url(HMAC-SHA256(secret_key, "invitation:{id}.{nonce}")) cut to 32 characters. A link works
only while the row has that nonce, is not revoked, the meeting is not cancelled and now < expires_at
(the meeting's end; `refresh_expiry` re-sets it when the meeting is rescheduled). A new link for the
same participant replaces the nonce on the same row, so every earlier link stops working.

The GP's answer to SHM 1 decides the GP's acceptance on the patient (what opens stage 5):
- "accepted" records the acceptance (today, Oslo) if none is recorded yet, and tells the patient;
- a later "declined" or "proposed" (after "accepted") withdraws it only if it came from an invitation:
  the patient's acceptance has no recorder (given through a link) or the same recorder as the
  invitation's accepted answer (the clinician who took it by phone). An acceptance recorded by another
  clinician with the manual form on the patient page is kept. Stage moves are never undone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from server.audit.service import AuditContext, record
from server.dates import format_clock
from server.db import utcnow
from server.forms import Form, text
from server.i18n import N_, today_oslo
from server.meetings import ics
from server.meetings.models import AgendaSegment, Invitation, Meeting, MeetingParticipant
from server.notify.service import notify
from server.pathway import service as pathway
from server.pathway.models import Patient

SIGNATURE_CHARS = 32
MAX_TOKEN = 160
MAX_COMMENT = 1000
MAX_PROPOSED_TIME = 200
LINK_ANSWERS = ("accepted", "declined", "proposed")
PHONE_ANSWERS = ("accepted", "declined")
GP_ACCEPTED = N_("Your GP has accepted the invitation to collaboration meeting 1.")
_TOKEN = re.compile(r"([1-9][0-9]{0,11})\.([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{32})")


# --- Tokens -----------------------------------------------------------------------------------

def signature(secret: str, invitation_id: int, nonce: str) -> str:
    mac = hmac.new(secret.encode(), f"invitation:{invitation_id}.{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode()[:SIGNATURE_CHARS]


def make_token(secret: str, invitation: Invitation) -> str:
    return f"{invitation.id}.{invitation.nonce}.{signature(secret, invitation.id, invitation.nonce)}"


def parse_token(secret: str, token: str) -> tuple[int, str] | None:
    """(invitation id, nonce) if the token is well-formed and its signature is ours; else None."""
    if not token or len(token) > MAX_TOKEN:
        return None
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    invitation_id, nonce, given = int(match.group(1)), match.group(2), match.group(3)
    if not hmac.compare_digest(signature(secret, invitation_id, nonce).encode(), given.encode()):
        return None
    return invitation_id, nonce


def invitation_url(origin: str, secret: str, invitation: Invitation) -> str:
    return f"{origin.rstrip('/')}/invitation/{make_token(secret, invitation)}"


def meeting_end(meeting: Meeting) -> datetime:
    return meeting.starts_at + timedelta(minutes=meeting.duration_minutes)


# --- Opening a link ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Opened:
    """The result of opening a link: `problem` is "" (usable), unknown, revoked, cancelled or expired."""

    problem: str
    invitation: Invitation | None = None

    @property
    def participant(self) -> MeetingParticipant:
        return self.invitation.participant

    @property
    def meeting(self) -> Meeting:
        return self.invitation.participant.meeting


def _with_meeting():
    return selectinload(Invitation.participant).selectinload(MeetingParticipant.meeting) \
        .selectinload(Meeting.segments)


async def open_link(db: AsyncSession, secret: str, token: str, now: datetime | None = None) -> Opened:
    parsed = parse_token(secret, token)
    if parsed is None:
        return Opened("unknown")
    invitation_id, nonce = parsed
    invitation = await db.scalar(select(Invitation).options(_with_meeting()).where(Invitation.id == invitation_id))
    if invitation is None or not hmac.compare_digest(invitation.nonce.encode(), nonce.encode()):
        return Opened("unknown")
    if invitation.revoked_at is not None:
        return Opened("revoked", invitation)
    if invitation.participant.meeting.status == "cancelled":
        return Opened("cancelled", invitation)
    if (now or utcnow()) >= invitation.expires_at:
        return Opened("expired", invitation)
    return Opened("", invitation)


def participant_ctx(participant: MeetingParticipant, request_id: str) -> AuditContext:
    return AuditContext(None, f"participant:{participant.id}", request_id)


SHOWS_PATIENT = ("gp", "nav")  # the patient chose these in the wishes; they need to know whom it concerns


async def patient_shown(db: AsyncSession, participant: MeetingParticipant) -> Patient | None:
    """The patient's name and birth date for the GP's and NAV's page (never health details); None for others."""
    if participant.kind not in SHOWS_PATIENT:
        return None
    return await db.get(Patient, participant.meeting.patient_id)


async def invitee_calendar(db: AsyncSession, opened: Opened, request_id: str, *, description: str,
                           uid_host: str) -> str:
    """The meeting as an .ics file for the invitee's calendar (an audited read by the participant)."""
    meeting = opened.meeting
    location = meeting.address or (meeting.video_link if meeting.video_link.startswith("https://") else "")
    participant = opened.participant
    part_start = participant.part_starts_at if not participant.whole_meeting else None
    body = ics.meeting_ics(meeting, summary=f"Samhandlingsmøte {meeting.number}", description=description,
                           location=location, uid_host=uid_host, now=utcnow(), starts_at=part_start)
    await record(db, participant_ctx(opened.participant, request_id), "invitation.calendar_downloaded",
                 patient_ids=[meeting.patient_id], detail=f"invitation {opened.invitation.id}")
    return body


def segments_for(participant: MeetingParticipant, meeting: Meeting) -> list[AgendaSegment]:
    """The agenda segments the participant joins: all of them when they attend the whole meeting."""
    if participant.whole_meeting:
        return list(meeting.segments)
    return [s for s in meeting.segments if participant.id in {int(x) for x in s.participant_ids or []
                                                                 if str(x).isdigit()}]


def local_times(meeting: Meeting, lang: str) -> tuple[str, str]:
    """Start and end as the reader's clock time in Europe/Oslo (nb "10.00", en "10:00")."""
    return format_clock(meeting.starts_at, lang), format_clock(meeting_end(meeting), lang)


# --- Answers ----------------------------------------------------------------------------------

class AnswerForm(Form):
    """An invitation's answer: through the link (LINK_ANSWERS) or taken by phone (PHONE_ANSWERS)."""

    answer = text()
    proposed_time = text(max=MAX_PROPOSED_TIME)
    comment = text(max=MAX_COMMENT, multiline=True)

    def check(self, choices: tuple[str, ...] = LINK_ANSWERS) -> bool:
        self.validate()
        if self.answer.data not in choices and not self.answer.errors:
            self.add_error("answer", N_("Choose whether you can take part.") if choices == LINK_ANSWERS
                           else N_("Choose the answer they gave."))
        if self.answer.data == "proposed" and not self.proposed_time.errors and not self.proposed_time.data:
            self.add_error("proposed_time", N_("Write the time you propose."))
        return not self.has_errors()


async def apply_answer(db: AsyncSession, ctx: AuditContext, invitation: Invitation, form: dict[str, str],
                       recorded_by: int | None = None) -> None:
    """Store a validated answer: through the link (`recorded_by` None) or taken by phone by a clinician."""
    meeting = invitation.participant.meeting
    # Locked and re-read: two answers sent at once are applied one after the other, each seeing the other.
    await db.refresh(invitation, ["answer", "recorded_by"], with_for_update=True)
    previous, previous_recorder = invitation.answer, invitation.recorded_by
    answer = form["answer"]
    invitation.answer = answer
    invitation.proposed_time = form.get("proposed_time", "").strip() if answer == "proposed" else ""
    invitation.comment = form.get("comment", "").strip()
    invitation.answered_at = utcnow()
    invitation.recorded_by = recorded_by
    invitation.answer_before_move = ""  # an answer to the current time
    invitation.handled_at = invitation.handled_by = None  # a new answer is back on the clinic's worklist
    await db.flush()
    action = "invitation.answered" if recorded_by is None else "invitation.answer_recorded"
    await record(db, ctx, action, patient_ids=[meeting.patient_id], detail=f"invitation {invitation.id}: {answer}")
    if invitation.participant.kind == "gp" and meeting.number == 1:
        await _gp_answered(db, ctx, invitation, previous, previous_recorder)


async def _gp_answered(db: AsyncSession, ctx: AuditContext, invitation: Invitation, previous: str,
                       previous_recorder: int | None) -> None:
    patient = await db.get(Patient, invitation.participant.meeting.patient_id, with_for_update=True,
                           populate_existing=True)
    detail = f"invitation {invitation.id}"
    if invitation.answer == "accepted":
        if patient.gp_accepted_on is None:
            await pathway.record_gp_acceptance_from_invitation(db, ctx, patient, today_oslo(),
                                                               invitation.recorded_by, detail)
        if previous != "accepted":
            await notify(db, patient.id, GP_ACCEPTED, link="/meeting")
    elif (previous == "accepted" and patient.gp_accepted_on is not None
          and patient.gp_accepted_recorded_by in (None, previous_recorder)):
        await pathway.record_gp_acceptance_from_invitation(db, ctx, patient, None, None, detail)


# --- The clinic's side ------------------------------------------------------------------------

async def load_meeting(db: AsyncSession, meeting_id: int) -> Meeting | None:
    return await db.scalar(select(Meeting).options(
        selectinload(Meeting.participants).selectinload(MeetingParticipant.invitation),
        selectinload(Meeting.segments)).where(Meeting.id == meeting_id))


def link_state(invitation: Invitation | None, meeting: Meeting, now: datetime | None = None) -> str:
    """none | active | revoked | cancelled | expired"""
    if invitation is None:
        return "none"
    if invitation.revoked_at is not None:
        return "revoked"
    if meeting.status == "cancelled":
        return "cancelled"
    return "expired" if (now or utcnow()) >= invitation.expires_at else "active"


def can_issue(meeting: Meeting, now: datetime | None = None) -> bool:
    return meeting.status != "cancelled" and (now or utcnow()) < meeting_end(meeting)


async def issue_link(db: AsyncSession, ctx: AuditContext, participant: MeetingParticipant,
                     meeting: Meeting) -> Invitation:
    """A new link for the participant: creates the invitation, or gives it a new nonce (earlier links stop
    working, a revocation is lifted). An answer already given is kept."""
    invitation = participant.invitation
    nonce = secrets.token_urlsafe(16)
    if invitation is None:
        invitation = Invitation(participant_id=participant.id, nonce=nonce, expires_at=meeting_end(meeting),
                                answer="pending")
        participant.invitation = invitation
        db.add(invitation)
        action = "invitation.created"
    else:
        invitation.nonce = nonce
        invitation.revoked_at = None
        invitation.created_at = utcnow()
        invitation.expires_at = meeting_end(meeting)
        action = "invitation.renewed"
    await db.flush()
    await record(db, ctx, action, patient_ids=[meeting.patient_id],
                 detail=f"invitation {invitation.id}, participant {participant.id}")
    return invitation


async def revoke(db: AsyncSession, ctx: AuditContext, invitation: Invitation, meeting: Meeting) -> None:
    invitation.revoked_at = utcnow()
    await db.flush()
    await record(db, ctx, "invitation.revoked", patient_ids=[meeting.patient_id],
                 detail=f"invitation {invitation.id}")


async def refresh_expiry(db: AsyncSession, meeting: Meeting) -> int:
    """Re-set every invitation of `meeting` to expire at its (new) end. Call after rescheduling.
    Returns how many invitations were updated. Audited by the caller's own "meeting.rescheduled" row."""
    end = meeting_end(meeting)
    rows = (await db.scalars(select(Invitation).join(MeetingParticipant)
                             .where(MeetingParticipant.meeting_id == meeting.id))).all()
    for invitation in rows:
        invitation.expires_at = end
    await db.flush()
    return len(rows)


# --- Audited reads and refusals ------------------------------------------------------------------

async def link_refused(db: AsyncSession, opened: Opened, request_id: str) -> None:
    """A link we issued that no longer works is audited as its participant (an unknown one is not ours)."""
    if opened.invitation is not None:
        await record(db, participant_ctx(opened.participant, request_id), "invitation.refused",
                     patient_ids=[opened.meeting.patient_id], outcome="refused",
                     detail=f"invitation {opened.invitation.id}: {opened.problem}")


async def link_viewed(db: AsyncSession, opened: Opened, request_id: str) -> None:
    await record(db, participant_ctx(opened.participant, request_id), "invitation.viewed",
                 patient_ids=[opened.meeting.patient_id], detail=f"invitation {opened.invitation.id}")


async def answer_refused(db: AsyncSession, ctx: AuditContext, opened: Opened) -> None:
    await record(db, ctx, "invitation.answer_refused", patient_ids=[opened.meeting.patient_id],
                 outcome="refused", detail=f"invitation {opened.invitation.id}")


async def clinic_viewed(db: AsyncSession, ctx: AuditContext, meeting: Meeting) -> None:
    await record(db, ctx, "invitation.clinic_viewed", patient_ids=[meeting.patient_id],
                 detail=f"meeting {meeting.id}")
