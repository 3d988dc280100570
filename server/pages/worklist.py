"""The clinic's worklist: new or changed patient input, progress updates on action plans, unanswered GP
invitations, deadlines. It reads meetings, plans and the pathway, so it lives above those domains."""

from __future__ import annotations

from datetime import timedelta

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from server.access.policy import CLINICIAN, LIST_PATIENTS, can, policy
from server.access.service import account_names
from server.audit.service import AuditContext, record
from server.db import utcnow
from server.i18n import today_oslo
from server.meetings.models import Invitation, Meeting, MeetingParticipant, MeetingWishes
from server.pathway.models import Patient
from server.pathway.service import CLOSE_DAYS, deadline_for, deadline_state
from server.pathway.stages import stage
from server.plan.models import ActionPlan, MeasureUpdate
from server.web import actor, audit_ctx, render

GP_ANSWER_DAYS = 7
LIMIT = 100


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
        .where(Invitation.revoked_at.is_(None), Meeting.status == "scheduled", Meeting.starts_at >= utcnow(),
               or_(Invitation.answer.in_(("declined", "proposed")),
                   and_(Invitation.answer == "pending", Invitation.answer_before_move != "")))
        .order_by(Meeting.starts_at, MeetingParticipant.position).limit(LIMIT)
    )).all()
    deadlines = list((await db.scalars(
        select(Patient).options(selectinload(Patient.events)).where(and_(Patient.next_deadline.is_not(None),
                                   Patient.next_deadline <= today_oslo() + timedelta(days=CLOSE_DAYS)))
        .order_by(Patient.next_deadline, Patient.id).limit(LIMIT)
    )).all())
    shown = {p.id for _, p in new_input} | {p.id for _, _, p in waiting_gp} | {p.id for p in deadlines} \
        | {row[3].id for row in answers} \
        | {row[0] for row in progress}
    if shown:
        await record(db, ctx, "patient.list_view", patient_ids=sorted(shown), detail="worklist", as_list=True)
    sent_by = await account_names(db, {wishes.submitted_by_relative for wishes, _ in new_input})
    return {"new_input": new_input, "progress": progress, "waiting_gp": waiting_gp, "deadlines": deadlines,
            "answers": answers, "sent_by": sent_by}


@get("/clinic/worklist", opt=policy(CLINICIAN))
async def show(request: Request, db: AsyncSession) -> Response:
    if not can(actor(request), LIST_PATIENTS):  # not one patient's data: no one to act for
        raise NotFoundException()
    context = await build(db, audit_ctx(request))
    context |= {"deadline_for": deadline_for, "deadline_state": deadline_state, "stage": stage,
                "gp_days": GP_ANSWER_DAYS}
    return render(request, "meetings/worklist.html", context)


ROUTES = [show]
