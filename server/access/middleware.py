"""Per request: a database transaction, the session and actor, and the route's access policy.

The transaction commits just before the response starts (so an acknowledged answer is stored)
and rolls back on a server error.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from litestar.exceptions import (
    ClientException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import delegations, params, sessions
from server.access.policy import ANONYMOUS, PATIENT_SIDE, Actor, route_allows
from server.i18n import N_, pick_locale

LANG_COOKIE = "__Host-lang"


def _cookies(scope: Scope) -> dict[str, str]:
    jar: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            parsed = SimpleCookie()
            try:
                parsed.load(value.decode("latin-1"))
            except Exception:  # noqa: BLE001 - a malformed cookie header is ignored, not fatal
                continue
            jar.update({key: morsel.value for key, morsel in parsed.items()})
    return jar


def session_cookie(token: str | None) -> bytes:
    if token is None:
        return f"{sessions.COOKIE_NAME}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax".encode()
    return f"{sessions.COOKIE_NAME}={token}; Path=/; Secure; HttpOnly; SameSite=Lax".encode()


def provide_db(scope: Scope) -> AsyncSession:
    """The request's session (one transaction per request, opened below): `db: AsyncSession` in a handler."""
    return scope["state"]["db"]


async def _sign_in_from_cookie(db: AsyncSession, state: dict, token: str | None, settings, query=None) -> None:
    """The session and actor of this request, from the session cookie (a stale cookie is cleared): one query
    for the session, its account and the delegation it acts under (`sessions.load`)."""
    identity = await sessions.load(
        db, token, timedelta(minutes=settings.session_idle_minutes), timedelta(hours=settings.session_absolute_hours),
        query)
    user_session, account = identity.session, identity.account
    if token and user_session is None:
        state["session_cookie"] = None  # clear a stale or unknown cookie
    state["user_session"] = user_session
    state["prefetched"] = identity.extra
    if account is not None:
        state["actor"] = Actor(account.id, account.role, account.display_name, account.patient_id, user_session.id)
        if user_session.acting_delegation_id is not None:
            _act_as_relative(state, account, user_session, identity.delegation, identity.has_passkey)


def _act_as_relative(state: dict, account, user_session, delegation, has_passkey: bool) -> None:
    """A session that picked a delegation acts for its patient with its scopes, read afresh on every
    request (in the identity query): ending or narrowing it takes effect on the very next request, open
    sessions included."""
    if delegation is not None and not has_passkey:
        # An account without a passkey never acts for anyone: the patient's pages send it to make one.
        state["actor"] = Actor(account.id, "relative", account.display_name, None, user_session.id)
        state["needs_passkey"] = delegation.patient_name
    elif delegation is not None and delegations.is_live(delegation):
        state["actor"] = Actor(account.id, "relative", account.display_name, delegation.patient_id,
                               user_session.id, delegation.scope_set)
        state["delegation"] = delegation
    else:
        # Ended, expired or not theirs: a relative with nobody to act for, told so on the patient's pages.
        state["actor"] = Actor(account.id, "relative", account.display_name, None, user_session.id)
        state["access_ended"] = delegation.patient_name if delegation is not None else ""


def _committing(db: AsyncSession, state: dict, send: Send) -> Send:
    """Commit (or roll back on a server error) just before the response starts; set the session cookie."""

    async def send_wrapper(message: Message) -> None:
        if message["type"] == "http.response.start":
            if message["status"] < 500:
                await db.commit()
            else:
                await db.rollback()
            if "session_cookie" in state:
                message["headers"] = list(message.get("headers", [])) + [
                    (b"set-cookie", session_cookie(state["session_cookie"]))]
        await send(message)

    return send_wrapper


class AccessEnded(PermissionDeniedException):
    """A relative's access ended (by the patient or at its end date): the patient's pages say so.
    (Or the relative's account has no passkey yet: the patient's pages send them to make one.)"""


async def _refuse_unless_allowed(db: AsyncSession, policy_name: str | None, actor: Actor, state: dict) -> None:
    if policy_name == PATIENT_SIDE and ("access_ended" in state or "needs_passkey" in state):
        if "needs_passkey" in state:
            sessions.push_flash(state["user_session"], N_("Make your passkey first. Then you can see %(name)s’s page."),
                                "info", name=state["needs_passkey"])
        await db.commit()
        raise AccessEnded()
    if route_allows(policy_name, actor):
        return
    await db.commit()  # keep the removal of a timed-out session
    if policy_name is not None and not actor.is_authenticated:
        raise NotAuthorizedException()
    raise PermissionDeniedException()
def _check_integers(scope: Scope, handler) -> None:
    """Ids in the path and integer query parameters must fit the database (see access/params.py)."""
    if not params.path_ids_in_range(scope.get("path_params") or {}):
        raise NotFoundException()
    if handler is not None and params.int_query_names(handler):
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if not params.query_ints_valid(handler, query):
            raise ClientException()


def _identity_query(litestar_app, method: str):
    """The identity statement for this request: a GET (a page may be rendered) uses the app's
    `identity_query_get`, built once by create_app with the columns that ride along (the header's unread
    count), so that they cost no round trip of their own; other methods fetch the session alone."""
    return litestar_app.state.get("identity_query_get") if method == "GET" else None


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        handler = scope.get("route_handler")
        opt = getattr(handler, "opt", {}) or {}
        litestar_app = scope["litestar_app"]
        cookies = _cookies(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = uuid.uuid4().hex
        state["locale"] = pick_locale(cookies.get(LANG_COOKIE))
        state["actor"] = ANONYMOUS
        if opt.get("static"):
            await app(scope, receive, send)
            return
        async with litestar_app.state.sessionmaker() as db:
            state["db"] = db
            try:
                await _sign_in_from_cookie(db, state, cookies.get(sessions.COOKIE_NAME), litestar_app.state.settings,
                                           _identity_query(litestar_app, scope["method"]))
                await _refuse_unless_allowed(db, opt.get("policy"), state["actor"], state)
                _check_integers(scope, handler)
                try:
                    await app(scope, receive, _committing(db, state, send))
                except BaseException:
                    await db.rollback()
                    raise
            finally:
                state.pop("db", None)  # an error page rendered after this (a refusal) reads nothing from it

    return middleware
