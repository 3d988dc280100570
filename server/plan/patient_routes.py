"""The patient's action plan: read the current version, update their own measures, see the history,
compare two versions and print."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.acting import acting_for
from server.access.params import query_int
from server.access.policy import PATIENT_SIDE, UPDATE_OWN_MEASURES, VIEW_PLAN, policy
from server.i18n import N_, today_oslo
from server.pathway.acting import patient_for
from server.plan import view as service
from server.plan.diff import compare
from server.web import actor, audit_ctx, flash, is_block_request, locale, redirect, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _labels() -> dict[str, Any]:
    return {"status_labels": service.STATUS_LABELS,
            "responsible_labels": service.RESPONSIBLE_LABELS, "version_labels": service.VERSION_LABELS,
            "outcome_labels": service.OUTCOME_LABELS, "field_labels": service.FIELD_LABELS,
            "note_max": service.NOTE_MAX}


def _plan_page(request: Request, plan_view, *, uid: str = "", form=None, errors=None, saved: str = "",
               status: int = 200) -> Response:
    """The plan page, or (for an htmx swap) just the card of the measure `uid`."""
    in_block = bool(uid) and is_block_request(request)
    own = plan_view.own if plan_view else []
    context = {"plan": plan_view, "measures_to_render": [plan_view.measure(uid)] if in_block else own,
               "form": form or {}, "errors": errors or {}, "saved": saved, "form_uid": uid, "in_block": in_block}
    return render(request, "plan/patient_plan.html", context | _labels(), block="measure", status=status)


@get("/plan", opt=policy(PATIENT_SIDE))
async def plan_page(request: Request, db: AsyncSession) -> Response:
    patient_id = acting_for(actor(request), VIEW_PLAN)
    plan_view = await service.read_current(db, audit_ctx(request), patient_id)
    return _plan_page(request, plan_view)


async def _update(request: Request, db: AsyncSession, uid: str, data: dict, kind: str) -> Response:
    """Shared by the status and note forms: a form post redirects; an htmx post gets the card back."""
    patient_id = acting_for(actor(request), UPDATE_OWN_MEASURES)
    ctx = audit_ctx(request)
    found = await service.own_measure(db, patient_id, uid)
    if found is None:  # not the patient's own measure in the current version (or not theirs at all)
        await service.refuse_update(db, ctx, patient_id, uid)
        raise NotFoundException()
    plan, plan_view = found
    form, errors = service.read_update(kind, data, uid, locale(request))
    if errors:
        return _plan_page(request, plan_view, uid=uid, form=form, errors=errors, status=422)
    message = await _save(db, ctx, plan, uid, form, plan_view.measure(uid).status)
    if is_block_request(request):
        _plan, fresh = await service.current_view(db, patient_id)
        return _plan_page(request, fresh, uid=uid, saved=message)
    flash(request, message)
    return redirect(request, f"/plan#measure-{uid}")


async def _save(db: AsyncSession, ctx, plan, uid: str, form: dict, current: str) -> str:
    """Store what changed (the status, the note, or both in one update); the message to show."""
    status = form.get("status") or None
    status = status if status != current else None
    note = form.get("note", "")
    if status is None and not note:
        return N_("The status was already set to that. Nothing changed.")
    await service.save_update(db, ctx, plan, uid, status=status, note=note)
    if status and note:
        return N_("The status and your note are saved. The clinic can read them.")
    return N_("The status is saved.") if status else N_("Your note is saved. The clinic can read it.")


@post("/plan/measures/{uid:str}", opt=policy(PATIENT_SIDE))
async def update_measure(request: Request, uid: str, data: Form, db: AsyncSession) -> Response:
    """The measure's one form: status and note together."""
    return await _update(request, db, uid, data, "measure")


@post("/plan/measures/{uid:str}/status", opt=policy(PATIENT_SIDE))
async def update_status(request: Request, uid: str, data: Form, db: AsyncSession) -> Response:
    return await _update(request, db, uid, data, "status")


@post("/plan/measures/{uid:str}/note", opt=policy(PATIENT_SIDE))
async def add_note(request: Request, uid: str, data: Form, db: AsyncSession) -> Response:
    return await _update(request, db, uid, data, "note")


@get("/plan/history", opt=policy(PATIENT_SIDE))
async def history(request: Request, db: AsyncSession) -> Response:
    patient_id = acting_for(actor(request), VIEW_PLAN)
    versions = await service.read_history(db, audit_ctx(request), patient_id)
    pair = service.default_pair(versions) if versions else (0, 0)
    context = {"versions": list(reversed(versions)), "default_from": pair[0], "default_to": pair[1]}
    return render(request, "plan/patient_history.html", context | _labels())


def _number(value: str) -> int | None:
    return query_int(value)


@get("/plan/compare", opt=policy(PATIENT_SIDE))
async def compare_versions(request: Request, db: AsyncSession, from_: Annotated[str, Parameter(query="from")] = "",
                           to: str = "") -> Response:
    patient_id = acting_for(actor(request), VIEW_PLAN)
    plan = await service.load_plan(db, patient_id)
    versions = service.published(plan)
    if not versions:
        raise NotFoundException()
    default_from, default_to = service.default_pair(versions)
    older = service.version_by_number(plan, _number(from_) if from_ else default_from)
    newer = service.version_by_number(plan, _number(to) if to else default_to)
    if older is None or newer is None:
        raise NotFoundException()
    if older.number > newer.number:  # always read from the older to the newer version
        older, newer = newer, older
    await service.read_comparison(db, audit_ctx(request), patient_id, older, newer)
    comparison = compare(older.content or {}, newer.content or {}) if older.number != newer.number else None
    context = {"older": older, "newer": newer, "comparison": comparison, "versions": versions}
    return render(request, "plan/patient_compare.html", context | _labels())


@get("/plan/print", opt=policy(PATIENT_SIDE))
async def print_view(request: Request, db: AsyncSession) -> Response:
    patient = await patient_for(db, actor(request), VIEW_PLAN)
    plan_view = await service.read_current(db, audit_ctx(request), patient.id, "plan.printed")
    context = {"plan": plan_view, "patient": patient, "today": today_oslo()}
    return render(request, "plan/print.html", context | _labels())


ROUTES = [update_measure, plan_page, update_status, add_note, history, compare_versions, print_view]
