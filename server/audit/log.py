"""The patient's access log ("Hvem har sett opplysningene mine?"): one patient's audit events by others.

Newest first, keyset-paginated on the event id. An event names the patient either in its own
patient_id (index (patient_id, id)) or, for one event about a list of patients, in audit_event_patients
(primary key (patient_id, event_id)): each side is read newest first up to the page size through its
index, and the two are merged, so a page costs the same however large the audit table grows.
Unsealed events (the newest second or so) are included; the page marks them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditEvent, AuditEventPatient

PAGE_SIZE = 50


def _filters(own_account_id: int | None, before: int | None, who: int | None, since: datetime | None,
             until: datetime | None) -> list:
    conditions = []
    if own_account_id is not None:
        conditions.append(or_(AuditEvent.actor_account_id.is_(None), AuditEvent.actor_account_id != own_account_id))
    if before is not None:
        conditions.append(AuditEvent.id < before)
    if who is not None:
        conditions.append(AuditEvent.actor_account_id == who)
    if since is not None:
        conditions.append(AuditEvent.at >= since)
    if until is not None:
        conditions.append(AuditEvent.at < until)
    return conditions


async def events_by_others(db: AsyncSession, patient_id: int, own_account_id: int | None, *,
                           before: int | None = None, who: int | None = None, since: datetime | None = None,
                           until: datetime | None = None, limit: int = PAGE_SIZE) -> list[AuditEvent]:
    conditions = _filters(own_account_id, before, who, since, until)
    own = (select(AuditEvent.id).where(AuditEvent.patient_id == patient_id, *conditions)
           .order_by(AuditEvent.id.desc()).limit(limit))
    listed = (select(AuditEventPatient.event_id.label("id"))
              .join(AuditEvent, AuditEvent.id == AuditEventPatient.event_id)
              .where(AuditEventPatient.patient_id == patient_id, *conditions)
              .order_by(AuditEventPatient.event_id.desc()).limit(limit))
    ids = union_all(own.subquery().select(), listed.subquery().select()).subquery()
    stmt = select(AuditEvent).where(AuditEvent.id.in_(select(ids.c.id))).order_by(AuditEvent.id.desc()).limit(limit)
    return list((await db.scalars(stmt)).all())


_PEOPLE = """
WITH RECURSIVE own(actor) AS (
    SELECT MIN(actor_account_id) FROM audit_events WHERE patient_id = :p AND actor_account_id IS NOT NULL
    UNION ALL
    SELECT (SELECT MIN(actor_account_id) FROM audit_events WHERE patient_id = :p AND actor_account_id > own.actor)
    FROM own WHERE own.actor IS NOT NULL
), listed(actor) AS (
    SELECT MIN(actor_account_id) FROM audit_event_patients WHERE patient_id = :p AND actor_account_id IS NOT NULL
    UNION ALL
    SELECT (SELECT MIN(actor_account_id) FROM audit_event_patients WHERE patient_id = :p
            AND actor_account_id > listed.actor)
    FROM listed WHERE listed.actor IS NOT NULL
)
SELECT actor FROM own WHERE actor IS NOT NULL UNION SELECT actor FROM listed WHERE actor IS NOT NULL
"""


async def people(db: AsyncSession, patient_id: int, own_account_id: int | None) -> list[int]:
    """The accounts that have read or changed the patient's data (for the filter). A skip scan: one index
    probe per person (on (patient_id, actor_account_id) of the events and of the list events' side table),
    not a pass over the patient's whole history."""
    rows = await db.execute(text(_PEOPLE), {"p": patient_id})
    return sorted(actor for (actor,) in rows.all() if actor is not None and actor != own_account_id)
