"""Names that lower-casing makes longer (Turkish dotted İ) are stored, not a 500 on PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from server.pathway.models import Patient
from tests.conftest import post_form


async def test_a_name_that_grows_when_lower_cased_can_be_registered_and_found(client, world, db):
    await world.login_as(await world.staff())
    name = "İ" * 150  # 150 characters: allowed; its lower-case form has 300
    response = await post_form(client, "/clinic/patients", {
        "name": name, "birth_date": "1970-03-14", "gp_name": "Fastlege", "gp_office": "Legekontor",
        "referral_received_on": "2026-01-05"}, token_from="/clinic/patients/new")
    assert response.status_code == 200
    stored = await db.scalar(select(Patient).where(Patient.name == name))
    await db.commit()
    assert stored is not None
    assert f"/clinic/patients/{stored.id}" in (await client.get("/clinic/patients?q=i̇i̇i̇")).text
