"""Invitation links: the external participant's page (no account) and the clinic's invitations page."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.acting import acting_for
from server.access.policy import CLINICIAN, MANAGE_INVITATIONS, PUBLIC, policy
from server.access.service import account_names
from server.i18n import N_
from server.meetings import invitations as service
from server.meetings.models import Meeting, MeetingParticipant
from server.pathway.acting import patient_for
from server.web import actor, audit_ctx, flash, gettext, locale, redirect, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
EXTERNAL_HEADERS = {"X-Robots-Tag": "noindex, nofollow"}


def _secret(request: Request) -> str:
    return request.app.state.settings.secret_key


def _request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "")


# --- The external participant (no account) ------------------------------------------------------

async def _refused(request: Request, db: AsyncSession, opened: service.Opened) -> Response:
    """Plain page; changes nothing. A link we issued that no longer works is audited as its participant."""
    await service.link_refused(db, opened, _request_id(request))
    status = 404 if opened.problem == "unknown" else 410
    return render(request, "meetings/invitation_invalid.html", {}, status=status, headers=EXTERNAL_HEADERS)


def _external_context(opened: service.Opened, token: str, lang: str) -> dict[str, Any]:
    start, end = service.local_times(opened.meeting, lang)
    return {"invitation": opened.invitation, "participant": opened.participant, "meeting": opened.meeting,
            "segments": service.segments_for(opened.participant, opened.meeting), "token": token,
            "start_time": start, "end_time": end, "max_comment": service.MAX_COMMENT}


@get("/invitation/{token:str}", opt=policy(PUBLIC))
async def invitation_page(request: Request, token: str, db: AsyncSession) -> Response:
    opened = await service.open_link(db, _secret(request), token)
    if opened.problem:
        return await _refused(request, db, opened)
    await service.link_viewed(db, opened, _request_id(request))
    invitation = opened.invitation
    form = {"answer": "" if invitation.answer == "pending" else invitation.answer,
            "proposed_time": invitation.proposed_time, "comment": invitation.comment}
    return render(request, "meetings/invitation.html", _external_context(opened, token, locale(request)) | {
        "form": form, "errors": {}, "patient": await service.patient_shown(db, opened.participant)},
        headers=EXTERNAL_HEADERS)


@get("/invitation/{token:str}/calendar.ics", opt=policy(PUBLIC))
async def invitation_calendar(request: Request, token: str, db: AsyncSession) -> Response:
    opened = await service.open_link(db, _secret(request), token)
    if opened.problem:
        return await _refused(request, db, opened)
    settings = request.app.state.settings
    description = gettext(request, N_("Collaboration meeting with the pain clinic. Your invitation: %(url)s"),
                          url=f"{settings.origin}/invitation/{token}")
    body = await service.invitee_calendar(db, opened, _request_id(request), description=description,
                                          uid_host=settings.rp_id)
    return Response(body.encode("utf-8"), media_type="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="samhandlingsmote-{opened.meeting.number}.ics"',
        "Cache-Control": "no-store"} | EXTERNAL_HEADERS)


@post("/invitation/{token:str}/answer", opt=policy(PUBLIC))
async def answer(request: Request, token: str, data: Form, db: AsyncSession) -> Response:
    opened = await service.open_link(db, _secret(request), token)
    if opened.problem:
        return await _refused(request, db, opened)
    ctx = service.participant_ctx(opened.participant, _request_id(request))
    form = service.AnswerForm(data, locale=locale(request))
    if not form.check():
        await service.answer_refused(db, ctx, opened)
        return render(request, "meetings/invitation.html", _external_context(opened, token, locale(request)) | {
            "form": form.values, "errors": form.error_map,
            "patient": await service.patient_shown(db, opened.participant)}, status=422, headers=EXTERNAL_HEADERS)
    await service.apply_answer(db, ctx, opened.invitation, form.values)
    return render(request, "meetings/invitation_done.html", _external_context(opened, token, locale(request)),
                  headers=EXTERNAL_HEADERS)


# --- The clinic -------------------------------------------------------------------------------

async def _meeting_for(request: Request, db: AsyncSession, meeting_id: int) -> Meeting:
    meeting = await service.load_meeting(db, meeting_id)
    if meeting is None:
        raise NotFoundException()
    acting_for(actor(request), MANAGE_INVITATIONS, meeting.patient_id)
    return meeting


def _participant(meeting: Meeting, participant_id: int) -> MeetingParticipant:
    """Only a participant of this meeting: any other id is a 404."""
    for participant in meeting.participants:
        if participant.id == participant_id:
            return participant
    raise NotFoundException()


async def _show(request: Request, db: AsyncSession, meeting: Meeting, mode: str = "list", *, target=None,
                new_link: str = "", form=None, errors=None, status: int = 200) -> Response:
    patient = await patient_for(db, actor(request), MANAGE_INVITATIONS, meeting.patient_id)
    recorders = {p.invitation.recorded_by for p in meeting.participants if p.invitation and p.invitation.recorded_by}
    if patient.gp_accepted_recorded_by:
        recorders.add(patient.gp_accepted_recorded_by)
    names = await account_names(db, recorders)
    start, end = service.local_times(meeting, locale(request))
    context = {
        "mode": mode, "meeting": meeting, "patient": patient, "target": target, "new_link": new_link,
        "form": form or {"answer": "", "comment": ""}, "errors": errors or {}, "names": names,
        "link_state": service.link_state, "can_issue": service.can_issue(meeting),
        "start_time": start, "end_time": end,
    }
    return render(request, "meetings/clinic_invitations.html", context, status=status)


def _back(meeting: Meeting) -> str:
    return f"/clinic/meetings/{meeting.id}/invitations"


@get("/clinic/meetings/{meeting_id:int}/invitations", opt=policy(CLINICIAN))
async def clinic_invitations(request: Request, meeting_id: int, db: AsyncSession) -> Response:
    meeting = await _meeting_for(request, db, meeting_id)
    await service.clinic_viewed(db, audit_ctx(request), meeting)
    return await _show(request, db, meeting)


async def _issue(request: Request, db: AsyncSession, meeting_id: int, participant_id: int, *,
                 renew: bool) -> Response:
    meeting = await _meeting_for(request, db, meeting_id)
    participant = _participant(meeting, participant_id)
    if not service.can_issue(meeting):
        flash(request, N_("The meeting is cancelled or over: no new links can be made."), "warning")
        return redirect(request, _back(meeting))
    if participant.invitation is not None and not renew:
        flash(request, N_("%(name)s already has a link. Use “New link” to replace it."), "info",
              name=participant.name)
        return redirect(request, _back(meeting))
    invitation = await service.issue_link(db, audit_ctx(request), participant, meeting)
    settings = request.app.state.settings
    url = service.invitation_url(settings.origin, settings.secret_key, invitation)
    return await _show(request, db, meeting, target=participant, new_link=url)


@post("/clinic/meetings/{meeting_id:int}/invitations/{participant_id:int}/create", opt=policy(CLINICIAN))
async def create_link(request: Request, meeting_id: int, participant_id: int, db: AsyncSession) -> Response:
    return await _issue(request, db, meeting_id, participant_id, renew=False)


@post("/clinic/meetings/{meeting_id:int}/invitations/{participant_id:int}/new", opt=policy(CLINICIAN))
async def new_link(request: Request, meeting_id: int, participant_id: int, db: AsyncSession) -> Response:
    return await _issue(request, db, meeting_id, participant_id, renew=True)


async def _active_invitation(request: Request, db: AsyncSession, meeting_id: int, participant_id: int):
    meeting = await _meeting_for(request, db, meeting_id)
    participant = _participant(meeting, participant_id)
    if participant.invitation is None:
        raise NotFoundException()
    return meeting, participant


@get("/clinic/meetings/{meeting_id:int}/invitations/{participant_id:int}/revoke", opt=policy(CLINICIAN))
async def revoke_confirm(request: Request, meeting_id: int, participant_id: int, db: AsyncSession) -> Response:
    meeting, participant = await _active_invitation(request, db, meeting_id, participant_id)
    await service.clinic_viewed(db, audit_ctx(request), meeting)
    return await _show(request, db, meeting, "revoke", target=participant)


@post("/clinic/meetings/{meeting_id:int}/invitations/{participant_id:int}/revoke", opt=policy(CLINICIAN))
async def revoke(request: Request, meeting_id: int, participant_id: int, db: AsyncSession) -> Response:
    meeting, participant = await _active_invitation(request, db, meeting_id, participant_id)
    if participant.invitation.revoked_at is None:
        await service.revoke(db, audit_ctx(request), participant.invitation, meeting)
    flash(request, N_("The link for %(name)s no longer works."), name=participant.name)
    return redirect(request, _back(meeting))


@get("/clinic/meetings/{meeting_id:int}/invitations/{participant_id:int}/record", opt=policy(CLINICIAN))
async def record_form(request: Request, meeting_id: int, participant_id: int, db: AsyncSession) -> Response:
    meeting = await _meeting_for(request, db, meeting_id)
    participant = _participant(meeting, participant_id)
    await service.clinic_viewed(db, audit_ctx(request), meeting)
    return await _show(request, db, meeting, "record", target=participant)


@post("/clinic/meetings/{meeting_id:int}/invitations/{participant_id:int}/record", opt=policy(CLINICIAN))
async def record_answer(request: Request, meeting_id: int, participant_id: int, data: Form,
                        db: AsyncSession) -> Response:
    meeting = await _meeting_for(request, db, meeting_id)
    participant = _participant(meeting, participant_id)
    if meeting.status == "cancelled":
        flash(request, N_("The meeting is cancelled: answers can no longer be recorded."), "warning")
        return redirect(request, _back(meeting))
    form = service.AnswerForm(data, locale=locale(request))
    if not form.check(service.PHONE_ANSWERS):
        return await _show(request, db, meeting, "record", target=participant, form=form.values,
                           errors=form.error_map, status=422)
    ctx = audit_ctx(request)
    invitation = participant.invitation or await service.issue_link(db, ctx, participant, meeting)
    await service.apply_answer(db, ctx, invitation, form.values, recorded_by=actor(request).account_id)
    flash(request, N_("The answer from %(name)s was recorded."), name=participant.name)
    return redirect(request, _back(meeting))


ROUTES = [invitation_page, invitation_calendar, answer, clinic_invitations, create_link, new_link, revoke_confirm,
          revoke, record_form, record_answer]
