"""The patient's in-app inbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar import Request, Response, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.acting import acting_for
from server.access.policy import PATIENT_SIDE, VIEW_INBOX, VIEW_PRIVATE_MESSAGES, can, policy
from server.i18n import N_
from server.notify import service
from server.web import actor, audit_ctx, flash, gettext, locale, redirect, render


def unread_counter(request: Request) -> Callable[[], Awaitable[int]] | None:
    """How to count the unread messages in the header of a full page (`web.render` awaits it as the page is
    sent), or None when the header shows no count: the reader does not read a patient's inbox, or the
    request's transaction has ended. A relative with see counts what they see: no private messages."""
    state = request.scope.get("state", {})
    current = actor(request)
    db = state.get("db")
    if db is None or current.patient_id is None or not can(current, VIEW_INBOX, current.patient_id):
        return None
    include_private = can(current, VIEW_PRIVATE_MESSAGES, current.patient_id)

    async def count() -> int:
        # For the patient themself their account's count, for a relative acting for them the delegation's:
        # fetched with the identity (one round trip less) unless this request wrote messages since.
        prefetched = service.prefetched_unread(db, state.get("prefetched") or {}, include_private)
        if prefetched is not None and _prefetched_for(state, current.patient_id, include_private):
            return prefetched
        return await service.unread_count(db, current.patient_id, include_private)

    return count


def _prefetched_for(state: dict, patient_id: int, include_private: bool) -> bool:
    """Does the prefetched count concern this patient? The own count is the account's patient's (the patient
    themself); the relative's is the patient of the delegation the session acts under."""
    session = state.get("user_session")
    if include_private:
        return "delegation" not in state and session is not None and session.acting_delegation_id is None
    delegation = state.get("delegation")
    return delegation is not None and delegation.patient_id == patient_id


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
