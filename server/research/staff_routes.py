"""Research for staff: the clinic marks a meeting held; an administrator edits the information text;
a researcher sees, marks and exports the patients with an active yes (and nothing else)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.acting import acting_for
from server.access.policy import (
    ADMIN,
    CLINICIAN,
    EDIT_RESEARCH_TEXT,
    MARK_MEETING_HELD,
    RESEARCH_PARTICIPANTS,
    RESEARCHER,
    can,
    policy,
)
from server.i18n import N_
from server.meetings import scheduling
from server.research import service
from server.research.forms import OutcomeForm, TextForm
from server.research.labels import CONTACT_LABELS, KIND_LABELS
from server.web import actor, audit_ctx, flash, locale, redirect, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


# --- The clinic -------------------------------------------------------------------------------

@post("/clinic/meetings/{meeting_id:int}/held", opt=policy(CLINICIAN))
async def mark_held(request: Request, meeting_id: int, db: AsyncSession) -> Response:
    meeting = await scheduling.load_meeting(db, meeting_id, lock=True)
    if meeting is None:
        raise NotFoundException()
    acting_for(actor(request), MARK_MEETING_HELD, meeting.patient_id)
    if await service.mark_held(db, audit_ctx(request), meeting):
        flash(request, N_("The meeting is marked as held. The patient got a request about a research interview."))
    else:
        flash(request, N_("This meeting is cancelled or already marked as held."), "warning")
    return redirect(request, f"/clinic/meetings/{meeting.id}")


# --- The administrator: the information text ---------------------------------------------------

def _admin(request: Request) -> None:
    if not can(actor(request), EDIT_RESEARCH_TEXT):
        raise NotFoundException()


async def _text_page(request: Request, db: AsyncSession, form: dict | None = None, errors: dict | None = None,
                     status: int = 200) -> Response:
    versions = await service.text_versions(db)
    form = form or {"body_nb": versions[0].body_nb, "body_en": versions[0].body_en}
    return render(request, "research/admin_text.html", {"versions": versions, "form": form, "errors": errors or {}},
                  status=status)


@get("/admin/research-text", opt=policy(ADMIN))
async def text_page(request: Request, db: AsyncSession) -> Response:
    _admin(request)
    return await _text_page(request, db)


@post("/admin/research-text", opt=policy(ADMIN))
async def save_text(request: Request, data: Form, db: AsyncSession) -> Response:
    _admin(request)
    form = TextForm(data, locale=locale(request))
    if not form.validate():
        return await _text_page(request, db, form.values, form.error_map, status=422)
    text = await service.save_text(db, audit_ctx(request), form.clean("body_nb"), form.clean("body_en"))
    flash(request, N_("Version %(version)s of the information text is saved. New requests use it."),
          version=str(text.version))
    return redirect(request, "/admin/research-text")


# --- The researcher ---------------------------------------------------------------------------

def _researcher(request: Request) -> None:
    if not can(actor(request), RESEARCH_PARTICIPANTS):
        raise NotFoundException()


def _labels() -> dict[str, Any]:
    return {"contact_labels": CONTACT_LABELS, "kind_labels": KIND_LABELS}


@get("/research/participants", opt=policy(RESEARCHER))
async def participants(request: Request, db: AsyncSession) -> Response:
    _researcher(request)
    rows = await service.participants(db, audit_ctx(request))
    return render(request, "research/participants.html", {"rows": rows} | _labels())


@get("/research/participants.csv", opt=policy(RESEARCHER))
async def export(request: Request, db: AsyncSession) -> Response:
    _researcher(request)
    body = await service.export_csv(db, audit_ctx(request))
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": 'attachment; filename="research-participants.csv"',
                             "cache-control": "no-store"})


@get("/research/participants/{patient_id:int}", opt=policy(RESEARCHER))
async def participant(request: Request, patient_id: int, db: AsyncSession) -> Response:
    _researcher(request)
    rows = await service.entry(db, audit_ctx(request), patient_id)
    if not rows:  # no active yes (never, or withdrawn): as if the patient did not exist
        raise NotFoundException()
    return render(request, "research/participant.html", {"rows": rows, "form": {}, "errors": {}} | _labels())


@post("/research/participants/{patient_id:int}/outcome", opt=policy(RESEARCHER))
async def outcome(request: Request, patient_id: int, data: Form, db: AsyncSession) -> Response:
    _researcher(request)
    form = OutcomeForm(data, locale=locale(request))
    meeting = form.clean("meeting_id")
    if not form.validate() or not meeting.isdigit() or len(meeting) > 9:
        raise NotFoundException()
    if not await service.record_outcome(db, audit_ctx(request), patient_id, int(meeting), form.clean("outcome")):
        raise NotFoundException()
    flash(request, N_("Saved."))
    return redirect(request, "/research/participants")


ROUTES = [mark_held, text_page, save_text, participants, export, participant, outcome]
