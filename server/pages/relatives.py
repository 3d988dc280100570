"""Relatives (pårørende): the patient gives, changes and ends access; the relative redeems a code,
picks whom they act for, and is told plainly when access has ended."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.middleware.csrf import generate_csrf_token
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import codes, delegations, service, sessions
from server.access.acting import acting_for
from server.access.forms import DelegationForm, RelativeCodeForm
from server.access.policy import AUTHENTICATED, MANAGE_DELEGATIONS, PATIENT, PUBLIC, SCOPES, policy
from server.i18n import N_, OSLO, today_oslo
from server.pages.account import CODE_ERRORS, _ensure_session
from server.pathway.acting import patient_for
from server.web import actor, audit_ctx, client_address, flash, locale, redirect, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
RELATION_LABELS = {"partner": N_("Spouse or partner"), "parent": N_("Parent"), "child": N_("Child"),
                   "other": N_("Other")}
SCOPE_LABELS = {"see": N_("See the pathway, meetings, action plan and messages"),
                "act": N_("Fill in and send the meeting wishes, update my measures and notes"),
                "reminders": N_("Get my reminders")}
RELATIVE_CODE_ERRORS = {**CODE_ERRORS,
                        "wrong": N_("The code is not correct. Check it, or ask for a new code."),
                        "expired": N_("The code has expired or was already used. Ask for a new code.")}


def _scopes(data: dict[str, Any]) -> frozenset[str]:
    raw = data.get("scopes") or []
    return delegations.clean_scopes(raw if isinstance(raw, list) else [raw])


def _end_of(day) -> datetime:
    return datetime.combine(day, time(23, 59), tzinfo=OSLO)


async def _patient_page(request: Request, db: AsyncSession, *, form=None, code: str = "", status: int = 200):
    patient = await patient_for(db, actor(request), MANAGE_DELEGATIONS)
    rows = await delegations.of_patient(db, patient.id)
    default_end = today_oslo() + timedelta(days=365)
    context = {"rows": rows, "is_live": delegations.is_live, "code": code, "relations": RELATION_LABELS,
               "scope_labels": SCOPE_LABELS, "scopes": SCOPES, "default_end": default_end,
               "form": form.values if form else {"name": "", "relation": "partner", "ends_on": ""},
               "errors": form.error_map if form else {}, "now": delegations.utcnow()}
    return render(request, "access/relatives.html", context, status=status)


@get("/access/relatives", opt=policy(PATIENT))
async def relatives_page(request: Request, db: AsyncSession) -> Response:
    return await _patient_page(request, db)


@post("/access/relatives", opt=policy(PATIENT))
async def give_access(request: Request, data: Form, db: AsyncSession) -> Response:
    patient = await patient_for(db, actor(request), MANAGE_DELEGATIONS)
    form = DelegationForm(data, locale=locale(request))
    ends_on = None
    if form.validate():
        ends_on = form.cleaned.get("ends_on") or today_oslo() + timedelta(days=365)
        if ends_on <= today_oslo() or ends_on > today_oslo() + timedelta(days=delegations.MAX_DAYS):
            form.add_error("ends_on", N_("Choose a date after today and at most three years ahead."))
    if not _scopes(data):
        form.add_error("scopes", N_("Choose at least one thing the relative may do."))
    if form.has_errors():
        return await _patient_page(request, db, form=form, status=422)
    _, code = await delegations.give(db, request.app.state.settings.secret_key, audit_ctx(request), patient.id,
                                     patient.name, form.clean("name"), form.clean("relation"), _scopes(data),
                                     _end_of(ends_on))
    return await _patient_page(request, db, code=code)


async def _own_delegation(request: Request, db: AsyncSession, delegation_id: int):
    patient_id = acting_for(actor(request), MANAGE_DELEGATIONS)
    delegation = await delegations.own(db, patient_id, delegation_id)
    if delegation is None:
        raise NotFoundException()
    return delegation


@post("/access/relatives/{delegation_id:int}/scopes", opt=policy(PATIENT))
async def change_access(request: Request, delegation_id: int, data: Form, db: AsyncSession) -> Response:
    delegation = await _own_delegation(request, db, delegation_id)
    if not _scopes(data):
        flash(request, N_("Choose at least one thing the relative may do, or end the access."), "danger")
        return redirect(request, "/access/relatives")
    await delegations.change_scopes(db, audit_ctx(request), delegation, _scopes(data))
    flash(request, N_("The access for %(name)s was changed."), name=delegation.relative_name)
    return redirect(request, "/access/relatives")


@post("/access/relatives/{delegation_id:int}/end", opt=policy(PATIENT))
async def end_access(request: Request, delegation_id: int, db: AsyncSession) -> Response:
    delegation = await _own_delegation(request, db, delegation_id)
    await delegations.end(db, audit_ctx(request), delegation)
    flash(request, N_("The access for %(name)s has ended."), name=delegation.relative_name)
    return redirect(request, "/access/relatives")


# --- The relative's side ------------------------------------------------------------------------

@get("/relative/code", opt=policy(PUBLIC))
async def relative_code_page(request: Request) -> Response:
    return render(request, "access/relative_code.html", {"code": "", "errors": {}})


@post("/relative/code", opt=policy(PUBLIC))
async def relative_code_submit(request: Request, data: Form, db: AsyncSession) -> Response:
    settings, client = request.app.state.settings, client_address(request)
    typed = await codes.check_typed(RelativeCodeForm(data, locale=locale(request)),
                                    lambda raw: delegations.check_code(db, settings.secret_key, raw, client),
                                    RELATIVE_CODE_ERRORS)
    if not typed.ok:
        return render(request, "access/relative_code.html", {"code": typed.typed, "errors": typed.errors},
                      status=typed.status)
    delegation = typed.check.delegation
    me = actor(request)
    if me.is_authenticated:
        # Someone with an account (a relative of another patient, a patient) adds the delegation to it.
        if me.role not in ("patient", "relative") or me.patient_id == delegation.patient_id:
            return render(request, "access/relative_code.html",
                          {"code": typed.typed,
                           "errors": {"code": N_("This account cannot be a relative of this person.")}}, status=422)
        await delegations.redeem(db, audit_ctx(request), delegation.id, me.account_id)
        flash(request, N_("You now have access to %(name)s’s page."), name=delegation.patient_name)
        return redirect(request, "/relatives")
    # A new relative: their own account, and a passkey made on the next page (the usual enrollment).
    account = await service.create_account(db, "relative", delegation.relative_name)
    await delegations.redeem(db, audit_ctx(request), delegation.id, account.id)
    await codes.issue(db, settings.secret_key, account.id, delegation.created_by, delegations.CODE_DAYS)
    enrolling = await service.latest_code(db, account.id)
    session = await _ensure_session(request, db)
    session.enrolling_code_id = enrolling.id
    return redirect(request, "/enroll/passkey")


@get("/relatives", opt=policy(AUTHENTICATED))
async def whom_i_represent(request: Request, db: AsyncSession) -> Response:
    rows = await delegations.of_relative(db, actor(request).account_id)
    return render(request, "access/represent.html", {"rows": rows, "is_live": delegations.is_live,
                                                      "scope_labels": SCOPE_LABELS, "scopes": SCOPES})


@post("/relatives/{delegation_id:int}/act", opt=policy(AUTHENTICATED))
async def act_for(request: Request, delegation_id: int, db: AsyncSession) -> Response:
    delegation = await delegations.acting(db, delegation_id, actor(request).account_id)
    if delegation is None:
        raise NotFoundException()
    return await _switch(request, db, delegation.id, "/home")


@post("/relatives/own", opt=policy(AUTHENTICATED))
async def act_for_myself(request: Request, db: AsyncSession) -> Response:
    return await _switch(request, db, None, "/")


async def _switch(request: Request, db: AsyncSession, delegation_id: int | None, then: str) -> Response:
    """Whom the session acts for changes: a new session id and cookie (the old session is deleted), so nothing
    holding the old session (patient A's) acts in the new context (patient B's); and a new CSRF cookie, so a
    page still open in another tab of the same browser (its forms carry the old token) cannot post either."""
    state = request.scope["state"]
    state["user_session"], state["session_cookie"] = await sessions.rotate(
        db, state["user_session"], request.headers.get("user-agent", ""), delegation_id)
    response = redirect(request, then)
    csrf = request.app.csrf_config
    response.set_cookie(csrf.cookie_name, generate_csrf_token(csrf.secret), path=csrf.cookie_path,
                        domain=csrf.cookie_domain, secure=csrf.cookie_secure, httponly=csrf.cookie_httponly,
                        samesite=csrf.cookie_samesite)
    return response


def access_ended_handler(request: Request, exc: Exception) -> Response:
    """The relative's very next click after access ended (by the patient or at its end date); or, for an
    account without a passkey, the step that makes one."""
    state = request.scope.get("state", {})
    if "needs_passkey" in state:  # (the middleware queued the message saying why)
        return redirect(request, "/account")
    patient_name = state.get("access_ended") or ""
    response = render(request, "access/ended.html", {"patient_name": patient_name}, status=403)
    if request.headers.get("hx-request") == "true":
        # htmx does not swap a 403: load the page in full (a GET again, a change: whom they represent).
        response.headers["HX-Redirect"] = request.url.path if request.method == "GET" else "/relatives"
    return response


ROUTES = [relatives_page, give_access, change_access, end_access, relative_code_page, relative_code_submit,
          whom_i_represent, act_for, act_for_myself]
