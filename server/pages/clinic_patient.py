"""The clinic's patient page: the pathway with its history and meetings; stage moves and the GP's acceptance.

It combines the pathway and the patient's meetings, so it lives above both domains.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import delegations
from server.access.policy import CLINICIAN, MOVE_STAGE, RECORD_GP_ACCEPTANCE, VIEW_PATIENT, policy
from server.access.service import account_names
from server.i18n import N_, today_oslo
from server.meetings import scheduling
from server.pages.relatives import RELATION_LABELS, SCOPE_LABELS
from server.pathway import service
from server.pathway.acting import patient_for
from server.pathway.forms import CONFLICT, GpAcceptanceForm, StageMoveForm
from server.pathway.models import Patient
from server.pathway.stages import LAST, STAGES, stage
from server.web import actor, audit_ctx, flash, locale, redirect, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


async def _show(request: Request, db: AsyncSession, patient: Patient, *, move_form=None, move_errors=None,
                gp_form=None, gp_errors=None, status: int = 200, block: str | None = None) -> Response:
    names = await account_names(db, {event.by_account_id for event in patient.events})
    meetings = await scheduling.patient_meetings(db, patient.id)
    next_stage = patient.stage + 1 if patient.stage < LAST else patient.stage - 1
    context = {
        "patient": patient, "current": stage(patient.stage), "timeline": service.timeline(patient),
        "deadline": service.deadline_for(patient), "deadline_state": service.deadline_state,
        "stages": STAGES, "stage": stage, "names": names, "events": list(reversed(patient.events)),
        "meetings": meetings, "relatives": await delegations.live_of_patient(db, patient.id),
        "relation_labels": RELATION_LABELS, "scope_labels": SCOPE_LABELS,
        "move_form": move_form or {"to_stage": str(next_stage), "note": "", "reason": ""},
        "move_errors": move_errors or {},
        "gp_form": gp_form or {"accepted_on": today_oslo().isoformat()},
        "gp_errors": gp_errors or {},
    }
    return render(request, "pathway/patient.html", context, status=status, block=block)


@get("/clinic/patients/{patient_id:int}", opt=policy(CLINICIAN))
async def show_patient(request: Request, patient_id: int, db: AsyncSession) -> Response:
    patient = await patient_for(db, actor(request), VIEW_PATIENT, patient_id)
    await service.view_patient(db, audit_ctx(request), patient, "patient.viewed")
    return await _show(request, db, patient)


@post("/clinic/patients/{patient_id:int}/stage", opt=policy(CLINICIAN))
async def move_stage(request: Request, patient_id: int, data: Form, db: AsyncSession) -> Response:
    patient = await patient_for(db, actor(request), MOVE_STAGE, patient_id)
    form = StageMoveForm(data, locale=locale(request))
    if not form.check(patient):
        await service.refuse_move(db, audit_ctx(request), patient)
        return await _show(request, db, patient, move_form=form.values, move_errors=form.error_map, status=422,
                           block="stage_move")
    moved_to = await service.move_stage(db, audit_ctx(request), patient, form.values)
    if moved_to is None:  # someone else's change was stored first: show it, as for a stale form
        await service.refuse_move(db, audit_ctx(request), patient)
        values = form.values | {"version": str(patient.version)}
        return await _show(request, db, patient, move_form=values, move_errors={"to_stage": CONFLICT},
                           status=422, block="stage_move")
    flash(request, N_("%(name)s moved to stage %(number)s."), name=patient.name, number=str(moved_to.number))
    return redirect(request, f"/clinic/patients/{patient.id}")


@post("/clinic/patients/{patient_id:int}/gp-acceptance", opt=policy(CLINICIAN))
async def gp_acceptance(request: Request, patient_id: int, data: Form, db: AsyncSession) -> Response:
    patient = await patient_for(db, actor(request), RECORD_GP_ACCEPTANCE, patient_id)
    form = GpAcceptanceForm(data, locale=locale(request))
    if not form.check(patient):
        return await _show(request, db, patient, gp_form=form.values, gp_errors=form.error_map, status=422,
                           block="gp_acceptance")
    if not await service.record_gp_acceptance(db, audit_ctx(request), patient, form.accepted_on.day):
        return await _show(request, db, patient, gp_form=form.values, gp_errors={"accepted_on": CONFLICT},
                           status=422, block="gp_acceptance")
    flash(request, N_("The GP's acceptance was recorded."))
    return redirect(request, f"/clinic/patients/{patient.id}")


ROUTES = [show_patient, move_stage, gp_acceptance]
