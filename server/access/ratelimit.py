"""Per-client rate limits, counted in the database (shared by every app instance).

A limit is a key ("enroll:<client>"), a number of hits and a time window. The client is the real
client address (see proxies.py): behind a trusted proxy, the address the proxy saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.models import RateLimitHit
from server.db import utcnow


@dataclass(frozen=True)
class Limit:
    name: str
    hits: int
    window: timedelta

    def key(self, client: str) -> str:
        return f"{self.name}:{client}"[:200]


ENROLL_FAILURES = Limit("enroll", 10, timedelta(minutes=15))  # wrong enrollment codes
LOGIN_START = Limit("login-start", 30, timedelta(minutes=15))  # new anonymous sign-in ceremonies
LOGIN_FAILURES = Limit("login-fail", 20, timedelta(minutes=15))  # refused passkey sign-ins
LONGEST_WINDOW = max(limit.window for limit in (ENROLL_FAILURES, LOGIN_START, LOGIN_FAILURES))


async def is_limited(db: AsyncSession, limit: Limit, client: str) -> bool:
    key = limit.key(client)
    if db.bind.dialect.name == "postgresql":
        # One check per client and limit at a time (until this transaction ends), so parallel requests
        # cannot all read "under the limit" before any of them is counted. SQLite serialises writers.
        await db.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
    hits = await db.scalar(select(func.count()).select_from(RateLimitHit)
                           .where(RateLimitHit.key == key, RateLimitHit.at >= utcnow() - limit.window))
    return (hits or 0) >= limit.hits


async def count_hit(db: AsyncSession, limit: Limit, client: str) -> None:
    now = utcnow()
    db.add(RateLimitHit(key=limit.key(client), at=now))
    await db.execute(delete(RateLimitHit).where(RateLimitHit.at < now - LONGEST_WINDOW))
    await db.flush()
