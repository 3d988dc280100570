"""The research story in a browser: the clinic marks SHM 1 held, the patient (JavaScript off) says yes with a
contact preference, the researcher sees them and exports CSV, the patient withdraws, and the researcher's next
page and CSV no longer have them."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from server.access.service import create_account
from server.db import utcnow
from server.i18n import today_oslo
from tests import factories
from tests.e2e.test_walking_skeleton import login_cookie

pytestmark = pytest.mark.e2e


def build(server) -> dict:
    async def work(db):
        from server.seed import build_patient

        patient = build_patient("Kari Nordmann", 6, today_oslo() - timedelta(weeks=20))
        db.add(patient)
        await db.flush()
        ids = {"patient": (await create_account(db, "patient", "Kari Nordmann", patient.id)).id,
               "clinician": (await create_account(db, "clinician", "Lege Lise Lund")).id,
               "researcher": (await create_account(db, "researcher", "Forsker Frida")).id, "patient_id": patient.id}
        await db.commit()
        meeting = await factories.meeting(db, patient.id, starts_at=utcnow() - timedelta(hours=3))
        return ids | {"meeting": meeting.id}

    return server.run(work)


def export(device) -> list[list[str]]:
    with device.page.expect_download() as download:
        device.page.locator('a[href="/research/participants.csv"]').click()
    with open(download.value.path(), encoding="utf-8") as handle:
        return list(csv.reader(io.StringIO(handle.read())))


def test_clinic_marks_held_patient_says_yes_researcher_exports_patient_withdraws(phone, live_server):
    ids = build(live_server)
    clinic, patient, researcher = phone(), phone(javascript=False), phone()
    for device, role in ((clinic, "clinician"), (patient, "patient"), (researcher, "researcher")):
        login_cookie(device, live_server, ids[role])

    # The clinic marks SHM 1 as held.
    clinic.goto(f"/clinic/meetings/{ids['meeting']}")
    clinic.page.locator("[data-mark-held]").click()
    expect(clinic.page.locator("[data-held]")).to_be_visible()
    clinic.check_a11y()

    # The patient (JavaScript off) finds a discreet message, reads the request and says yes.
    patient.goto("/inbox")
    expect(patient.page.get_by_text("Du har fått en ny henvendelse fra smerteklinikken.")).to_be_visible()
    patient.goto("/research")
    patient.page.get_by_role("link", name="Les forespørselen og svar").click()
    patient.check_a11y()
    expect(patient.page.locator("[data-information]")).to_contain_text("45 minutter")
    patient.page.get_by_label("Ja, jeg blir med").check()
    patient.page.get_by_label("På telefon").check()
    patient.page.get_by_label("Hvis ja: når passer det?").fill("Hverdager etter kl. 15, gjerne tirsdag")
    patient.page.get_by_role("button", name="Send svaret").click()
    expect(patient.page.locator('[data-receipt="yes"]')).to_be_visible()
    patient.check_a11y()

    # The researcher sees the patient and exports the list.
    researcher.goto("/research/participants")
    row = researcher.page.locator(f'[data-participant="{ids["patient_id"]}"]')
    expect(row).to_contain_text("Kari Nordmann")
    expect(row).to_contain_text("På telefon")
    rows = export(researcher)
    assert rows[0] == ["name", "meeting", "contact_method", "contact_when", "consented_at", "outcome"]
    assert rows[1][:4] == ["Kari Nordmann", "SHM 1", "phone", "Hverdager etter kl. 15, gjerne tirsdag"]
    assert len(rows) == 2
    researcher.page.get_by_role("link", name="Kari Nordmann").click()
    researcher.check_a11y()
    researcher.page.get_by_role("button", name="Intervju holdt").click()
    expect(row).to_contain_text("Intervju holdt")

    # The patient withdraws: one action, a confirmation, a receipt; the history keeps every step.
    patient.goto("/research")
    patient.page.get_by_role("link", name="Trekk samtykket mitt").click()
    patient.check_a11y()
    patient.page.get_by_role("button", name="Ja, trekk samtykket mitt").click()
    expect(patient.page.locator('[data-receipt="withdrawn"]')).to_be_visible()
    patient.goto("/research")
    expect(patient.page.locator('[data-state="withdrawn"]')).to_be_visible()
    for kind in ("asked", "yes", "withdrawn"):
        expect(patient.page.locator(f'[data-history] [data-kind="{kind}"]')).to_have_count(1)

    # The researcher's very next page and CSV no longer have the patient.
    researcher.goto("/research/participants")
    expect(researcher.page.locator(f'[data-participant="{ids["patient_id"]}"]')).to_have_count(0)
    assert export(researcher) == [["name", "meeting", "contact_method", "contact_when", "consented_at", "outcome"]]
    assert researcher.goto(f"/research/participants/{ids['patient_id']}").status == 404

    for device in (clinic, patient, researcher):
        assert not device.console_errors, device.console_errors
