"""Issue 9 on phones: a patient gives a relative see + act; the relative enrolls their own passkey, sees
the plan and (with JavaScript off) fills in and sends the wishes; the clinic and the patient see who did
it; the patient's access log shows the reads; removing act and ending access take effect at once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Phone
from tests.e2e.test_shm_planning import to_english
from tests.e2e.test_walking_skeleton import enroll, login_cookie, make_patient, make_staff

pytestmark = pytest.mark.e2e


def _relative_account(server) -> int:
    async def work(db):
        from sqlalchemy import select

        from server.access.models import Account
        return await db.scalar(select(Account.id).where(Account.role == "relative"))

    return server.run(work)


def test_relative_story(browser, phone, live_server):
    patient_id, patient_code = make_patient(live_server, "Kari Nordmann", stage=4)
    clinician_code = make_staff(live_server, "clinician", "Lege Lise Lund")
    patient = phone()
    enroll(patient, patient_code)
    expect(patient.page.get_by_role("heading", name="Hei, Kari Nordmann")).to_be_visible()
    p = patient.page

    # The patient gives Ola see + act and gets a code, shown once.
    patient.goto("/access/relatives")
    p.get_by_label("Fullt navn på den pårørende").fill("Ola Nordmann")
    p.get_by_label(re.compile("^Fylle ut og sende ønskene")).check()
    p.get_by_role("button", name="Gi tilgang og lag en kode").click()
    code = p.locator("#relative-code").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code), code
    patient.check_a11y()

    # Ola enrolls his own passkey in his own browser and opens Kari's plan.
    relative = phone()
    r = relative.page
    relative.goto("/relative/code")
    r.get_by_label("Skriv inn koden du fikk som pårørende").fill(code)
    r.get_by_role("button", name="Fortsett").click()
    expect(r.get_by_role("heading", name="Lag passnøkkelen din")).to_be_visible()
    r.get_by_role("button", name="Lag passnøkkel").click()
    expect(r.get_by_role("heading", name="Dem jeg er pårørende for")).to_be_visible()
    relative.check_a11y()
    r.get_by_role("button", name="Gå til siden til Kari Nordmann").click()
    expect(r.get_by_text("Du ser Kari Nordmanns side som pårørende.")).to_be_visible()
    relative.goto("/plan")
    expect(r.get_by_text("Du ser Kari Nordmanns side som pårørende.")).to_be_visible()

    # With JavaScript off, Ola fills in the wishes and sends them.
    nojs = Phone(browser, live_server, javascript=False)
    try:
        login_cookie(nojs, live_server, _relative_account(live_server))
        nojs.goto("/relatives")
        to_english(nojs)
        n = nojs.page
        n.get_by_role("button", name="Go to Kari Nordmann’s page").click()
        expect(n.get_by_text("You are viewing Kari Nordmann’s page as a relative.")).to_be_visible()
        nojs.goto("/meeting/wishes/gp")
        n.get_by_label(re.compile("^Yes, my GP")).check()
        n.get_by_role("button", name="Save and continue").click()
        n.get_by_label("Yes", exact=True).check()
        n.get_by_label("Only the part about work and NAV").check()
        n.get_by_role("button", name="Save and continue").click()
        for heading in ("Would you like relatives to take part?", "Should anyone else take part?"):
            expect(n.get_by_role("heading", name=heading)).to_be_visible()
            n.get_by_role("button", name="Save and continue").click()
        n.get_by_label("Digitally from home (video)").check()
        n.get_by_role("button", name="Save and continue").click()
        n.get_by_role("button", name="Save and continue").click()
        n.get_by_label("Sleep").check()
        n.get_by_role("button", name="Save and see your answers").click()
        n.get_by_role("button", name="Send to the clinic").click()
        expect(n.get_by_text("Registered by Ola Nordmann (relative) for Kari Nordmann", exact=False)).to_be_visible()
        nojs.check_a11y()
        nojs.goto("/meeting/wishes/place")  # a form open while the patient narrows the access

        # The clinician sees the wishes attributed to Ola, and Ola on the patient page.
        clinic = phone()
        enroll(clinic, clinician_code)
        expect(clinic.page.get_by_role("heading", name="Arbeidsliste", exact=True)).to_be_visible()  # issue 8
        clinic.goto(f"/clinic/patients/{patient_id}/wishes")
        expect(clinic.page.get_by_text("Registrert av Ola Nordmann (pårørende) for Kari Nordmann",
                                       exact=False)).to_be_visible()
        clinic.goto(f"/clinic/patients/{patient_id}")
        expect(clinic.page.locator("#patient-relatives")).to_contain_text("Ola Nordmann")

        # Kari sees the attribution and, in her access log, Ola's and the clinician's reads.
        patient.goto("/meeting/wishes")
        expect(p.get_by_text("Registrert av Ola Nordmann (pårørende) for Kari Nordmann", exact=False)).to_be_visible()
        patient.goto("/access/log")
        log = p.locator("#access-log")
        expect(log).to_contain_text("Ola Nordmann")
        expect(log).to_contain_text("Lege Lise Lund")
        expect(log).to_contain_text("Åpnet tiltaksplanen")
        expect(p.locator("#chain-state")).to_contain_text("Loggen er hel")

        # Kari removes "act": Ola's next change is refused (the form he already had open).
        patient.goto("/access/relatives")
        p.get_by_label(re.compile("^Fylle ut og sende ønskene")).first.uncheck()
        p.get_by_role("button", name="Lagre endringer for Ola Nordmann").click()
        expect(p.get_by_text("Tilgangen til Ola Nordmann er endret.")).to_be_visible()
        n.get_by_label("At the pain clinic").check()
        n.get_by_role("button", name="Save and continue").click()
        expect(n.get_by_role("heading", name="Page not found")).to_be_visible()
    finally:
        nojs.close()

    # Kari ends the access: Ola's very next click shows that it has ended.
    p.get_by_role("button", name="Avslutt tilgangen til Ola Nordmann").click()
    expect(p.get_by_text("Tilgangen til Ola Nordmann er avsluttet.")).to_be_visible()
    r.get_by_role("navigation").get_by_role("link", name="Møte", exact=True).click()
    expect(r.get_by_role("heading", name="Tilgangen er avsluttet")).to_be_visible()
    expect(r.get_by_text("Bare Kari Nordmann kan gi deg tilgang igjen", exact=False)).to_be_visible()
    relative.check_a11y()
    assert not patient.console_errors and not relative.console_errors, (patient.console_errors,
                                                                         relative.console_errors)
