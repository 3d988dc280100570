"""The patient's access log ("Hvem har sett opplysningene mine?"): one patient's audit events by others.

Newest first, keyset-paginated on seq over the (patient_id, seq) index, so a page costs the same
however large the audit table grows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditEvent

PAGE_SIZE = 50


async def events_by_others(db: AsyncSession, patient_id: int, own_account_id: int | None, *,
                           before: int | None = None, who: int | None = None, since: datetime | None = None,
                           until: datetime | None = None, limit: int = PAGE_SIZE) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.patient_id == patient_id)
    if own_account_id is not None:
        stmt = stmt.where(or_(AuditEvent.actor_account_id.is_(None), AuditEvent.actor_account_id != own_account_id))
    if before is not None:
        stmt = stmt.where(AuditEvent.seq < before)
    if who is not None:
        stmt = stmt.where(AuditEvent.actor_account_id == who)
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.at < until)
    return list((await db.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit))).all())


async def people(db: AsyncSession, patient_id: int, own_account_id: int | None) -> list[int]:
    """The accounts that have read or changed the patient's data (for the filter)."""
    rows = await db.scalars(select(AuditEvent.actor_account_id).where(
        AuditEvent.patient_id == patient_id, AuditEvent.actor_account_id.is_not(None),
        AuditEvent.actor_account_id != (own_account_id or -1)).distinct())
    return [r for r in rows.all() if r is not None]
