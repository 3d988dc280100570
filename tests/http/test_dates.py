"""Dates outside 1900-2100 are refused with a message on every form, never a server error."""

from __future__ import annotations

import pytest

from tests.conftest import post_form
from tests.http.test_meetings import _schedule

OUT_OF_RANGE = "Enter a year between 1900 and 2100."


@pytest.mark.parametrize("day", ["0001-01-01", "1899-12-31"])
async def test_a_meeting_in_year_1_is_refused_with_a_message(client, world, day):
    patient, _ = await world.patient()
    await world.login_as(await world.staff())
    response = await _schedule(client, patient.id, date=day)
    assert response.status_code == 422 and OUT_OF_RANGE in response.text and 'href="#date"' in response.text


async def test_a_birth_date_far_in_the_past_is_refused_with_a_message(client, world):
    await world.login_as(await world.staff())
    response = await post_form(client, "/clinic/patients", {
        "name": "Ola Nordmann", "birth_date": "0001-01-01", "gp_name": "Dr. Berit Bø", "gp_office": "Sentrum",
        "referral_received_on": "2026-01-05"}, token_from="/clinic/patients/new")
    assert response.status_code == 422 and OUT_OF_RANGE in response.text


async def test_a_measure_due_in_year_9999_is_refused_with_a_message(client, world, db):
    patient, _ = await world.patient()
    await world.login_as(await world.staff())
    home = f"/clinic/patients/{patient.id}/plan"
    await post_form(client, f"{home}/start", token_from=home)
    page = await client.get(f"{home}/measures/new")
    version = page.text.split('name="draft_version" value="')[1].split('"')[0]
    response = await post_form(client, f"{home}/measures/new", {
        "title": "Fysioterapi", "responsible": "gp", "status": "planned", "due": "9999-12-31",
        "draft_version": version}, token_from=f"{home}/measures/new")
    assert response.status_code == 422 and OUT_OF_RANGE in response.text and 'href="#due"' in response.text
