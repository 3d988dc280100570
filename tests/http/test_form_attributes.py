"""The scheduling and reschedule forms' limits reach the browser (issue 8): min, max, step, inputmode and
maxlength are real attribute values, not values wrapped in literal quotes the browser cannot use."""

from __future__ import annotations

from tests import factories
from tests.helpers import html


async def test_scheduling_form_attributes_are_parsed_values(client, world):
    patient, _ = await world.patient(stage=4)
    await world.login_as(await world.staff("clinician"))
    page = html((await client.get(f"/clinic/patients/{patient.id}/meetings/new")).text)
    duration = page.by_id("duration")
    assert (duration.attrs.get("min"), duration.attrs.get("max"), duration.attrs.get("step"),
            duration.attrs.get("inputmode")) == ("15", "480", "5", "numeric")
    assert page.by_id("address").attrs.get("maxlength") == "200"
    assert page.by_id("video_link").attrs.get("maxlength") == "500"
    assert page.by_id("p0_name").attrs.get("maxlength") == "200"


async def test_reschedule_form_attributes_are_parsed_values(client, world, db):
    patient, _ = await world.patient(stage=5)
    meeting = await factories.meeting(db, patient.id)
    await world.login_as(await world.staff("clinician"))
    page = html((await client.get(f"/clinic/meetings/{meeting.id}/reschedule")).text)
    duration = page.by_id("duration")
    assert (duration.attrs.get("min"), duration.attrs.get("max"), duration.attrs.get("step"),
            duration.attrs.get("inputmode")) == ("15", "480", "5", "numeric")
