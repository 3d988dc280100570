"""The wishes' "relatives" and "others" steps: the people entered plus one empty row, "Add one more person"
without JavaScript, relatives who have access in the app, and NAV's part ignored when NAV should not come."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from server.access.models import Delegation
from server.db import utcnow
from server.meetings.models import MeetingWishes
from tests.conftest import csrf_token, post_form
from tests.helpers import html


async def _stored(db, patient_id):
    row = await db.scalar(select(MeetingWishes).where(MeetingWishes.patient_id == patient_id))
    await db.commit()
    return row.answers if row else {}


async def _answer(client, step, data):
    return await post_form(client, f"/meeting/wishes/{step}", data, token_from=f"/meeting/wishes/{step}")


def _names(page: str) -> list[str]:
    return [node.attrs.get("value", "") for node in html(page).find_all("input")
            if node.attrs.get("name", "").startswith("name_")]


async def test_relatives_step_shows_one_empty_person_and_an_add_button(client, world):
    _, account = await world.patient()
    await world.login_as(account)
    page = (await client.get("/meeting/wishes/relatives")).text
    assert _names(page) == [""]
    doc = html(page)
    button = doc.find("button", name="to", value="more")
    assert button is not None and button.text == "Add one more person"
    # "(optional)" only where it helps: the relation, not the whole row or the name
    assert page.count("(optional)") == 1 and "Relation to you, for example spouse or daughter (optional)" in doc.text


async def test_add_one_more_person_saves_what_was_typed_and_shows_one_more_empty_row(client, world, db):
    patient, account = await world.patient()
    await world.login_as(account)
    response = await _answer(client, "relatives", {"name_0": "Ola Nordmann", "relation_0": "mann", "part_0": "part",
                                                   "to": "more"})
    assert response.status_code == 200 and response.url.path == "/meeting/wishes/relatives"
    assert _names(response.text) == ["Ola Nordmann", ""]
    assert html(response.text).by_id("name_1").attrs.get("autofocus") is not None
    assert (await _stored(db, patient.id))["relatives"] == [{"name": "Ola Nordmann", "relation": "mann", "part": "part"}]
    response = await _answer(client, "relatives", {"name_0": "Ola Nordmann", "relation_0": "mann", "part_0": "part",
                                                   "name_1": "Siri", "relation_1": "datter", "to": "more"})
    assert _names(response.text) == ["Ola Nordmann", "Siri", ""]
    # more people than the old fixed three rows are kept
    data = {f"name_{i}": f"Person {i}" for i in range(5)}
    await _answer(client, "relatives", data)
    assert [r["name"] for r in (await _stored(db, patient.id))["relatives"]] == [f"Person {i}" for i in range(5)]
    assert _names((await client.get("/meeting/wishes/relatives")).text) == [f"Person {i}" for i in range(5)] + [""]


async def test_an_error_in_a_later_row_is_shown_on_that_person_after_empty_rows_close_up(client, world, db):
    patient, account = await world.patient()
    await world.login_as(account)
    response = await _answer(client, "relatives", {"name_0": "", "relation_0": "", "name_1": "", "relation_1": "sønn",
                                                   "to": "more"})
    assert response.status_code == 422
    doc = html(response.text)
    assert doc.find("a", href="#name_0") is not None and doc.by_id("name_0").attrs.get("aria-invalid") == "true"
    assert doc.by_id("relation_0").attrs["value"] == "sønn"  # nothing typed is lost
    assert (await _stored(db, patient.id))["relatives"] == [{"name": "", "relation": "sønn", "part": "whole"}]


async def test_others_step_shows_the_people_entered_plus_one(client, world, db):
    patient, account = await world.patient()
    await world.login_as(account)
    page = (await client.get("/meeting/wishes/others")).text
    assert _names(page) == [""] and "(optional)" not in page
    response = await _answer(client, "others", {"role_0": "employer", "name_0": "Per Hansen", "organisation_0": "Bakeriet",
                                                "contact_0": "99 88 77 66", "to": "more"})
    assert response.status_code == 200 and _names(response.text) == ["Per Hansen", ""]
    # a role chosen on its own is kept too (with the message saying what is missing)
    response = await _answer(client, "others", {"role_0": "employer", "name_0": "Per Hansen", "organisation_0": "Bakeriet",
                                                "contact_0": "99 88 77 66", "role_1": "psychologist"})
    assert response.status_code == 422
    assert [r["role"] for r in (await _stored(db, patient.id))["others"]] == ["employer", "psychologist"]


async def test_autosave_keeps_every_row(client, world, db):
    patient, account = await world.patient()
    await world.login_as(account)
    token = await csrf_token(client, "/meeting/wishes/relatives")
    data = {f"name_{i}": f"Person {i}" for i in range(4)} | {"_csrf_token": token}
    response = await client.post("/meeting/wishes/relatives/autosave", data=data,
                                 headers={"HX-Request": "true", "HX-Target": "autosave-status", "x-csrftoken": token})
    assert response.status_code == 200 and "Draft saved." in response.text
    assert len((await _stored(db, patient.id))["relatives"]) == 4


async def test_nav_part_is_not_stored_when_nav_should_not_come(client, world, db):
    patient, account = await world.patient()
    await world.login_as(account)
    page = html((await client.get("/meeting/wishes/nav")).text)
    hidden_when = page.find(None, data_hidden_when="attend=no")
    assert hidden_when is not None and hidden_when.find("fieldset", id="part") is not None
    await _answer(client, "nav", {"attend": "no", "part": "part", "part_note": "Om jobben"})
    assert (await _stored(db, patient.id))["nav"] == {"attend": "no", "part": "", "part_note": ""}
    await _answer(client, "nav", {"attend": "yes", "part": "part", "part_note": "Om jobben"})
    assert (await _stored(db, patient.id))["nav"] == {"attend": "yes", "part": "part", "part_note": "Om jobben"}


async def test_a_relative_with_access_in_the_app_can_be_chosen_and_the_clinic_sees_it(client, world, db):
    patient, account = await world.patient("Kari Nordmann")
    _, delegation = await world.relative(patient, name="Ola Nordmann")
    other_patient, _ = await world.patient("Anne Aas")
    _, foreign = await world.relative(other_patient, name="Per Aas")
    _, ended = await world.relative(patient, name="Gammel Venn", ends_in=timedelta(days=-1))
    await world.login_as(account)
    page = (await client.get("/meeting/wishes/relatives")).text
    label = html(page).find("label", for_=f"linked-{delegation.id}")
    assert label is not None and label.text == "Ola Nordmann (spouse or partner) – has access in the app"
    assert "Gammel Venn" not in page and "Per Aas" not in page
    await _answer(client, "relatives", {"linked": [str(delegation.id), str(foreign.id), str(ended.id)],
                                        f"part_d{delegation.id}": "part", "name_0": "Siri", "relation_0": "datter"})
    stored = (await _stored(db, patient.id))["relatives"]
    assert stored == [{"name": "Ola Nordmann", "relation": "partner", "part": "part", "delegation_id": delegation.id},
                      {"name": "Siri", "relation": "datter", "part": "whole"}]
    page = html((await client.get("/meeting/wishes/relatives")).text)
    assert page.by_id(f"linked-{delegation.id}").attrs.get("checked") is not None
    assert _names((await client.get("/meeting/wishes/relatives")).text) == ["Siri", ""]
    # the same person typed again is refused as a duplicate
    response = await _answer(client, "relatives", {"linked": str(delegation.id), "name_0": "ola nordmann"})
    assert response.status_code == 422 and "already on the list" in response.text
    await _answer(client, "relatives", {"linked": str(delegation.id), f"part_d{delegation.id}": "part"})

    await _answer(client, "gp", {"attend": "yes", "part": "whole"})
    await _answer(client, "nav", {"attend": "no"})
    await _answer(client, "place", {"choice": "home"})
    await post_form(client, "/meeting/wishes-submit", token_from="/meeting/wishes")
    clinician = await world.staff()
    await world.login_as(clinician)
    review = html((await client.get(f"/clinic/patients/{patient.id}/wishes")).text)
    section = review.find("section", aria_labelledby="answer-relatives")
    assert "Ola Nordmann (spouse or partner) – a part of the meeting – has access in the app" in section.text
    # access ended since: the clinic no longer reads "has access in the app"
    await world.db.execute(update(Delegation).where(Delegation.id == delegation.id).values(ended_at=utcnow()))
    await world.db.commit()
    review = html((await client.get(f"/clinic/patients/{patient.id}/wishes")).text)
    assert "has access in the app" not in review.find("section", aria_labelledby="answer-relatives").text
