"""Site-wide routes: the front door, the language switch, static files, the web manifest."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from litestar.response import File, Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import service
from server.access.middleware import LANG_COOKIE
from server.access.policy import PUBLIC, policy
from server.i18n import LOCALES
from server.web import actor, safe_next

PWA_DIR = Path(__file__).parent.parent / "pwa"
HOME_BY_ROLE = {"patient": "/home", "clinician": "/clinic/worklist", "admin": "/admin/accounts",
                "researcher": "/research/participants"}


@get("/", opt=policy(PUBLIC))
async def index(request: Request) -> Redirect:
    me = actor(request)
    if me.role == "relative":  # a relative: the page of whom they act for, or whom they represent
        return Redirect("/home" if me.patient_id else "/relatives", status_code=303)
    return Redirect(HOME_BY_ROLE.get(me.role, "/login"), status_code=303)


@post("/language", opt=policy(PUBLIC))
async def set_language(
    request: Request, data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
    db: AsyncSession,
) -> Response:
    lang = data.get("lang", "")
    response = Redirect(safe_next(data.get("next")), status_code=303)
    if lang in LOCALES and actor(request).account_id is not None:  # signed in: push texts follow the choice
        await service.remember_language(db, actor(request).account_id, lang)
    if lang in LOCALES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, path="/", secure=True,
                            httponly=True, samesite="lax")
    return response


@get("/static/{path:path}", opt=policy(PUBLIC) | {"static": True, "exclude_from_csrf": True}, include_in_schema=False)
async def static_file(request: Request, path: str) -> File:
    resolved = request.app.state.static.resolve(path.lstrip("/"))
    if resolved is None:
        raise NotFoundException()
    file_path, immutable = resolved
    cache = "public, max-age=31536000, immutable" if immutable else "public, max-age=3600"
    media_type = mimetypes.guess_type(file_path.name)[0] or "application/octet-stream"
    return File(file_path, media_type=media_type, content_disposition_type="inline",
                headers={"Cache-Control": cache})


@get("/manifest.webmanifest", opt=policy(PUBLIC) | {"static": True, "exclude_from_csrf": True}, include_in_schema=False)
async def web_manifest() -> File:
    return File(PWA_DIR / "manifest.webmanifest", media_type="application/manifest+json",
                content_disposition_type="inline", headers={"Cache-Control": "public, max-age=3600"})


@get("/healthz", opt=policy(PUBLIC) | {"static": True, "exclude_from_csrf": True}, include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


ROUTES = [index, set_language, static_file, web_manifest, healthz]
