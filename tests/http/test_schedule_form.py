"""The clinic's scheduling form: the participants and agenda items that exist plus one empty row each,
"Add one more ..." without JavaScript, and a meeting already planned shown instead of an empty form."""

from __future__ import annotations

from sqlalchemy import select

from server.meetings.models import Meeting
from tests import factories
from tests.conftest import post_form
from tests.helpers import count, html


def _participant_rows(page: str) -> list[str]:
    """The legends of the participant fieldsets (ids p0, p1, ...), in order."""
    doc = html(page)
    return [node.find("legend").text for node in doc.find_all("fieldset")
            if node.attrs.get("id", "").startswith("p") and node.attrs["id"][1:].isdigit()]


def _agenda_rows(page: str) -> list[str]:
    doc = html(page)
    return [node.find("legend").text for node in doc.find_all("fieldset")
            if node.attrs.get("id", "").startswith("s") and node.attrs["id"][1:].isdigit()]


WISHES = {"gp": {"attend": "yes", "part": "whole"}, "nav": {"attend": "yes", "part": "part"},
          "relatives": [{"name": "Per Nordmann", "relation": "mann", "part": "whole"},
                        {"name": "Siri Nordmann", "relation": "datter", "part": "part"}],
          "others": [{"role": "physiotherapist", "name": "Eva Fysio", "organisation": "", "contact": "e@f.no",
                      "part": "part"}],
          "place": {"choice": "home"}}


async def test_the_form_shows_the_participants_that_exist_plus_one(client, world, db):
    patient, _ = await world.patient()
    await factories.wishes(db, patient.id, WISHES)
    await world.login_as(await world.staff())
    page = (await client.get(f"/clinic/patients/{patient.id}/meetings/new?number=1")).text
    assert _participant_rows(page) == ["GP", "NAV counsellor", "Other participant 1", "Other participant 2",
                                       "Other participant 3", "New participant"]
    assert _agenda_rows(page) == ["Agenda item 1", "New agenda item"]
    doc = html(page)
    assert doc.find("button", name="add", value="participant").text == "Add one more participant"
    assert doc.find("button", name="add", value="segment").text == "Add one more agenda item"


async def test_add_one_more_participant_keeps_everything_typed_and_schedules_nothing(client, world, db):
    patient, _ = await world.patient()
    await world.login_as(await world.staff())
    path = f"/clinic/patients/{patient.id}/meetings/new?number=1"
    page = (await client.get(path)).text
    assert _participant_rows(page) == ["GP", "NAV counsellor", "New participant"]
    new_row = html(page).find("fieldset", id="p2")
    assert new_row is not None
    response = await post_form(client, path, {"date": "2031-02-03", "time": "10:00", "p0_name": "Berit Bø",
                                              "p2_kind": "other", "p2_name": "Eva Fysio", "p2_contact": "e@f.no",
                                              "s0_title": "Tilbakemelding", "add": "participant"}, token_from=path)
    assert response.status_code == 200
    assert _participant_rows(response.text) == ["GP", "NAV counsellor", "Other participant 1", "New participant"]
    doc = html(response.text)
    assert doc.by_id("p2_name").attrs["value"] == "Eva Fysio" and doc.by_id("date").attrs["value"] == "2031-02-03"
    assert doc.by_id("p3_name").attrs.get("autofocus") is not None
    assert "Please correct the following" not in response.text
    # the agenda offers the new participant
    assert doc.find("label", for_="s0_p2").text == "Eva Fysio"
    response = await post_form(client, path, {"s0_title": "Tilbakemelding", "s1_title": "Arbeid", "add": "segment"},
                               token_from=path)
    assert _agenda_rows(response.text) == ["Agenda item 1", "Agenda item 2", "New agenda item"]
    assert await count(db, Meeting, Meeting.patient_id == patient.id) == 0


async def test_a_planned_meeting_shows_the_plan_and_no_empty_form(client, world, db):
    patient, _ = await world.patient()
    meeting = await factories.meeting(db, patient.id, participants=[factories.participant("gp", "Berit Bø")])
    await world.login_as(await world.staff())
    page = (await client.get(f"/clinic/patients/{patient.id}/meetings/new?number=1")).text
    doc = html(page)
    planned = doc.find("section", data_planned=True)
    assert planned is not None and "Berit Bø (GP)" in planned.text
    links = {a.attrs["href"] for a in planned.find_all("a")}
    assert {f"/clinic/meetings/{meeting.id}", f"/clinic/meetings/{meeting.id}/reschedule",
            f"/clinic/meetings/{meeting.id}/cancel"} <= links
    assert not [form for form in doc.find_all("form") if "/meetings/new" in form.attrs.get("action", "")]
    assert doc.by_id("date") is None
    stored = await db.scalar(select(Meeting.id).where(Meeting.patient_id == patient.id))
    assert stored == meeting.id


async def test_a_relative_with_access_in_the_app_is_prefilled_with_the_relation_in_words(client, world, db):
    patient, _ = await world.patient()
    _, delegation = await world.relative(patient, name="Ola Nordmann")
    await factories.wishes(db, patient.id, {"relatives": [{"name": "Ola Nordmann", "relation": "partner",
                                                           "part": "whole", "delegation_id": delegation.id}]})
    await world.login_as(await world.staff())
    doc = html((await client.get(f"/clinic/patients/{patient.id}/meetings/new?number=1")).text)
    assert doc.by_id("p2_name").attrs["value"] == "Ola Nordmann"
    assert doc.by_id("p2_role").attrs["value"] == "Spouse or partner"
