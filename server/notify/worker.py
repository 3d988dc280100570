"""The reminder worker: claim due outbox rows, put each in the inbox, push it to the recipient's devices.

Runs inside the app (create_app starts it) and as `samhandling worker`. Any number of workers may run
against one PostgreSQL: see outbox.claim.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from server.access.models import Account
from server.db import utcnow
from server.i18n import DEFAULT_LOCALE, translations
from server.notify import outbox, push
from server.notify.models import Notification, PushPreferences, PushSubscription, Reminder
from server.notify.service import notification_text

log = logging.getLogger(__name__)
POLL_EVERY = timedelta(seconds=5)
LEASE_MARGIN = timedelta(seconds=1)  # stop sending a claimed row this long before its lease ends
Send = Callable[..., Awaitable[push.Outcome]]


@dataclass
class Stats:
    sent: int = 0
    deferred: int = 0
    retried: int = 0
    failed: int = 0
    removed_subscriptions: int = 0
    pushes: int = 0
    errors: list[str] = field(default_factory=list)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def message_text(reminder: Reminder, detailed: bool, lang: str = DEFAULT_LOCALE) -> tuple[str, str]:
    """(title, body). Discreet text names no clinic, no health matter and no person."""
    catalog = translations(lang)
    if not detailed:
        return push.DISCREET_TITLE, catalog.gettext(push.DISCREET_BODY)
    return push.DISCREET_TITLE, notification_text(reminder.message, reminder.params, lang, catalog.gettext)


async def _claim_and_file(sessionmaker: async_sessionmaker, worker: str, limit: int, lease: timedelta, now):
    """Claim rows, file each in the patient's inbox once, and load devices and preferences."""
    async with sessionmaker() as db:
        rows = await outbox.claim(db, worker, limit, lease, now)
        if not rows:
            await db.commit()
            return [], {}, {}
        recipients = {row.recipient_id for row in rows}
        own_patient = dict((await db.execute(select(Account.id, Account.patient_id)
                                             .where(Account.id.in_(recipients)))).all())
        for row in rows:
            # The inbox is the patient's: a reminder to their own account lands there (once, even if resent).
            if row.notification_id is None and row.patient_id and own_patient.get(row.recipient_id) == row.patient_id:
                note = Notification(patient_id=row.patient_id, message=row.message, params=row.params, link=row.link)
                db.add(note)
                await db.flush()
                row.notification_id = note.id
        subscriptions: dict[int, list[PushSubscription]] = {}
        for sub in (await db.scalars(select(PushSubscription)
                                     .where(PushSubscription.account_id.in_(recipients)))).all():
            subscriptions.setdefault(sub.account_id, []).append(sub)
        prefs = {p.account_id: p for p in (await db.scalars(
            select(PushPreferences).where(PushPreferences.account_id.in_(recipients)))).all()}
        await db.commit()
        return rows, subscriptions, prefs


async def run_batch(sessionmaker: async_sessionmaker, send: Send, worker: str, *, limit: int = 200,
                    lease: timedelta = outbox.LEASE, concurrency: int = 64, now: datetime | None = None) -> Stats:
    """One round: returns what happened. `send(info, data, topic=, urgent=)` is push.send bound to a client."""
    stats = Stats()
    now = now or utcnow()
    rows, subscriptions, prefs = await _claim_and_file(sessionmaker, worker, limit, lease, now)
    if not rows:
        return stats
    gate = asyncio.Semaphore(concurrency)
    deferred: dict[int, object] = {}
    results: dict[int, list[tuple[PushSubscription, push.Outcome]]] = {}

    lease_ends = now + lease - LEASE_MARGIN
    expired: set[int] = set()

    async def deliver(row: Reminder) -> None:
        pref = prefs.get(row.recipient_id)
        if not row.urgent:
            until = outbox.quiet_until(now, pref.quiet_start if pref else "21:00", pref.quiet_end if pref else "08:00")
            if until is not None and subscriptions.get(row.recipient_id):
                deferred[row.id] = until
                return
        title, body = message_text(row, bool(pref and pref.detailed))
        topic = push.topic_for(row.kind, row.subject)
        url = f"/inbox/{row.notification_id}" if row.notification_id else (row.link or "/")
        data = push.payload(title, body, url, topic)
        outcomes = []
        for sub in subscriptions.get(row.recipient_id, []):
            async with gate:
                if utcnow() >= lease_ends:  # another worker may have it by now: leave it to them
                    expired.add(row.id)
                    return
                outcome = await send(push.subscription_info(sub.endpoint, sub.p256dh, sub.auth), data,
                                     topic=topic, urgent=row.urgent)
            outcomes.append((sub, outcome))
        results[row.id] = outcomes

    await asyncio.gather(*(deliver(row) for row in rows))
    done: list[int] = []
    async with sessionmaker() as db:
        for row in rows:
            if row.id in expired:
                continue
            if row.id in deferred:
                await outbox.defer(db, row, worker, deferred[row.id])
                stats.deferred += 1
                continue
            outcomes = results.get(row.id, [])
            stats.pushes += len(outcomes)
            gone = [sub.id for sub, outcome in outcomes if outcome.kind == "gone"]
            if gone:
                await db.execute(delete(PushSubscription).where(PushSubscription.id.in_(gone)))
                stats.removed_subscriptions += len(gone)
            retry = [outcome for _, outcome in outcomes if outcome.kind == "retry"]
            if retry:
                state = await outbox.retry_later(db, row, worker, retry[0].detail or "retry", now)
                stats.failed += state == "failed"
                stats.retried += state != "failed"
                continue
            done.append(row.id)
        stats.sent = await outbox.mark_all_sent(db, done, worker, now)
        await db.commit()
    return stats


async def pending_count(sessionmaker: async_sessionmaker) -> int:
    async with sessionmaker() as db:
        return await db.scalar(select(func.count()).select_from(Reminder).where(Reminder.status == "pending")) or 0


async def run_forever(sessionmaker: async_sessionmaker, vapid, subject: str, every: timedelta = POLL_EVERY,
                      worker: str | None = None, lease: timedelta = outbox.LEASE, until_done: bool = False) -> None:
    """The background task: one client session (connection reuse) for the worker's lifetime."""
    worker = worker or worker_name()
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def send(info, data, *, topic, urgent):
            return await push.send(http, vapid, subject, info, data, topic=topic, urgent=urgent)

        busy = False
        while True:
            if not busy:
                await asyncio.sleep(every.total_seconds())
            try:
                stats = await run_batch(sessionmaker, send, worker, lease=lease)
                busy = bool(stats.sent or stats.retried or stats.failed)
                if busy:
                    log.info("reminders: %s", stats)
                elif until_done and not await pending_count(sessionmaker):
                    return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one failed round must not stop the worker
                busy = False
                log.exception("reminder worker round failed")
