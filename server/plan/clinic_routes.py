"""The clinic's action plan: workspace, goals, measures, SHM 2 evaluation, publishing, patients' progress.

Every draft form carries `draft_version`; a stale one gets the conflict page (422, so htmx swaps it too)
with what was submitted beside what was saved meanwhile. Rules and locking: plan/service.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.policy import CLINICIAN, EDIT_PLAN, VIEW_PLAN, policy
from server.i18n import N_
from server.pathway.acting import patient_for
from server.pathway.models import Patient
from server.plan import forms, service
from server.plan.models import ActionPlan
from server.web import actor, audit_ctx, flash, locale, redirect, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
BASE = "/clinic/patients/{patient_id:int}/plan"
LABELS = {"responsible": forms.RESPONSIBLE_LABELS, "status": forms.STATUS_LABELS, "outcome": forms.OUTCOME_LABELS,
          "version": forms.VERSION_LABEL_NAMES}


def _home(patient_id: int) -> str:
    return f"/clinic/patients/{patient_id}/plan"


async def _load(request: Request, db: AsyncSession, patient_id: int,
                action: str = EDIT_PLAN) -> tuple[Patient, ActionPlan | None]:
    patient = await patient_for(db, actor(request), action, patient_id)
    return patient, await service.load_plan(db, patient_id)


async def _plan(request: Request, db: AsyncSession, patient_id: int) -> tuple[Patient, ActionPlan]:
    """The patient and their plan; no plan yet (only reachable by a typed URL) is a 404."""
    patient, plan = await _load(request, db, patient_id)
    if plan is None:
        raise NotFoundException()
    return patient, plan


async def _conflict(request: Request, db: AsyncSession, plan: ActionPlan, what: str, **extra: Any) -> dict[str, Any]:
    """Audit the refused save; who saved the draft meanwhile, and when (the plan is refreshed by then)."""
    await service.record_conflict(db, audit_ctx(request), plan, what)
    names = await service.account_names(db, {plan.draft_updated_by})
    return {"by": names.get(plan.draft_updated_by or 0, ""), "at": plan.draft_updated_at} | extra


async def _refused(request: Request, db: AsyncSession, plan: ActionPlan, what: str) -> None:
    await service.refuse_save(db, audit_ctx(request), plan, what)


def _context(patient: Patient, plan: ActionPlan | None, **extra: Any) -> dict[str, Any]:
    return {"patient": patient, "plan": plan, "labels": LABELS, "status_labels": forms.STATUS_LABELS,
            "responsible_labels": forms.RESPONSIBLE_LABELS} | extra


# --- The workspace ----------------------------------------------------------------------------

async def _workspace(request: Request, db: AsyncSession, patient: Patient, plan: ActionPlan | None, *,
                     errors: dict | None = None,
                     goals: list | None = None, goals_version: Any = None, publish: dict | None = None,
                     conflict: dict | None = None, missing: list | None = None, status: int = 200) -> Response:
    if plan is None:
        await service.viewed(db, audit_ctx(request), patient.id, None)
        return render(request, "plan/clinic_plan.html", _context(patient, None, errors={}), status=status)
    published = [v.label for v in plan.versions]
    context = await service.workspace(db, audit_ctx(request), plan)
    context |= {"errors": errors or {}, "conflict": conflict, "missing": missing or [],
                "goal_rows": goals or forms.goal_rows(plan.draft.get("goals", [])),
                "goals_version": plan.draft_version if goals_version is None else goals_version,
                "publish_form": publish or forms.publish_form(published, plan.draft_version),
                "allowed_labels": forms.allowed_labels(published),
                "goal_text": {g["uid"]: g["text"] for g in plan.draft.get("goals", [])}}
    return render(request, "plan/clinic_plan.html", _context(patient, plan, **context), status=status)


@get(BASE, opt=policy(CLINICIAN))
async def show(request: Request, patient_id: int, db: AsyncSession) -> Response:
    patient, plan = await _load(request, db, patient_id, VIEW_PLAN)
    return await _workspace(request, db, patient, plan)


@post(BASE + "/start", opt=policy(CLINICIAN))
async def start(request: Request, patient_id: int, db: AsyncSession) -> Response:
    await _load(request, db, patient_id)
    await service.start_plan(db, audit_ctx(request), patient_id)
    flash(request, N_("The plan is started. Write the goals with the patient: what they said matters most is "
                      "shown beside the goals."))
    return redirect(request, _home(patient_id))


@post(BASE + "/goals", opt=policy(CLINICIAN))
async def save_goals(request: Request, patient_id: int, data: Form, db: AsyncSession) -> Response:
    patient, plan = await _plan(request, db, patient_id)
    goals = forms.GoalsForm(data, locale=locale(request))
    rows, version, errors = goals.rows(), goals.clean("draft_version"), goals.check()
    conflict = None
    if forms.stale(version, plan.draft_version):
        conflict = await _conflict(request, db, plan, "goals", yours=[r["text"] for r in rows if r["text"]])
    elif not errors:
        draft = service.with_goals(plan.draft, forms.to_goals(rows))
        if await service.save_draft(db, audit_ctx(request), plan, int(version), draft, "plan.goals_saved"):
            flash(request, N_("The goals are saved."))
            return redirect(request, _home(patient_id))
        conflict = await _conflict(request, db, plan, "goals", yours=[r["text"] for r in rows if r["text"]])
    if conflict:
        errors = {"conflict": forms.CONFLICT} | errors
        version = str(plan.draft_version)  # saving again is a deliberate choice after comparing
    else:
        await _refused(request, db, plan, "goals")
    return await _workspace(request, db, patient, plan, errors=errors, goals=rows, goals_version=version,
                            conflict=conflict, status=422)


@post(BASE + "/publish", opt=policy(CLINICIAN))
async def publish(request: Request, patient_id: int, data: Form, db: AsyncSession) -> Response:
    patient, plan = await _plan(request, db, patient_id)
    checked = forms.PublishForm(data, locale=locale(request))
    form = checked.cleaned
    labels = [v.label for v in plan.versions]
    previous = service.latest_version(plan)
    errors, missing = checked.check(labels, plan.draft, previous.content if previous else None)
    conflict = None
    if forms.stale(form["draft_version"], plan.draft_version):
        conflict = await _conflict(request, db, plan, "publish")
    elif not errors:
        version = await service.publish(db, audit_ctx(request), plan, int(form["draft_version"]),
                                        form["label"], form["change_note"])
        if version is not None:
            flash(request, N_("Version %(number)s of the plan is published. The patient has been told."),
                  number=str(version.number))
            return redirect(request, _home(patient_id))
        conflict = await _conflict(request, db, plan, "publish")
    if conflict:
        errors = {"conflict": N_("The draft was changed while you had this page open. Check the draft below, "
                                 "then publish again.")} | errors
        form["draft_version"] = str(plan.draft_version)
    else:
        await _refused(request, db, plan, "publish")
    return await _workspace(request, db, patient, plan, errors=errors, publish=form, conflict=conflict,
                            missing=missing, status=422)


@post(BASE + "/updates/read", opt=policy(CLINICIAN))
async def updates_read(request: Request, patient_id: int, db: AsyncSession) -> Response:
    _, plan = await _plan(request, db, patient_id)
    await service.mark_updates_read(db, audit_ctx(request), plan)
    flash(request, N_("The progress updates are marked as read."))
    return redirect(request, _home(patient_id))


# --- Measures ---------------------------------------------------------------------------------

async def _measure_page(request: Request, db: AsyncSession, patient: Patient, plan: ActionPlan, form: dict, *,
                        uid: str | None = None,
                        errors: dict | None = None, conflict: dict | None = None, status: int = 200) -> Response:
    participants = await service.meeting_participants(db, patient.id)
    context = _context(patient, plan, form=form, uid=uid, errors=errors or {}, conflict=conflict,
                       participants=participants, goals=plan.draft.get("goals", []))
    return render(request, "plan/clinic_measure.html", context, status=status)


async def _save_measure(request: Request, db: AsyncSession, patient: Patient, plan: ActionPlan, data: Any, uid: str,
                        adding: bool) -> Response:
    """Adding is made against the draft as it is now (it overwrites nothing); editing needs a fresh form."""
    checked = forms.MeasureForm(data, locale=locale(request))
    form = checked.cleaned
    errors = checked.check([g["uid"] for g in plan.draft.get("goals", [])],
                           await service.meeting_participants(db, patient.id))
    expected = str(plan.draft_version) if adding else form["draft_version"]
    lost = forms.stale(expected, plan.draft_version)
    if not lost and not errors:
        current = service.find_measure(plan.draft, uid)
        measure = forms.to_measure(form, uid, (current or {}).get("evaluation"))
        if await service.save_draft(db, audit_ctx(request), plan, int(expected),
                                    service.with_measure(plan.draft, measure), "plan.measure_saved",
                                    f"plan {plan.id} measure {uid}"):
            flash(request, N_("The measure “%(title)s” is saved in the draft."), title=form["title"])
            return redirect(request, _home(patient.id))
        lost = True
    conflict = None
    if lost:
        now = service.find_measure(plan.draft, uid)
        conflict = await _conflict(request, db, plan, f"measure {uid}",
                                   current=forms.measure_form(now) if now else None)
        errors = {"conflict": forms.CONFLICT} | errors
        form = form | {"draft_version": str(plan.draft_version)}
    else:
        await _refused(request, db, plan, f"measure {uid}")
    return await _measure_page(request, db, patient, plan, form, uid=None if adding else uid, errors=errors,
                               conflict=conflict, status=422)


async def _measure(request: Request, db: AsyncSession, patient_id: int,
                   uid: str) -> tuple[Patient, ActionPlan, dict | None]:
    if not forms.is_uid("m", uid):
        raise NotFoundException()
    patient, plan = await _plan(request, db, patient_id)
    return patient, plan, service.find_measure(plan.draft, uid)


@get(BASE + "/measures/new", opt=policy(CLINICIAN))
async def new_measure(request: Request, patient_id: int, db: AsyncSession) -> Response:
    patient, plan = await _plan(request, db, patient_id)
    await service.viewed(db, audit_ctx(request), patient_id, plan, "new measure")
    return await _measure_page(request, db, patient, plan, forms.measure_form(None, plan.draft_version))


@post(BASE + "/measures/new", opt=policy(CLINICIAN))
async def create_measure(request: Request, patient_id: int, data: Form, db: AsyncSession) -> Response:
    patient, plan = await _plan(request, db, patient_id)
    return await _save_measure(request, db, patient, plan, data, forms.new_uid("m"), adding=True)


@get(BASE + "/measures/{uid:str}/edit", opt=policy(CLINICIAN))
async def edit_measure(request: Request, patient_id: int, uid: str, db: AsyncSession) -> Response:
    patient, plan, measure = await _measure(request, db, patient_id, uid)
    if measure is None:
        raise NotFoundException()
    await service.viewed(db, audit_ctx(request), patient_id, plan, f"measure {uid}")
    return await _measure_page(request, db, patient, plan, forms.measure_form(measure, plan.draft_version), uid=uid)


@post(BASE + "/measures/{uid:str}/edit", opt=policy(CLINICIAN))
async def update_measure(request: Request, patient_id: int, uid: str, data: Form, db: AsyncSession) -> Response:
    patient, plan, _ = await _measure(request, db, patient_id, uid)
    return await _save_measure(request, db, patient, plan, data, uid, adding=False)


def _remove_page(request: Request, patient: Patient, plan: ActionPlan, measure: dict, version: Any,
                 conflict: dict | None = None) -> Response:
    errors = {"conflict": N_("The draft was changed while you had this page open. The measure is not removed. "
                             "Check it as it is saved now, then confirm again.")} if conflict else {}
    context = _context(patient, plan, measure=measure, draft_version=version, errors=errors, conflict=conflict)
    return render(request, "plan/clinic_remove.html", context, status=422 if conflict else 200)


@get(BASE + "/measures/{uid:str}/remove", opt=policy(CLINICIAN))
async def remove_form(request: Request, patient_id: int, uid: str, db: AsyncSession) -> Response:
    patient, plan, measure = await _measure(request, db, patient_id, uid)
    if measure is None:
        raise NotFoundException()
    await service.viewed(db, audit_ctx(request), patient_id, plan, f"measure {uid}")
    return _remove_page(request, patient, plan, measure, plan.draft_version)


@post(BASE + "/measures/{uid:str}/remove", opt=policy(CLINICIAN))
async def remove(request: Request, patient_id: int, uid: str, data: Form, db: AsyncSession) -> Response:
    patient, plan, measure = await _measure(request, db, patient_id, uid)
    if measure is None:
        flash(request, N_("The measure was already removed from the draft."), "warning")
        return redirect(request, _home(patient_id))
    version = forms.read_version(data)
    if not forms.stale(version, plan.draft_version) and await service.save_draft(
            db, audit_ctx(request), plan, int(version), service.without_measure(plan.draft, uid),
            "plan.measure_removed", f"plan {plan.id} measure {uid}"):
        flash(request, N_("The measure “%(title)s” is removed from the draft."), title=measure.get("title", ""))
        return redirect(request, _home(patient_id))
    current = service.find_measure(plan.draft, uid)
    if current is None:
        flash(request, N_("The measure was already removed from the draft."), "warning")
        return redirect(request, _home(patient_id))
    return _remove_page(request, patient, plan, current, plan.draft_version,
                        await _conflict(request, db, plan, f"measure {uid}"))


# --- SHM 2 evaluation -------------------------------------------------------------------------

def _evaluable(plan: ActionPlan) -> tuple[list[dict], list[dict]]:
    """Measures of the latest version still in the draft (to evaluate), and those removed from it."""
    latest = service.latest_version(plan)
    measures = (latest.content if latest else {}).get("measures", [])
    in_draft = {m["uid"] for m in plan.draft.get("measures", [])}
    return [m for m in measures if m["uid"] in in_draft], [m for m in measures if m["uid"] not in in_draft]


def _evaluation_page(request: Request, patient: Patient, plan: ActionPlan, form: dict, errors: dict | None = None,
                     conflict: dict | None = None, status: int = 200) -> Response:
    measures, removed = _evaluable(plan)
    context = _context(patient, plan, measures=measures, removed=removed, form=form, errors=errors or {},
                       conflict=conflict, latest=service.latest_version(plan),
                       saved=forms.evaluation_form(measures, plan.draft, plan.draft_version))
    return render(request, "plan/clinic_evaluation.html", context, status=status)


@get(BASE + "/evaluation", opt=policy(CLINICIAN))
async def evaluation(request: Request, patient_id: int, db: AsyncSession) -> Response:
    patient, plan = await _plan(request, db, patient_id)
    await service.viewed(db, audit_ctx(request), patient_id, plan, "evaluation")
    measures, _ = _evaluable(plan)
    return _evaluation_page(request, patient, plan, forms.evaluation_form(measures, plan.draft, plan.draft_version))


@post(BASE + "/evaluation", opt=policy(CLINICIAN))
async def save_evaluation(request: Request, patient_id: int, data: Form, db: AsyncSession) -> Response:
    patient, plan = await _plan(request, db, patient_id)
    measures, _ = _evaluable(plan)
    checked = forms.evaluation_form_class(measures)(data, locale=locale(request))
    form, errors = checked.cleaned, checked.check()
    conflict = None
    if forms.stale(form["draft_version"], plan.draft_version):
        conflict = await _conflict(request, db, plan, "evaluation")
    elif not errors:
        draft = service.with_evaluations(plan.draft, forms.evaluations(form, measures))
        if await service.save_draft(db, audit_ctx(request), plan, int(form["draft_version"]), draft,
                                    "plan.evaluation_saved"):
            flash(request, N_("The evaluation is saved in the draft."))
            return redirect(request, _home(patient_id))
        conflict = await _conflict(request, db, plan, "evaluation")
    if conflict:
        errors = {"conflict": forms.CONFLICT} | errors
        form["draft_version"] = str(plan.draft_version)
    else:
        await _refused(request, db, plan, "evaluation")
    return _evaluation_page(request, patient, plan, form, errors, conflict, status=422)


ROUTES = [show, start, save_goals, publish, updates_read, new_measure, create_measure, edit_measure, update_measure,
          remove_form, remove, evaluation, save_evaluation]
