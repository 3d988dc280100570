"""In-app notifications for the patient."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from server.access.models import Account, Delegation
from server.audit.service import AuditContext, record
from server.dates import format_when
from server.db import utcnow
from server.notify.models import Notification


async def notify(db: AsyncSession, patient_id: int, message: str, link: str = "", *, private: bool = False,
                 **params: str) -> Notification:
    """Queue a message (a msgid) for the patient's inbox. No health details beyond what they need.

    `private`: for the patient themself only (a research request); a relative reading the inbox for
    them never sees it (see `inbox(..., include_private=...)`).
    """
    note = Notification(patient_id=patient_id, message=message, params=params, link=link, private=private)
    db.add(note)
    await db.flush()
    return note


async def inbox(db: AsyncSession, ctx: AuditContext, patient_id: int, limit: int = 50,
                include_private: bool = True) -> list[Notification]:
    """The patient's latest messages, newest first (an audited read). `include_private`: only for the
    patient themself, never for a relative acting for them."""
    query = _INBOX_ALL if include_private else _INBOX_NOT_PRIVATE
    rows = list((await db.scalars(query, {"patient_id": patient_id, "limit": limit})).all())
    await record(db, ctx, "inbox.viewed", patient_ids=[patient_id])
    return rows


# The inbox, built once: the patient's messages (`_INBOX_NOT_PRIVATE`: what a relative sees), newest first.
_INBOX_ALL = (select(Notification).where(Notification.patient_id == bindparam("patient_id"))
              .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(bindparam("limit")))
_INBOX_NOT_PRIVATE = _INBOX_ALL.where(Notification.private.is_(False))


def _visible(patient_id: int, include_private: bool) -> list:
    """The patient's messages the reader may see: a relative never sees the private ones."""
    return [Notification.patient_id == patient_id] + ([] if include_private else [Notification.private.is_(False)])


async def unread_count(db: AsyncSession, patient_id: int, include_private: bool = True) -> int:
    """How many messages the reader has not read (the header's "Messages 2"; no content is read)."""
    return await db.scalar(select(func.count()).select_from(Notification).where(
        *_visible(patient_id, include_private), Notification.read_at.is_(None))) or 0


# The header's count, fetched with the request's identity (access/sessions.identity_query) for a GET: the
# patient's own unread messages (private ones included) and, for a session acting for a patient as a relative,
# that patient's unread messages that are not private. `unread_count` is what each stands for.
UNREAD_OWN, UNREAD_AS_RELATIVE = "unread_own", "unread_as_relative"
_unread = select(func.count()).select_from(Notification).where(Notification.read_at.is_(None))
UNREAD_PREFETCH = (
    _unread.where(Notification.patient_id == Account.patient_id).scalar_subquery().label(UNREAD_OWN),
    _unread.where(Notification.patient_id == Delegation.patient_id, Notification.private.is_(False))
    .scalar_subquery().label(UNREAD_AS_RELATIVE),
)
_WRITTEN = "notifications_written"


def prefetched_unread(db: AsyncSession, prefetched: dict, include_private: bool) -> int | None:
    """The count fetched with the identity, if it still holds: None when this request's session has written
    messages since (a message added, one opened or all marked read), so that the caller counts again.
    (The flag lives as long as the session: one request.)"""
    key = UNREAD_OWN if include_private else UNREAD_AS_RELATIVE
    if key not in prefetched or db.sync_session.info.get(_WRITTEN):
        return None
    if any(isinstance(obj, Notification) for obj in (*db.new, *db.dirty, *db.deleted)):
        return None
    return prefetched[key] or 0


@event.listens_for(Session, "before_flush")
def _note_flushed_messages(session: Session, _context, _instances) -> None:
    """A message added, changed (opened) or removed through the unit of work."""
    if any(isinstance(obj, Notification) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info[_WRITTEN] = True


@event.listens_for(Session, "do_orm_execute")
def _note_message_statements(state: ORMExecuteState) -> None:
    """An insert, update or delete of messages run through a session (e.g. all marked read)."""
    if (state.is_insert or state.is_update or state.is_delete) and \
            getattr(getattr(state.statement, "table", None), "name", None) == Notification.__tablename__:
        state.session.info[_WRITTEN] = True


async def mark_all_read(db: AsyncSession, ctx: AuditContext, patient_id: int, include_private: bool = True) -> None:
    await db.execute(update(Notification).where(*_visible(patient_id, include_private),
                                                Notification.read_at.is_(None)).values(read_at=utcnow()))
    await record(db, ctx, "inbox.marked_read", patient_ids=[patient_id])


def notification_text(message: str, params: dict[str, Any], lang: str, translate: Callable[[str], str]) -> str:
    """A stored msgid with params in the reader's language; `when` params are ISO times shown in Oslo."""
    shown = {key: str(value) for key, value in (params or {}).items()}
    if "when" in shown:
        try:
            shown["when"] = format_when(datetime.fromisoformat(shown["when"]), lang)
        except ValueError:
            pass
    text = translate(message)
    try:
        return text % shown if shown else text
    except (KeyError, TypeError, ValueError):
        return text


async def open_notification(db: AsyncSession, ctx: AuditContext, patient_id: int, notification_id: int,
                            include_private: bool = True) -> str | None:
    """A message opened (from the inbox or a push notification): mark it read, return where it points.
    None: not the patient's, or private and the reader is not the patient themself."""
    note = await db.get(Notification, notification_id)
    if note is None or note.patient_id != patient_id or (note.private and not include_private):
        return None
    if note.read_at is None:
        note.read_at = utcnow()
    await record(db, ctx, "inbox.opened", patient_ids=[patient_id], detail=f"notification {notification_id}")
    return note.link or "/inbox"
