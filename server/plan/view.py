"""The patient's side of the action plan: reading published versions, and status and notes on
their own measures. Only the patient's own plan is ever loaded here (by their patient id)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import json_rows
from server.access.service import account_names
from server.audit.service import AuditContext, record
from server.dates import stored_date
from server.forms import Form, choice, text
from server.i18n import N_
from server.json_rows import json_array, json_object
from server.notify import reminders
from server.pathway.models import Patient
from server.plan.document import Goal, Measure, decode
from server.plan.forms import OUTCOME_LABELS, STATUS_LABELS  # noqa: F401 - the clinic's labels, re-used here
from server.plan.models import STATUSES, ActionPlan, MeasureUpdate, PlanVersion
from server.plan.service import load_plan  # noqa: F401

NOTE_MAX = 1000
NOTES_SHOWN = 3

RESPONSIBLE_LABELS = {"patient": N_("You"), "gp": N_("Your GP"), "clinic": N_("The pain clinic"), "nav": N_("NAV"),
                      "participant": N_("Another participant in the meeting")}
VERSION_LABELS = {"shm1": N_("Collaboration meeting 1"), "update": N_("Update between the meetings"),
                  "shm2": N_("Collaboration meeting 2")}
FIELD_LABELS = {"title": N_("Measure"), "description": N_("Description"), "responsible": N_("Who is responsible"),
                "participant": N_("Participant"), "goal": N_("Goal"), "start": N_("Start"), "due": N_("Due date"),
                "timeframe": N_("Timeframe"), "status": N_("Status")}
GROUP_ORDER = ("gp", "clinic", "nav", "participant")





@dataclass
class MeasureView:
    uid: str
    title: str
    description: str
    responsible: str
    participant: str
    goal: str  # the goal's text
    start: date | None
    due: date | None
    timeframe: str
    status: str
    notes: list[MeasureUpdate] = field(default_factory=list)  # the patient's latest notes, newest first
    status_update: MeasureUpdate | None = None  # the update that set the current status (None: the version's)

    @property
    def own(self) -> bool:
        return self.responsible == "patient"


@dataclass
class Group:
    responsible: str
    participant: str
    measures: list[MeasureView]


@dataclass
class PlanView:
    version: PlanVersion
    goals: list[Goal]
    measures: list[MeasureView]
    # Updates a relative made for the patient: the relatives' names (account id -> name) and the patient's.
    relative_names: dict[int, str] = field(default_factory=dict)
    patient_name: str = ""

    @property
    def own(self) -> list[MeasureView]:
        return [m for m in self.measures if m.own]

    @property
    def groups(self) -> list[Group]:
        """The others' measures grouped by who is responsible: GP, clinic, NAV, then named participants."""
        groups: dict[tuple[str, str], Group] = {}
        for measure in self.measures:
            if measure.own:
                continue
            kind = measure.responsible if measure.responsible in GROUP_ORDER else "participant"
            name = measure.participant if kind == "participant" else ""
            groups.setdefault((kind, name), Group(kind, name, [])).measures.append(measure)
        return sorted(groups.values(), key=lambda g: GROUP_ORDER.index(g.responsible))

    @property
    def ordered(self) -> list[MeasureView]:
        """The patient's own measures, then the others' by group: the order of the plan page."""
        return self.own + [m for group in self.groups for m in group.measures]

    def measure(self, uid: str) -> MeasureView | None:
        return next((m for m in self.measures if m.uid == uid), None)


# --- Reading ------------------------------------------------------------------------------------

def published(plan: ActionPlan | None) -> list[PlanVersion]:
    return sorted(plan.versions, key=lambda v: v.number) if plan else []


def version_by_number(plan: ActionPlan | None, number: int) -> PlanVersion | None:
    return next((v for v in published(plan) if v.number == number), None)


# Built once (the plan's current view for the patient's own updates: `current_view`).
_UPDATES = (select(MeasureUpdate).where(MeasureUpdate.plan_id == bindparam("plan_id"))
            .order_by(MeasureUpdate.at, MeasureUpdate.id))


async def _updates(db: AsyncSession, plan_id: int) -> list[MeasureUpdate]:
    return list(await db.scalars(_UPDATES, {"plan_id": plan_id}))


def status_update(measure: Measure, version: PlanVersion, updates: list[MeasureUpdate]) -> MeasureUpdate | None:
    """The latest update that set the measure's status after the version was published."""
    return next((u for u in reversed(updates)
                 if u.measure_uid == measure.uid and u.status and u.at > version.published_at), None)


def current_status(measure: Measure, version: PlanVersion, updates: list[MeasureUpdate]) -> str:
    """The latest status set on the measure after the version was published, else the version's own."""
    latest = status_update(measure, version, updates)
    return latest.status if latest else measure.status or "planned"


def build_view(version: PlanVersion, updates: list[MeasureUpdate]) -> PlanView:
    document = decode(version.content)
    measures = []
    for raw in document.measures:
        notes = [u for u in reversed(updates) if u.measure_uid == raw.uid and u.by_role == "patient" and u.note]
        measures.append(MeasureView(
            uid=raw.uid, title=raw.title, description=raw.description, responsible=raw.responsible,
            participant=raw.participant, goal=document.goal_text(raw.goal), start=stored_date(raw.start),
            due=stored_date(raw.due), timeframe=raw.timeframe, status=current_status(raw, version, updates),
            notes=notes[:NOTES_SHOWN], status_update=status_update(raw, version, updates)))
    return PlanView(version, document.goals, measures)


async def _with_relatives(db: AsyncSession, view: PlanView, patient_id: int, updates: list[MeasureUpdate]) -> PlanView:
    """The names an update by a relative is shown with ("Registered by Ola (relative) for Kari"); no query
    when no relative has updated the plan."""
    by_relative = {u.by_account_id for u in updates if u.on_behalf_of is not None}
    if by_relative:
        view.relative_names = await account_names(db, by_relative)
        view.patient_name = await db.scalar(select(Patient.name).where(Patient.id == patient_id)) or ""
    return view


async def _view_of(db: AsyncSession, version: PlanVersion, patient_id: int,
                   updates: list[MeasureUpdate] | None = None) -> PlanView:
    """A published version as the pages show it: its measures with the patient's updates (read here unless
    given), and the names of any relative who made one."""
    if updates is None:
        updates = await _updates(db, version.plan_id)
    return await _with_relatives(db, build_view(version, updates), patient_id, updates)


async def current_view(db: AsyncSession, patient_id: int) -> tuple[ActionPlan | None, PlanView | None]:
    plan = await load_plan(db, patient_id)
    versions = published(plan)
    if not versions:
        return plan, None
    return plan, await _view_of(db, versions[-1], patient_id)


# The latest published version and the plan's updates as JSON values (server/json_rows), columns of a statement
# that selects the patient: the home page's one read, and `_PLAN_READ` (the plan page's). `read_loaded` reads
# them.
LATEST_VERSION_JSON = (select(json_object(PlanVersion)).join(ActionPlan, ActionPlan.id == PlanVersion.plan_id)
                       .where(ActionPlan.patient_id == Patient.id).order_by(PlanVersion.number.desc()).limit(1)
                       .scalar_subquery())
UPDATES_JSON = (select(json_array(json_object(MeasureUpdate))).join(ActionPlan, ActionPlan.id == MeasureUpdate.plan_id)
                .where(ActionPlan.patient_id == Patient.id).scalar_subquery())
_PLAN_READ = select(LATEST_VERSION_JSON.label("version"), UPDATES_JSON.label("updates")).where(
    Patient.id == bindparam("patient_id"))


async def read_current(db: AsyncSession, ctx: AuditContext, patient_id: int,
                       action: str = "plan.viewed") -> PlanView | None:
    """The latest published version as the pages show it (one statement), audited as `action`."""
    row = (await db.execute(_PLAN_READ, {"patient_id": patient_id})).first()
    return await read_loaded(db, ctx, patient_id, row.version if row else None, row.updates if row else None, action)


async def read_loaded(db: AsyncSession, ctx: AuditContext, patient_id: int, version_json: dict | None,
                      updates_json: list | None, action: str) -> PlanView | None:
    """`read_current` of the values LATEST_VERSION_JSON and UPDATES_JSON gave (transient objects, for reading)."""
    version = json_rows.one(PlanVersion, version_json)
    updates = sorted(json_rows.objects(MeasureUpdate, updates_json), key=lambda u: (u.at, u.id))
    return await _read(db, ctx, patient_id, version, updates, action)


async def _read(db: AsyncSession, ctx: AuditContext, patient_id: int, version: PlanVersion | None,
                updates: list[MeasureUpdate], action: str) -> PlanView | None:
    view = await _view_of(db, version, patient_id, updates) if version else None
    detail = f"version {view.version.number}" if view else "no version"
    await record(db, ctx, action, patient_ids=[patient_id], detail=detail)
    return view


async def read_history(db: AsyncSession, ctx: AuditContext, patient_id: int) -> list[PlanVersion]:
    versions = published(await load_plan(db, patient_id))
    await record(db, ctx, "plan.history_viewed", patient_ids=[patient_id])
    return versions


def default_pair(versions: list[PlanVersion]) -> tuple[int, int]:
    """SHM 1's version (else the first) against the latest."""
    first = next((v for v in versions if v.label == "shm1"), versions[0])
    return first.number, versions[-1].number


# --- The patient's own measures ----------------------------------------------------------------

async def own_measure(db: AsyncSession, patient_id: int, uid: str) -> tuple[ActionPlan, PlanView] | None:
    """The current plan, if `uid` is one of the patient's own measures in its latest version."""
    plan, view = await current_view(db, patient_id)
    if plan is None or view is None:
        return None
    measure = view.measure(uid)
    if measure is None or not measure.own:
        return None
    return plan, view


class StatusForm(Form):
    status = choice(STATUSES, N_("Choose a status."))


class NoteForm(Form):
    note = text(required=N_("Write how it is going."), max=NOTE_MAX, multiline=True)


class MeasureForm(Form):
    """The measure's one form: status and note together, so neither is lost when the other is saved."""

    status = choice(STATUSES, N_("Choose a status."), required=False)
    note = text(max=NOTE_MAX, multiline=True)


def read_update(kind: str, data: Any, uid: str, locale: str) -> tuple[dict, dict]:
    """(cleaned answers, errors keyed by the field's id in the page, e.g. "status-m-1") of a status, a note
    or both (`kind` "measure")."""
    forms = {"status": StatusForm, "note": NoteForm, "measure": MeasureForm}
    form = forms[kind](data, locale=locale)
    form.validate()
    return form.cleaned, form.errors_with_suffix(uid)


async def refuse_update(db: AsyncSession, ctx: AuditContext, patient_id: int, uid: str) -> None:
    """Not the patient's own measure in the current version (or not theirs at all): audited, nothing stored."""
    await record(db, ctx, "plan.measure_update_refused", patient_ids=[patient_id], outcome="refused",
                 detail=f"measure {uid[:40]}")


async def read_comparison(db: AsyncSession, ctx: AuditContext, patient_id: int, older: PlanVersion,
                          newer: PlanVersion) -> None:
    """The patient compares two versions: an audited read."""
    await record(db, ctx, "plan.compared", patient_ids=[patient_id], detail=f"version {older.number} to {newer.number}")


async def save_update(db: AsyncSession, ctx: AuditContext, plan: ActionPlan, uid: str, *,
                      status: str | None = None, note: str = "") -> MeasureUpdate:
    update = MeasureUpdate(plan_id=plan.id, measure_uid=uid, by_account_id=ctx.account_id, by_role="patient",
                           on_behalf_of=ctx.on_behalf_of, status=status, note=note)
    db.add(update)
    await db.flush()
    await reminders.measure_status_changed(db, plan_id=plan.id, uid=uid, status=status)
    actions = (["plan.measure_status_changed"] if status else []) + (["plan.measure_note_added"] if note else [])
    for action in actions:
        await record(db, ctx, action, patient_ids=[plan.patient_id], detail=f"measure {uid} update {update.id}")
    return update
