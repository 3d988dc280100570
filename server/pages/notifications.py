"""The "Varsler" page: push on this device, the account's devices, a test message, quiet hours and discreet
or detailed text; and opening one inbox message (from the inbox or a notification click)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.json_body import BadBody, read_json
from server.access.policy import AUTHENTICATED, PATIENT_SIDE, policy
from server.i18n import N_
from server.notify import devices, service
from server.notify.forms import PreferencesForm
from server.notify.routes import reading_inbox
from server.web import actor, audit_ctx, flash, locale, redirect, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
PAGE = "/settings/notifications"


async def _page(request: Request, db: AsyncSession, form: PreferencesForm | None = None,
                status: int = 200) -> Response:
    account_id = actor(request).account_id
    prefs = await devices.preferences(db, account_id)
    form = form or PreferencesForm(locale=locale(request), initial={
        "quiet_start": prefs.quiet_start, "quiet_end": prefs.quiet_end,
        "text": "detailed" if prefs.detailed else "discreet"})
    context = {"devices": await devices.devices(db, account_id), "form": form, "errors": form.error_map,
               "public_key": request.app.state.vapid_public_key}
    return render(request, "notify/settings.html", context, status=status)


@get(PAGE, opt=policy(AUTHENTICATED))
async def settings_page(request: Request, db: AsyncSession) -> Response:
    return await _page(request, db)


@post(PAGE, opt=policy(AUTHENTICATED))
async def save_settings(request: Request, data: Form, db: AsyncSession) -> Response:
    form = PreferencesForm(data, locale=locale(request))
    if not form.validate():
        return await _page(request, db, form, status=422)
    await devices.save_preferences(db, audit_ctx(request), actor(request).account_id,
                                   quiet_start=form.clock("quiet_start"), quiet_end=form.clock("quiet_end"),
                                   detailed=form.get("text") == "detailed")
    flash(request, N_("Your notification settings are saved."))
    return redirect(request, PAGE)


@post(f"{PAGE}/devices", opt=policy(AUTHENTICATED))
async def add_device(request: Request, db: AsyncSession) -> Response:
    """The page's script sends the browser's PushSubscription as JSON."""
    try:
        body = await read_json(request)
    except BadBody:
        return Response({"ok": False}, status_code=400)
    keys = body.get("keys") if isinstance(body.get("keys"), dict) else {}
    endpoint, p256dh, auth = (str(body.get("endpoint", "")), str(keys.get("p256dh", "")), str(keys.get("auth", "")))
    if not devices.valid_subscription(endpoint, p256dh, auth):
        return Response({"ok": False}, status_code=400)
    await devices.add_device(db, audit_ctx(request), actor(request).account_id, endpoint, p256dh, auth,
                             str(body.get("label", ""))[:100])
    flash(request, N_("Push is turned on for this device."))
    return Response({"ok": True}, status_code=200)


@post(f"{PAGE}/devices/{{device_id:int}}/remove", opt=policy(AUTHENTICATED))
async def remove_device(request: Request, device_id: int, db: AsyncSession) -> Response:
    if not await devices.remove_device(db, audit_ctx(request), actor(request).account_id, device_id):
        raise NotFoundException()
    flash(request, N_("The device no longer gets notifications."))
    return redirect(request, PAGE)


@post(f"{PAGE}/test", opt=policy(AUTHENTICATED))
async def send_test(request: Request, db: AsyncSession) -> Response:
    who = actor(request)
    await devices.send_test(db, audit_ctx(request), who.account_id, who.patient_id)
    flash(request, N_("A test notification is on its way. It also appears under Messages."))
    return redirect(request, PAGE)


@get("/inbox/{notification_id:int}", opt=policy(PATIENT_SIDE))
async def open_message(request: Request, notification_id: int, db: AsyncSession) -> Response:
    patient_id, include_private = reading_inbox(request)
    link = await service.open_notification(db, audit_ctx(request), patient_id, notification_id, include_private)
    if link is None:
        raise NotFoundException()
    return redirect(request, link)


ROUTES = [settings_page, save_settings, add_device, remove_device, send_test, open_message]
