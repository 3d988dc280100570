"""In-app notifications for the patient."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

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
    query = select(Notification).where(*_visible(patient_id, include_private))
    rows = list((await db.scalars(query.order_by(Notification.created_at.desc(), Notification.id.desc())
                                  .limit(limit))).all())
    await record(db, ctx, "inbox.viewed", patient_ids=[patient_id])
    return rows


def _visible(patient_id: int, include_private: bool) -> list:
    """The patient's messages the reader may see: a relative never sees the private ones."""
    return [Notification.patient_id == patient_id] + ([] if include_private else [Notification.private.is_(False)])


async def unread_count(db: AsyncSession, patient_id: int, include_private: bool = True) -> int:
    """How many messages the reader has not read (the header's "Messages 2"; no content is read)."""
    return await db.scalar(select(func.count()).select_from(Notification).where(
        *_visible(patient_id, include_private), Notification.read_at.is_(None))) or 0


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
