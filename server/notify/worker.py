"""The reminder worker: claim due outbox rows, put each in the inbox, push it to the recipient's devices.

Runs inside the app (create_app starts it) and as `samhandling worker`. Any number of workers may run
against one PostgreSQL: see outbox.claim.

A round claims up to BATCH rows and files them in the inbox (_prepare), pushes them (_push_one), and marks the
delivered ones sent (_finish). The worker runs rounds as a pipeline (run_rounds): CONCURRENCY senders push one
round after the other while the next round is claimed and the last one finished, at most LANES rounds held at a
time, so it holds at most HELD rows; run_batch is run_rounds with one round. The pushes go over one HTTP
client's kept-alive connections (server/notify/http1.py). Throughput: bench/push.py (`make bench-push`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from server.access.models import Account
from server.db import utcnow
from server.i18n import DEFAULT_LOCALE, pick_locale, translations
from server.notify import http1, outbox, push
from server.notify.models import Notification, PushPreferences, PushSubscription, Reminder
from server.notify.service import notification_text

log = logging.getLogger(__name__)
POLL_EVERY = timedelta(seconds=5)
LEASE_MARGIN = timedelta(seconds=1)  # stop sending a claimed row this long before its lease ends
BATCH = 400  # rows claimed per round (200 cost ~50 µs more CPU per message: a round has ~20 ms of fixed work)
LANES = 2  # rounds held at once: the next is claimed while one is pushed
HELD = BATCH * LANES  # the most rows a worker holds at a time (what a killed worker can leave for a resend)
CONCURRENCY = 32  # HTTP requests in flight (16 starved the CPU less often but cost more per message)
CONNECTIONS = 100  # open connections per push service, at most
ROUNDS = 20  # rounds per run_rounds call (the worker logs once per call)
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


def message_text(reminder, detailed: bool, lang: str = DEFAULT_LOCALE) -> tuple[str, str]:
    """(title, body). Discreet text names no clinic, no health matter and no person."""
    catalog = translations(lang)
    if not detailed:
        return push.DISCREET_TITLE, catalog.gettext(push.DISCREET_BODY)
    return push.DISCREET_TITLE, notification_text(reminder.message, reminder.params, lang, catalog.gettext)


@dataclass
class Claimed:
    rows: list[outbox.Due]
    subscriptions: dict[int, list[push.Device]]  # account -> its devices
    prefs: dict[int, tuple[str, str, bool]]  # account -> (quiet start, quiet end, detailed)
    languages: dict[int, str]  # account -> its language


_devices: dict[tuple[int, str, str, str], push.Device] = {}
DEVICES_KEPT = 5000


def _device(sub_id: int, endpoint: str, p256dh: str, auth: str) -> push.Device:
    """The sender's view of a subscription, kept between rounds (pywebpush decodes and copies the keys when the
    encoder is made): keyed by every stored value, so a changed subscription is a new entry; at most
    DEVICES_KEPT (then all are dropped and built again as they come)."""
    key = (sub_id, endpoint, p256dh, auth)
    device = _devices.get(key)
    if device is None:
        if len(_devices) >= DEVICES_KEPT:
            _devices.clear()
        device = _devices[key] = push.Device.of(sub_id, endpoint, p256dh, auth)
    return device


async def _claim_and_file(sessionmaker: async_sessionmaker, worker: str, limit: int, lease: timedelta,
                          now: datetime) -> Claimed:
    """Claim rows, file each in the patient's inbox once (one INSERT for the batch), and load the recipients'
    devices, preferences and languages: a handful of statements per batch, none per message."""
    async with sessionmaker() as db:
        rows = await outbox.claim(db, worker, limit, lease, now)
        if not rows:
            await db.commit()
            return Claimed([], {}, {}, {})
        recipients = {row.recipient_id for row in rows}
        accounts = {id_: (patient_id, language) for id_, patient_id, language in (await db.execute(
            select(Account.id, Account.patient_id, Account.language).where(Account.id.in_(recipients)))).all()}
        # The inbox is the patient's: a reminder to their own account lands there (once, even if resent).
        to_file = [row for row in rows if row.notification_id is None and row.patient_id
                   and accounts.get(row.recipient_id, (None, None))[0] == row.patient_id]
        if to_file and db.bind.dialect.name == "postgresql":
            filed = dict((await db.execute(outbox.FILE_IN_INBOX_PG, {
                "ids": [row.id for row in to_file], "worker": worker, "created": utcnow()})).all())
            for row in to_file:
                row.notification_id = filed.get(row.id)
        elif to_file:
            created = utcnow()
            # SQLite (one writer, rowids counted up in insertion order within the statement): the ids sorted
            # are the rows' order.
            notes = Notification.__table__  # Core: no ORM bookkeeping per row
            ids = sorted((await db.scalars(insert(notes).returning(notes.c.id), [
                dict(patient_id=row.patient_id, message=row.message, params=row.params, link=row.link,
                     created_at=created, private=False) for row in to_file])).all())
            for row, note_id in zip(to_file, ids, strict=True):
                row.notification_id = note_id
            # The driver's executemany as it is: SQLAlchemy's per-row parameter handling cost more than the rows.
            connection = await db.connection()
            await connection.exec_driver_sql(
                f"UPDATE {Reminder.__tablename__} SET notification_id = ? WHERE id = ?",
                [(row.notification_id, row.id) for row in to_file])
        subscriptions: dict[int, list[push.Device]] = {}
        for sub_id, account_id, endpoint, p256dh, auth in (await db.execute(
                select(PushSubscription.id, PushSubscription.account_id, PushSubscription.endpoint,
                       PushSubscription.p256dh, PushSubscription.auth)
                .where(PushSubscription.account_id.in_(recipients)).order_by(PushSubscription.id))).all():
            try:
                device = _device(sub_id, endpoint, p256dh, auth)
            except ValueError:  # a stored subscription that cannot be used must not stop everyone's reminders
                log.warning("push subscription %s is unusable (endpoint or keys); skipped", sub_id)
                continue
            subscriptions.setdefault(account_id, []).append(device)
        prefs = {account_id: (start, end, detailed) for account_id, start, end, detailed in (await db.execute(
            select(PushPreferences.account_id, PushPreferences.quiet_start, PushPreferences.quiet_end,
                   PushPreferences.detailed).where(PushPreferences.account_id.in_(recipients)))).all()}
        await db.commit()
        languages = {id_: pick_locale(language) for id_, (_, language) in accounts.items()}
        return Claimed(rows, subscriptions, prefs, languages)


@dataclass
class Round:
    """One claimed batch on its way: the pushes to make, and what became of them."""

    claimed: Claimed
    now: datetime
    lease_ends: float  # time.monotonic() after which none of its rows is sent any more
    jobs: list[tuple[outbox.Due, push.Device, bytes, str]]  # (row, device, payload, topic)
    deferred: dict[datetime, list[int]]  # quiet hours: until -> rows
    results: dict[int, list[tuple[int, push.Outcome]]] = field(default_factory=dict)  # row -> (device, outcome)
    expired: set[int] = field(default_factory=set)
    left: int = 0  # jobs not done yet


async def _prepare(sessionmaker: async_sessionmaker, worker: str, limit: int, lease: timedelta,
                   now: datetime) -> Round | None:
    """Claim and file a batch and build its pushes; None when nothing is due."""
    claimed = await _claim_and_file(sessionmaker, worker, limit, lease, now)
    if not claimed.rows:
        return None
    deferred: dict[datetime, list[int]] = {}
    texts: dict[str, tuple[str, str]] = {}  # the discreet text is the same for every row in one language
    jobs: list[tuple[outbox.Due, push.Device, bytes, str]] = []
    for row in claimed.rows:
        devices = claimed.subscriptions.get(row.recipient_id)
        if not devices:
            continue  # the inbox has it; no device to push to
        quiet_start, quiet_end, detailed = claimed.prefs.get(row.recipient_id, ("21:00", "08:00", False))
        if not row.urgent:
            until = outbox.quiet_until(now, quiet_start, quiet_end)
            if until is not None:
                deferred.setdefault(until, []).append(row.id)
                continue
        lang = claimed.languages.get(row.recipient_id, DEFAULT_LOCALE)
        if detailed:
            title, body = message_text(row, True, lang)
        else:
            title, body = texts.get(lang) or texts.setdefault(lang, message_text(row, False, lang))
        topic = push.topic_for(row.kind, row.subject)
        url = f"/inbox/{row.notification_id}" if row.notification_id else (row.link or "/")
        data = push.payload(title, body, url, topic)
        jobs += [(row, device, data, topic) for device in devices]
    # A row is not sent any more shortly before its lease ends: another worker may have it by then.
    lease_ends = time.monotonic() + (lease - LEASE_MARGIN - (utcnow() - now)).total_seconds()
    return Round(claimed, now, lease_ends, jobs, deferred, left=len(jobs))


async def _push_one(round_: Round, job: tuple[outbox.Due, push.Device, bytes, str], send: Send) -> None:
    row, device, data, topic = job
    if row.id in round_.expired:
        return
    if time.monotonic() >= round_.lease_ends:
        round_.expired.add(row.id)
        return
    try:
        outcome = await send(device, data, topic=topic, urgent=row.urgent)
    except Exception as error:  # noqa: BLE001 - a sender that fails must not mark the row sent: retry it later
        log.exception("push to subscription %s failed", device.id)
        outcome = push.Outcome("retry", None, type(error).__name__)
    round_.results.setdefault(row.id, []).append((device.id, outcome))


async def _finish(sessionmaker: async_sessionmaker, round_: Round, worker: str) -> Stats:
    """After the pushes: quiet hours deferred, failures retried later, gone subscriptions removed, the
    delivered rows marked sent (only those this worker still holds)."""
    stats = Stats()
    done: list[int] = []
    gone: list[int] = []
    async with sessionmaker() as db:
        for until, ids in round_.deferred.items():
            await outbox.defer(db, ids, worker, until)
            stats.deferred += len(ids)
        waiting = round_.expired.union(*round_.deferred.values())
        for row in round_.claimed.rows:
            if row.id in waiting:
                continue
            outcomes = round_.results.get(row.id, [])
            stats.pushes += len(outcomes)
            gone += [device_id for device_id, outcome in outcomes if outcome.kind == "gone"]
            retry = [outcome for _, outcome in outcomes if outcome.kind == "retry"]
            if retry:
                state = await outbox.retry_later(db, row, worker, retry[0].detail or "retry", round_.now)
                stats.failed += state == "failed"
                stats.retried += state != "failed"
                continue
            done.append(row.id)
        if gone:
            await db.execute(delete(PushSubscription).where(PushSubscription.id.in_(gone)))
            stats.removed_subscriptions += len(gone)
        stats.sent = await outbox.mark_all_sent(db, done, worker, round_.now)
        await db.commit()
    return stats


async def run_batch(sessionmaker: async_sessionmaker, send: Send, worker: str, *, limit: int = BATCH,
                    lease: timedelta = outbox.LEASE, concurrency: int = CONCURRENCY,
                    now: datetime | None = None) -> Stats:
    """One round on its own (claim, push, finish): returns what happened. `send(device, data, topic=,
    urgent=)` is Pusher.send (or a stand-in). `now`: the time the round acts at (the tests move it)."""
    return await run_rounds(sessionmaker, send, worker, rounds=1, lanes=1, lease=lease, limit=limit,
                            concurrency=concurrency, now=now)


def _add(total: Stats, stats: Stats) -> None:
    """Every figure of `stats` added to `total` (the counts summed, the error texts appended)."""
    for name in (f.name for f in fields(Stats)):
        setattr(total, name, getattr(total, name) + getattr(stats, name))


async def run_rounds(sessionmaker: async_sessionmaker, send: Send, worker: str, *, rounds: int = ROUNDS,
                     lanes: int = LANES, lease: timedelta = outbox.LEASE, limit: int = BATCH,
                     concurrency: int = CONCURRENCY, now: datetime | None = None) -> Stats:
    """Up to `rounds` rounds as one pipeline, until a claim finds nothing due.

    One set of `concurrency` senders takes the pushes of every round in the order the rounds were claimed.
    While they push one round, the next is already claimed and waiting behind it, and a round whose pushes
    are all answered is finished (marked sent …) while the senders go on with the next: the senders never
    wait for the database, and the database never waits for the pushes. At most `lanes` rounds are held
    (claimed and not finished) at a time, so a worker holds at most lanes × limit rows (HELD). Each row
    still follows its own round: claimed with a lease, marked sent only after its push outcome. When a claim
    or a finish fails, the rounds already claimed are pushed and finished first, then the error is raised.
    `now`: the time every round acts at instead of the clock's (run_batch's tests move it)."""
    total = Stats()
    queue: deque[tuple[Round, tuple[outbox.Due, push.Device, bytes, str]]] = deque()
    more = asyncio.Event()  # pushes were queued, or the claiming has ended
    held = asyncio.Semaphore(lanes)
    finishing: set[asyncio.Task] = set()
    failures: list[BaseException] = []
    claiming = True

    async def finish(round_: Round) -> None:
        try:
            _add(total, await _finish(sessionmaker, round_, worker))
        except Exception as error:  # noqa: BLE001 - raised once the other rounds are done
            failures.append(error)
        finally:
            held.release()

    def finish_soon(round_: Round) -> None:
        task = asyncio.get_running_loop().create_task(finish(round_))
        finishing.add(task)
        task.add_done_callback(finishing.discard)

    async def claim() -> None:
        nonlocal claiming
        try:
            for _ in range(rounds):
                await held.acquire()
                if failures:
                    held.release()
                    return
                round_ = await _prepare(sessionmaker, worker, limit, lease, now or utcnow())
                if round_ is None:  # nothing was due: the caller decides when to look again
                    held.release()
                    return
                if not round_.jobs:
                    finish_soon(round_)
                    continue
                queue.extend((round_, job) for job in round_.jobs)
                more.set()
        except Exception as error:  # noqa: BLE001 - the rounds already claimed are still pushed and finished
            held.release()
            failures.append(error)
        finally:
            claiming = False
            more.set()

    async def sender() -> None:
        while True:
            if queue:
                round_, job = queue.popleft()
                try:
                    await _push_one(round_, job, send)
                finally:
                    round_.left -= 1
                    if not round_.left:
                        finish_soon(round_)
            elif claiming:
                more.clear()
                await more.wait()
            else:
                return

    await asyncio.gather(claim(), *(sender() for _ in range(concurrency)))
    while finishing:
        await asyncio.gather(*finishing)
    if failures:
        raise failures[0]
    return total


async def pending_count(sessionmaker: async_sessionmaker) -> int:
    async with sessionmaker() as db:
        return await db.scalar(select(func.count()).select_from(Reminder).where(Reminder.status == "pending")) or 0


async def run_forever(sessionmaker: async_sessionmaker, vapid, subject: str, every: timedelta = POLL_EVERY,
                      worker: str | None = None, lease: timedelta = outbox.LEASE, until_done: bool = False) -> None:
    """The background task: one HTTP client (keep-alive connections per push service) for the worker's lifetime."""
    worker = worker or worker_name()
    async with http1.Client(limit_per_origin=CONNECTIONS) as http:
        send = push.Pusher(http, vapid, subject).send

        busy = False
        while True:
            if not busy:
                await asyncio.sleep(every.total_seconds())
            try:
                stats = await run_rounds(sessionmaker, send, worker, lease=lease)
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
