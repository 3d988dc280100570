"""The installable app: the service worker at /sw.js, the offline page, and the opt-in offline copy of the
patient's action plan and next meeting (kept only in the Cache Storage of a device where it was turned on)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from litestar import Request, Response, get
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.policy import PATIENT, PUBLIC, VIEW_PLAN, policy
from server.db import utcnow
from server.meetings.scheduling import upcoming_for_patient
from server.pathway.acting import patient_for
from server.plan import view as plan_view
from server.web import actor, audit_ctx, render

PWA_DIR = Path(__file__).parent.parent / "pwa"
# What the worker keeps for offline use: the fingerprinted files every page loads, and the offline page.
PRECACHE_STATIC = ("vendor/designsystemet.css", "vendor/theme.css", "css/app.css", "vendor/htmx.min.js",
                   "js/app.js", "js/pwa.js", "icons/icon.svg", "icons/icon-192.png")


def service_worker_source(request: Request) -> str:
    static = request.app.state.static
    precache = [static.url(name) for name in PRECACHE_STATIC] + ["/offline"]
    template = (PWA_DIR / "sw.js").read_text()
    offline_page = (Path(__file__).parent.parent / "templates" / "pwa" / "offline.html").read_bytes()
    version = hashlib.sha256(template.encode() + json.dumps(precache).encode() + offline_page).hexdigest()[:12]
    return (template.replace("__VERSION__", version).replace("__PRECACHE__", json.dumps(precache))
            .replace("__ICON__", static.url("icons/icon-192.png")))


@get("/sw.js", opt=policy(PUBLIC) | {"static": True}, include_in_schema=False)
async def service_worker(request: Request) -> Response:
    # Never cached by HTTP: the browser must see a new worker as soon as it is deployed.
    return Response(service_worker_source(request), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})


@get("/offline", opt=policy(PUBLIC) | {"static": True}, include_in_schema=False)
async def offline_page(request: Request) -> Response:
    """Precached by the worker and shown for any page that cannot load offline. No personal data."""
    return render(request, "pwa/offline.html", {}, headers={"Cache-Control": "no-cache"})


@get("/offline/copy", opt=policy(PATIENT))
async def offline_copy(request: Request, db: AsyncSession) -> Response:
    """The action plan and the next meeting on one page: what a device with offline reading keeps."""
    patient = await patient_for(db, actor(request), VIEW_PLAN)
    ctx = audit_ctx(request)
    plan = await plan_view.read_current(db, ctx, patient.id, "plan.saved_offline")
    upcoming = await upcoming_for_patient(db, ctx, patient.id)
    context = {"plan": plan, "patient": patient, "next": upcoming[0] if upcoming else None, "saved_at": utcnow(),
               "responsible_labels": plan_view.RESPONSIBLE_LABELS, "status_labels": plan_view.STATUS_LABELS}
    return render(request, "pwa/offline_copy.html", context)


ROUTES = [service_worker, offline_page, offline_copy]
