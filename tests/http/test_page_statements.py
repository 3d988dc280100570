"""Patient pages send only the statements they need (issue 12), and what that must never change.

Every statement is a round trip to the database (on PostgreSQL ~0.3 ms of the app's CPU, on SQLite a few
hand-offs to its thread), so the hot patient pages were cut to what they show: who is asking (the session,
its account, the delegation a relative acts under and the header's unread count) in ONE query, then the
page's own data, then the audit insert. The bounds below are those counts: a change that adds a statement
to a page (a lazy load in a template, a second identity query) fails here, and is either a bug or a
deliberate cost to be accepted by raising the bound with its reason.

The guarantees around it keep their own tests (tests/http/test_sessions.py, test_relatives.py); the ones
the single identity query could have broken are pinned again here.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from server.access.models import UserSession
from server.db import utcnow
from server.meetings.models import Invitation
from server.notify import service as notify_service
from server.notify.models import Notification
from tests import factories
from tests.helpers import Statements, audit_rows, count

PLAN = {"goals": [], "measures": [
    {"uid": "m-walk", "title": "Gå tur", "description": "", "responsible": "patient", "participant": "",
     "goal": "", "start": "", "due": "", "timeframe": "", "status": "planned", "evaluation": None}]}


def _badge(html: str) -> str | None:
    match = re.search(r'data-unread aria-hidden="true">(\d+)<', html)
    return match.group(1) if match else None


async def _patient_with_everything(world, db):
    """A patient with a meeting (two participants, one invited, an agenda), sent wishes, a published plan
    and two unread messages (one private): every part of the hot pages has something to show."""
    patient, account = await world.patient(stage=5)
    await factories.wishes(db, patient.id, {"place": {"choice": "home"}})
    gp = factories.participant("gp", "Berit Bø", invitation=Invitation(
        nonce="nonce-statements-abcdefghijklmnopq", expires_at=utcnow() + timedelta(days=30), answer="accepted",
        answered_at=utcnow()))
    await factories.meeting(db, patient.id, participants=[gp, factories.participant("nav", "Nils Nav")],
                            segments=[("Arbeid", [0, 1])])
    await factories.plan(db, patient.id, PLAN)
    db.add_all([Notification(patient_id=patient.id, message="m", params={}),
                Notification(patient_id=patient.id, message="r", params={}, private=True)])
    await db.commit()
    return patient, account


# Identity (with the unread count), the page's data, the audit insert. /home: one query for the patient with
# the stage history, the wishes, whether a research request was ever sent, the scheduled meetings with
# participants and the plan's latest version with its updates (the research requests are read only for a
# patient who was sent one: tests/http/test_home.py). /meeting: one query for the meetings with participants
# and agenda and the submitted wishes. /plan: one query for the latest version and its updates. /inbox: the messages.
BOUNDS = {"/home": 3, "/meeting": 3, "/plan": 3, "/inbox": 3}


@pytest.mark.parametrize("path", list(BOUNDS))
async def test_a_patient_page_sends_one_identity_query_and_only_what_it_shows(client, world, db, path):
    _, account = await _patient_with_everything(world, db)
    await world.login_as(account)
    await client.get(path)  # the first request may write last-seen; the bound is for a page in use
    with Statements(client.app.state.engine) as statements:
        page = await client.get(path)
    assert page.status_code == 200 and _badge(page.text) == "2"
    assert len(statements.seen) <= BOUNDS[path], "\n".join(statements.seen)
    identity = statements.mentioning("sessions")
    assert len(identity) == 1 and statements.seen[0] == identity[0]
    # the header's count rode along with the identity: no statement of its own
    assert statements.counting("notifications") == identity
    assert len(statements.mentioning("audit_events")) == 1


async def test_a_relatives_session_and_delegation_come_in_the_same_single_query(client, world, db):
    patient, _ = await _patient_with_everything(world, db)
    relative, delegation = await world.relative(patient, ("see",))
    await world.login_as_relative(relative, delegation)
    await client.get("/home")
    with Statements(client.app.state.engine) as statements:
        page = await client.get("/home")
    assert page.status_code == 200 and _badge(page.text) == "1"  # not the private message
    assert len(statements.seen) <= BOUNDS["/home"]
    assert statements.mentioning("delegations") == statements.mentioning("sessions") == statements.seen[:1]


async def test_a_relative_whose_delegation_ended_is_refused_on_the_very_next_request_and_nothing_is_read(
        client, world, db):
    patient, _ = await _patient_with_everything(world, db)
    relative, delegation = await world.relative(patient, ("see",))
    await world.login_as_relative(relative, delegation)
    assert (await client.get("/plan")).status_code == 200
    row = await db.get(type(delegation), delegation.id)
    row.ended_at = utcnow()
    await db.commit()
    refused = await client.get("/plan")
    assert refused.status_code == 403 and "Gå tur" not in refused.text
    assert len(await audit_rows(db, "plan.viewed", actor_account_id=relative.id)) == 1  # the read it was allowed


async def test_an_idle_relatives_session_ends_before_anything_is_read(client, world, db):
    patient, _ = await _patient_with_everything(world, db)
    relative, delegation = await world.relative(patient, ("see",))
    await world.login_as_relative(relative, delegation)
    assert (await client.get("/plan")).status_code == 200
    await db.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
    await db.commit()
    page = await client.get("/plan", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert await count(db, UserSession, UserSession.account_id == relative.id) == 0
    assert len(await audit_rows(db, "plan.viewed", actor_account_id=relative.id)) == 1


async def test_a_patient_acting_as_a_relative_sees_the_count_of_whom_they_act_for(client, world, db):
    """A patient's account may also hold a delegation: acting for someone else, the header counts that
    person's messages they may read (never their own, never the other's private ones)."""
    own, account = await _patient_with_everything(world, db)
    other, _ = await world.patient("Bjørn Berg")
    db.add_all([Notification(patient_id=other.id, message="m", params={}) for _ in range(3)]
               + [Notification(patient_id=other.id, message="r", params={}, private=True)])
    await db.commit()
    _, delegation = await world.relative(other, ("see",), account=account)
    await world.login_as_relative(account, delegation)
    assert _badge((await client.get("/inbox")).text) == "3"
    await world.login_as(account)
    assert _badge((await client.get("/inbox")).text) == "2"


async def test_the_count_fetched_with_the_identity_is_not_used_once_the_request_wrote_messages(world, db):
    """`web.render` counts as the page is sent; the count fetched at the start of the request stands in for
    it only while the request has not added, opened or marked messages read."""
    patient, _ = await world.patient()
    patient_id = patient.id
    prefetched = {notify_service.UNREAD_OWN: 4, notify_service.UNREAD_AS_RELATIVE: 3}
    assert notify_service.prefetched_unread(db, prefetched, include_private=True) == 4
    assert notify_service.prefetched_unread(db, prefetched, include_private=False) == 3
    db.add(Notification(patient_id=patient_id, message="m", params={}))
    assert notify_service.prefetched_unread(db, prefetched, include_private=True) is None  # not flushed yet
    await db.flush()
    assert notify_service.prefetched_unread(db, prefetched, include_private=True) is None
    await db.rollback()
    db.sync_session.info.clear()
    await db.execute(update(Notification).where(Notification.patient_id == patient_id).values(read_at=utcnow()))
    assert notify_service.prefetched_unread(db, prefetched, include_private=False) is None
    await db.rollback()
