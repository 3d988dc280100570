"""Login, enrollment by one-time code, logout, and the account page (passkeys and sessions)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import codes, passkeys, ratelimit, service, sessions
from server.access.forms import EnrollForm, PasskeyNameForm
from server.access.json_body import BadBody, read_json
from server.access.middleware import LANG_COOKIE
from server.access.models import Account, Credential, EnrollmentCode, UserSession
from server.access.policy import AUTHENTICATED, PUBLIC, policy
from server.audit.service import AuditContext
from server.forms import NOT_ALLOWED
from server.i18n import LOCALES, N_
from server.notify import notices
from server.web import actor, audit_ctx, client_address, flash, gettext, locale, redirect, render, safe_next

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]

CODE_ERRORS = {
    "format": N_("The code has 12 letters and digits, like ABCD-EFGH-JKMN. Check that you typed all of it."),
    "wrong": N_("The code is not correct. Check it and try again, or ask the clinic for a new code."),
    "expired": N_("The code has expired. Ask the clinic for a new code."),
    "pending": N_("This code does not work yet: a second administrator must approve it first. "
                  "Try again when you have been told it is approved."),
    "client_limited": N_("Too many wrong codes from this device. Wait 15 minutes and try again."),
}


def _json_error(request: Request, message: str, status: int = 400) -> Response:
    return Response({"error": gettext(request, message)}, status_code=status,
                    headers={"Cache-Control": "no-store"})


async def _json_body(request: Request) -> dict[str, Any]:
    return await read_json(request)


def _bad_body(request: Request, exc: BadBody) -> Response:
    return _json_error(request, exc.message, exc.status)


# The passkey ceremonies' JSON body as `payload`, read with limits; a body too large, too deep or not an
# object gets the JSON error (413 or 400) before the handler runs.
JSON_BODY: dict[str, Any] = {"dependencies": {"payload": Provide(_json_body)},
                             "exception_handlers": {BadBody: _bad_body}}


def _credential_json(data: dict[str, Any]) -> str:
    credential = data.get("credential")
    if not isinstance(credential, dict):
        raise ValueError("credential missing")
    return json.dumps(credential)


# --- The session cookie: the web half of signing in and out (the rest is in access/service.py) -----------

def _state(request: Request) -> dict[str, Any]:
    return request.scope["state"]


async def _ensure_session(request: Request, db: AsyncSession) -> UserSession:
    """The request's session; an anonymous one is created for a ceremony that needs it."""
    state = _state(request)
    if state.get("user_session") is None:
        session, token = await sessions.start(db, None, request.headers.get("user-agent", ""))
        state["user_session"], state["session_cookie"] = session, token
    return state["user_session"]


async def _sign_in(request: Request, db: AsyncSession, account: Account, credential: Credential) -> None:
    state = _state(request)
    session, token = await service.sign_in(db, state["request_id"], account, credential,
                                           request.headers.get("user-agent", ""), replacing=state.get("user_session"))
    state["user_session"], state["session_cookie"] = session, token
    if request.cookies.get(LANG_COOKIE) in LOCALES:  # the language chosen before signing in: push texts use it
        await service.remember_language(db, account.id, request.cookies[LANG_COOKIE])


# --- Login -------------------------------------------------------------------------------

@get("/login", opt=policy(PUBLIC))
async def login_page(request: Request, next: str = "/") -> Response:  # noqa: A002
    if actor(request).is_authenticated:
        return redirect(request, safe_next(next))
    return render(request, "access/login.html", {"next": safe_next(next)})


TOO_MANY = N_("Too many attempts from this device. Wait 15 minutes and try again.")


@post("/login/options", opt=policy(PUBLIC))
async def login_options(request: Request, db: AsyncSession) -> Response:
    if request.scope["state"].get("user_session") is None:
        # A new anonymous session and challenge: limited per client, so a loop cannot fill the tables.
        if await ratelimit.is_limited(db, ratelimit.LOGIN_START, client_address(request)):
            return _json_error(request, TOO_MANY, status=429)
        await ratelimit.count_hit(db, ratelimit.LOGIN_START, client_address(request))
    session = await _ensure_session(request, db)
    options = await passkeys.authentication_options(db, request.app.state.settings, session)
    return Response(json.loads(options), status_code=200, headers={"Cache-Control": "no-store"})


@post("/login/verify", opt=policy(PUBLIC), **JSON_BODY)
async def login_verify(request: Request, db: AsyncSession, payload: dict[str, Any]) -> Response:
    client = client_address(request)
    if await ratelimit.is_limited(db, ratelimit.LOGIN_FAILURES, client):
        return _json_error(request, TOO_MANY, status=429)
    session = request.scope["state"].get("user_session")
    try:
        if session is None:
            raise passkeys.PasskeyError(N_("This sign-in attempt is no longer valid. Please try again."))
        account, credential = await passkeys.finish_authentication(db, request.app.state.settings, session,
                                                                   _credential_json(payload))
    except ValueError:
        await ratelimit.count_hit(db, ratelimit.LOGIN_FAILURES, client)
        return _json_error(request, N_("We could not sign you in with this passkey. Please try again."))
    except passkeys.PasskeyError as exc:
        await ratelimit.count_hit(db, ratelimit.LOGIN_FAILURES, client)
        if exc.security_event:
            await service.refuse_login(db, audit_ctx(request), exc.security_event)
        return _json_error(request, exc.message)
    await _sign_in(request, db, account, credential)
    return Response({"redirect": safe_next(payload.get("next") if isinstance(payload.get("next"), str) else None)},
                    status_code=200, headers={"Cache-Control": "no-store"})


@post("/logout", opt=policy(AUTHENTICATED))
async def logout(request: Request, db: AsyncSession) -> Response:
    state = _state(request)
    await service.sign_out(db, audit_ctx(request), state.get("user_session"), actor(request).patient_id)
    state["user_session"], state["session_cookie"] = None, None
    response = redirect(request, "/login")
    # The HTTP cache goes; the worker's offline copy is removed by pwa.js on the next page (signed out).
    response.headers["Clear-Site-Data"] = '"cache"'
    return response


# --- Enrollment ---------------------------------------------------------------------------

@get("/enroll", opt=policy(PUBLIC))
async def enroll_page(request: Request) -> Response:
    return render(request, "access/enroll.html", {"code": "", "errors": {}})


@post("/enroll", opt=policy(PUBLIC))
async def enroll_submit(request: Request, data: Form, db: AsyncSession) -> Response:
    secret_key, client = request.app.state.settings.secret_key, client_address(request)
    typed = await codes.check_typed(EnrollForm(data, locale=locale(request)),
                                    lambda raw: codes.check(db, secret_key, raw, client),
                                    CODE_ERRORS, N_("Enter the code you got from the clinic."))
    if not typed.ok:
        return render(request, "access/enroll.html", {"code": typed.typed, "errors": typed.errors},
                      status=typed.status)
    session = await _ensure_session(request, db)
    session.enrolling_code_id = typed.check.code.id
    return redirect(request, "/enroll/passkey")


async def _enrolling(request: Request, db: AsyncSession) -> tuple[UserSession, EnrollmentCode, Account] | None:
    session = request.scope["state"].get("user_session")
    if session is None or session.enrolling_code_id is None:
        return None
    code = await db.get(EnrollmentCode, session.enrolling_code_id)
    if code is None or code.used_at or code.revoked_at:
        return None
    account = await db.get(Account, code.account_id)
    if account is None or not account.active:
        return None
    return session, code, account


@get("/enroll/passkey", opt=policy(PUBLIC))
async def enroll_passkey_page(request: Request, db: AsyncSession) -> Response:
    enrolling = await _enrolling(request, db)
    if enrolling is None:
        flash(request, N_("Enter your code first."), "info")
        return redirect(request, "/enroll")
    return render(request, "access/enroll_passkey.html", {"name": enrolling[2].display_name})


@post("/enroll/options", opt=policy(PUBLIC))
async def enroll_options(request: Request, db: AsyncSession) -> Response:
    enrolling = await _enrolling(request, db)
    if enrolling is None:
        return _json_error(request, N_("Enter your code first."))
    session, _code, account = enrolling
    options = await passkeys.registration_options(db, request.app.state.settings, session, account)
    return Response(json.loads(options), status_code=200, headers={"Cache-Control": "no-store"})


@post("/enroll/verify", opt=policy(PUBLIC), **JSON_BODY)
async def enroll_verify(request: Request, db: AsyncSession, payload: dict[str, Any]) -> Response:
    enrolling = await _enrolling(request, db)
    if enrolling is None:
        return _json_error(request, N_("Enter your code first."))
    session, code, account = enrolling
    names = PasskeyNameForm({"name": str(payload.get("name") or "")}, locale=locale(request))
    if not names.validate():
        return _json_error(request, NOT_ALLOWED)
    name = names.name_or(service.device_label(request.headers.get("user-agent", "")))
    try:
        credential = await passkeys.finish_registration(db, request.app.state.settings, session, account,
                                                        _credential_json(payload), name or "Passkey")
    except ValueError:
        return _json_error(request, N_("The passkey could not be created. Please try again."))
    except passkeys.PasskeyError as exc:
        return _json_error(request, exc.message)
    if not await codes.consume(db, code.id):
        await db.delete(credential)
        return _json_error(request, CODE_ERRORS["expired"])
    credential.issued_by, credential.approved_by = code.created_by, code.approved_by
    await service.passkey_added(db, AuditContext(account.id, account.role, request.scope["state"]["request_id"]),
                                account, credential)
    await notices.passkey_added(db, account, credential.name, code)
    await _sign_in(request, db, account, credential)
    flash(request, N_("Your passkey is ready. Next time, log in with it."))
    return Response({"redirect": "/"}, status_code=200, headers={"Cache-Control": "no-store"})


# --- The account page: passkeys and sessions -----------------------------------------------

@get("/account", opt=policy(AUTHENTICATED))
async def account_page(request: Request, db: AsyncSession) -> Response:
    me = actor(request)
    context = {
        "credentials": await service.credentials_of(db, me.account_id),
        "sessions": await sessions.list_for_account(db, me.account_id),
        "device_label": service.device_label,
        "notices": await notices.recent(db, me.account_id),
    }
    return render(request, "access/account.html", context)


@post("/account/passkeys/options", opt=policy(AUTHENTICATED))
async def add_passkey_options(request: Request, db: AsyncSession) -> Response:
    account = await db.get(Account, actor(request).account_id)
    options = await passkeys.registration_options(db, request.app.state.settings,
                                                  request.scope["state"]["user_session"], account)
    return Response(json.loads(options), status_code=200, headers={"Cache-Control": "no-store"})


@post("/account/passkeys/verify", opt=policy(AUTHENTICATED), **JSON_BODY)
async def add_passkey_verify(request: Request, db: AsyncSession, payload: dict[str, Any]) -> Response:
    account = await db.get(Account, actor(request).account_id)
    names = PasskeyNameForm({"name": str(payload.get("name") or "")}, locale=locale(request))
    if not names.validate():
        return _json_error(request, NOT_ALLOWED)
    name = names.name_or(service.device_label(request.headers.get("user-agent", "")))
    try:
        credential = await passkeys.finish_registration(db, request.app.state.settings,
                                                        request.scope["state"]["user_session"], account,
                                                        _credential_json(payload), name or "Passkey")
    except ValueError:
        return _json_error(request, N_("The passkey could not be created. Please try again."))
    except passkeys.PasskeyError as exc:
        return _json_error(request, exc.message)
    await service.passkey_added(db, audit_ctx(request), account, credential)
    await notices.passkey_added(db, account, credential.name, None)
    flash(request, N_("The new passkey was added."))
    return Response({"redirect": "/account"}, status_code=200, headers={"Cache-Control": "no-store"})


async def _own_credential(request: Request, db: AsyncSession, credential_id: int) -> Credential:
    credential = await db.get(Credential, credential_id)
    if credential is None or credential.account_id != actor(request).account_id:
        raise NotFoundException()
    return credential


@get("/account/passkeys/{credential_id:int}/remove", opt=policy(AUTHENTICATED))
async def remove_passkey_confirm(request: Request, credential_id: int, db: AsyncSession) -> Response:
    credential = await _own_credential(request, db, credential_id)
    last = await service.credential_count(db, actor(request).account_id) <= 1
    return render(request, "access/remove_passkey.html", {"credential": credential, "last": last})


@post("/account/passkeys/{credential_id:int}/remove", opt=policy(AUTHENTICATED))
async def remove_passkey(request: Request, credential_id: int, db: AsyncSession) -> Response:
    credential = await _own_credential(request, db, credential_id)
    if await service.credential_count(db, actor(request).account_id) <= 1:
        return render(request, "access/remove_passkey.html", {"credential": credential, "last": True}, status=422)
    await service.remove_passkey(db, audit_ctx(request), credential, actor(request).patient_id)
    flash(request, N_("The passkey “%(name)s” was removed."), name=credential.name)
    return redirect(request, "/account")


@post("/account/sessions/{session_id:int}/end", opt=policy(AUTHENTICATED))
async def end_session(request: Request, session_id: int, db: AsyncSession) -> Response:
    me = actor(request)
    target = await db.get(UserSession, session_id)
    if target is None or target.account_id != me.account_id:
        raise NotFoundException()
    if target.id == me.session_id:
        return redirect(request, "/account")
    await service.end_session(db, audit_ctx(request), target, me.patient_id)
    flash(request, N_("The other session was ended."))
    return redirect(request, "/account")


@post("/account/sessions/end-others", opt=policy(AUTHENTICATED))
async def end_other_sessions(request: Request, db: AsyncSession) -> Response:
    me = actor(request)
    await service.end_other_sessions(db, audit_ctx(request), me.account_id, me.session_id, me.patient_id)
    flash(request, N_("All other sessions were ended."))
    return redirect(request, "/account")


ROUTES = [login_page, login_options, login_verify, logout, enroll_page, enroll_submit, enroll_passkey_page,
          enroll_options, enroll_verify, account_page, add_passkey_options, add_passkey_verify,
          remove_passkey_confirm, remove_passkey, end_session, end_other_sessions]
