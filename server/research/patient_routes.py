"""The patient's research page: requests after held meetings, yes or no, withdrawal and receipts.

Patient-only: the route policy is PATIENT and every handler asks `acting_for(..., RESEARCH_ANSWER)`,
which `can()` grants only to the patient themself (never a relative acting for them).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.acting import acting_for
from server.access.policy import PATIENT, RESEARCH_ANSWER, policy
from server.research import service
from server.research.forms import AnswerForm
from server.research.labels import CONTACT_LABELS, KIND_LABELS
from server.web import actor, audit_ctx, locale, redirect, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _me(request: Request) -> int:
    return acting_for(actor(request), RESEARCH_ANSWER)


def _labels() -> dict[str, Any]:
    return {"contact_labels": CONTACT_LABELS, "kind_labels": KIND_LABELS}


@get("/research", opt=policy(PATIENT))
async def research_page(request: Request, db: AsyncSession) -> Response:
    patient_id = _me(request)
    requests, history = await service.patient_view(db, audit_ctx(request), patient_id)
    context = {"requests": requests, "history": history, "has_active": any(r.active_yes for r in requests)}
    return render(request, "research/patient.html", context | _labels())


async def _open_request(request: Request, db: AsyncSession, meeting_id: int) -> tuple[int, service.RequestState]:
    patient_id = _me(request)
    state = await service.request_for(db, patient_id, meeting_id)
    if state is None:  # another patient's meeting, a meeting never held, or no request: as if it did not exist
        await service.refuse(db, audit_ctx(request), patient_id, "research.request_refused", f"meeting {meeting_id}")
        raise NotFoundException()
    return patient_id, state


async def _request_page(request: Request, db: AsyncSession, state: service.RequestState, form: dict,
                        errors: dict, status: int = 200) -> Response:
    text = await service.text_version(db, state.asked.text_version)
    body = (text.body_en if locale(request) == "en" else text.body_nb) if text else ""
    context = {"state": state, "body": body, "version": state.asked.text_version, "form": form, "errors": errors}
    return render(request, "research/request.html", context | _labels(), status=status)


@get("/research/meetings/{meeting_id:int}", opt=policy(PATIENT))
async def request_page(request: Request, meeting_id: int, db: AsyncSession) -> Response:
    _, state = await _open_request(request, db, meeting_id)
    return await _request_page(request, db, state, {}, {})


@post("/research/meetings/{meeting_id:int}", opt=policy(PATIENT))
async def answer(request: Request, meeting_id: int, data: Form, db: AsyncSession) -> Response:
    patient_id, state = await _open_request(request, db, meeting_id)
    if not state.open:
        await service.refuse(db, audit_ctx(request), patient_id, "research.answer_refused", f"meeting {meeting_id}")
        return redirect(request, "/research")
    form = AnswerForm(data, locale=locale(request))
    if not form.validate():
        return await _request_page(request, db, state, form.values, form.error_map, status=422)
    event = await service.answer(db, audit_ctx(request), patient_id, meeting_id, form.clean("answer") == "yes",
                                 form.clean("contact_method"), form.clean("contact_when"))
    if event is None:
        raise NotFoundException()
    return redirect(request, f"/research/receipts/{event.id}")


@get("/research/withdraw", opt=policy(PATIENT))
async def withdraw_confirm(request: Request, db: AsyncSession) -> Response:
    patient_id = _me(request)
    requests, _history = await service.patient_view(db, audit_ctx(request), patient_id)
    active = [r for r in requests if r.active_yes]
    return render(request, "research/withdraw.html", {"active": active})


@post("/research/withdraw", opt=policy(PATIENT))
async def withdraw(request: Request, db: AsyncSession) -> Response:
    rows = await service.withdraw(db, audit_ctx(request), _me(request))
    if not rows:
        return redirect(request, "/research")
    return redirect(request, f"/research/receipts/{rows[0].id}")


@get("/research/receipts/{event_id:int}", opt=policy(PATIENT))
async def receipt(request: Request, event_id: int, db: AsyncSession) -> Response:
    patient_id = _me(request)
    event = await service.own_event(db, patient_id, event_id)
    if event is None or event.kind not in ("yes", "no", "withdrawn"):
        raise NotFoundException()
    return render(request, "research/receipt.html", {"event": event} | _labels())


ROUTES = [research_page, request_page, answer, withdraw_confirm, withdraw, receipt]
