"""Creating a patient with the same name and birth date as an existing one asks for confirmation first."""

from __future__ import annotations

from sqlalchemy import select

from server.i18n import today_oslo
from server.pathway.models import Patient
from tests.conftest import post_form
from tests.helpers import audit_count, count, html


def _form(**changes) -> dict[str, str]:
    return {"name": "kari nordmann", "birth_date": "1975-05-17", "gp_name": "Per Lege", "gp_office": "Byen legekontor",
            "referral_received_on": today_oslo().isoformat()} | changes


async def test_the_same_name_and_birth_date_is_shown_first_and_nothing_typed_is_lost(client, world, db):
    existing, _ = await world.patient("Kari Nordmann", stage=4)  # born 17 May 1975
    await world.login_as(await world.staff())
    response = await post_form(client, "/clinic/patients", _form(), token_from="/clinic/patients/new")
    assert response.status_code == 200
    doc = html(response.text)
    warning = doc.find(None, data_same_patient=True)
    assert warning is not None
    item = warning.find("li").text  # name, birth date (in the dates module's style) and stage
    assert item.startswith("Kari Nordmann , born") and "17" in item and "1975" in item and item.endswith("4. Assessment")
    assert warning.find("a", href=f"/clinic/patients/{existing.id}") is not None
    assert doc.by_id("gp_name").attrs["value"] == "Per Lege" and doc.by_id("name").attrs["value"] == "kari nordmann"
    box = doc.by_id("confirm_duplicate")
    assert box is not None and "checked" not in box.attrs
    assert doc.find("label", for_="confirm_duplicate").text == "Yes, add a new patient anyway"
    assert await count(db, Patient) == 1
    assert await audit_count(db, "patient.list_view", existing.id) == 1  # seeing them is an audited read


async def test_confirming_adds_the_new_patient(client, world, db):
    await world.patient("Kari Nordmann", stage=4)
    await world.login_as(await world.staff())
    response = await post_form(client, "/clinic/patients", _form(confirm_duplicate="yes"),
                               token_from="/clinic/patients/new")
    assert response.status_code == 200 and "data-code" in response.text
    assert await count(db, Patient, Patient.name_search == "kari nordmann") == 2


async def test_another_birth_date_needs_no_confirmation(client, world, db):
    await world.patient("Kari Nordmann", stage=4)
    await world.login_as(await world.staff())
    response = await post_form(client, "/clinic/patients", _form(birth_date="1980-01-02"),
                               token_from="/clinic/patients/new")
    assert "data-code" in response.text and "data-same-patient" not in response.text
    stored = await db.scalar(select(Patient.birth_date).where(Patient.name == "kari nordmann"))
    await db.commit()
    assert stored.isoformat() == "1980-01-02"
