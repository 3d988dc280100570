"""Removing what has expired: sessions, WebAuthn challenges, enrollment codes, rate-limit hits, and relatives'
accounts whose passkey was never made.

Runs inside the app every few minutes (see create_app) and as `samhandling purge`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.access import delegations
from server.access.codes import LOOKUP_RETENTION
from server.access.models import Challenge, EnrollmentCode, RateLimitHit, UserSession
from server.access.ratelimit import LONGEST_WINDOW
from server.db import utcnow
from server.settings import Settings

PURGE_EVERY = timedelta(minutes=5)
log = logging.getLogger(__name__)


async def purge(db: AsyncSession, settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Delete expired rows; returns how many of each kind. The caller commits."""
    now = now or utcnow()
    idle = timedelta(minutes=settings.session_idle_minutes)
    absolute = timedelta(hours=settings.session_absolute_hours)
    counts = {}
    counts["challenges"] = (await db.execute(delete(Challenge).where(Challenge.expires_at < now))).rowcount or 0
    counts["sessions"] = (await db.execute(delete(UserSession).where(
        or_(UserSession.last_seen_at < now - idle, UserSession.created_at < now - absolute)))).rowcount or 0
    # A code stays for LOOKUP_RETENTION after it ends, so that a late attempt still hears "expired".
    counts["codes"] = (await db.execute(delete(EnrollmentCode).where(or_(
        EnrollmentCode.expires_at < now - LOOKUP_RETENTION,
        EnrollmentCode.used_at < now - LOOKUP_RETENTION,
        EnrollmentCode.revoked_at < now - LOOKUP_RETENTION,
    )))).rowcount or 0
    # A relative who never made a passkey: the delegation ends once the enrollment can no longer be finished.
    counts["unfinished_relatives"] = await delegations.lapse_unfinished(db, now)
    counts["rate_limit_hits"] = (await db.execute(
        delete(RateLimitHit).where(RateLimitHit.at < now - LONGEST_WINDOW))).rowcount or 0
    return counts


async def purge_periodically(sessionmaker: async_sessionmaker, settings: Settings,
                             every: timedelta = PURGE_EVERY) -> None:
    """The app's background task: purge, sleep, repeat; an error is logged, never fatal."""
    while True:
        await asyncio.sleep(every.total_seconds())
        try:
            async with sessionmaker() as db:
                await purge(db, settings)
                await db.commit()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a failed purge must not stop the next one
            log.exception("purge failed")
