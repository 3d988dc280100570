"""PostgreSQL: two `samhandling worker` processes share 1 000 due reminders: each is delivered once; with one
worker SIGKILLed mid-run none is lost and resends stay within the rows it held."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from server.access.models import Account
from server.db import utcnow
from server.notify.models import PushSubscription, Reminder
from server.notify.worker import HELD  # the most rows one worker holds at a time
from tests.pushservice import b64

REMINDERS = 1000
ROOT = Path(__file__).resolve().parents[2]


async def arrange(db, service) -> None:
    accounts = []
    for n in range(10):
        account = Account(role="patient", display_name=f"Mottaker {n}", active=True, webauthn_user_id=os.urandom(32))
        db.add(account)
        accounts.append(account)
    await db.flush()
    for n, account in enumerate(accounts):
        device = service.device(f"d{n}")
        db.add(PushSubscription(account_id=account.id, endpoint=service.endpoint(device), p256dh=device.p256dh,
                                auth=b64(device.auth), label=""))
    now = utcnow()
    await db.execute(insert(Reminder), [
        dict(recipient_id=accounts[i % 10].id, patient_id=None, kind="test", subject=f"r:{i}", due_at=now,
             urgent=True, message="x", params={}, link=f"/r/{i}", status="pending", attempts=0, claimed_by="",
             last_error="") for i in range(REMINDERS)])
    await db.commit()


def start_worker(settings) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=settings.database_url.replace("+asyncpg", ""),
               SAMHANDLING_VAR_DIR=str(settings.var_dir), SECRET_KEY="x")
    return subprocess.Popen([sys.executable, "-m", "server.cli", "worker", "--poll", "0.2", "--lease", "3",
                             "--until-done"], cwd=ROOT, env=env)


def delivered(service) -> Counter:
    return Counter(message.json["url"] for message in list(service.received))


async def check_all_sent(db) -> set[str]:
    pending = await db.scalar(select(func.count()).select_from(Reminder).where(Reminder.status != "sent"))
    workers = set((await db.scalars(select(Reminder.claimed_by).distinct())).all())
    await db.commit()
    assert pending == 0
    return workers


async def test_two_workers_deliver_each_reminder_exactly_once(database_url, settings, db, service):
    if not database_url.startswith("postgresql"):
        pytest.skip("the multi-process worker test runs on PostgreSQL")
    await arrange(db, service)
    service.delay = 0.002
    workers = [start_worker(settings), start_worker(settings)]
    for process in workers:
        assert process.wait(timeout=180) == 0

    counts = delivered(service)
    assert len(counts) == REMINDERS and set(counts.values()) == {1}
    assert len(await check_all_sent(db)) == 2  # both workers took part


async def test_a_killed_worker_loses_nothing_and_resends_at_most_what_it_held(database_url, settings, db, service):
    if not database_url.startswith("postgresql"):
        pytest.skip("the multi-process worker test runs on PostgreSQL")
    await arrange(db, service)
    service.delay = 0.01
    victim, survivor = start_worker(settings), start_worker(settings)
    deadline = time.monotonic() + 60
    while len(service.received) < 150 and time.monotonic() < deadline:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    assert survivor.wait(timeout=180) == 0

    counts = delivered(service)
    assert len(counts) == REMINDERS  # none lost
    resent = sum(n - 1 for n in counts.values())
    assert resent <= HELD, f"{resent} resends"
    await check_all_sent(db)
