"""Issue 3, the whole story on a phone: wishes (JavaScript off), review, scheduling, invitations,
the GP's yes opening stage 5, NAV's no, the patient's meeting page, .ics and the camera check."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from server.i18n import today_oslo
from tests.e2e.conftest import Phone
from tests.e2e.test_walking_skeleton import enroll, login_cookie, make_patient, make_staff

pytestmark = pytest.mark.e2e


def to_english(device) -> None:
    device.open_menu()  # signed in, the language is in the header's menu
    device.page.get_by_role("button", name="English").click()
    expect(device.page.locator("html")).to_have_attribute("lang", "en")


def fill_wishes_without_javascript(browser, server, patient_account_id: int) -> None:
    device = Phone(browser, server, javascript=False)
    try:
        login_cookie(device, server, patient_account_id)
        device.goto("/home")
        to_english(device)
        page = device.page
        page.get_by_role("link", name="Who should come, and where?").click()
        device.check_a11y()
        page.get_by_role("link", name="Start").click()
        # Validation keeps the patient on the question, with the error summary.
        page.get_by_role("button", name="Save and continue").click()
        expect(page.get_by_role("heading", name="Please correct the following")).to_be_visible()
        device.check_a11y()
        page.get_by_label(re.compile("^Yes, my GP")).check()
        page.get_by_role("button", name="Save and continue").click()
        expect(page.get_by_role("heading", name="Should a NAV counsellor take part?")).to_be_visible()
        device.check_a11y()
        page.get_by_label("Yes", exact=True).check()
        page.get_by_label("Only the part about work and NAV").check()
        page.get_by_role("button", name="Save and continue").click()
        for heading in ("Would you like relatives to take part?", "Should anyone else take part?"):
            expect(page.get_by_role("heading", name=heading)).to_be_visible()
            device.check_a11y()
            page.get_by_role("button", name="Save and continue").click()
        expect(page.get_by_role("heading", name="Where should the meeting take place?")).to_be_visible()
        page.get_by_label("Digitally from home (video)").check()
        page.get_by_role("button", name="Save and continue").click()
        expect(page.get_by_role("heading", name="Do you have any practical needs?")).to_be_visible()
        device.check_a11y()
        page.get_by_role("button", name="Save and continue").click()
        expect(page.get_by_role("heading", name="What matters most to you?")).to_be_visible()
        page.get_by_label("Sleep").check()
        page.get_by_label(re.compile("^This is most important for me")).fill("Å kunne jobbe litt igjen")
        page.get_by_role("button", name="Save and see your answers").click()
        expect(page.get_by_role("heading", name="Who should come, and where?")).to_be_visible()
        device.check_a11y()
        page.get_by_role("button", name="Send to the clinic").click()
        expect(page.get_by_text(re.compile("not read yet"))).to_be_visible()
    finally:
        device.close()


def test_shm_planning_story(browser, phone, live_server):
    patient_id, patient_code = make_patient(live_server, "Kari Nordmann", stage=4)
    clinician_code = make_staff(live_server, "clinician", "Lege Lise Lund")
    patient = phone()
    enroll(patient, patient_code)
    expect(patient.page.get_by_role("heading", name="Hei, Kari Nordmann")).to_be_visible()
    account_id = live_server.run(_account_of(patient_id))
    fill_wishes_without_javascript(browser, live_server, account_id)

    # The clinician sees the new input, reads it and schedules the meeting.
    clinic = phone()
    enroll(clinic, clinician_code)
    expect(clinic.page.get_by_role("heading", name="Arbeidsliste", exact=True)).to_be_visible()  # issue 8
    to_english(clinic)
    c = clinic.page
    c.get_by_role("link", name="Worklist").click()
    clinic.check_a11y()
    c.get_by_role("link", name="Kari Nordmann").first.click()
    expect(c.get_by_text("Å kunne jobbe litt igjen")).to_be_visible()
    clinic.check_a11y()
    c.get_by_role("button", name="Mark as read").click()
    expect(c.get_by_text(re.compile("Read by the clinic")).first).to_be_visible()
    c.get_by_role("link", name="Back to the patient").click()
    c.get_by_role("link", name="Plan meeting 1").click()
    clinic.check_a11y()
    meeting_day = today_oslo() + timedelta(days=30)
    c.get_by_label("Date").fill(meeting_day.isoformat())
    c.get_by_label("Start time (Norwegian time)").fill("10:00")
    c.get_by_label("Length in minutes").fill("90")
    c.get_by_label("Digital (video)").check()
    c.get_by_label("Video link").fill("http://video.example.no/shm-1")
    gp_row = c.get_by_role("group", name="GP", exact=True)
    gp_row.get_by_label("How to reach them (phone or e-mail)").fill("post@sentrum-legekontor.no")
    nav_row = c.get_by_role("group", name="NAV counsellor", exact=True)
    nav_row.get_by_label("Name").fill("Nora Veileder")
    nav_row.get_by_label("How to reach them (phone or e-mail)").fill("nora.veileder@nav.no")
    c.get_by_role("button", name="Schedule the meeting").click()
    # A non-https video link is refused and everything typed is kept.
    expect(c.get_by_role("heading", name="Please correct the following")).to_be_visible()
    clinic.check_a11y()
    assert c.get_by_label("Length in minutes").input_value() == "90"
    c.get_by_label("Video link").fill("https://video.example.no/shm-1")
    c.get_by_role("button", name="Schedule the meeting").click()
    expect(c.get_by_role("heading", name=re.compile("Collaboration meeting 1"))).to_be_visible()
    clinic.check_a11y()

    # Invitation links for the GP and NAV.
    c.get_by_role("link", name="Invitations and answers").click()
    clinic.check_a11y()
    links = {}
    for name in ("Berit Bø", "Nora Veileder"):
        c.get_by_role("button", name=re.compile(f"Create link.*{name}")).click()
        expect(c.get_by_text(f"A new link for {name}")).to_be_visible()
        links[name] = c.get_by_label("Invitation link").input_value()
        assert links[name].startswith(live_server.url + "/invitation/")
        clinic.check_a11y()

    # External participants have no account and see the default language, bokmål.
    gp = phone()
    gp.page.goto(links["Berit Bø"])
    gp.check_a11y()
    # Issue 8: the GP is told whom the meeting concerns (name and birth date), still no health details.
    expect(gp.page.get_by_text("Kari Nordmann, født 17. mai 1975")).to_be_visible()
    gp.page.get_by_label("Ja, jeg blir med").check()
    gp.page.get_by_role("button", name="Send svar").click()
    expect(gp.page.get_by_role("heading", name="Takk for svaret ditt")).to_be_visible()
    gp.check_a11y()

    nav = phone()
    nav.page.goto(links["Nora Veileder"])
    nav.page.get_by_label("Nei, jeg kan ikke være med").check()
    nav.page.get_by_role("button", name="Send svar").click()
    expect(nav.page.get_by_role("heading", name="Takk for svaret ditt")).to_be_visible()

    # A tampered link opens nothing.
    response = gp.page.goto(links["Berit Bø"][:-2] + "xx")
    assert response.status == 404
    expect(gp.page.get_by_role("heading", name="Denne lenken kan ikke brukes")).to_be_visible()

    # The GP's yes opens stage 5.
    clinic.goto(f"/clinic/patients/{patient_id}")
    c.get_by_label("New stage").select_option("5")
    c.get_by_role("button", name="Move stage").click()
    expect(c.get_by_role("heading", name=re.compile("Stage 5 of 9"))).to_be_visible()

    # The patient sees the confirmed meeting, downloads the .ics and checks the camera.
    p = patient.page
    patient.goto("/meeting")
    expect(p.get_by_text(re.compile("Fastlegen din.*Berit Bø"))).to_be_visible()
    expect(p.get_by_text("Har takket ja")).to_be_visible()
    expect(p.get_by_text("Kan ikke komme")).to_be_visible()
    with p.expect_download() as download_info:
        p.get_by_role("link", name=re.compile(r"\.ics")).click()
    ics = open(download_info.value.path(), encoding="utf-8").read()
    assert "BEGIN:VCALENDAR" in ics and "DTSTART:" in ics and "https://video.example.no/shm-1" in ics
    p.get_by_role("link", name="Test kamera og mikrofon").click()
    patient.check_a11y()
    p.get_by_role("button", name="Start testen").click()
    expect(p.locator("video")).to_have_js_property("paused", False)
    patient.check_a11y()
    for device in (patient, clinic, gp, nav):
        assert not device.console_errors, device.console_errors


def _account_of(patient_id: int):
    async def work(db):
        from sqlalchemy import select

        from server.access.models import Account

        return await db.scalar(select(Account.id).where(Account.patient_id == patient_id))

    return work
