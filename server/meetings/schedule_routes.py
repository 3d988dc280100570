"""Scheduling SHM 1 / SHM 2 (clinic), the patient's meeting page, .ics and camera check."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.acting import acting_for
from server.access.policy import CLINICIAN, PATIENT_SIDE, SCHEDULE_MEETING, VIEW_MEETING, policy
from server.access.service import account_names
from server.db import utcnow
from server.i18n import N_, OSLO
from server.meetings import schedule_forms as forms
from server.meetings import scheduling
from server.meetings.models import Meeting
from server.pathway.acting import patient_for
from server.web import actor, audit_ctx, flash, gettext, locale, redirect, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _helpers(request: Request) -> dict[str, Any]:
    """Labels and meeting helpers for templates (times are shown with the `when` and `clock` filters)."""
    return {"format_labels": forms.FORMAT_LABELS, "kind_labels": forms.KIND_LABELS,
            "ends_at": scheduling.ends_at, "answer_of": scheduling.answer_of,
            "segment_names": scheduling.segment_names}


# --- Clinic: schedule ---------------------------------------------------------------------

async def _patient(request: Request, db: AsyncSession, patient_id: int, number: int, lock: bool = False):
    if number not in (1, 2):
        raise NotFoundException()
    return await patient_for(db, actor(request), SCHEDULE_MEETING, patient_id, lock=lock)


async def _schedule_page(request: Request, db: AsyncSession, patient, number: int, form: dict, errors: dict,
                         status: int = 200, focus: str = "") -> Response:
    meetings = await scheduling.patient_meetings(db, patient.id)
    context = {
        "patient": patient, "number": number, "form": form, "errors": errors,
        "wishes": forms.wishes_summary(await scheduling.submitted_wishes(db, patient.id, number)),
        "existing": next((m for m in meetings if m.number == number and m.status == "scheduled"), None),
        "extra_rows": forms.EXTRA_ROWS, "row_kind": forms.row_kind, "focus": focus,
    }
    context["rows"], context["free_row"] = forms.shown_rows(form)
    context["segment_rows"], context["free_segment"] = forms.shown_segments(form)
    return render(request, "meetings/schedule.html", context | _helpers(request), status=status)


@get("/clinic/patients/{patient_id:int}/meetings/new", opt=policy(CLINICIAN))
async def new_meeting(request: Request, patient_id: int, db: AsyncSession, number: int = 1) -> Response:
    patient = await _patient(request, db, patient_id, number)
    wishes = await scheduling.schedule_form_wishes(db, audit_ctx(request), patient, number)
    form = forms.prefill(number, patient.gp_name, patient.gp_office, wishes,
                         gettext(request, forms.FIRST_SEGMENT[number]), lambda m: gettext(request, m))
    return await _schedule_page(request, db, patient, number, form, {})


@post("/clinic/patients/{patient_id:int}/meetings/new", opt=policy(CLINICIAN))
async def create_meeting(request: Request, patient_id: int, data: Form, db: AsyncSession,
                         number: int = 1) -> Response:
    patient = await _patient(request, db, patient_id, number, lock=True)
    form = forms.ScheduleForm(data, locale=locale(request))
    if data.get("add") in ("participant", "segment"):  # "Add one more ...": the same form with one more empty row
        return await _schedule_page(request, db, patient, number, form.values, {}, focus=data["add"])
    plan = form.schedule(number, scheduling.slots(await scheduling.patient_meetings(db, patient.id)), utcnow())
    if form.has_errors() or plan is None:
        await scheduling.refuse(db, audit_ctx(request), "meeting.schedule_refused", patient.id)
        return await _schedule_page(request, db, patient, number, form.values, form.error_map, status=422)
    meeting = await scheduling.schedule(db, audit_ctx(request), patient, number, plan)
    flash(request, N_("Collaboration meeting %(number)s is scheduled. The patient can see it."), number=str(number))
    return redirect(request, f"/clinic/meetings/{meeting.id}")


# --- Clinic: one meeting --------------------------------------------------------------------

async def _meeting(request: Request, db: AsyncSession, meeting_id: int, action: str, lock: bool = False) -> Meeting:
    meeting = await scheduling.load_meeting(db, meeting_id, lock=lock)
    if meeting is None:
        raise NotFoundException()
    acting_for(actor(request), action, meeting.patient_id)
    return meeting


@get("/clinic/meetings/{meeting_id:int}", opt=policy(CLINICIAN))
async def clinic_meeting(request: Request, meeting_id: int, db: AsyncSession) -> Response:
    meeting = await _meeting(request, db, meeting_id, VIEW_MEETING)
    patient = await patient_for(db, actor(request), VIEW_MEETING, meeting.patient_id)
    names = await account_names(db, {change.by_account_id for change in meeting.changes})
    await scheduling.viewed(db, audit_ctx(request), meeting)
    context = {"meeting": meeting, "patient": patient, "names": names}
    return render(request, "meetings/clinic_meeting.html", context | _helpers(request))


def _reschedule_form(meeting: Meeting) -> dict[str, str]:
    local = meeting.starts_at.astimezone(OSLO)
    return {"date": local.date().isoformat(), "time": local.strftime("%H:%M"),
            "duration": str(meeting.duration_minutes), "version": str(meeting.version), "reason": "",
            "late_reason": meeting.late_reason}


def _change_page(request: Request, template: str, meeting: Meeting, form: dict, errors: dict,
                 status: int = 200) -> Response:
    context = {"meeting": meeting, "form": form, "errors": errors}
    return render(request, template, context | _helpers(request), status=status)


def _refuse_cancelled(request: Request, meeting: Meeting) -> Response | None:
    if meeting.status != "cancelled":
        return None
    flash(request, N_("This meeting is cancelled and cannot be changed. Schedule a new one instead."), "warning")
    return redirect(request, f"/clinic/meetings/{meeting.id}")


@get("/clinic/meetings/{meeting_id:int}/reschedule", opt=policy(CLINICIAN))
async def reschedule_form(request: Request, meeting_id: int, db: AsyncSession) -> Response:
    meeting = await _meeting(request, db, meeting_id, SCHEDULE_MEETING)
    refused = _refuse_cancelled(request, meeting)
    if refused:
        return refused
    await scheduling.viewed(db, audit_ctx(request), meeting)
    return _change_page(request, "meetings/reschedule.html", meeting, _reschedule_form(meeting), {})


@post("/clinic/meetings/{meeting_id:int}/reschedule", opt=policy(CLINICIAN))
async def reschedule(request: Request, meeting_id: int, data: Form, db: AsyncSession) -> Response:
    meeting = await _meeting(request, db, meeting_id, SCHEDULE_MEETING, lock=True)
    refused = _refuse_cancelled(request, meeting)
    if refused:
        return refused
    checked = forms.ScheduleForm(data, locale=locale(request))
    others = scheduling.slots(await scheduling.patient_meetings(db, meeting.patient_id), leave_out=meeting.id)
    starts_at, duration = checked.reschedule(meeting.number, meeting.version, others, utcnow())
    form, errors = checked.values, checked.error_map
    if errors or starts_at is None:
        await scheduling.refuse(db, audit_ctx(request), "meeting.reschedule_refused", meeting.patient_id,
                                f"meeting {meeting.id}")
        if form["version"] != str(meeting.version):
            form = _reschedule_form(meeting) | {"reason": form.get("reason", "")}
        return _change_page(request, "meetings/reschedule.html", meeting, form, errors, status=422)
    late_reason = form.get("late_reason", "") if meeting.number == 2 else None
    await scheduling.reschedule(db, audit_ctx(request), meeting, starts_at, duration, form.get("reason", ""),
                                late_reason)
    flash(request, N_("The meeting was moved. The patient has been told."))
    return redirect(request, f"/clinic/meetings/{meeting.id}")


@get("/clinic/meetings/{meeting_id:int}/cancel", opt=policy(CLINICIAN))
async def cancel_form(request: Request, meeting_id: int, db: AsyncSession) -> Response:
    meeting = await _meeting(request, db, meeting_id, SCHEDULE_MEETING)
    refused = _refuse_cancelled(request, meeting)
    if refused:
        return refused
    await scheduling.viewed(db, audit_ctx(request), meeting)
    return _change_page(request, "meetings/cancel.html", meeting, {"version": str(meeting.version), "reason": ""}, {})


@post("/clinic/meetings/{meeting_id:int}/cancel", opt=policy(CLINICIAN))
async def cancel(request: Request, meeting_id: int, data: Form, db: AsyncSession) -> Response:
    meeting = await _meeting(request, db, meeting_id, SCHEDULE_MEETING, lock=True)
    refused = _refuse_cancelled(request, meeting)
    if refused:
        return refused
    checked = forms.ScheduleForm(data, locale=locale(request))
    form = {"version": checked.get("version"), "reason": checked.get("reason")}
    if not checked.cancel(meeting.version):
        form["version"] = str(meeting.version)
        return _change_page(request, "meetings/cancel.html", meeting, form, checked.error_map, status=422)
    await scheduling.cancel(db, audit_ctx(request), meeting, form["reason"])
    flash(request, N_("The meeting was cancelled. The patient has been told."))
    return redirect(request, f"/clinic/meetings/{meeting.id}")


# --- Patient ------------------------------------------------------------------------------

@get("/meeting", opt=policy(PATIENT_SIDE))
async def patient_meeting(request: Request, db: AsyncSession) -> Response:
    patient_id = acting_for(actor(request), VIEW_MEETING)
    items = await scheduling.upcoming_for_patient(db, audit_ctx(request), patient_id)
    return render(request, "meetings/meeting.html", {"items": items} | _helpers(request))


@get("/meeting/{meeting_id:int}/calendar.ics", opt=policy(PATIENT_SIDE))
async def meeting_calendar(request: Request, meeting_id: int, db: AsyncSession) -> Response:
    acting_for(actor(request), VIEW_MEETING)
    meeting = await scheduling.load_meeting(db, meeting_id)
    if meeting is None:
        raise NotFoundException()
    acting_for(actor(request), VIEW_MEETING, meeting.patient_id)
    settings = request.app.state.settings
    online = meeting.format in forms.NEEDS_LINK and meeting.video_link
    description = gettext(request, N_("Collaboration meeting with the pain clinic. The agenda and who is coming "
                                      "are in Samhandling: %(url)s"), url=f"{settings.origin}/meeting")
    if online:
        description += "\n" + gettext(request, N_("Join the meeting: %(link)s"), link=meeting.video_link)
    location = meeting.address if meeting.format in forms.NEEDS_ADDRESS else meeting.video_link
    body = await scheduling.calendar_file(db, audit_ctx(request), meeting, description=description,
                                          location=location, uid_host=settings.rp_id)
    return Response(body.encode("utf-8"), media_type="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="samhandlingsmote-{meeting.number}.ics"',
        "Cache-Control": "no-store"})


@get("/meeting/check", opt=policy(PATIENT_SIDE))
async def camera_check(request: Request) -> Response:
    acting_for(actor(request), VIEW_MEETING)
    return render(request, "meetings/check.html", {})


ROUTES = [new_meeting, create_meeting, clinic_meeting, reschedule_form, reschedule, cancel_form, cancel,
          patient_meeting, meeting_calendar, camera_check]
