"""The walking skeleton, in a real browser on a phone viewport with a virtual passkey authenticator."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from server.access import codes
from server.access.service import create_account
from server.i18n import today_oslo
from server.seed import build_patient
from tests.conftest import SECRET

pytestmark = pytest.mark.e2e


def make_patient(server, name: str, stage: int = 4):
    async def work(db):
        from datetime import timedelta

        patient = build_patient(name, stage, today_oslo() - timedelta(weeks=6))
        db.add(patient)
        await db.flush()
        account = await create_account(db, "patient", name, patient.id)
        return patient.id, await codes.issue(db, SECRET, account.id, None, 14)

    return server.run(work)


def make_staff(server, role: str, name: str) -> str:
    async def work(db):
        account = await create_account(db, role, name)
        return await codes.issue(db, SECRET, account.id, None, 14)

    return server.run(work)


def enroll(device, code: str) -> None:
    device.goto("/login")
    device.page.get_by_role("link", name="Jeg har fått en kode").click()
    device.check_a11y()
    device.page.get_by_label("Skriv inn koden fra smerteklinikken").fill(code)
    device.page.get_by_role("button", name="Fortsett").click()
    expect(device.page.get_by_role("heading", name="Lag passnøkkelen din")).to_be_visible()
    device.check_a11y()
    device.page.get_by_role("button", name="Lag passnøkkel").click()


def test_patient_enrolls_logs_in_and_sees_stage(phone, live_server):
    _, code = make_patient(live_server, "Kari Nordmann", stage=4)
    device = phone()
    enroll(device, code)
    expect(device.page.get_by_role("heading", name="Hei, Kari Nordmann")).to_be_visible()
    expect(device.page.get_by_role("heading", name="Utredning")).to_be_visible()
    device.check_a11y()
    device.open_menu()
    device.page.get_by_role("button", name="Logg ut").click()
    expect(device.page.get_by_role("heading", name="Logg inn i Samhandling")).to_be_visible()
    device.page.get_by_role("button", name="Logg inn med passnøkkel").click()
    expect(device.page.get_by_role("heading", name="Hei, Kari Nordmann")).to_be_visible()
    # Usable at 320 px: nothing wider than the screen.
    device.page.set_viewport_size({"width": 320, "height": 640})
    assert device.page.evaluate("() => document.documentElement.scrollWidth") <= 320
    assert not device.console_errors, device.console_errors


def test_a_cloned_passkey_sign_count_regression_is_refused_and_audited(phone, live_server):
    from sqlalchemy import func, select, update

    from server.access.models import Credential
    from server.audit.models import AuditEvent

    _, code = make_patient(live_server, "Kari Nordmann")
    device = phone()
    enroll(device, code)
    expect(device.page.get_by_role("heading", name="Hei, Kari Nordmann")).to_be_visible()
    device.open_menu()
    device.page.get_by_role("button", name="Logg ut").click()

    async def pretend_the_counter_was_ahead(db):
        await db.execute(update(Credential).values(sign_count=1000))

    live_server.run(pretend_the_counter_was_ahead)
    device.page.get_by_role("button", name="Logg inn med passnøkkel").click()
    expect(device.page.get_by_text("Vi klarte ikke å logge deg inn")).to_be_visible()

    async def security_events(db):
        return await db.scalar(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.action == "auth.sign_count_regression"))

    assert live_server.run(security_events) == 1
    assert device.page.url.endswith("/login")


def login_cookie(device, server, account_id: int) -> None:
    """Log a device in without a ceremony (for JavaScript-off tests, where passkeys cannot run)."""
    from server.access import sessions

    async def work(db):
        return (await sessions.start(db, account_id, "e2e"))[1]

    token = server.run(work)
    device.context.add_cookies([{"name": sessions.COOKIE_NAME, "value": token, "domain": "localhost", "path": "/",
                                 "secure": True, "httpOnly": True, "sameSite": "Lax"}])


def test_clinician_moves_the_patient_and_the_patient_sees_the_change(phone, live_server):
    patient_id, patient_code = make_patient(live_server, "Kari Nordmann", stage=4)
    clinician_code = make_staff(live_server, "clinician", "Lege Lise Lund")
    patient = phone()
    enroll(patient, patient_code)
    expect(patient.page.get_by_role("heading", name="Utredning")).to_be_visible()

    clinic = phone()
    enroll(clinic, clinician_code)
    # Issue 8: a clinician lands on the worklist after login.
    expect(clinic.page.get_by_role("heading", name="Arbeidsliste", exact=True)).to_be_visible()
    clinic.page.get_by_role("link", name="Pasienter", exact=True).click()
    expect(clinic.page.get_by_role("heading", name="Pasienter", exact=True)).to_be_visible()
    clinic.check_a11y()
    clinic.page.get_by_label("Søk etter navn").fill("kari")
    clinic.page.get_by_role("button", name="Søk").click()
    clinic.page.get_by_role("link", name="Kari Nordmann").click()
    expect(clinic.page.get_by_role("heading", name="Kari Nordmann")).to_be_visible()
    clinic.check_a11y()

    # Stage 5 is refused until the GP has accepted (htmx swaps the form with the error summary).
    clinic.page.get_by_label("Nytt steg").select_option("5")
    clinic.page.get_by_role("button", name="Flytt steg").click()
    expect(clinic.page.get_by_text("etter at fastlegen har takket ja").first).to_be_visible()
    clinic.check_a11y()
    clinic.page.get_by_role("button", name="Registrer ja fra fastlegen").click()
    expect(clinic.page.get_by_text("Fastlegen takket ja").first).to_be_visible()
    clinic.page.get_by_label("Nytt steg").select_option("5")
    clinic.page.get_by_label(re.compile("^Merknad")).fill("Fastlegen ringte og takket ja")
    clinic.page.get_by_role("button", name="Flytt steg").click()
    expect(clinic.page.get_by_role("heading", name=re.compile("Steg 5 av 9"))).to_be_visible()
    clinic.check_a11y()

    patient.page.reload()
    expect(patient.page.get_by_role("heading", name="Utvidet innkalling til samhandlingsmøte 1")).to_be_visible()
    patient.check_a11y()
    assert not patient.console_errors and not clinic.console_errors, patient.console_errors + clinic.console_errors


def test_a_second_patient_can_never_see_the_first(phone, live_server):
    first_id, _ = make_patient(live_server, "Anne Aas", stage=4)
    _, second_code = make_patient(live_server, "Bjørn Berg", stage=7)
    device = phone()
    enroll(device, second_code)
    expect(device.page.get_by_role("heading", name="Hei, Bjørn Berg")).to_be_visible()
    assert "Anne Aas" not in device.page.content()
    response = device.goto(f"/clinic/patients/{first_id}")
    assert response.status == 403
    assert "Anne Aas" not in device.page.content()
    device.goto("/account")
    expect(device.page.get_by_role("heading", name="Passnøklene dine")).to_be_visible()


def test_admin_creates_a_clinician_and_deactivates_with_confirmation(phone, live_server):
    admin_code = make_staff(live_server, "admin", "Arne Admin")
    device = phone()
    enroll(device, admin_code)
    expect(device.page.get_by_role("heading", name="Ansattkontoer")).to_be_visible()
    device.check_a11y()
    device.page.get_by_role("button", name="Opprett konto og vis kode").click()
    expect(device.page.get_by_text("Skriv inn hele navnet").first).to_be_visible()
    device.check_a11y()
    device.page.get_by_label("Fullt navn").fill("Cecilie Clinician")
    device.page.get_by_role("button", name="Opprett konto og vis kode").click()
    expect(device.page.get_by_text(re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$"))).to_be_visible()
    device.check_a11y()
    device.goto("/admin/accounts")
    device.page.get_by_role("link", name=re.compile("Deaktiver.*Cecilie Clinician")).click()
    device.check_a11y()
    device.page.get_by_role("button", name="Ja, deaktiver").click()
    expect(device.page.get_by_text("Cecilie Clinician er deaktivert").first).to_be_visible()


def test_forms_work_with_javascript_off(browser, live_server):
    from tests.e2e.conftest import Phone

    patient_id, _ = make_patient(live_server, "Kari Nordmann", stage=3)

    async def clinician(db):
        return (await create_account(db, "clinician", "Lege Lise Lund")).id

    device = Phone(browser, live_server, javascript=False)
    try:
        login_cookie(device, live_server, live_server.run(clinician))
        device.goto("/clinic/patients/new")
        device.page.get_by_label("Fullt navn").fill("Ola Nordmann")
        device.page.get_by_role("button", name="Legg til pasient").click()
        expect(device.page.get_by_role("heading", name="Rett opp dette")).to_be_visible()
        assert device.page.title().startswith("Feil: ")
        device.check_a11y()
        assert device.page.get_by_label("Fullt navn").input_value() == "Ola Nordmann"
        device.goto(f"/clinic/patients/{patient_id}")
        device.page.get_by_role("button", name="Flytt steg").click()
        expect(device.page.get_by_role("heading", name=re.compile("Steg 4 av 9"))).to_be_visible()
        device.check_a11y()
    finally:
        device.close()
