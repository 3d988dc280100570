"""The clinic's patient list, new patients and their enrollment codes.

The clinic's patient page (stage moves, GP acceptance) and the patient's home are in server/pages/.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.params import query_int
from server.access.policy import CLINICIAN, ISSUE_PATIENT_CODE, policy
from server.i18n import today_oslo
from server.pathway import service
from server.pathway.acting import patient_for
from server.pathway.forms import PatientForm, PatientSearchForm
from server.pathway.stages import LAST, STAGES, stage
from server.web import actor, audit_ctx, locale, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


@get("/clinic/patients", opt=policy(CLINICIAN))
async def patient_list(request: Request, db: AsyncSession, q: str = "", stage_filter: str = "",
                       page: int = 1) -> Response:
    search = PatientSearchForm({"q": q}, locale=locale(request))
    valid = search.validate()
    query = search.clean("q")[:100] if valid else ""
    chosen_stage = query_int(stage_filter, hi=LAST)
    page = max(page, 1)
    rows, total = await service.list_patients(db, audit_ctx(request), query, chosen_stage, page)
    pages = max((total + service.PER_PAGE - 1) // service.PER_PAGE, 1)
    context = {
        "patients": rows, "total": total, "page": page, "pages": pages, "q": query,
        "stage_filter": chosen_stage, "stages": STAGES, "stage": stage,
        "deadline_for": service.deadline_for, "deadline_state": service.deadline_state,
        "errors": search.error_map,
    }
    return render(request, "pathway/patient_list.html", context, block="results", status=200 if valid else 400)


@get("/clinic/patients/new", opt=policy(CLINICIAN))
async def new_patient(request: Request) -> Response:
    form = {"referral_received_on": today_oslo().isoformat()}
    return render(request, "pathway/new_patient.html", {"form": form, "errors": {}})


@post("/clinic/patients", opt=policy(CLINICIAN))
async def create_patient(request: Request, data: Form, db: AsyncSession) -> Response:
    form = PatientForm(data, locale=locale(request))
    if not form.validate():
        return render(request, "pathway/new_patient.html", {"form": form.values, "errors": form.error_map},
                      status=422)
    if data.get("confirm_duplicate") != "yes":  # the same name and birth date: ask before adding another
        same = await service.same_name_and_birth_date(db, audit_ctx(request), form.clean("name"),
                                                      form.birth_date.day)
        if same:
            return render(request, "pathway/new_patient.html", {"form": form.values, "errors": {}, "same": same,
                                                                "stage": stage})
    patient, code = await service.create_patient_with_code(db, request.app.state.settings, audit_ctx(request),
                                                           form.values)
    return _code_page(request, patient, code, created=True)


def _code_page(request: Request, patient, code: str, created: bool = False, removed: int = 0) -> Response:
    return render(request, "pathway/code.html", {"patient": patient, "code": code, "created": created,
                                                 "removed": removed,
                                                 "days": request.app.state.settings.enrollment_code_days})


@post("/clinic/patients/{patient_id:int}/enrollment-code", opt=policy(CLINICIAN))
async def issue_patient_code(request: Request, patient_id: int, data: Form, db: AsyncSession) -> Response:
    patient = await patient_for(db, actor(request), ISSUE_PATIENT_CODE, patient_id)
    code, removed = await service.issue_patient_code(db, request.app.state.settings, audit_ctx(request), patient,
                                                     remove_passkeys=data.get("remove_passkeys") == "yes")
    return _code_page(request, patient, code, removed=removed)


ROUTES = [patient_list, new_patient, create_patient, issue_patient_code]
