"""Issue 4, the action plan story on a phone: written and published after SHM 1, read and updated by the
patient (once with JavaScript off), followed up by the clinic, revised at SHM 2, compared, printed."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from server.access.service import create_account
from server.db import utcnow
from server.i18n import today_oslo
from tests import factories
from tests.e2e.conftest import Phone
from tests.e2e.test_shm_planning import to_english
from tests.e2e.test_walking_skeleton import login_cookie

pytestmark = pytest.mark.e2e


def after_shm1(server) -> dict:
    """A patient at stage 7 whose SHM 1 (with the GP and NAV) took place, with wishes sent before it."""

    async def work(db):
        from server.seed import build_patient

        patient = build_patient("Kari Nordmann", 7, today_oslo() - timedelta(weeks=30))
        db.add(patient)
        await db.flush()
        answers = {"topics": {"suggested": ["sleep"], "text": "Kunne jobbe litt igjen"}}
        await factories.wishes(db, patient.id, answers, submitted_at=utcnow() - timedelta(days=20),
                               read_at=utcnow() - timedelta(days=19))
        await factories.meeting(db, patient.id, starts_at=utcnow() - timedelta(days=7), duration_minutes=90,
                                video_link="https://video.example.no/m",
                                participants=[factories.participant("gp", "Fastlege Berit Bø", contact="bo@lk.no"),
                                              factories.participant("nav", "Nora Veileder", contact="nora@nav.no")])
        return {"patient_id": patient.id,
                "patient": (await create_account(db, "patient", "Kari Nordmann", patient.id)).id,
                "clinician": (await create_account(db, "clinician", "Lege Lise Lund")).id}

    return server.run(work)


def add_measure(device, title: str, responsible: str, due=None, participant=None) -> None:
    page = device.page
    page.get_by_role("link", name="Add a measure").click()
    page.get_by_label("What will be done").fill(title)
    page.get_by_label(responsible, exact=True).check()
    if participant:
        page.get_by_label(re.compile("^Participant of the meeting")).select_option(label=participant)
    if due:
        page.get_by_label(re.compile("^Due date")).fill(due.isoformat())
    page.get_by_role("button", name="Save the measure").click()
    expect(page.get_by_role("cell", name=title)).to_be_visible()


def test_action_plan_story(browser, phone, live_server):
    ids = after_shm1(live_server)
    clinic = phone()
    login_cookie(clinic, live_server, ids["clinician"])
    clinic.goto(f"/clinic/patients/{ids['patient_id']}")
    to_english(clinic)
    c = clinic.page
    c.get_by_role("link", name="Action plan").click()
    expect(c.get_by_role("heading", name="No action plan yet")).to_be_visible()
    clinic.check_a11y()
    c.get_by_role("button", name="Start the plan").click()
    # Issue 8: no bare topic words as goals; what matters most to the patient is shown beside the goals.
    expect(c.get_by_label("Goal 1 (optional)")).to_have_value("")
    topics = c.get_by_role("complementary", name="What matters most to the patient")
    expect(topics).to_contain_text("Sleep")
    expect(topics).to_contain_text("Kunne jobbe litt igjen")
    c.get_by_label("Goal 1 (optional)").fill("Kunne jobbe litt igjen")
    c.get_by_role("button", name="Save the goals").click()
    expect(c.get_by_text("The goals are saved.")).to_be_visible()
    clinic.check_a11y()
    # A measure with an empty title is refused and what was typed is kept.
    c.get_by_role("link", name="Add a measure").click()
    c.get_by_label(re.compile("^Due date")).fill((today_oslo() + timedelta(days=30)).isoformat())
    c.get_by_label(re.compile("^Start date")).fill((today_oslo() + timedelta(days=40)).isoformat())
    c.get_by_role("button", name="Save the measure").click()
    expect(c.get_by_role("heading", name="Please correct the following")).to_be_visible()
    clinic.check_a11y()
    c.get_by_role("link", name="Back to the action plan").click()
    add_measure(clinic, "Gå en tur hver dag", "The patient", due=today_oslo() + timedelta(days=60))
    add_measure(clinic, "Oppfølgingstime hos fastlegen", "GP")
    add_measure(clinic, "Samtale om arbeidsrettede tiltak", "A participant of the meeting", participant="Nora Veileder")
    clinic.check_a11y()
    c.get_by_role("button", name=re.compile("Publish")).click()
    expect(c.get_by_text("Version 1 of the plan is published.")).to_be_visible()

    # The patient reads the plan (htmx in place), then updates a measure without JavaScript.
    patient = phone()
    login_cookie(patient, live_server, ids["patient"])
    patient.goto("/plan")
    to_english(patient)
    p = patient.page
    expect(p.get_by_role("heading", name="My measures")).to_be_visible()
    patient.check_a11y()
    mine = p.get_by_role("region", name="Gå en tur hver dag")
    assert p.get_by_role("region", name="Oppfølgingstime hos fastlegen").get_by_label("Status").count() == 0
    # Status and note in one form (issue 8): neither change is lost when saving.
    mine.get_by_label("Status").select_option(label="In progress")
    mine.get_by_label("How is it going?").fill("Går bra, 20 minutter de fleste dager")
    mine.get_by_role("button", name="Save", exact=True).click()
    expect(p.get_by_text("Går bra, 20 minutter de fleste dager").first).to_be_visible()
    expect(p.get_by_role("region", name="Gå en tur hver dag").get_by_text("In progress").first).to_be_visible()
    patient.check_a11y()

    no_js = Phone(browser, live_server, javascript=False)
    try:
        login_cookie(no_js, live_server, ids["patient"])
        no_js.goto("/plan")
        to_english(no_js)
        card = no_js.page.get_by_role("region", name="Gå en tur hver dag")
        card.get_by_label("Status").select_option(label="Done")
        card.get_by_label("How is it going?").fill("Ferdig uten JavaScript")
        card.get_by_role("button", name="Save", exact=True).click()
        saved = no_js.page.get_by_role("region", name="Gå en tur hver dag")
        expect(saved.get_by_text("Done").first).to_be_visible()
        expect(saved.get_by_text("Ferdig uten JavaScript")).to_be_visible()
        no_js.check_a11y()
    finally:
        no_js.close()

    # The clinic sees the progress in the worklist.
    c.get_by_role("link", name="Worklist").click()
    expect(c.get_by_role("link", name="Kari Nordmann").first).to_be_visible()
    clinic.check_a11y()
    clinic.goto(f"/clinic/patients/{ids['patient_id']}/plan")
    expect(c.get_by_text("Går bra, 20 minutter de fleste dager")).to_be_visible()
    c.get_by_role("button", name="Mark as read").click()

    # SHM 2: evaluate every measure, revise, publish the SHM 2 version.
    c.get_by_role("link", name=re.compile("Evaluate the measures")).first.click()
    clinic.check_a11y()
    for title, outcome in (("Gå en tur hver dag", "Kept"), ("Oppfølgingstime hos fastlegen", "Finished"),
                           ("Samtale om arbeidsrettede tiltak", "Changed")):
        c.get_by_role("group", name=f"What happened to “{title}”?").get_by_label(outcome).check()
    c.get_by_role("button", name="Save the evaluation").click()
    c.get_by_role("row", name=re.compile("Samtale om arbeidsrettede tiltak")).get_by_role("link", name=re.compile("Edit")).click()
    c.get_by_label("What will be done").fill("Avklaringsmøte med arbeidsgiver og NAV")
    c.get_by_role("button", name="Save the measure").click()
    add_measure(clinic, "Bassengtrening to ganger i uken", "The patient", due=today_oslo() + timedelta(days=90))
    c.get_by_label("SHM 2").check()
    c.get_by_label(re.compile("^What changed")).fill("Revidert etter samhandlingsmøte 2")
    c.get_by_role("button", name=re.compile("Publish")).click()
    expect(c.get_by_text("Version 2 of the plan is published.")).to_be_visible()

    # The patient compares SHM 1 with SHM 2 and prints the plan.
    patient.goto("/plan/history")
    expect(p.get_by_text("Revidert etter samhandlingsmøte 2")).to_be_visible()
    patient.check_a11y()
    p.get_by_role("button", name="Compare").click()
    expect(p.get_by_role("heading", name="What changed in your action plan")).to_be_visible()
    patient.check_a11y()
    added = p.get_by_role("region", name="New measures")
    expect(added.get_by_text("Bassengtrening to ganger i uken")).to_be_visible()
    changed = p.get_by_role("region", name="Measures that changed")
    title_change = changed.get_by_role("listitem").filter(has_text="Samtale om arbeidsrettede tiltak")
    expect(title_change).to_contain_text("Avklaringsmøte med arbeidsgiver og NAV")
    assert "Oppfølgingstime hos fastlegen" not in changed.inner_text()
    patient.goto("/plan/print")
    expect(p.get_by_text("Kari Nordmann").first).to_be_visible()
    for title in ("Gå en tur hver dag", "Bassengtrening to ganger i uken", "Avklaringsmøte med arbeidsgiver og NAV"):
        expect(p.get_by_text(title).first).to_be_visible()
    p.emulate_media(media="print")
    patient.check_a11y()
    for device in (patient, clinic):
        assert not device.console_errors, device.console_errors
