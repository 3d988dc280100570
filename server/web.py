"""Rendering pages and htmx blocks, flash messages, and small request helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response
from litestar.enums import MediaType
from litestar.response import Redirect
from litestar.response.base import ASGIResponse
from litestar.utils.scope.state import ScopeState
from sqlalchemy.exc import SQLAlchemyError

from server.access import sessions
from server.access.policy import ANONYMOUS, VIEW_PLAN, Actor, can
from server.audit.service import AuditContext
from server.i18n import LANGUAGE_NAMES, translations


def actor(request: Request) -> Actor:
    return request.scope.get("state", {}).get("actor", ANONYMOUS)


def audit_ctx(request: Request) -> AuditContext:
    current = actor(request)
    return AuditContext(current.account_id, current.role, request.scope.get("state", {}).get("request_id", ""),
                        current.patient_id if current.role == "relative" else None)


def locale(request: Request) -> str:
    return request.scope.get("state", {}).get("locale", "nb")


def gettext(request: Request, message: str, **params: Any) -> str:
    text = translations(locale(request)).gettext(message)
    return text % params if params else text


def flash(request: Request, message: str, kind: str = "success", **params: Any) -> None:
    sessions.push_flash(request.scope.get("state", {}).get("user_session"), message, kind, **params)


def is_block_request(request: Request) -> bool:
    """htmx swaps get the named block; normal, boosted and history-restore requests get the page."""
    headers = request.headers
    return (headers.get("hx-request") == "true" and headers.get("hx-boosted") != "true"
            and headers.get("hx-history-restore-request") != "true")


def base_context(request: Request) -> dict[str, Any]:
    lang = locale(request)
    trans = translations(lang)
    state = request.scope.get("state", {})

    def _(message: str, **params: Any) -> str:
        text = trans.gettext(message)
        return text % params if params else text

    try:
        pending = sessions.pop_flash(state.get("user_session"))
    except SQLAlchemyError:  # an error page rendered after the request's transaction ended (a CSRF refusal)
        pending = []
    flashes = [
        {"kind": item["kind"], "message": _translate(trans, item["message"], item.get("params", {}))}
        for item in pending
    ]
    current = actor(request)
    return {
        "request": request,
        "actor": current,
        # the patient's tabs (pathway, meeting, plan, messages): the patient, or a relative who may see them
        "patient_pages": current.role == "patient" or (current.role == "relative" and current.patient_id is not None
                                                      and can(current, VIEW_PLAN, current.patient_id)),
        "lang": lang,
        "languages": LANGUAGE_NAMES,
        "_": _,
        "gettext": _,
        "ngettext": lambda s, p, n: trans.ngettext(s, p, n) % {"num": n},
        "csrf_token": value_or_empty(ScopeState.from_scope(request.scope).csrf_token),
        "flashes": flashes,
        "unread": 0,  # a full page for the patient's side counts it as it is sent (see render)
        "acting_for_possessive": possessive(state["delegation"].patient_name, lang) if state.get("delegation") else "",
        "current_path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }


def possessive(name: str, lang: str) -> str:
    """ "Kari Nordmanns" (nb), "Kari Nordmann’s" (en): whose page a relative is on."""
    if lang == "en":
        return f"{name}’s"
    return name + ("'" if name[-1:].lower() in ("s", "x", "z") else "s")


def _translate(trans, message: str, params: dict[str, Any]) -> str:
    text = trans.gettext(message)
    return text % params if params else text


def value_or_empty(value: Any) -> str:
    return value if isinstance(value, str) else ""


UnreadCounter = Callable[[Request], Callable[[], Awaitable[int]] | None]


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           block: str | None = None, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    env = request.app.template_engine.engine
    full = base_context(request) | (context or {})
    tmpl = env.get_template(template)
    response_headers = {"Vary": "HX-Request", "Cache-Control": "no-store"}
    response_headers.update(headers or {})
    if block and is_block_request(request):
        html = "".join(tmpl.blocks[block](tmpl.new_context(full)))
        return Response(html, status_code=status, media_type=MediaType.HTML, headers=response_headers)
    # A full page: its header shows the unread messages of whoever reads the patient's inbox, counted here
    # only (never for an htmx block, JSON, a redirect or a static file), as the response is sent.
    counter: UnreadCounter | None = request.app.state.get("unread_counter")
    count = counter(request) if counter is not None and status < 500 else None
    if count is None:
        return Response(tmpl.render(full), status_code=status, media_type=MediaType.HTML, headers=response_headers)
    return _PageWithCount(lambda unread: tmpl.render(full | {"unread": unread}), count, status_code=status,
                          media_type=MediaType.HTML, headers=response_headers)


class _PageWithCount(Response):
    """A page rendered when it is sent, after the header's count is awaited (rendering itself is sync)."""

    def __init__(self, page: Callable[[int], str], count: Callable[[], Awaitable[int]], **kwargs: Any) -> None:
        super().__init__(b"", **kwargs)
        self._page, self._count = page, count

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIResponse:
        return _CountThenSend(super().to_asgi_response(*args, **kwargs), self._page, self._count)  # type: ignore[return-value]


class _CountThenSend:
    """The ASGI response of a `_PageWithCount`: count, render, then send as usual."""

    def __init__(self, inner: ASGIResponse, page: Callable[[int], str], count: Callable[[], Awaitable[int]]) -> None:
        self._inner, self._page, self._count = inner, page, count

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            unread = await self._count()
        except SQLAlchemyError:  # a failed transaction: the page still renders, without the count
            unread = 0
        body = self._page(unread).encode(self._inner.encoding)
        if not self._inner.is_head_response:
            self._inner.body = body
        self._inner.content_length = len(body)
        self._inner.headers["content-length"] = str(len(body))
        await self._inner(scope, receive, send)


def redirect(request: Request, path: str) -> Response:
    """POST → redirect → GET. A targeted htmx swap is told to load the whole page instead."""
    if is_block_request(request):
        return Response("", status_code=200, headers={"HX-Location": path, "Vary": "HX-Request"})
    return Redirect(path, status_code=303, headers={"Vary": "HX-Request"})


def safe_next(value: str | None, default: str = "/") -> str:
    """Only local paths: never redirect to another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
