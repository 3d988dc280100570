"""The clinic's worklist: new or changed patient input, progress updates on action plans, unanswered GP
invitations, deadlines. It reads meetings, plans and the pathway, so it lives above those domains."""

from __future__ import annotations

from datetime import datetime, timedelta

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.acting import acting_for
from server.access.policy import CLINICIAN, LIST_PATIENTS, MANAGE_INVITATIONS, can, policy
from server.access.service import account_names
from server.audit.service import AuditContext, record
from server.db import utcnow
from server.i18n import N_, today_oslo
from server.meetings.models import Invitation, Meeting, MeetingParticipant, MeetingWishes
from server.pathway.models import Patient
from server.pathway.service import CLOSE_DAYS, deadline_state
from server.pathway.stages import deadline_label, stage
from server.plan.models import ActionPlan, MeasureUpdate
from server.web import actor, audit_ctx, flash, redirect, render

GP_ANSWER_DAYS = 7
LIMIT = 100


# An invitee's answer the clinic must deal with: a decline, another time proposed, or a moved meeting whose
# new time is not confirmed yet (the earlier answer was to the old time). It stays on the worklist until a
# clinician marks it as dealt with; a new answer or a new move puts it back.
TO_DEAL_WITH = and_(Invitation.revoked_at.is_(None), Meeting.status == "scheduled",
                    or_(Invitation.answer.in_(("declined", "proposed")),
                        and_(Invitation.answer == "pending", Invitation.answer_before_move != "")))


async def build(db: AsyncSession, ctx: AuditContext) -> dict:
    new_input = (await db.execute(
        select(MeetingWishes, Patient).join(Patient, Patient.id == MeetingWishes.patient_id)
        .where(MeetingWishes.submitted_at.is_not(None),
               or_(MeetingWishes.read_at.is_(None), MeetingWishes.read_at < MeetingWishes.submitted_at))
        .order_by(MeetingWishes.submitted_at).limit(LIMIT)
    )).all()
    progress = (await db.execute(  # (patient id, name, unread count, newest, birth date), longest waiting first
        select(Patient.id, Patient.name, func.count(MeasureUpdate.id), func.max(MeasureUpdate.at),
               Patient.birth_date)
        .join(ActionPlan, ActionPlan.patient_id == Patient.id)
        .join(MeasureUpdate, MeasureUpdate.plan_id == ActionPlan.id)
        .where(MeasureUpdate.read_at.is_(None))
        .group_by(Patient.id, Patient.name, Patient.birth_date)
        .order_by(func.min(MeasureUpdate.at), Patient.id).limit(LIMIT)
    )).all()
    waiting_gp = (await db.execute(
        select(Invitation, Meeting, Patient)
        .join(MeetingParticipant, MeetingParticipant.id == Invitation.participant_id)
        .join(Meeting, Meeting.id == MeetingParticipant.meeting_id)
        .join(Patient, Patient.id == Meeting.patient_id)
        .where(MeetingParticipant.kind == "gp", Invitation.answer == "pending", Invitation.revoked_at.is_(None),
               Invitation.created_at <= utcnow() - timedelta(days=GP_ANSWER_DAYS), Meeting.status == "scheduled")
        .order_by(Invitation.created_at).limit(LIMIT)
    )).all()
    answers = (await db.execute(  # to deal with: the new time not confirmed, a decline, another time proposed
        select(Invitation, MeetingParticipant, Meeting, Patient)
        .join(MeetingParticipant, MeetingParticipant.id == Invitation.participant_id)
        .join(Meeting, Meeting.id == MeetingParticipant.meeting_id)
        .join(Patient, Patient.id == Meeting.patient_id)
        .where(TO_DEAL_WITH, Invitation.handled_at.is_(None), Meeting.starts_at >= utcnow())
        .order_by(Meeting.starts_at, MeetingParticipant.position).limit(LIMIT)
    )).all()
    deadlines = list((await db.scalars(
        select(Patient).where(and_(Patient.next_deadline.is_not(None),
                                   Patient.next_deadline <= today_oslo() + timedelta(days=CLOSE_DAYS)))
        .order_by(Patient.next_deadline, Patient.id).limit(LIMIT)
    )).all())
    shown = {p.id for _, p in new_input} | {p.id for _, _, p in waiting_gp} | {p.id for p in deadlines} \
        | {row[3].id for row in answers} \
        | {row[0] for row in progress}
    if shown:
        await record(db, ctx, "patient.list_view", patient_ids=sorted(shown), detail="worklist", as_list=True)
    by_relative = await _relatives_updates(db, [row[0] for row in progress])
    sent_by = await account_names(db, {wishes.submitted_by_relative for wishes, _ in new_input}
                                  | {account_id for account_id, _at in by_relative.values()})
    return {"new_input": new_input, "progress": progress, "waiting_gp": waiting_gp, "deadlines": deadlines,
            "answers": answers, "sent_by": sent_by, "progress_by_relative": by_relative}


async def _relatives_updates(db: AsyncSession, patient_ids: list[int]) -> dict[int, tuple[int, datetime]]:
    """patient id -> (relative's account id, when) of the newest unread measure update a relative made for them."""
    if not patient_ids:
        return {}
    rows = (await db.execute(
        select(ActionPlan.patient_id, MeasureUpdate.by_account_id, MeasureUpdate.at)
        .join(MeasureUpdate, MeasureUpdate.plan_id == ActionPlan.id)
        .where(ActionPlan.patient_id.in_(patient_ids), MeasureUpdate.read_at.is_(None),
               MeasureUpdate.on_behalf_of.is_not(None))
        .order_by(MeasureUpdate.at, MeasureUpdate.id)
    )).all()
    return {patient_id: (account_id, at) for patient_id, account_id, at in rows}  # the newest wins


@get("/clinic/worklist", opt=policy(CLINICIAN))
async def show(request: Request, db: AsyncSession) -> Response:
    if not can(actor(request), LIST_PATIENTS):  # not one patient's data: no one to act for
        raise NotFoundException()
    context = await build(db, audit_ctx(request))
    context |= {"deadline_label": deadline_label, "deadline_state": deadline_state, "stage": stage,
                "gp_days": GP_ANSWER_DAYS}
    return render(request, "meetings/worklist.html", context)


async def mark_handled(db: AsyncSession, ctx: AuditContext, invitation: Invitation, patient_id: int) -> bool:
    """Take the invitee's current answer off the worklist, storing who and when; audited. False (nothing
    changed) when it is not an answer to deal with or was already dealt with."""
    await db.refresh(invitation, ["handled_at"], with_for_update=True)  # two clinicians at once: one marks it
    if invitation.handled_at is not None:
        return False
    invitation.handled_at, invitation.handled_by = utcnow(), ctx.account_id
    await record(db, ctx, "invitation.handled", patient_ids=[patient_id],
                 detail=f"invitation {invitation.id}: {invitation.answer or 'moved'}")
    return True


@post("/clinic/worklist/answers/{participant_id:int}/handled", opt=policy(CLINICIAN))
async def handled(request: Request, participant_id: int, db: AsyncSession) -> Response:
    row = (await db.execute(
        select(Invitation, MeetingParticipant, Meeting, TO_DEAL_WITH.label("to_deal_with"))
        .join(MeetingParticipant, MeetingParticipant.id == Invitation.participant_id)
        .join(Meeting, Meeting.id == MeetingParticipant.meeting_id)
        .where(Invitation.participant_id == participant_id)
    )).first()
    if row is None:
        raise NotFoundException()
    invitation, participant, meeting, to_deal_with = row
    acting_for(actor(request), MANAGE_INVITATIONS, meeting.patient_id)
    if to_deal_with and await mark_handled(db, audit_ctx(request), invitation, meeting.patient_id):
        flash(request, N_("The answer from %(name)s is marked as dealt with."), name=participant.name)
    return redirect(request, "/clinic/worklist#answers-heading")


ROUTES = [show, handled]
