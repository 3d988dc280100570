"""The patient's home page follows the pathway: what to do now, the next meeting, the plan, the stage.

One test walks through every state a patient can be in and checks what the page says, and what it
must not say (nothing may contradict the data)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.db import utcnow
from server.i18n import today_oslo
from server.meetings.models import Invitation
from server.notify.models import Notification
from server.research.models import ResearchEvent
from tests import factories
from tests.conftest import LANG_COOKIE, post_form


def _measure(uid: str, title: str, due: str = "", responsible: str = "patient") -> dict:
    return {"uid": uid, "title": title, "description": "", "responsible": responsible, "participant": "",
            "goal": "", "start": "", "due": due, "timeframe": "", "status": "planned", "evaluation": None}


def _plan(due_in_days: int = 40) -> dict:
    due = (today_oslo() + timedelta(days=due_in_days)).isoformat()
    return {"goals": [], "measures": [_measure("m-walk", "Gå tur hver dag", due),
                                      _measure("m-gp", "Samtale om søvnmedisin", responsible="gp")]}


def _accepted_gp():
    invitation = Invitation(nonce="nonce-home-test-abcdefghijklmnop", expires_at=utcnow() + timedelta(days=30),
                            answer="accepted", answered_at=utcnow())
    return factories.participant("gp", "Berit Bø", invitation=invitation)


async def _no_wishes(db, patient):
    pass


async def _draft(db, patient):
    await factories.wishes(db, patient.id, {"place": {"choice": "home"}}, submitted=False)


async def _sent(db, patient):
    await factories.wishes(db, patient.id, {"place": {"choice": "home"}})


async def _planned(db, patient):
    await _sent(db, patient)
    await factories.meeting(db, patient.id, participants=[_accepted_gp(), factories.participant("nav", "Nils Nav")])


async def _joinable(db, patient):
    await _sent(db, patient)
    await factories.meeting(db, patient.id, starts_at=utcnow() - timedelta(minutes=5))


async def _held(db, patient):
    await _sent(db, patient)
    await factories.meeting(db, patient.id, starts_at=utcnow() - timedelta(days=3))


async def _published(db, patient):
    await _held(db, patient)
    await factories.plan(db, patient.id, _plan(due_in_days=5))


async def _updated(db, patient):
    await _held(db, patient)
    await factories.plan(db, patient.id, _plan(), _plan(), last_published=timedelta(days=2))


async def _shm2_planned(db, patient):
    await _held(db, patient)
    await factories.plan(db, patient.id, _plan())
    await factories.meeting(db, patient.id, number=2, format="clinic", address="Smerteklinikken, Ullevål",
                            video_link="")


async def _research_request(db, patient):
    """SHM 1 was held and marked as such: the clinic's request waits for the patient's answer."""
    await _sent(db, patient)
    meeting = await factories.meeting(db, patient.id, starts_at=utcnow() - timedelta(days=3), held_at=utcnow())
    db.add(ResearchEvent(patient_id=patient.id, meeting_id=meeting.id, meeting_number=1, kind="asked",
                         text_version=1))
    await db.commit()
    return meeting


async def _closed(db, patient):
    await _held(db, patient)
    await factories.plan(db, patient.id, _plan())


TELL_WHO = "Tell us who should come"
PLAN_LATER = "The action plan is made together with you at collaboration meeting 1"
SEE_MEETING = 'href="/meeting">See your meeting'
TARGET = "at the latest"
ANSWER = "data-action>Answer the request from the pain clinic"

STATES = [
    # (id, stage, set-up, says, does not say)
    ("no_wishes", 4, _no_wishes, [TELL_WHO, "No meeting is planned yet.", PLAN_LATER, TARGET],
     [SEE_MEETING, "data-join", "You have sent your wishes", "See your action plan"]),
    ("draft", 4, _draft, [TELL_WHO, "No meeting is planned yet.", PLAN_LATER],
     [SEE_MEETING, "You have sent your wishes"]),
    ("sent", 4, _sent, ["You have sent your wishes", PLAN_LATER, TARGET],
     [TELL_WHO, SEE_MEETING, "data-action"]),
    ("meeting_planned", 5, _planned,
     ["Your next meeting: collaboration meeting 1", "Digital (video)", "Have confirmed:</strong> Berit Bø",
      SEE_MEETING, "You can join from", PLAN_LATER],
     [TELL_WHO, "Nils Nav", "data-join", TARGET, "No meeting is planned yet", "You have sent your wishes"]),
    ("joinable_now", 6, _joinable, ['data-action>Join the meeting', "data-join", SEE_MEETING,
                                    "Nobody has confirmed the time yet."],
     [TELL_WHO, "You can join from", TARGET]),
    ("meeting_held", 7, _held, ["Collaboration meeting 1 took place", "writing down the action plan"],
     [SEE_MEETING, "data-join", PLAN_LATER, TELL_WHO, "No meeting is planned yet", ANSWER]),
    ("request_to_answer", 7, _research_request, [ANSWER, 'href="/research/meetings/'],
     [TELL_WHO, "Tell us how it is going"]),
    ("plan_published", 7, _published,
     ["Gå tur hver dag", "data-action>Tell us how it is going: Gå tur hver dag", "See your action plan"],
     [PLAN_LATER, "writing down the action plan", "Samtale om søvnmedisin", "Updated ", SEE_MEETING]),
    ("plan_updated", 7, _updated, ["Gå tur hver dag", "data-plan-updated>Updated ", "See your action plan"],
     [PLAN_LATER, "data-action"]),
    ("shm2_planned", 7, _shm2_planned,
     ["Your next meeting: collaboration meeting 2", "At the pain clinic: Smerteklinikken, Ullevål", SEE_MEETING,
      "Gå tur hver dag"],
     [PLAN_LATER, "data-join", "You can join from", TELL_WHO]),
    ("closed", 9, _closed, ["Your further follow-up is with your GP.", "Gå tur hver dag"],
     [TARGET, TELL_WHO, SEE_MEETING, PLAN_LATER, "data-action"]),
]


@pytest.mark.parametrize("name,stage,setup,says,not_says", STATES, ids=[s[0] for s in STATES])
async def test_home_follows_the_pathway(client, world, db, name, stage, setup, says, not_says):
    patient, account = await world.patient("Kari Nordmann", stage=stage)
    await setup(db, patient)
    await world.login_as(account)
    html = (await client.get("/home")).text
    for text in says:
        assert text in html, f"{name}: expected {text!r}"
    for text in not_says:
        assert text not in html, f"{name}: did not expect {text!r}"


async def test_the_next_step_comes_before_the_stage_card(client, world, db):
    patient, account = await world.patient(stage=5)
    await _planned(db, patient)
    await world.login_as(account)
    html = (await client.get("/home")).text
    assert html.index("data-todo") < html.index("data-next-meeting") < html.index("data-plan-summary") \
        < html.index('id="now-heading"') < html.index('id="timeline-heading"')


@pytest.mark.parametrize("path", ["/home", "/meeting", "/plan", "/account"])
async def test_header_counts_unread_messages_on_every_page(client, world, db, path):
    patient, account = await world.patient(stage=5)
    db.add_all([Notification(patient_id=patient.id, message="m", params={}, link=""),
                Notification(patient_id=patient.id, message="m", params={}, link=""),
                Notification(patient_id=patient.id, message="m", params={}, link="", read_at=utcnow())])
    await db.commit()
    await world.login_as(account)
    html = (await client.get(path)).text
    assert 'data-unread aria-hidden="true">2</span>' in html
    assert "(2 unread)" in html  # the text alternative read out by a screen reader


async def test_header_shows_no_count_when_everything_is_read(client, world):
    _, account = await world.patient(stage=5)
    await world.login_as(account)
    assert "data-unread" not in (await client.get("/home")).text


async def test_where_the_clinic_will_contact_the_patient_its_contact_details_are_shown(client, world, db):
    patient, account = await world.patient(stage=4)
    await world.login_as(account)
    for path in ("/home", "/plan/print"):
        html = (await client.get(path)).text
        assert 'href="tel:+4773000000">+47 73 00 00 00</a>' in html, path
        assert "Smerteklinikken test" in html and "smerte@example.no" in html and "hverdager 08–15" in html
    await _planned(db, patient)
    assert 'href="tel:+4773000000"' in (await client.get("/meeting")).text


async def test_answer_comes_before_a_measure_and_goes_once_answered(client, world, db):
    """Issue 8: "Svar på …" is a home action while the clinic's request waits for the patient's answer; it
    leads to the request, comes before a measure that is due, and is gone once answered."""
    patient, account = await world.patient("Kari Nordmann", stage=7)
    meeting = await _research_request(db, patient)
    await factories.plan(db, patient.id, _plan(due_in_days=5))
    await world.login_as(account)
    client.cookies.set(LANG_COOKIE, "nb", domain="testserver.local")
    page = (await client.get("/home")).text
    assert f'href="/research/meetings/{meeting.id}" data-action>Svar på henvendelsen fra smerteklinikken' in page
    await post_form(client, f"/research/meetings/{meeting.id}", {"answer": "no"},
                    token_from=f"/research/meetings/{meeting.id}")
    page = (await client.get("/home")).text
    assert "Svar på henvendelsen" not in page and "data-action>Fortell hvordan det går: Gå tur hver dag" in page


async def test_a_relative_is_never_offered_the_patients_answer(client, world, db):
    patient, _ = await world.patient("Kari Nordmann", stage=7)
    await _research_request(db, patient)
    relative, delegation = await world.relative(patient, ("see", "act", "reminders"), "Ola Nordmann")
    await world.login_as_relative(relative, delegation)
    page = (await client.get("/home")).text
    assert "Answer the request" not in page and "/research" not in page
