"""The patient's home page and the clinic's patient list, patient page and stage moves."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from sqlalchemy import delete, select

from server.access import sessions
from server.access.models import Account, Credential
from server.meetings.models import Meeting
from server.access.policy import CLINICIAN, ISSUE_PATIENT_CODE, MOVE_STAGE, PATIENT, RECORD_GP_ACCEPTANCE, \
    VIEW_PATIENT, can, policy
from server.access.service import create_account, db_of, issue_code
from server.audit.service import record
from server.i18n import N_, today_oslo
from server.pathway import service
from server.pathway.stages import LAST, STAGES, stage
from server.web import actor, audit_ctx, flash, redirect, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _text(data: dict[str, Any], *fields: str) -> dict[str, str]:
    return {field: str(data.get(field, ""))[:10_000] for field in fields}


# --- Patient ------------------------------------------------------------------------------

@get("/home", opt=policy(PATIENT))
async def home(request: Request) -> Response:
    me = actor(request)
    if not can(me, VIEW_PATIENT, me.patient_id):
        raise NotFoundException()
    patient = await service.view_patient(db_of(request), audit_ctx(request), me.patient_id, "patient.home_viewed")
    if patient is None:
        raise NotFoundException()
    context = {
        "patient": patient,
        "current": stage(patient.stage),
        "timeline": service.timeline(patient),
        "deadline": service.deadline_for(patient),
    }
    return render(request, "pathway/home.html", context)


# --- Clinic -------------------------------------------------------------------------------

@get("/clinic/patients", opt=policy(CLINICIAN))
async def patient_list(request: Request, q: str = "", stage_filter: str = "", page: int = 1) -> Response:
    query = q.strip()[:100]
    try:
        chosen_stage = int(stage_filter) if stage_filter else None
    except ValueError:
        chosen_stage = None
    if chosen_stage is not None and not 1 <= chosen_stage <= LAST:
        chosen_stage = None
    page = max(page, 1)
    rows, total = await service.list_patients(db_of(request), audit_ctx(request), query, chosen_stage, page)
    pages = max((total + service.PER_PAGE - 1) // service.PER_PAGE, 1)
    context = {
        "patients": rows, "total": total, "page": page, "pages": pages, "q": query,
        "stage_filter": chosen_stage, "stages": STAGES, "stage": stage,
        "deadline_for": service.deadline_for, "deadline_state": service.deadline_state,
    }
    return render(request, "pathway/patient_list.html", context, block="results")


@get("/clinic/patients/new", opt=policy(CLINICIAN))
async def new_patient(request: Request) -> Response:
    form = {"referral_received_on": today_oslo().isoformat()}
    return render(request, "pathway/new_patient.html", {"form": form, "errors": {}})


@post("/clinic/patients", opt=policy(CLINICIAN))
async def create_patient(request: Request, data: Form) -> Response:
    form = _text(data, "name", "birth_date", "gp_name", "gp_office", "referral_received_on")
    errors = service.validate_patient_form(form)
    if errors:
        return render(request, "pathway/new_patient.html", {"form": form, "errors": errors}, status=422)
    db = db_of(request)
    patient = await service.create_patient(db, audit_ctx(request), form)
    account = await create_account(db, "patient", patient.name, patient_id=patient.id)
    code = await issue_code(request, account.id)
    await record(db, audit_ctx(request), "patient.code_issued", patient_ids=[patient.id])
    return _code_page(request, patient, code, created=True)


def _code_page(request: Request, patient, code: str, created: bool = False, removed: int = 0) -> Response:
    return render(request, "pathway/code.html", {"patient": patient, "code": code, "created": created,
                                                 "removed": removed,
                                                 "days": request.app.state.settings.enrollment_code_days})


async def _patient_for(request: Request, patient_id: int, action: str, audit_action: str | None = None):
    if not can(actor(request), action, patient_id):
        raise NotFoundException()
    db = db_of(request)
    if audit_action:
        patient = await service.view_patient(db, audit_ctx(request), patient_id, audit_action)
    else:
        patient = await service.load_patient(db, patient_id)
    if patient is None:
        raise NotFoundException()
    return patient


async def _show(request: Request, patient, *, move_form=None, move_errors=None, gp_form=None, gp_errors=None,
                status: int = 200, block: str | None = None) -> Response:
    names = {}
    ids = {event.by_account_id for event in patient.events if event.by_account_id}
    if ids:
        names = dict((await db_of(request).execute(
            select(Account.id, Account.display_name).where(Account.id.in_(ids)))).all())
    meetings = list((await db_of(request).scalars(
        select(Meeting).where(Meeting.patient_id == patient.id).order_by(Meeting.number, Meeting.starts_at))).all())
    next_stage = patient.stage + 1 if patient.stage < LAST else patient.stage - 1
    context = {
        "patient": patient, "current": stage(patient.stage), "timeline": service.timeline(patient),
        "deadline": service.deadline_for(patient), "deadline_state": service.deadline_state,
        "stages": STAGES, "stage": stage, "names": names, "events": list(reversed(patient.events)),
        "meetings": meetings,
        "move_form": move_form or {"to_stage": str(next_stage), "note": "", "reason": ""},
        "move_errors": move_errors or {},
        "gp_form": gp_form or {"accepted_on": today_oslo().isoformat()},
        "gp_errors": gp_errors or {},
    }
    return render(request, "pathway/patient.html", context, status=status, block=block)


@get("/clinic/patients/{patient_id:int}", opt=policy(CLINICIAN))
async def show_patient(request: Request, patient_id: int) -> Response:
    patient = await _patient_for(request, patient_id, VIEW_PATIENT, "patient.viewed")
    return await _show(request, patient)


@post("/clinic/patients/{patient_id:int}/stage", opt=policy(CLINICIAN))
async def move_stage(request: Request, patient_id: int, data: Form) -> Response:
    patient = await _patient_for(request, patient_id, MOVE_STAGE)
    form = _text(data, "to_stage", "note", "reason", "version")
    errors = service.validate_move(patient, form)
    if errors:
        await record(db_of(request), audit_ctx(request), "patient.stage_move_refused", patient_ids=[patient.id],
                     outcome="refused")
        return await _show(request, patient, move_form=form, move_errors=errors, status=422, block="stage_move")
    moved_to = await service.move_stage(db_of(request), audit_ctx(request), patient, form)
    if moved_to is None:  # someone else's change was stored first: show it, as for a stale form
        await record(db_of(request), audit_ctx(request), "patient.stage_move_refused", patient_ids=[patient.id],
                     outcome="refused")
        form["version"] = str(patient.version)
        return await _show(request, patient, move_form=form, move_errors={"to_stage": service.CONFLICT},
                           status=422, block="stage_move")
    flash(request, N_("%(name)s moved to stage %(number)s."), name=patient.name, number=str(moved_to.number))
    return redirect(request, f"/clinic/patients/{patient.id}")


@post("/clinic/patients/{patient_id:int}/gp-acceptance", opt=policy(CLINICIAN))
async def gp_acceptance(request: Request, patient_id: int, data: Form) -> Response:
    patient = await _patient_for(request, patient_id, RECORD_GP_ACCEPTANCE)
    form = _text(data, "accepted_on", "version")
    errors = service.validate_gp_acceptance(patient, form)
    if not errors and not await service.record_gp_acceptance(db_of(request), audit_ctx(request), patient,
                                                             service.parse_date(form["accepted_on"])):
        errors = {"accepted_on": service.CONFLICT}
    if errors:
        return await _show(request, patient, gp_form=form, gp_errors=errors, status=422, block="gp_acceptance")
    flash(request, N_("The GP's acceptance was recorded."))
    return redirect(request, f"/clinic/patients/{patient.id}")


@post("/clinic/patients/{patient_id:int}/enrollment-code", opt=policy(CLINICIAN))
async def issue_patient_code(request: Request, patient_id: int, data: Form) -> Response:
    patient = await _patient_for(request, patient_id, ISSUE_PATIENT_CODE)
    db = db_of(request)
    account = await db.scalar(select(Account).where(Account.patient_id == patient.id))
    if account is None:
        account = await create_account(db, "patient", patient.name, patient_id=patient.id)
    removed = 0
    if data.get("remove_passkeys") == "yes":
        removed = (await db.execute(delete(Credential).where(Credential.account_id == account.id))).rowcount or 0
        await sessions.end_all_for_account(db, account.id)
    code = await issue_code(request, account.id)
    await record(db, audit_ctx(request), "patient.code_issued", patient_ids=[patient.id],
                 detail=f"{removed} passkeys removed")
    return _code_page(request, patient, code, removed=removed)


ROUTES = [home, patient_list, new_patient, create_patient, show_patient, move_stage, gp_acceptance,
          issue_patient_code]
