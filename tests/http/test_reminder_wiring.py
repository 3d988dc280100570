"""The reminders the pathway's own pages put in the outbox, end to end through the HTTP routes: the clinic plans,
moves and cancels a meeting, moves a patient to stage 4, publishes a plan; the patient sends their wishes and
marks a measure done; the person's language. Then the worker pushes to a local push service and the test
reads the decrypted payload."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select

from server.access.models import Account, Credential
from server.db import make_engine, make_sessionmaker
from server.i18n import OSLO, today_oslo
from server.meetings.models import Meeting
from server.notify import http1, push, reminders, vapid
from server.notify.models import Notification, PushSubscription, Reminder
from server.notify.worker import run_batch
from tests.conftest import csrf_token, post_form
from tests.http.test_meetings import _valid_form
from tests.http.test_plan_clinic import MEASURE
from tests.http.test_wishes import _fill_required
from tests.pushservice import b64
from tests.unit.test_passkey_payloads import Authenticator

UTC = timezone.utc


@pytest.fixture
async def worker_round(settings):
    """One round of the real worker (its real HTTP client) at a chosen time."""
    engine = make_engine(settings.database_url)
    async with http1.Client() as http:
        pusher = push.Pusher(http, vapid.load(settings), settings.vapid_subject, timeout=5)

        async def round_(now: datetime):
            return await run_batch(make_sessionmaker(engine), pusher.send, "wiring", now=now)
        yield round_
    await engine.dispose()


async def _pending(db, patient_id: int) -> dict[str, list[Reminder]]:
    rows = (await db.scalars(select(Reminder).where(Reminder.patient_id == patient_id, Reminder.status == "pending")
                             .order_by(Reminder.due_at).execution_options(populate_existing=True))).all()
    await db.commit()
    kinds: dict[str, list[Reminder]] = {}
    for row in rows:
        kinds.setdefault(row.kind, []).append(row)
    return kinds


def _next_dst_sunday(after: date) -> date:
    """The next Sunday on which Oslo changes between summer and winter time."""
    day = after
    while True:
        noon = datetime.combine(day, time(12), tzinfo=OSLO).utcoffset()
        if noon != datetime.combine(day - timedelta(days=1), time(12), tzinfo=OSLO).utcoffset():
            return day
        day += timedelta(days=1)


def _oslo(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=OSLO).astimezone(UTC)


async def _subscribe(db, service, account_id: int):
    """The device as the browser's PushManager would have given it (the route that stores it, which takes only
    https endpoints, is tested in test_pwa.py); it points at the local push service."""
    device = service.device(f"a{account_id}")
    db.add(PushSubscription(account_id=account_id, endpoint=service.endpoint(device), p256dh=device.p256dh,
                            auth=b64(device.auth), label="phone"))
    await db.commit()
    return device


async def test_a_meeting_planned_moved_and_cancelled_through_the_clinics_pages(client, world, db, service,
                                                                               worker_round):
    patient, account = await world.patient("Kari Nordmann", stage=5)
    device = await _subscribe(db, service, account.id)
    await world.login_as(await world.staff())
    # A meeting on the Monday after the next daylight-saving change, 10:00 Oslo time, on video.
    change = _next_dst_sunday(today_oslo() + timedelta(days=10))
    monday = change + timedelta(days=1)
    path = f"/clinic/patients/{patient.id}/meetings/new?number=1"
    response = await post_form(client, path, _valid_form(date=monday.isoformat(), time="10:00"), token_from=path)
    assert response.status_code == 200
    meeting = await db.scalar(select(Meeting).where(Meeting.patient_id == patient.id))
    await db.commit()

    pending = await _pending(db, patient.id)
    assert {kind: [r.due_at for r in rows] for kind, rows in pending.items()} == {
        "meeting_7d": [_oslo(monday - timedelta(days=7), 10)],  # the old offset, still 10:00 in Oslo
        "meeting_1d": [_oslo(change, 10)],  # the new offset, still 10:00 in Oslo
        "meeting_2h": [_oslo(monday, 8)]}
    assert pending["meeting_7d"][0].due_at.utcoffset() == timedelta(0)
    assert all(r.link == "/meeting/check" and r.recipient_id == account.id and not r.urgent
               for rows in pending.values() for r in rows)

    # The worker sends the 7-day reminder when it is due: discreet, in bokmål, opening the inbox message.
    stats = await worker_round(pending["meeting_7d"][0].due_at + timedelta(seconds=1))
    assert stats.sent == 1 and not service.refused
    (message,) = service.received
    assert message.path == device.path and message.headers["topic"] == push.topic_for("meeting_7d",
                                                                                      f"meeting:{meeting.id}")
    assert message.json["body"] == "Du har en ny melding i Samhandling"
    note = await db.scalar(select(Notification).where(Notification.id == int(message.json["url"].split("/")[-1])))
    await db.commit()
    assert note.patient_id == patient.id and "Test your camera" in note.message

    # Moved a week later: the pending reminders follow the new time, and an urgent notice goes out.
    moved_to = monday + timedelta(days=7)
    path = f"/clinic/meetings/{meeting.id}/reschedule"
    moved = await post_form(client, path, {"date": moved_to.isoformat(), "time": "09:00", "duration": "60",
                                           "version": "1", "reason": "The GP is away"}, token_from=path)
    assert moved.status_code == 200
    pending = await _pending(db, patient.id)
    assert sorted((kind, r.due_at) for kind, rows in pending.items() for r in rows if kind.startswith("meeting_")
                  and kind != "meeting_changed") == sorted(
        (kind, due) for kind, due in reminders.meeting_due_times(_oslo(moved_to, 9)).items())
    (notice,) = pending["meeting_changed"]
    assert notice.urgent and notice.notification_id is not None

    # Cancelled: the reminders are gone, an urgent notice says so.
    path = f"/clinic/meetings/{meeting.id}/cancel"
    done = await post_form(client, path, {"version": "2", "reason": "The patient is ill"}, token_from=path)
    assert done.status_code == 200
    pending = await _pending(db, patient.id)
    assert not {"meeting_7d", "meeting_1d", "meeting_2h"} & pending.keys()
    assert [r.urgent for r in pending["meeting_cancelled"]] == [True]


async def test_stage_4_asks_who_should_come_until_the_wishes_are_sent(client, world, db):
    patient, account = await world.patient("Kari Nordmann", stage=3)
    await world.login_as(await world.staff())
    moved = await post_form(client, f"/clinic/patients/{patient.id}/stage",
                            {"to_stage": "4", "note": "", "reason": "", "version": "1"},
                            token_from=f"/clinic/patients/{patient.id}")
    assert moved.status_code == 200
    pending = await _pending(db, patient.id)
    assert set(pending) == {"wishes", "wishes_again"}
    assert pending["wishes_again"][0].due_at - pending["wishes"][0].due_at == reminders.WISHES_AGAIN
    assert all(rows[0].link == "/meeting/wishes" for rows in pending.values())

    await world.login_as(account)
    await _fill_required(client)
    sent = await post_form(client, "/meeting/wishes-submit", token_from="/meeting/wishes")
    assert sent.status_code == 200 and "were sent to the clinic" in sent.text
    assert await _pending(db, patient.id) == {}


async def _publish_plan(client, world, db, patient_id: int, due: date) -> str:
    """The clinic starts a plan with one measure of the patient's own and publishes it; the measure's uid."""
    await world.login_as(await world.staff())
    home = f"/clinic/patients/{patient_id}/plan"
    await post_form(client, f"{home}/start", token_from=home)
    page = await client.get(f"{home}/measures/new")
    version = re.search(r'name="draft_version" value="(\d+)"', page.text).group(1)
    await post_form(client, f"{home}/measures/new", MEASURE | {"responsible": "patient", "start": "",
                                                               "due": due.isoformat(), "draft_version": version},
                    token_from=f"{home}/measures/new")
    page = await client.get(home)
    version = re.findall(r'name="draft_version" value="(\d+)"', page.text)[-1]
    published = await post_form(client, f"{home}/publish", {"draft_version": version, "label": "shm1"},
                                token_from=home)
    assert published.status_code == 200 and "Version 1 of the plan is published" in published.text
    return re.search(r'id="measure-([^"]+)"', (await _patient_plan(client, world, db, patient_id)).text).group(1)


async def _patient_plan(client, world, db, patient_id: int):
    account = await db.scalar(select(Account).where(Account.patient_id == patient_id))
    await db.commit()
    await world.login_as(account)
    return await client.get("/plan")


async def test_a_published_plan_is_pushed_and_a_measure_marked_done_is_reminded_no_more(client, world, db):
    patient, account = await world.patient("Kari Nordmann", stage=6)
    due = today_oslo() + timedelta(days=20)
    uid = await _publish_plan(client, world, db, patient.id, due)

    pending = await _pending(db, patient.id)
    assert set(pending) == {"plan_published", "measure_soon", "measure_overdue"}
    assert pending["plan_published"][0].link == "/plan" and pending["plan_published"][0].notification_id
    assert pending["measure_soon"][0].due_at == _oslo(due - timedelta(days=3), 9)
    assert pending["measure_overdue"][0].due_at == _oslo(due + timedelta(days=1), 9)

    token = await csrf_token(client, "/plan")  # signed in as the patient by now
    response = await client.post(f"/plan/measures/{uid}", data={"status": "in_progress", "note": "",
                                                                 "_csrf_token": token})
    assert response.status_code == 200
    assert set(await _pending(db, patient.id)) == {"plan_published", "measure_soon", "measure_overdue"}
    response = await client.post(f"/plan/measures/{uid}", data={"status": "done", "note": "Ferdig",
                                                                "_csrf_token": token})
    assert response.status_code == 200 and "The status and your note are saved" in response.text
    assert set(await _pending(db, patient.id)) == {"plan_published"}  # the plan's own message still goes


async def test_a_relative_acting_for_the_patient_who_stops_a_measure_withdraws_its_reminders(client, world, db):
    patient, _account = await world.patient("Kari Nordmann", stage=6)
    uid = await _publish_plan(client, world, db, patient.id, today_oslo() + timedelta(days=20))
    relative, delegation = await world.relative(patient, ("see", "act"), "Ola Nordmann")
    await world.login_as_relative(relative, delegation)
    token = await csrf_token(client, "/plan")
    response = await client.post(f"/plan/measures/{uid}/status", data={"status": "ended", "_csrf_token": token})
    assert response.status_code == 200
    assert set(await _pending(db, patient.id)) == {"plan_published"}


@pytest.mark.parametrize("text", ["discreet", "detailed"])
async def test_an_english_speaking_patient_gets_english_push_text(client, world, db, service, worker_round, text):
    patient, account = await world.patient("Kari Nordmann", stage=5)
    await _subscribe(db, service, account.id)
    await world.login_as(account)
    switched = await post_form(client, "/language", {"lang": "en", "next": "/home"}, token_from="/home")
    assert switched.status_code == 200
    assert (await db.scalar(select(Account.language).where(Account.id == account.id))) == "en"
    await db.commit()
    saved = await post_form(client, "/settings/notifications", {"quiet_start": "21:00", "quiet_end": "08:00",
                                                                "text": text}, token_from="/settings/notifications")
    assert saved.status_code == 200
    await world.login_as(await world.staff())
    day = today_oslo() + timedelta(days=30)
    path = f"/clinic/patients/{patient.id}/meetings/new?number=1"
    await post_form(client, path, _valid_form(date=day.isoformat(), time="10:00"), token_from=path)
    seven_days = (await _pending(db, patient.id))["meeting_7d"][0]

    await worker_round(seven_days.due_at + timedelta(seconds=1))

    (message,) = service.received
    body = message.json["body"]
    if text == "discreet":
        assert body == "You have a new message in Samhandling"
    else:
        assert body.startswith("Reminder: collaboration meeting 1 is ") and "Test your camera and microphone" in body
        assert str(day.day) in body and day.strftime("%B") in body  # the date in English


async def test_the_language_cookie_at_sign_in_is_remembered_for_push(client, world, db):
    _patient, account = await world.patient("Kari Nordmann")
    authenticator = Authenticator()
    db.add(Credential(account_id=account.id, credential_id=authenticator.credential_id,
                      public_key=authenticator.cose_public_key(), sign_count=0, name="Test"))
    await db.commit()
    assert account.language is None
    headers = {"x-csrftoken": await csrf_token(client, "/login")}  # the client reads English (its cookie)
    challenge = (await client.post("/login/options", json={}, headers=headers)).json()["challenge"]
    verified = await client.post("/login/verify", headers=headers, json={
        "credential": authenticator.assertion(challenge, account.webauthn_user_id)})
    assert verified.status_code == 200
    assert (await db.scalar(select(Account.language).where(Account.id == account.id))) == "en"
    await db.commit()
    # Switching while signed in changes it again; an unknown language changes nothing.
    for lang, stored in (("nb", "nb"), ("xx", "nb")):
        await post_form(client, "/language", {"lang": lang, "next": "/"}, token_from="/home")
        assert (await db.scalar(select(Account.language).where(Account.id == account.id))) == stored
        await db.commit()
