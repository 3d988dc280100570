"""The patient's "Who should come, and where?" flow, and the clinic's review of it."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import delegations
from server.access.acting import acting_for
from server.access.policy import CLINICIAN, EDIT_WISHES, PATIENT_SIDE, REVIEW_WISHES, policy
from server.access.service import account_names
from server.i18n import N_
from server.meetings import answers
from server.meetings import wishes as service
from server.meetings.wishes_forms import step_form
from server.pathway.acting import patient_for
from server.web import actor, audit_ctx, flash, locale, redirect, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
EDITABLE_STAGES = range(1, 7)  # until SHM 1 has taken place
PEOPLE_STEPS = ("relatives", "others")  # steps with rows of people and "Add one more person"


async def _sent_by_relative(db: AsyncSession, wishes) -> str:
    """The name of the relative who sent the wishes for the patient ("" when the patient did)."""
    if wishes is None or wishes.submitted_by_relative is None:
        return ""
    return (await account_names(db, {wishes.submitted_by_relative})).get(wishes.submitted_by_relative, "")


async def _linked_people(db: AsyncSession, patient_id: int) -> dict[int, dict[str, str]]:
    """The patient's relatives who have access in the app now (a live delegation): the relatives step offers them."""
    return {d.id: {"name": d.relative_name, "relation": d.relation}
            for d in await delegations.live_of_patient(db, patient_id)}


def _context(wishes, locked: bool) -> dict[str, Any]:
    return {"wishes": wishes, "answers": answers.decode(wishes.answers if wishes else None), "locked": locked,
            "state": service.state_of(wishes), "steps": service.STEPS, "topics": service.TOPICS,
            "roles": service.OTHER_ROLES, "places": service.PLACES, "relation_labels": service.RELATION_LABELS}


@get("/meeting/wishes", opt=policy(PATIENT_SIDE))
async def summary(request: Request, db: AsyncSession) -> Response:
    patient = await patient_for(db, actor(request), EDIT_WISHES)
    patient_id = patient.id
    wishes = await service.read_wishes(db, audit_ctx(request), patient_id)
    context = _context(wishes, await service.is_locked(db, patient_id))
    context |= {"patient": patient, "missing": service.missing_steps((wishes.answers if wishes else None) or {}),
                "open": patient.stage in EDITABLE_STAGES, "sent_by_relative": await _sent_by_relative(db, wishes),
                "in_app": set(await _linked_people(db, patient_id))}
    return render(request, "meetings/wishes_summary.html", context)


async def _step_page(request: Request, db: AsyncSession, key: str, *, value=None, errors=None,
                     status: int = 200, more: bool = False) -> Response:
    step = service.step_by_key(key)
    if step is None:
        raise NotFoundException()
    patient = await patient_for(db, actor(request), EDIT_WISHES)
    patient_id = patient.id
    wishes = await service.read_wishes(db, audit_ctx(request), patient_id, detail=f"step {key}")
    context = _context(wishes, await service.is_locked(db, patient_id))
    if value is None:  # the step's form is filled from the stored answer as it is (form data, not the document)
        value = ((wishes.answers if wishes else None) or {}).get(key)
    context |= {"patient": patient, "step": step, "value": value, "errors": errors or {},
                "previous": service.previous_step(key), "next": service.next_step(key),
                "step_number": service.STEP_KEYS.index(key) + 1, "max_people": service.MAX_PEOPLE,
                "linked_people": await _linked_people(db, patient_id) if key == "relatives" else {},
                "more": more}
    return render(request, f"meetings/wishes_{key}.html", context, status=status)


@get("/meeting/wishes/{key:str}", opt=policy(PATIENT_SIDE))
async def step_page(request: Request, key: str, db: AsyncSession, more: bool = False) -> Response:
    """`more`: the patient asked for one more person (the empty row gets the focus)."""
    return await _step_page(request, db, key, more=more)


async def _save(request: Request, db: AsyncSession, key: str, data: dict[str, Any]):
    """Save what was typed as the draft, valid or not: nothing typed is lost."""
    if service.step_by_key(key) is None:
        raise NotFoundException()
    patient_id = acting_for(actor(request), EDIT_WISHES)
    if await service.is_locked(db, patient_id):
        return None, None, "locked"
    linked = await _linked_people(db, patient_id) if key == "relatives" else None
    form = step_form(key, data, locale(request), linked)
    form.check()
    value = form.answer()
    if form.has_forbidden_text():  # never stored; the page shows it again with the message
        return value, form.error_map, "refused"
    wishes = await service.get_or_create(db, patient_id)
    await service.save_step(db, audit_ctx(request), wishes, key, value)
    return value, form.error_map, "saved"


@post("/meeting/wishes/{key:str}", opt=policy(PATIENT_SIDE))
async def save_step(request: Request, key: str, data: Form, db: AsyncSession) -> Response:
    value, errors, outcome = await _save(request, db, key, data)
    if outcome == "locked":
        flash(request, N_("The clinic has planned the meeting, so your answers can no longer be changed here. "
                          "Call the clinic if something has changed."), "warning")
        return redirect(request, "/meeting/wishes")
    more = data.get("to") == "more" and key in PEOPLE_STEPS  # "Add one more person": the same page again
    if errors:
        return await _step_page(request, db, key, value=value, errors=errors, status=422, more=more)
    if more:
        return redirect(request, f"/meeting/wishes/{key}?more=true#new-person")
    following = service.next_step(key)
    going_to_summary = data.get("to") == "summary" or following is None
    return redirect(request, "/meeting/wishes" if going_to_summary else f"/meeting/wishes/{following}")


@post("/meeting/wishes/{key:str}/autosave", opt=policy(PATIENT_SIDE))
async def autosave(request: Request, key: str, data: Form, db: AsyncSession) -> Response:
    """htmx saves the draft while the patient types; it answers with the small "saved" status."""
    _value, _errors, outcome = await _save(request, db, key, data)
    return render(request, "meetings/_autosave_status.html", {"saved": outcome == "saved",
                                                              "locked": outcome == "locked"})


@post("/meeting/wishes-submit", opt=policy(PATIENT_SIDE))
async def submit(request: Request, db: AsyncSession) -> Response:
    patient_id = acting_for(actor(request), EDIT_WISHES)
    wishes = await service.get_wishes(db, patient_id)
    if await service.is_locked(db, patient_id):
        flash(request, N_("The clinic has planned the meeting, so your answers can no longer be changed here. "
                          "Call the clinic if something has changed."), "warning")
        return redirect(request, "/meeting/wishes")
    if wishes is None or service.missing_steps(wishes.answers or {}):
        flash(request, N_("Some answers are missing. Answer the questions marked below, then send again."), "danger")
        return redirect(request, "/meeting/wishes")
    await service.submit(db, audit_ctx(request), wishes)
    flash(request, N_("Your answers were sent to the clinic. You can still change them until the meeting is planned."))
    return redirect(request, "/meeting/wishes")


# --- Clinic ------------------------------------------------------------------------------------

@get("/clinic/patients/{patient_id:int}/wishes", opt=policy(CLINICIAN))
async def review(request: Request, patient_id: int, db: AsyncSession) -> Response:
    patient = await patient_for(db, actor(request), REVIEW_WISHES, patient_id)
    wishes = await service.read_wishes(db, audit_ctx(request), patient_id, "meeting.wishes_reviewed")
    submitted = wishes.submitted_answers if wishes and wishes.submitted_answers else None
    changed = service.changed_sections(wishes.reviewed_answers, submitted) if submitted and wishes.reviewed_answers \
        else set()
    context = {"patient": patient, "wishes": wishes, "answers": answers.decode(submitted), "changed": changed,
               "state": "read" if service.read_since_sent(wishes) else "sent", "steps": service.STEPS,
               "topics": service.TOPICS, "roles": service.OTHER_ROLES, "places": service.PLACES,
               "relation_labels": service.RELATION_LABELS, "in_app": set(await _linked_people(db, patient_id)),
               "sent_by_relative": await _sent_by_relative(db, wishes)}
    return render(request, "meetings/clinic_wishes.html", context)


@post("/clinic/patients/{patient_id:int}/wishes/read", opt=policy(CLINICIAN))
async def mark_read(request: Request, patient_id: int, db: AsyncSession) -> Response:
    acting_for(actor(request), REVIEW_WISHES, patient_id)
    wishes = await service.get_wishes(db, patient_id)
    if wishes is None or wishes.submitted_answers is None:
        raise NotFoundException()
    await service.mark_read(db, audit_ctx(request), wishes)
    flash(request, N_("Marked as read. The patient can see that the clinic has read their answers."))
    return redirect(request, f"/clinic/patients/{patient_id}/wishes")


ROUTES = [summary, step_page, save_step, autosave, submit, review, mark_read]
