"""The patient's home page: where they are in the pathway and what comes next."""

from __future__ import annotations

from litestar import Request, Response, get
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.policy import PATIENT_SIDE, VIEW_PATIENT, policy
from server.pathway import service
from server.pathway.acting import patient_for
from server.pathway.stages import stage
from server.web import actor, audit_ctx, render


@get("/home", opt=policy(PATIENT_SIDE))
async def home(request: Request, db: AsyncSession) -> Response:
    patient = await patient_for(db, actor(request), VIEW_PATIENT)
    await service.view_patient(db, audit_ctx(request), patient, "patient.home_viewed")
    context = {
        "patient": patient,
        "current": stage(patient.stage),
        "timeline": service.timeline(patient),
        "deadline": service.deadline_for(patient),
    }
    return render(request, "pathway/home.html", context)


ROUTES = [home]
