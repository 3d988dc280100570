"""In-app notifications for the patient."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.notify.models import Notification


async def notify(db: AsyncSession, patient_id: int, message: str, link: str = "", **params: str) -> None:
    """Queue a message (a msgid) for the patient's inbox. No health details beyond what they need."""
    db.add(Notification(patient_id=patient_id, message=message, params=params, link=link))
    await db.flush()


async def unread_count(db: AsyncSession, patient_id: int) -> int:
    return await db.scalar(select(func.count()).select_from(Notification)
                           .where(Notification.patient_id == patient_id, Notification.read_at.is_(None))) or 0


async def inbox(db: AsyncSession, patient_id: int, limit: int = 50) -> list[Notification]:
    return list((await db.scalars(select(Notification).where(Notification.patient_id == patient_id)
                                  .order_by(Notification.created_at.desc(), Notification.id.desc())
                                  .limit(limit))).all())


async def mark_all_read(db: AsyncSession, patient_id: int) -> None:
    await db.execute(update(Notification).where(Notification.patient_id == patient_id,
                                                Notification.read_at.is_(None)).values(read_at=utcnow()))
