"""Push through a local push service: VAPID, aes128gcm, discreet text, gone devices, retries, quiet hours,
the inbox, and the reminders' times across daylight saving."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from server.db import make_engine, make_sessionmaker, utcnow
from server.i18n import OSLO
from server.notify import http1, outbox, push, reminders, vapid
from server.notify.models import Notification, PushPreferences, PushSubscription, Reminder
from server.notify.worker import run_batch, run_rounds

HEALTH_WORDS = ("smerte", "pain", "klinikk", "clinic", "møte", "meeting", "tiltak", "plan", "helse", "health")


def daytime() -> datetime:
    """Now, or when it is evening or night in Oslo the next noon: a time outside the default quiet hours
    (21:00–08:00), with an hour to spare for a test's own retries. A test that is not about quiet hours runs
    its rounds then; at the real clock it failed when run after 21:00 Oslo time (its reminders deferred)."""
    now = utcnow()
    oslo = now.astimezone(OSLO)
    if 8 <= oslo.hour < 20:
        return now
    noon = (oslo + timedelta(days=1 if oslo.hour >= 20 else 0)).replace(hour=12, minute=0, second=0, microsecond=0)
    return noon.astimezone(timezone.utc)


@pytest.fixture
async def deliver(settings):
    """One worker round with the real HTTP client against the local service, at `now` (default: `daytime()`)."""
    engine = make_engine(settings.database_url)
    maker = make_sessionmaker(engine)
    key = vapid.load(settings)
    async with http1.Client() as http:
        send = push.Pusher(http, key, settings.vapid_subject, timeout=5).send

        async def round_(now=None):
            return await run_batch(maker, send, "test-worker", now=now or daytime())
        yield round_
    await engine.dispose()


async def subscribe(db, service, account_id: int, name: str = "phone"):
    device = service.device(name)
    db.add(PushSubscription(account_id=account_id, endpoint=service.endpoint(device), p256dh=device.p256dh,
                            auth=push_b64(device.auth), label=name))
    await db.commit()
    return device


def push_b64(raw: bytes) -> str:
    from tests.pushservice import b64
    return b64(raw)


async def meeting_reminder(db, account_id: int, patient_id: int, *, urgent=False, due=None, subject="meeting:1"):
    await outbox.enqueue(db, recipient_id=account_id, patient_id=patient_id, kind="meeting_1d", subject=subject,
                         due_at=due or utcnow() - timedelta(seconds=1), urgent=urgent, message=reminders.MSG_MEETING,
                         link="/meeting", number="1", when="2027-03-15T09:00:00+00:00")
    await db.commit()


async def test_discreet_push_is_encrypted_signed_and_says_nothing_about_health(world, db, service, deliver, client,
                                                                                settings):
    patient, account = await world.patient("Kari Nordmann")
    await subscribe(db, service, account.id)
    await meeting_reminder(db, account.id, patient.id)

    stats = await deliver()

    assert stats.sent == 1 and len(service.received) == 1 and not service.refused
    message = service.received[0]
    body = message.json
    assert body["title"] == "Samhandling" and body["body"] == "Du har en ny melding i Samhandling"
    text = message.plaintext.decode().lower()
    assert "kari" not in text and "nordmann" not in text
    assert not any(word in text for word in HEALTH_WORDS)
    # explicit TTL, urgency and a topic per reminder; a fresh claims set with aud and exp
    assert int(message.headers["ttl"]) == push.TTL_SECONDS
    assert message.headers["urgency"] == "normal"
    assert message.headers["topic"] == push.topic_for("meeting_1d", "meeting:1")
    assert message.claims["aud"] == f"http://127.0.0.1:{service.port}"
    assert message.claims["sub"] == settings.vapid_subject and message.claims["exp"] > utcnow().timestamp()
    # the same message is in the inbox, and the notification opens it (marking it read)
    note_id, read_at = (await db.execute(select(Notification.id, Notification.read_at)
                                         .where(Notification.patient_id == patient.id))).one()
    await db.commit()
    assert body["url"] == f"/inbox/{note_id}" and read_at is None
    await world.login_as(account)
    response = await client.get(body["url"], follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/meeting"
    db.expire_all()
    assert (await db.scalar(select(Notification.read_at).where(Notification.id == note_id))) is not None


async def test_detailed_text_says_what_the_reminder_is_about(world, db, service, deliver):
    patient, account = await world.patient()
    await subscribe(db, service, account.id)
    db.add(PushPreferences(account_id=account.id, quiet_start="00:00", quiet_end="00:00", detailed=True))
    await meeting_reminder(db, account.id, patient.id)

    await deliver()

    assert service.received[0].json["body"].startswith("Påminnelse: samhandlingsmøte 1 er ")


@pytest.mark.parametrize("status", [404, 410])
async def test_a_gone_subscription_is_deleted(world, db, service, deliver, status):
    patient, account = await world.patient()
    device = await subscribe(db, service, account.id)
    service.answers[device.path] = [status]
    await meeting_reminder(db, account.id, patient.id)

    stats = await deliver()

    assert stats.removed_subscriptions == 1
    assert await db.scalar(select(PushSubscription).where(PushSubscription.account_id == account.id)) is None
    row = await db.scalar(select(Reminder))
    assert row.status == "sent"  # the inbox has it; no device is left to try


async def test_429_is_retried_and_then_delivered(world, db, service, deliver):
    patient, account = await world.patient()
    device = await subscribe(db, service, account.id)
    service.answers[device.path] = [429]
    await meeting_reminder(db, account.id, patient.id)

    first = await deliver()
    row = await db.scalar(select(Reminder))
    await db.commit()
    assert first.retried == 1 and row.status == "pending" and row.lease_until > utcnow()  # backing off
    assert (await deliver()).sent == 0  # not before the backoff ends
    second = await deliver(now=row.lease_until + timedelta(seconds=1))
    assert second.sent == 1 and len(service.received) == 1


async def test_500_is_retried_a_bounded_number_of_times_then_recorded(world, db, service, deliver):
    patient, account = await world.patient()
    device = await subscribe(db, service, account.id)
    service.answers[device.path] = [500] * 20
    # no quiet hours: the attempts two hours apart would otherwise reach the evening (and be deferred, not
    # counted) whenever the test runs after about 13:00 Oslo time
    db.add(PushPreferences(account_id=account.id, quiet_start="00:00", quiet_end="00:00", detailed=False))
    await meeting_reminder(db, account.id, patient.id)

    now = utcnow()
    for _ in range(outbox.MAX_ATTEMPTS + 3):
        await deliver(now=now)
        now += timedelta(hours=2)

    row = await db.scalar(select(Reminder))
    assert row.status == "failed" and row.attempts == outbox.MAX_ATTEMPTS and row.last_error == "HTTP 500"
    assert service.hits[device.path] == outbox.MAX_ATTEMPTS and not service.received


async def test_quiet_hours_hold_back_a_reminder_but_not_an_urgent_change(world, db, service, deliver):
    patient, account = await world.patient()
    await subscribe(db, service, account.id)
    # 22:30 Oslo on a winter evening: inside the default quiet hours 21:00-08:00
    evening = datetime(2027, 1, 12, 22, 30, tzinfo=OSLO).astimezone(timezone.utc)
    await meeting_reminder(db, account.id, patient.id, due=evening - timedelta(minutes=5))
    await meeting_reminder(db, account.id, patient.id, urgent=True, due=evening - timedelta(minutes=5),
                           subject="meeting:2")

    stats = await deliver(now=evening)

    assert stats.sent == 1 and stats.deferred == 1
    assert [m.json["tag"] for m in service.received] == [push.topic_for("meeting_1d", "meeting:2")]
    waiting = await db.scalar(select(Reminder).where(Reminder.subject == "meeting:1"))
    await db.commit()
    assert waiting.status == "pending"
    assert waiting.lease_until == datetime(2027, 1, 13, 8, 0, tzinfo=OSLO).astimezone(timezone.utc)
    later = await deliver(now=waiting.lease_until + timedelta(seconds=1))
    assert later.sent == 1 and len(service.received) == 2


def test_one_day_before_a_meeting_after_the_october_change_is_at_the_same_oslo_hour():
    # Daylight saving ends on Sunday 25 October 2026; the meeting is on Monday 26 October at 10:00.
    starts = datetime(2026, 10, 26, 10, 0, tzinfo=OSLO).astimezone(timezone.utc)
    due = reminders.meeting_due_times(starts)
    assert due["meeting_1d"].astimezone(OSLO).replace(tzinfo=None) == datetime(2026, 10, 25, 10, 0)
    assert due["meeting_1d"] == datetime(2026, 10, 25, 9, 0, tzinfo=timezone.utc)  # CET, UTC+1
    assert due["meeting_7d"] == datetime(2026, 10, 19, 8, 0, tzinfo=timezone.utc)  # CEST, UTC+2
    assert due["meeting_2h"] == datetime(2026, 10, 26, 7, 0, tzinfo=timezone.utc)


async def test_rescheduling_replaces_pending_reminders_and_cancelling_removes_them(world, db):
    patient, account = await world.patient()
    now = datetime(2026, 10, 1, 12, 0, tzinfo=timezone.utc)
    first = datetime(2026, 10, 26, 9, 0, tzinfo=timezone.utc)
    moved = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
    await reminders.meeting_planned(db, patient_id=patient.id, meeting_id=7, number=1, starts_at=first,
                                    digital=True, now=now)
    await reminders.meeting_planned(db, patient_id=patient.id, meeting_id=7, number=1, starts_at=first,
                                    digital=True, now=now)  # idempotent
    await db.commit()
    rows = (await db.scalars(select(Reminder))).all()
    assert len(rows) == 3 and all(r.link == "/meeting/check" for r in rows)
    await db.commit()
    await reminders.meeting_planned(db, patient_id=patient.id, meeting_id=7, number=1, starts_at=moved,
                                    digital=False, now=now)
    await db.commit()
    due = sorted(r.due_at for r in (await db.scalars(select(Reminder))).all())
    await db.commit()
    assert due == sorted(reminders.meeting_due_times(moved).values())
    await reminders.meeting_changed(db, patient_id=patient.id, meeting_id=7, notification_id=None,
                                    message="x", cancelled=True)
    await db.commit()
    rows = (await db.scalars(select(Reminder))).all()
    assert [(r.kind, r.urgent) for r in rows] == [("meeting_cancelled", True)]


async def test_a_patient_who_leaves_the_pathway_gets_no_more_reminders(world, db):
    patient, account = await world.patient()
    await reminders.wishes_needed(db, patient_id=patient.id)
    await db.commit()
    assert len((await db.scalars(select(Reminder))).all()) == 2
    await db.commit()
    await reminders.left_pathway(db, patient_id=patient.id)
    await db.commit()
    assert (await db.scalars(select(Reminder))).all() == []


async def test_an_expired_lease_is_claimed_again_by_another_worker(world, db):
    patient, account = await world.patient()
    await meeting_reminder(db, account.id, patient.id)
    now = utcnow()
    taken = await outbox.claim(db, "a", now=now)
    await db.commit()
    assert len(taken) == 1 and await outbox.claim(db, "b", now=now) == []
    await db.commit()
    again = await outbox.claim(db, "b", now=now + outbox.LEASE + timedelta(seconds=1))
    await db.commit()
    assert len(again) == 1
    assert not await outbox.mark_sent(db, again[0].id, "a")  # the old holder can no longer finish it
    assert await outbox.mark_sent(db, again[0].id, "b")
    await db.execute(update(Reminder).values(status="sent"))
    await db.commit()


async def test_one_round_files_each_reminder_in_its_own_patients_inbox(world, db, service, deliver):
    people = [await world.patient(name) for name in ("Kari Nordmann", "Per Hansen", "Liv Berg")]
    for n, (patient, account) in enumerate(people):
        await subscribe(db, service, account.id, f"phone{n}")
        await meeting_reminder(db, account.id, patient.id, subject=f"meeting:{n}")

    stats = await deliver()

    assert stats.sent == 3 and len(service.received) == 3 and not service.refused
    owner = dict((await db.execute(select(Notification.id, Notification.patient_id))).all())
    await db.commit()
    assert len(owner) == 3, "one inbox message per reminder"
    for n, (patient, _) in enumerate(people):
        (message,) = [m for m in service.received if m.path == f"/push/phone{n}"]
        assert owner[int(message.json["url"].removeprefix("/inbox/"))] == patient.id


async def test_the_signed_vapid_header_is_reused_per_push_service_and_renewed_in_time(world, db, service, settings):
    patient, account = await world.patient()
    device = await subscribe(db, service, account.id)
    target = push.Device.of(1, service.endpoint(device), device.p256dh, push_b64(device.auth))
    clock = [utcnow().timestamp()]
    async with http1.Client() as http:
        pusher = push.Pusher(http, vapid.load(settings), settings.vapid_subject, timeout=5, clock=lambda: clock[0])
        for _ in range(3):
            assert (await pusher.send(target, b'{"title":"x"}', topic="t")).kind == "ok"
        first = pusher.authorization(target.endpoint)
        clock[0] += push.SIGN_EVERY + 1
        assert (await pusher.send(target, b'{"title":"x"}', topic="t")).kind == "ok"
    assert pusher.signatures == 2 and pusher.authorization(target.endpoint) != first
    # every request carried a JWT the push service accepted: right aud, exp ahead and within 24 hours
    assert len(service.received) == 4 and not service.refused
    for message in service.received:
        assert message.claims["exp"] - push.VAPID_VALID_FOR <= clock[0] <= message.claims["exp"]
    with pytest.raises(ValueError):
        push.Pusher(None, None, "mailto:x@example.no", sign_every=3600, valid_for=25 * 3600)


async def test_the_push_service_refuses_an_expired_jwt_and_the_sender_signs_anew(world, db, service, settings):
    patient, account = await world.patient()
    device = await subscribe(db, service, account.id)
    target = push.Device.of(1, service.endpoint(device), device.p256dh, push_b64(device.auth))
    clock = [utcnow().timestamp() - 3600]  # a header signed an hour ago that was valid for 10 minutes
    async with http1.Client() as http:
        pusher = push.Pusher(http, vapid.load(settings), settings.vapid_subject, timeout=5, sign_every=60,
                             valid_for=600, clock=lambda: clock[0])
        assert (await pusher.send(target, b"{}", topic="t")) == push.Outcome("error", 401, "HTTP 401")
        clock[0] = utcnow().timestamp()
        assert (await pusher.send(target, b"{}", topic="t")).kind == "ok"
    assert service.refused == [device.path] and len(service.received) == 1 and pusher.signatures == 2


async def test_an_unusable_stored_subscription_does_not_hold_up_the_other_reminders(world, db, service, deliver):
    broken_patient, broken = await world.patient("Kari Nordmann")
    patient, account = await world.patient("Per Hansen")
    keys = service.device("spare")
    db.add(PushSubscription(account_id=broken.id, endpoint="https://push.example.com/a", p256dh="!!!",
                            auth="???", label="keys that do not decode"))
    db.add(PushSubscription(account_id=broken.id, endpoint="https://push.example.com/not a url",
                            p256dh=keys.p256dh, auth=push_b64(keys.auth), label="an endpoint that is no URL"))
    await subscribe(db, service, account.id)
    await meeting_reminder(db, broken.id, broken_patient.id, subject="meeting:1")
    await meeting_reminder(db, account.id, patient.id, subject="meeting:2")

    stats = await deliver()

    assert stats.sent == 2 and len(service.received) == 1  # the broken device is skipped; its reminder is filed
    assert service.received[0].json["tag"] == push.topic_for("meeting_1d", "meeting:2")
    assert await db.scalar(select(Notification.id).where(Notification.patient_id == broken_patient.id))


async def test_the_worker_pipeline_delivers_every_reminder_once_into_its_own_inbox_holding_at_most_its_bound(
        world, db, service, settings):
    # As `samhandling worker` runs: rounds claimed ahead while earlier ones are pushed, finished behind them.
    people = [await world.patient(name) for name in ("Kari Nordmann", "Per Hansen", "Liv Berg")]
    for n, (_, account) in enumerate(people):
        await subscribe(db, service, account.id, f"phone{n}")
    for i in range(90):
        patient, account = people[i % 3]
        await outbox.enqueue(db, recipient_id=account.id, patient_id=patient.id, kind="measure_due",
                             subject=f"measure:{i}", due_at=utcnow() - timedelta(seconds=1), urgent=True,
                             message=reminders.MSG_MEETING, link="/plan", number="1",
                             when="2027-03-15T09:00:00+00:00")
    await db.commit()
    engine = make_engine(settings.database_url)
    maker = make_sessionmaker(engine)
    held: list[int] = []
    try:
        async with http1.Client() as http:
            pusher = push.Pusher(http, vapid.load(settings), settings.vapid_subject, timeout=5)

            async def send(device, data, **how):
                await asyncio.sleep(0.005)  # a push service's round trip: claims can overtake pushes
                async with maker() as look:  # the rows this worker holds right now
                    held.append(await look.scalar(select(func.count()).select_from(Reminder).where(
                        Reminder.claimed_by == "pipeline", Reminder.status == "pending")))
                    await look.commit()
                return await pusher.send(device, data, **how)

            stats = await run_rounds(maker, send, "pipeline", limit=10, lanes=2, concurrency=4)
    finally:
        await engine.dispose()

    assert stats.sent == 90 and stats.pushes == 90 and not service.refused
    topics = sorted(message.json["tag"] for message in service.received)
    assert topics == sorted(push.topic_for("measure_due", f"measure:{i}") for i in range(90)), "each exactly once"
    assert max(held) <= 20, "never more than lanes × limit rows held"
    assert max(held) > 10, "the next round was claimed while the last one was still being pushed"
    assert await db.scalar(select(func.count()).select_from(Reminder).where(Reminder.status != "sent")) == 0
    owner = dict((await db.execute(select(Notification.id, Notification.patient_id))).all())
    await db.commit()
    assert len(owner) == 90, "one inbox message per reminder"
    patients = {f"/push/phone{n}": patient.id for n, (patient, _) in enumerate(people)}
    for message in service.received:
        assert owner[int(message.json["url"].removeprefix("/inbox/"))] == patients[message.path]


async def test_a_push_that_fails_with_an_error_is_retried_later_not_marked_sent(world, db, service, settings):
    people = [await world.patient(name) for name in ("Kari Nordmann", "Per Hansen")]
    for n, (patient, account) in enumerate(people):
        await subscribe(db, service, account.id, f"phone{n}")
        await meeting_reminder(db, account.id, patient.id, subject=f"meeting:{n}")
    engine = make_engine(settings.database_url)
    maker = make_sessionmaker(engine)
    try:
        async with http1.Client() as http:
            pusher = push.Pusher(http, vapid.load(settings), settings.vapid_subject, timeout=5)

            async def send(device, data, **how):
                if device.endpoint.endswith("/phone0"):
                    raise RuntimeError("a bug in the sender")
                return await pusher.send(device, data, **how)

            stats = await run_rounds(maker, send, "failing", now=daytime())
    finally:
        await engine.dispose()

    assert stats.sent == 1 and stats.retried == 1
    assert [message.path for message in service.received] == ["/push/phone1"]
    rows = {row.subject: row for row in (await db.scalars(select(Reminder))).all()}
    await db.commit()
    assert rows["meeting:1"].status == "sent"
    failed = rows["meeting:0"]
    assert failed.status == "pending" and failed.last_error == "RuntimeError" and failed.lease_until > utcnow()
