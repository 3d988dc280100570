"""Anonymous requests cannot fill the database: new sign-in ceremonies and refused sign-ins are limited
per client, and expired sessions, challenges, codes and rate-limit records are purged (in the app
every few minutes, and by `samhandling purge`)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import codes, purge, ratelimit
from server.access.models import Challenge, EnrollmentCode, RateLimitHit, UserSession
from server.access.sessions import COOKIE_NAME
from server.app import create_app
from server.db import utcnow
from tests.conftest import BASE_URL, SECRET, csrf_token


async def _count(db, model) -> int:
    async with AsyncSession(db.bind) as fresh:
        value = await fresh.scalar(select(func.count()).select_from(model))
        await fresh.rollback()
    return value or 0


async def test_a_loop_of_anonymous_login_options_keeps_the_tables_bounded(client, db):
    headers = {"x-csrftoken": await csrf_token(client, "/login")}
    statuses = []
    for _ in range(200):
        client.cookies.delete(COOKIE_NAME, domain="testserver.local")  # a fresh, cookie-less request each time
        statuses.append((await client.post("/login/options", json={}, headers=headers)).status_code)
    assert statuses.count(200) == ratelimit.LOGIN_START.hits
    assert statuses.count(429) == 200 - ratelimit.LOGIN_START.hits
    assert await _count(db, UserSession) <= ratelimit.LOGIN_START.hits
    assert await _count(db, Challenge) <= ratelimit.LOGIN_START.hits


async def test_login_verify_is_limited_per_client(client):
    headers = {"x-csrftoken": await csrf_token(client, "/login")}
    await client.post("/login/options", json={}, headers=headers)
    statuses = [(await client.post("/login/verify", json={"credential": {}}, headers=headers)).status_code
                for _ in range(ratelimit.LOGIN_FAILURES.hits + 3)]
    assert statuses[:ratelimit.LOGIN_FAILURES.hits] == [400] * ratelimit.LOGIN_FAILURES.hits
    assert statuses[-3:] == [429] * 3


async def _old_and_new_rows(db, world, settings):
    _patient, account = await world.patient()
    now = utcnow()
    long_ago = now - timedelta(days=200)
    old = UserSession(token_hash="old", created_at=now - timedelta(hours=1), last_seen_at=now - timedelta(minutes=31))
    live = UserSession(token_hash="live", created_at=now, last_seen_at=now)
    db.add_all([old, live])
    await db.flush()
    db.add_all([Challenge(session_id=live.id, purpose="login", challenge=b"x", expires_at=now - timedelta(minutes=1)),
                Challenge(session_id=live.id, purpose="register", challenge=b"y", expires_at=now + timedelta(minutes=4)),
                RateLimitHit(key="enroll:x", at=now - timedelta(hours=2)), RateLimitHit(key="enroll:x", at=now)])
    await db.commit()
    await codes.issue(db, SECRET, account.id, None, 14)
    await db.commit()
    db.add(EnrollmentCode(account_id=account.id, code_hash="h", created_at=long_ago, expires_at=long_ago))
    await db.commit()


async def test_purge_removes_expired_rows_and_keeps_live_ones(db, world, settings):
    await _old_and_new_rows(db, world, settings)
    counts = await purge.purge(db, settings)
    await db.commit()
    assert counts == {"challenges": 1, "sessions": 1, "codes": 1, "rate_limit_hits": 1,
                      "unfinished_relatives": 0}
    assert await _count(db, UserSession) == 1 and await _count(db, Challenge) == 1
    assert await _count(db, EnrollmentCode) == 1 and await _count(db, RateLimitHit) == 1


async def test_the_app_purges_by_itself_every_few_minutes(db, world, settings, monkeypatch):
    await _old_and_new_rows(db, world, settings)
    monkeypatch.setattr(purge, "PURGE_EVERY", timedelta(seconds=0.2))
    async with AsyncTestClient(app=create_app(settings), base_url=BASE_URL):
        for _ in range(50):
            await asyncio.sleep(0.1)
            if await _count(db, Challenge) == 1:
                break
    assert await _count(db, UserSession) == 1 and await _count(db, Challenge) == 1
