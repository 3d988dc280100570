"""Push devices and preferences of one account, and a test notification. Plain values in, audit written."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import AuditContext, record
from server.db import utcnow
from server.i18n import N_
from server.notify import outbox
from server.notify.models import PushPreferences, PushSubscription

ENDPOINT_MAX = 1000


async def devices(db: AsyncSession, account_id: int) -> list[PushSubscription]:
    return list((await db.scalars(select(PushSubscription).where(PushSubscription.account_id == account_id)
                                  .order_by(PushSubscription.created_at, PushSubscription.id))).all())


async def preferences(db: AsyncSession, account_id: int) -> PushPreferences:
    """The stored preferences, or the defaults (quiet 21:00–08:00, discreet text); not added to the session."""
    found = await db.get(PushPreferences, account_id)
    return found or PushPreferences(account_id=account_id, quiet_start="21:00", quiet_end="08:00", detailed=False)


async def save_preferences(db: AsyncSession, ctx: AuditContext, account_id: int, *, quiet_start: str,
                           quiet_end: str, detailed: bool) -> None:
    found = await db.get(PushPreferences, account_id)
    if found is None:
        found = PushPreferences(account_id=account_id)
        db.add(found)
    found.quiet_start, found.quiet_end, found.detailed = quiet_start, quiet_end, detailed
    await record(db, ctx, "push.preferences_saved", detail=f"quiet {quiet_start}-{quiet_end} detailed={detailed}")


def valid_subscription(endpoint: str, p256dh: str, auth: str) -> bool:
    return (endpoint.startswith("https://") and len(endpoint) <= ENDPOINT_MAX
            and 40 <= len(p256dh) <= 200 and 8 <= len(auth) <= 100)


async def add_device(db: AsyncSession, ctx: AuditContext, account_id: int, endpoint: str, p256dh: str, auth: str,
                     label: str) -> PushSubscription:
    """Keep a new subscription; an endpoint seen before moves to this account (one browser, one owner)."""
    await db.execute(delete(PushSubscription).where(PushSubscription.endpoint == endpoint))
    sub = PushSubscription(account_id=account_id, endpoint=endpoint, p256dh=p256dh, auth=auth, label=label[:100])
    db.add(sub)
    await db.flush()
    await record(db, ctx, "push.device_added", detail=f"device {sub.id}")
    return sub


async def remove_device(db: AsyncSession, ctx: AuditContext, account_id: int, device_id: int) -> bool:
    removed = (await db.execute(delete(PushSubscription).where(
        PushSubscription.id == device_id, PushSubscription.account_id == account_id))).rowcount
    if removed:
        await record(db, ctx, "push.device_removed", detail=f"device {device_id}")
    return bool(removed)


async def send_test(db: AsyncSession, ctx: AuditContext, account_id: int, patient_id: int | None,
                    now: datetime | None = None) -> None:
    """A test message through the outbox (urgent: quiet hours do not hold it back)."""
    await outbox.enqueue(db, recipient_id=account_id, patient_id=patient_id, kind="test",
                         subject=f"test:{secrets.token_hex(6)}", due_at=now or utcnow(), urgent=True,
                         message=N_("This is a test notification from Samhandling."), link="/settings/notifications")
    await record(db, ctx, "push.test_sent")
