"""The patient's home page: what to do now, the next meeting, the action plan, then where they are.

Everything shown is derived from the data (wishes, meetings, the published plan), so nothing on the
page can contradict it: no "the plan will be made at SHM 1" once a plan exists, no meeting link
without a meeting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from sqlalchemy import and_, bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from server import json_rows
from server.access.acting import acting_for
from server.access.policy import PATIENT_SIDE, RESEARCH_ANSWER, VIEW_PATIENT, can, policy
from server.db import utcnow
from server.i18n import N_, today_oslo
from server.json_rows import json_array, json_object
from server.meetings import scheduling
from server.meetings import wishes as wishes_service
from server.meetings.models import Meeting, MeetingWishes
from server.pathway import service
from server.pathway.models import Patient, StageEvent
from server.pathway.stages import stage
from server.plan import view as plan_view
from server.plan.forms import STATUS_LABELS
from server.research import service as research
from server.research.models import ResearchEvent
from server.web import actor, audit_ctx, render

WISHES_STAGES = (3, 4)  # the patient tells who should come during the invitation and the assessment
DUE_SOON = timedelta(days=14)  # a measure due within two weeks (or overdue) is something to do now
OPEN_STATUSES = ("planned", "in_progress", "paused")


@dataclass(frozen=True)
class Action:
    """The one thing the patient should do now: a primary button."""

    label: str  # msgid with %(title)s
    href: str
    title: str = ""


def _wishes_action(patient_stage: int, wishes_state: str, meeting_planned: bool) -> Action | None:
    if patient_stage not in WISHES_STAGES or meeting_planned:
        return None
    if wishes_state in ("none", "draft"):
        return Action(N_("Tell us who should come"), "/meeting/wishes")
    if wishes_state == "changed_unsent":
        return Action(N_("Send your changed wishes"), "/meeting/wishes")
    return None


def _due_measure(view: plan_view.PlanView | None, today: date) -> plan_view.MeasureView | None:
    if view is None:
        return None
    due = [m for m in view.own if m.status in OPEN_STATUSES and m.due and m.due <= today + DUE_SOON]
    return min(due, key=lambda m: m.due) if due else None


async def _answer_action(db: AsyncSession, request: Request, patient_id: int, asked: bool = True) -> Action | None:
    """Something the patient must answer: the clinic's request after a held meeting (server/research), the one
    question in the data model that waits for the patient's own answer. The patient's own: a relative acting
    for them never sees it (policy RESEARCH_ANSWER), and the wording stays as discreet as the inbox's.
    `asked` False: the patient was never sent a request (read with the patient), so none can be open."""
    if not asked or not can(actor(request), RESEARCH_ANSWER, patient_id):
        return None
    waiting = await research.open_request(db, patient_id)
    return Action(N_("Answer the request from the pain clinic"), f"/research/meetings/{waiting.meeting_id}") \
        if waiting else None


def _confirmed(meeting: Meeting) -> list[str]:
    return [p.name for p in meeting.participants if scheduling.answer_of(p) == "accepted"]


# The home page's one read: the patient, their wishes for SHM 1, whether the clinic ever sent them a research
# request (most never were: then the requests are not read), and as JSON columns of the same row
# (server/json_rows) the stage history, the scheduled meetings with participants and invitations, the plan's
# latest version and its updates. On PostgreSQL each statement costs its round trip (docs/performance.md).
_ASKED = exists().where(ResearchEvent.patient_id == Patient.id, ResearchEvent.kind == "asked").label("asked")
_EVENTS_JSON = select(json_array(json_object(StageEvent))).where(StageEvent.patient_id == Patient.id).scalar_subquery()
_HOME_READ = (select(Patient, MeetingWishes, _ASKED, _EVENTS_JSON.label("events"),
                     scheduling.SCHEDULED_JSON.label("meetings"), plan_view.LATEST_VERSION_JSON.label("version"),
                     plan_view.UPDATES_JSON.label("updates"))
              .outerjoin(MeetingWishes, and_(MeetingWishes.patient_id == Patient.id, MeetingWishes.meeting_number == 1))
              .where(Patient.id == bindparam("patient_id")))


@dataclass
class HomeData:
    patient: Patient  # with its stage history (`events`) as `pathway.acting.patient_for` loads it
    wishes: MeetingWishes | None
    research_asked: bool
    meetings: list[Meeting]  # scheduled, with participants and invitations (transient: for reading)
    plan_version: dict | None  # JSON values for plan_view.read_loaded
    plan_updates: list | None


async def _home_data(db: AsyncSession, request: Request) -> HomeData:
    """What the home page shows of the patient this request acts for (decided by `acting_for`: 404 unless
    allowed to view them), from one statement."""
    row = (await db.execute(_HOME_READ, {"patient_id": acting_for(actor(request), VIEW_PATIENT)})).first()
    if row is None:
        raise NotFoundException()
    patient = row.Patient
    set_committed_value(patient, "events", sorted(json_rows.objects(StageEvent, row.events), key=lambda e: e.id))
    return HomeData(patient, row.MeetingWishes, bool(row.asked), scheduling.scheduled_from_json(row.meetings),
                    row.version, row.updates)


async def home_context(db: AsyncSession, request: Request, data: HomeData,
                       now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    ctx = audit_ctx(request)
    patient = data.patient
    wishes_state = wishes_service.state_of(data.wishes)
    # The coming meetings (with who has confirmed) and the held ones (the last one's number and date): the
    # page shows no agenda, topics or change history.
    upcoming, held = await scheduling.upcoming_and_held(db, ctx, patient.id, data.meetings, now)
    view = await plan_view.read_loaded(db, ctx, patient.id, data.plan_version, data.plan_updates,
                                       action="plan.home_viewed")
    next_item = upcoming[0] if upcoming else None
    actions = []
    if next_item and next_item["join"].state == "open" and next_item["meeting"].video_link:
        actions.append(Action(N_("Join the meeting"), next_item["meeting"].video_link))
    wishes_action = _wishes_action(patient.stage, wishes_state, bool(upcoming))
    if wishes_action:
        actions.append(wishes_action)
    answer = await _answer_action(db, request, patient.id, data.research_asked)
    if answer:
        actions.append(answer)
    due = _due_measure(view, today_oslo())
    if due:
        actions.append(Action(N_("Tell us how it is going: %(title)s"), f"/plan#measure-{due.uid}", due.title))
    return {
        "patient": patient,
        "current": stage(patient.stage),
        "timeline": service.timeline(patient),
        "deadline": service.deadline_for(patient) if not upcoming and patient.stage < 9 else None,
        "action": actions[0] if actions else None,
        "wishes_state": wishes_state,
        "wishes_open": patient.stage <= 6,
        "next": next_item,
        "confirmed": _confirmed(next_item["meeting"]) if next_item else [],
        "last_held": max(held, key=lambda m: m.starts_at) if held else None,
        "plan": view,
        "plan_updated": view is not None and view.version.number > 1,
        "status_labels": STATUS_LABELS,
    }


@get("/home", opt=policy(PATIENT_SIDE))
async def home(request: Request, db: AsyncSession) -> Response:
    data = await _home_data(db, request)
    await service.view_patient(db, audit_ctx(request), data.patient, "patient.home_viewed")
    return render(request, "pathway/home.html", await home_context(db, request, data))


ROUTES = [home]
