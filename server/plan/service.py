"""The action plan, clinic side: start it, change the draft, publish versions, read patients' progress.

Optimistic locking of the draft. Every change is ONE statement:
    UPDATE action_plans SET draft=…, draft_version=draft_version+1, draft_updated_at=…, draft_updated_by=…
    WHERE id=:id AND draft_version=:expected
and a change computed from an older draft matches no row, so `save_draft` returns False and the caller
shows the conflict. Two concurrent saves of version N cannot both win: on PostgreSQL the second UPDATE
waits for the first to commit and then re-checks its WHERE against the new row (draft_version N+1);
SQLite runs one write transaction at a time (BEGIN IMMEDIATE).

Status merge on publish (`merge_statuses`): for each measure of the draft, the newest MeasureUpdate
with a status made after the previous version was published replaces the draft's status when it is
newer than the draft's last save (`draft_updated_at`); otherwise the draft's status stays (a clinician
who saved the draft later has seen the patient's update). Publishing writes the merged content back
into the draft, so the next version starts from what was published.
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from server.access.service import account_names
from server.audit.service import AuditContext, record
from server.db import utcnow
from server.i18n import N_
from server.meetings.answers import Topics
from server.meetings.answers import decode as decode_answers
from server.meetings.models import Meeting, MeetingWishes
from server.meetings.wishes import TOPICS
from server.notify import reminders
from server.notify.service import notify
from server.pathway.service import load_patient
from server.plan.models import ActionPlan, MeasureUpdate, PlanVersion

MSG_PUBLISHED = N_("Your action plan has a new version: version %(number)s.")
UPDATES_SHOWN = 50
DRAFT_COLUMNS = ["draft", "draft_version", "draft_updated_at", "draft_updated_by"]


# --- Loading --------------------------------------------------------------------------------

async def load_plan(db: AsyncSession, patient_id: int) -> ActionPlan | None:
    return await db.scalar(select(ActionPlan).options(selectinload(ActionPlan.versions))
                           .where(ActionPlan.patient_id == patient_id))


async def meeting_participants(db: AsyncSession, patient_id: int) -> list[str]:
    """Names of the participants of the patient's latest SHM that is not cancelled."""
    meeting = await db.scalar(select(Meeting).options(selectinload(Meeting.participants))
                              .where(Meeting.patient_id == patient_id, Meeting.status != "cancelled")
                              .order_by(Meeting.number.desc(), Meeting.starts_at.desc(), Meeting.id.desc()).limit(1))
    names: list[str] = []
    for participant in meeting.participants if meeting else []:
        if participant.name and participant.name not in names:
            names.append(participant.name)
    return names


def latest_version(plan: ActionPlan | None) -> PlanVersion | None:
    return plan.versions[-1] if plan and plan.versions else None


def find_measure(document: dict | None, uid: str) -> dict | None:
    return next((m for m in (document or {}).get("measures", []) if m.get("uid") == uid), None)


# --- Starting the plan ----------------------------------------------------------------------

def wished_topics(answers: dict | None) -> dict[str, Any]:
    """What the patient said matters most for SHM 1: the topics they ticked (msgids) and their own words.
    Shown beside the goal fields; never copied into goals as bare topic words."""
    topics = decode_answers(answers).topics or Topics()
    return {"suggested": [TOPICS[key] for key in topics.suggested if key in TOPICS], "text": topics.text.strip()}


async def _submitted_wishes(db: AsyncSession, patient_id: int) -> dict | None:
    wishes = await db.scalar(select(MeetingWishes).where(MeetingWishes.patient_id == patient_id,
                                                         MeetingWishes.meeting_number == 1))
    return wishes.submitted_answers if wishes is not None else None


async def start_plan(db: AsyncSession, ctx: AuditContext, patient_id: int) -> ActionPlan:
    """Create the plan with an empty draft (the goals are written with the patient, beside their topics);
    an existing plan is kept."""
    await load_patient(db, patient_id, lock=True)  # PostgreSQL: two clicks cannot both create it
    plan = await load_plan(db, patient_id)
    if plan is not None:
        return plan
    plan = ActionPlan(patient_id=patient_id, draft={"goals": [], "measures": []}, draft_version=1,
                      draft_updated_at=utcnow(), draft_updated_by=ctx.account_id, versions=[])
    db.add(plan)
    await db.flush()
    await record(db, ctx, "plan.started", patient_ids=[patient_id], detail=f"plan {plan.id}")
    return plan


# --- Changing the draft ---------------------------------------------------------------------

async def save_draft(db: AsyncSession, ctx: AuditContext, plan: ActionPlan, expected: int, draft: dict,
                     action: str | None, detail: str = "") -> bool:
    """Write `draft` if the stored draft is still at `expected`. False: someone saved meanwhile
    (the caller shows the conflict and calls `record_conflict`).

    Either way `plan` is refreshed, so the caller can show what is stored now."""
    result = await db.execute(
        update(ActionPlan).where(ActionPlan.id == plan.id, ActionPlan.draft_version == expected)
        .values(draft=draft, draft_version=ActionPlan.draft_version + 1, draft_updated_at=utcnow(),
                draft_updated_by=ctx.account_id)
        .execution_options(synchronize_session=False))
    await db.refresh(plan, DRAFT_COLUMNS)
    if result.rowcount != 1:
        return False
    if action:
        await record(db, ctx, action, patient_ids=[plan.patient_id], detail=detail or f"plan {plan.id}")
    return True


async def viewed(db: AsyncSession, ctx: AuditContext, patient_id: int, plan: ActionPlan | None,
                 what: str = "") -> None:
    """An audited read of the plan (or of its absence) by the clinic; `what`: the part shown."""
    detail = (f"plan {plan.id} {what}" if what else f"plan {plan.id}") if plan is not None else "no plan"
    await record(db, ctx, "plan.viewed", patient_ids=[patient_id], detail=detail)


async def refuse_save(db: AsyncSession, ctx: AuditContext, plan: ActionPlan, what: str) -> None:
    """A save refused by the form's rules: audited, nothing stored."""
    await record(db, ctx, "plan.save_refused", patient_ids=[plan.patient_id], outcome="refused",
                 detail=f"plan {plan.id} {what}")


async def record_conflict(db: AsyncSession, ctx: AuditContext, plan: ActionPlan, what: str) -> None:
    await record(db, ctx, "plan.save_conflict", patient_ids=[plan.patient_id], outcome="refused",
                 detail=f"plan {plan.id} {what}")


def with_goals(draft: dict, goals: list[dict]) -> dict:
    """New goals; measures pointing at a removed goal point at none."""
    new = copy.deepcopy(draft)
    new["goals"] = goals
    uids = {g["uid"] for g in goals}
    for measure in new.setdefault("measures", []):
        if measure.get("goal") not in uids:
            measure["goal"] = ""
    return new


def with_measure(draft: dict, measure: dict) -> dict:
    """Replace the measure with the same uid, or add it at the end."""
    new = copy.deepcopy(draft)
    measures = new.setdefault("measures", [])
    for i, existing in enumerate(measures):
        if existing.get("uid") == measure["uid"]:
            measures[i] = measure
            return new
    measures.append(measure)
    return new


def without_measure(draft: dict, uid: str) -> dict:
    new = copy.deepcopy(draft)
    new["measures"] = [m for m in new.get("measures", []) if m.get("uid") != uid]
    return new


def with_evaluations(draft: dict, evaluations: dict[str, dict | None]) -> dict:
    """Store each evaluation on the draft's measure; a dropped measure gets the status "ended"."""
    new = copy.deepcopy(draft)
    for measure in new.get("measures", []):
        if measure.get("uid") in evaluations:
            evaluation = evaluations[measure["uid"]]
            measure["evaluation"] = evaluation
            if evaluation and evaluation["outcome"] == "dropped":
                measure["status"] = "ended"
    return new


# --- Publishing -----------------------------------------------------------------------------

async def status_updates_since(db: AsyncSession, plan_id: int, since: datetime | None) -> list[MeasureUpdate]:
    query = select(MeasureUpdate).where(MeasureUpdate.plan_id == plan_id, MeasureUpdate.status.is_not(None))
    if since is not None:
        query = query.where(MeasureUpdate.at > since)
    return list((await db.scalars(query.order_by(MeasureUpdate.at, MeasureUpdate.id))).all())


def merge_statuses(draft: dict, updates: list[MeasureUpdate], draft_saved_at: datetime) -> dict:
    """A deep copy of the draft with newer status updates merged in (the rule: see the module docstring)."""
    content = copy.deepcopy(draft)
    newest: dict[str, MeasureUpdate] = {}
    for item in updates:  # oldest first: the last one per measure wins
        newest[item.measure_uid] = item
    for measure in content.get("measures", []):
        item = newest.get(measure.get("uid"))
        if item is not None and item.at > draft_saved_at:
            measure["status"] = item.status
    return content


def open_due_dates(content: dict) -> dict[str, date]:
    """Measures with a date that are not done or ended: uid -> due date (for the reminders)."""
    result = {}
    for measure in content.get("measures", []):
        if measure.get("due") and measure.get("status") not in ("done", "ended"):
            try:
                result[measure["uid"]] = date.fromisoformat(measure["due"])
            except (KeyError, ValueError):
                continue
    return result


async def publish(db: AsyncSession, ctx: AuditContext, plan: ActionPlan, expected: int, label: str,
                  change_note: str) -> PlanVersion | None:
    """Publish the draft as the next version and tell the patient. None: the draft changed meanwhile."""
    previous = latest_version(plan)
    updates = await status_updates_since(db, plan.id, previous.published_at if previous else None)
    content = merge_statuses(plan.draft, updates, plan.draft_updated_at)
    next_draft = copy.deepcopy(content)
    if label == "shm2":  # the evaluations belong to the SHM 2 version; the next round starts without them
        for measure in next_draft.get("measures", []):
            measure["evaluation"] = None
    if not await save_draft(db, ctx, plan, expected, next_draft, None):
        return None
    number = (await db.scalar(select(func.max(PlanVersion.number)).where(PlanVersion.plan_id == plan.id)) or 0) + 1
    version = PlanVersion(plan_id=plan.id, number=number, label=label, published_at=utcnow(),
                          published_by=ctx.account_id, change_note=change_note, content=content)
    db.add(version)
    await db.flush()
    await db.refresh(plan, ["versions"])
    note = await notify(db, plan.patient_id, MSG_PUBLISHED, link="/plan", number=str(number))
    await reminders.plan_published(db, patient_id=plan.patient_id, plan_id=plan.id, number=number,
                                   notification_id=note.id, message=MSG_PUBLISHED, due_dates=open_due_dates(content))
    await record(db, ctx, "plan.published", patient_ids=[plan.patient_id], detail=f"plan {plan.id} version {number}")
    return version


# --- Progress from patients -----------------------------------------------------------------

async def progress_updates(db: AsyncSession, plan_id: int) -> list[MeasureUpdate]:
    """Newest first."""
    return list((await db.scalars(select(MeasureUpdate).where(MeasureUpdate.plan_id == plan_id)
                                  .order_by(MeasureUpdate.at.desc(), MeasureUpdate.id.desc())
                                  .limit(UPDATES_SHOWN))).all())


async def mark_updates_read(db: AsyncSession, ctx: AuditContext, plan: ActionPlan) -> int:
    result = await db.execute(update(MeasureUpdate)
                              .where(MeasureUpdate.plan_id == plan.id, MeasureUpdate.read_at.is_(None))
                              .values(read_at=utcnow(), read_by=ctx.account_id)
                              .execution_options(synchronize_session=False))
    await record(db, ctx, "plan.updates_read", patient_ids=[plan.patient_id], detail=f"plan {plan.id}")
    return result.rowcount


def measure_titles(plan: ActionPlan) -> dict[str, str]:
    """uid -> title, from the published versions and then the draft (the newest title wins)."""
    titles: dict[str, str] = {}
    for document in [v.content for v in plan.versions] + [plan.draft]:
        for measure in (document or {}).get("measures", []):
            titles[measure.get("uid", "")] = measure.get("title", "")
    return titles


async def workspace(db: AsyncSession, ctx: AuditContext, plan: ActionPlan) -> dict[str, Any]:
    """What the workspace shows besides the draft: versions, progress updates, who did what."""
    updates = await progress_updates(db, plan.id)
    names = await account_names(db, {plan.draft_updated_by} | {v.published_by for v in plan.versions}
                                | {u.by_account_id for u in updates})
    topics = wished_topics(await _submitted_wishes(db, plan.patient_id))
    await record(db, ctx, "plan.viewed", patient_ids=[plan.patient_id], detail=f"plan {plan.id}")
    return {"updates": updates, "unread": sum(1 for u in updates if u.read_at is None), "names": names,
            "titles": measure_titles(plan), "wished_topics": topics}
