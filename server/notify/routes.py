"""The patient's in-app inbox."""

from __future__ import annotations

from litestar import Request, Response, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.acting import acting_for
from server.access.policy import PATIENT_SIDE, VIEW_INBOX, VIEW_PRIVATE_MESSAGES, can, policy
from server.i18n import N_
from server.notify import service
from server.web import actor, audit_ctx, flash, gettext, locale, redirect, render


async def count_unread(request: Request) -> None:
    """Before every route: the number of unread messages for the header of a patient's pages."""
    state = request.scope.get("state", {})
    current = actor(request)
    if current.role == "patient" and current.patient_id is not None and "db" in state:
        state["unread"] = await service.unread_count(state["db"], current.patient_id)


def reading_inbox(request: Request) -> tuple[int, bool]:
    """(whose inbox, may the reader see the private messages): the patient, or a relative with see (who
    never sees the private ones, such as research requests). Decided by `can`, nowhere else."""
    current = actor(request)
    patient_id = acting_for(current, VIEW_INBOX)
    return patient_id, can(current, VIEW_PRIVATE_MESSAGES, patient_id)


@get("/inbox", opt=policy(PATIENT_SIDE))
async def inbox(request: Request, db: AsyncSession) -> Response:
    patient_id, include_private = reading_inbox(request)
    lang = locale(request)
    rows = await service.inbox(db, audit_ctx(request), patient_id, include_private=include_private)
    items = [{"note": note, "text": service.notification_text(note.message, note.params, lang,
                                                             lambda m: gettext(request, m))} for note in rows]
    return render(request, "notify/inbox.html", {"items": items, "unread": sum(1 for n in rows if not n.read_at)})


@post("/inbox/read", opt=policy(PATIENT_SIDE))
async def inbox_read(request: Request, db: AsyncSession) -> Response:
    patient_id, include_private = reading_inbox(request)
    await service.mark_all_read(db, audit_ctx(request), patient_id, include_private)
    flash(request, N_("All messages are marked as read."))
    return redirect(request, "/inbox")


ROUTES = [inbox, inbox_read]
