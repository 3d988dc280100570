"""The clinic's worklist page."""

from __future__ import annotations

from litestar import Request, Response, get

from server.access.policy import CLINICIAN, LIST_PATIENTS, can, policy
from server.access.service import db_of
from server.meetings import worklist
from server.pathway.service import deadline_for, deadline_state
from server.pathway.stages import stage
from server.web import actor, audit_ctx, render
from litestar.exceptions import NotFoundException


@get("/clinic/worklist", opt=policy(CLINICIAN))
async def show(request: Request) -> Response:
    if not can(actor(request), LIST_PATIENTS):
        raise NotFoundException()
    context = await worklist.build(db_of(request), audit_ctx(request))
    context |= {"deadline_for": deadline_for, "deadline_state": deadline_state, "stage": stage,
                "gp_days": worklist.GP_ANSWER_DAYS}
    return render(request, "meetings/worklist.html", context)


ROUTES = [show]
