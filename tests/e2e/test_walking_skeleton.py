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
    device.page.get_by_role("link", name="I have a code").click()
    device.check_a11y()
    device.page.get_by_label("Enter the code from the clinic").fill(code)
    device.page.get_by_role("button", name="Continue").click()
    expect(device.page.get_by_role("heading", name="Create your passkey")).to_be_visible()
    device.check_a11y()
    device.page.get_by_role("button", name="Create passkey").click()


def test_patient_enrolls_logs_in_and_sees_stage(phone, live_server):
    _, code = make_patient(live_server, "Kari Nordmann", stage=4)
    device = phone()
    enroll(device, code)
    expect(device.page.get_by_role("heading", name="Hello, Kari Nordmann")).to_be_visible()
    expect(device.page.get_by_role("heading", name="Assessment")).to_be_visible()
    device.check_a11y()
    device.page.get_by_role("button", name="Log out").click()
    expect(device.page.get_by_role("heading", name="Log in to Samhandling")).to_be_visible()
    device.page.get_by_role("button", name="Log in with passkey").click()
    expect(device.page.get_by_role("heading", name="Hello, Kari Nordmann")).to_be_visible()
    assert not device.console_errors, device.console_errors
