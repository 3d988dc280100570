"""create_app(settings) -> Litestar: the only place the app is wired."""

from __future__ import annotations

import asyncio
import gc
import traceback
from contextlib import suppress
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from litestar import Litestar, Request, Response
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.plugins.htmx import HTMXPlugin, HTMXRequest
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.template.config import TemplateConfig

from server.access import purge, sessions
from server.access.edge import edge_middleware
from server.access.middleware import AccessEnded, provide_db, request_context_middleware
from server.access.policy import PUBLIC
from server.audit.service import seal_periodically
from server.dates import EXAMPLE_DATE
from server.dates import FILTERS as DATE_FILTERS
from server.db import make_engine, make_sessionmaker
from server.i18n import LOCALES, N_, translations
from server.meetings import invitation_routes, schedule_routes, wishes_routes
from server.meetings.wishes import OTHER_ROLES
from server.notify import routes as notify_routes
from server.notify import service as notify_service
from server.notify import vapid, worker
from server.pages import (
    access_log,
    account,
    admin,
    clinic_patient,
    home,
    notifications,
    offline,
    relatives,
    site,
    worklist,
)
from server.pathway import routes as pathway_routes
from server.plan import clinic_routes as plan_clinic_routes
from server.plan import patient_routes as plan_patient_routes
from server.research import patient_routes as research_patient_routes
from server.research import staff_routes as research_staff_routes
from server.security import security_headers
from server.settings import Settings
from server.static_assets import StaticManifest
from server.web import is_block_request, render

TEMPLATES = Path(__file__).parent / "templates"

ERROR_TEXT = {
    400: (N_("Something was wrong with the request"), N_("Please go back and try again.")),
    401: (N_("You need to log in"), N_("Log in with your passkey to see this page.")),
    403: (N_("You do not have access to this page"),
          N_("Your account does not give access to this page. If you think it should, contact the clinic.")),
    404: (N_("Page not found"), N_("The page does not exist, or you do not have access to it.")),
    405: (N_("Something was wrong with the request"), N_("Please go back and try again.")),
    429: (N_("Too many attempts"), N_("Wait a few minutes and try again.")),
    500: (N_("Something went wrong on our side"), N_("Nothing you did caused this. Please try again in a moment.")),
}


# A refused CSRF token (a form left open too long, or opened in another session) is not a lack of access.
CSRF_TEXT = (N_("The form has expired"),
             N_("If the form was open for a long time, go back, reload the page and try again."))


def _error_page(request: Request, status: int, csrf: bool = False) -> Response:
    title, text = CSRF_TEXT if csrf else ERROR_TEXT.get(status, ERROR_TEXT[500] if status >= 500 else ERROR_TEXT[400])
    try:
        return render(request, "errors/error.html", {"status": status, "title": title, "text": text}, status=status)
    except Exception:  # noqa: BLE001 - the error page must never fail itself
        return Response("Error", status_code=status, media_type="text/plain")


def http_exception_handler(request: Request, exc: HTTPException) -> Response:
    csrf = exc.status_code == 403 and "csrf" in str(exc.detail).lower()
    return _error_page(request, exc.status_code, csrf=csrf)


def not_authorized_handler(request: Request, exc: NotAuthorizedException) -> Response:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method == "GET" and not is_block_request(request):
        from urllib.parse import quote
        return Redirect(f"/login?next={quote(path, safe='/')}", status_code=303)
    response = _error_page(request, 401)
    response.headers["HX-Redirect"] = "/login"
    return response


def _error_class(exc: BaseException) -> str:
    """The class, and for a database error the driver's class and error code (e.g. 40P01 deadlock)."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    orig = getattr(exc, "orig", None)  # the driver's error under a SQLAlchemy DBAPIError
    if orig is None:
        return name
    code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    return f"{name} ({type(orig).__module__}.{type(orig).__qualname__}{f' {code}' if code else ''})"


def server_error_handler(request: Request, exc: Exception) -> Response:
    """Log which request failed, on which route, with which error and where in the code; never what the
    request carried. No form data, no bound SQL parameters, and not the exception's message either: a
    database error's message quotes the row (name, birth date, GP, notes, the whole plan)."""
    request_id = request.scope.get("state", {}).get("request_id", "")
    route = request.scope.get("path_template") or "(no route)"
    where = "".join(traceback.format_tb(exc.__traceback__))
    request.logger.error("unhandled error %s in %s %s (request %s)\nTraceback (most recent call last):\n%s",
                         _error_class(exc), request.method, route, request_id, where,
                         extra={"request_id": request_id})
    return _error_page(request, 500)


@pass_context
def _role_filter(context, value: str) -> str:
    return context["_"](OTHER_ROLES[value]) if value in OTHER_ROLES else value


def make_environment(settings: Settings, manifest: StaticManifest) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        auto_reload=settings.debug,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = manifest.url
    env.globals["example_date"] = EXAMPLE_DATE
    env.globals["clinic"] = settings.clinic  # CLINIC_NAME, CLINIC_PHONE, ...: the clinic's contact details
    env.filters["role"] = _role_filter  # a stored role key in the reader's language; free text as typed
    env.filters.update(DATE_FILTERS)  # | date, | datetime, | when, | clock: in the reader's language, Oslo time
    return env


def warm(app: Litestar) -> None:
    """For a serving process, before it takes requests: every template compiled and every language's
    catalog read now, and (at start-up) the database pool's connections opened. A fresh process otherwise
    did all of it in its first requests (~0.25 s of templates for the four patient pages alone), and under
    load the requests behind them queued: at 200 requests/s on two fresh processes the first second had a
    p50 of 0.6 s and the next one 0.2 s, against 6-10 ms once warm (see docs/performance.md). Not done by
    create_app: the tests build hundreds of apps."""
    env = app.state.template_env
    for name in env.list_templates():
        env.get_template(name)
    for locale in LOCALES:
        translations(locale)
    app.state.open_pool_at_start = True


async def _open_pool(engine) -> None:
    """The pool's connections (pool_size: 1 on SQLite) opened at once and returned to it: connecting, and on
    the first one the dialect's own start-up queries, happen before the first request instead of in it."""
    size = engine.sync_engine.pool.size()
    async def hold() -> None:
        async with engine.connect():
            await asyncio.sleep(0.05)  # held together, so that each is a new connection

    await asyncio.gather(*(hold() for _ in range(size)))


def settle_heap() -> None:
    """For a serving process, once its app is built (and warmed): what exists now (modules, routes, the
    compiled templates, SQLAlchemy's mappers) lives as long as the process, so it is moved out of the cyclic
    garbage collector's sight. A full collection then walks only the requests' objects: on the worklist
    those collections had added 60-90 ms pauses to one request in ~20 (see docs/performance.md).
    Not called by create_app itself: the tests build hundreds of apps in one process."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    manifest = StaticManifest()

    async def startup(app: Litestar) -> None:
        app.state.engine = make_engine(settings.database_url, echo=settings.sql_echo,
                                       pool_size=settings.db_pool_size)
        app.state.sessionmaker = make_sessionmaker(app.state.engine)
        if app.state.get("open_pool_at_start"):
            await _open_pool(app.state.engine)
        app.state.purge_task = asyncio.create_task(
            purge.purge_periodically(app.state.sessionmaker, settings, purge.PURGE_EVERY))
        if settings.audit_seal_seconds > 0:  # the audit events' chain positions and hashes, in the background
            app.state.seal_task = asyncio.create_task(
                seal_periodically(app.state.sessionmaker, every=settings.audit_seal_seconds))
        if settings.run_worker:  # the reminder worker; `samhandling worker` runs it on its own
            app.state.worker_task = asyncio.create_task(
                worker.run_forever(app.state.sessionmaker, app.state.vapid, settings.vapid_subject))

    async def shutdown(app: Litestar) -> None:
        for task in ("purge_task", "worker_task", "seal_task"):
            if task in app.state:
                getattr(app.state, task).cancel()
                with suppress(asyncio.CancelledError):
                    await getattr(app.state, task)
        if "engine" in app.state:
            await app.state.engine.dispose()

    env = make_environment(settings, manifest)
    app = Litestar(
        route_handlers=[*site.ROUTES, *account.ROUTES, *admin.ROUTES, *home.ROUTES, *pathway_routes.ROUTES,
                        *clinic_patient.ROUTES, *wishes_routes.ROUTES, *schedule_routes.ROUTES,
                        *invitation_routes.ROUTES, *worklist.ROUTES, *plan_clinic_routes.ROUTES,
                        *plan_patient_routes.ROUTES, *notify_routes.ROUTES, *offline.ROUTES,
                        *notifications.ROUTES, *research_patient_routes.ROUTES, *research_staff_routes.ROUTES,
                        *relatives.ROUTES, *access_log.ROUTES],
        dependencies={"db": Provide(provide_db, sync_to_thread=False)},
        on_startup=[startup],
        on_shutdown=[shutdown],
        middleware=[request_context_middleware],
        before_send=[security_headers],
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="__Host-csrftoken",
            cookie_secure=True,
            cookie_httponly=True,
            cookie_samesite="strict",
        ),
        compression_config=CompressionConfig(backend="gzip", minimum_size=512, gzip_compress_level=6),
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(env)),
        plugins=[HTMXPlugin()],
        request_class=HTMXRequest,
        exception_handlers={
            AccessEnded: relatives.access_ended_handler,
            NotAuthorizedException: not_authorized_handler,
            HTTPException: http_exception_handler,
            Exception: server_error_handler,
        },
        openapi_config=None,
        debug=False,
    )
    app.state.settings = settings
    app.state.template_env = env
    app.state.unread_counter = notify_routes.unread_counter  # the header's count, for full pages (web.render)
    # ... fetched with the session on a GET (access does not import notify: the app joins them here)
    app.state.identity_query_get = sessions.identity_query(notify_service.UNREAD_PREFETCH)
    app.state.static = manifest
    app.state.vapid = vapid.load(settings)
    app.state.vapid_public_key = vapid.public_key(app.state.vapid)
    # Before routing: the real client behind TRUSTED_PROXIES, and HEAD answered as GET.
    app.asgi_handler = edge_middleware(app.asgi_handler, settings.trusted_proxies)
    _declare_generated_options_handlers(app)
    return app


def _declare_generated_options_handlers(app: Litestar) -> None:
    """Litestar adds an OPTIONS handler to every path (an empty 204 with an Allow header, no data).
    They are declared public here so that the route-policy test can demand a policy everywhere."""
    from litestar.routes import HTTPRoute

    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                if handler.http_methods == {"OPTIONS"} and "policy" not in handler.opt:
                    handler.opt["policy"] = PUBLIC
