"""Smaller things a first real use turned up (issue 8)."""

from __future__ import annotations

from sqlalchemy import select

from server.pathway.models import Patient
from server.seed import seed_demo


async def test_a_clinician_lands_on_the_worklist(client, world):
    await world.login_as(await world.staff("clinician"))
    response = await client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/clinic/worklist"


async def test_removing_the_patients_passkeys_is_not_pre_checked(client, world):
    patient, _ = await world.patient(stage=4)
    await world.login_as(await world.staff("clinician"))
    html = (await client.get(f"/clinic/patients/{patient.id}")).text
    assert 'name="remove_passkeys" value="yes">' in html and 'name="remove_passkeys" value="yes" checked' not in html


async def test_the_seed_stores_the_gps_name_without_a_title(db, settings):
    await seed_demo(db, settings)
    await db.commit()
    names = set((await db.scalars(select(Patient.gp_name))).all())
    await db.commit()
    assert "Berit Bø" in names and not any(name.startswith("Fastlege") for name in names)


async def test_403_says_no_access_and_a_csrf_failure_says_the_form_expired(client, world):
    _, account = await world.patient(stage=4)
    await world.login_as(account)
    forbidden = await client.get("/clinic/patients")
    assert forbidden.status_code == 403
    assert "You do not have access to this page" in forbidden.text and "open for a long time" not in forbidden.text
    await client.get("/home")  # a CSRF cookie, but the post carries no token
    refused = await client.post("/inbox/read", data={})
    assert refused.status_code == 403
    assert "The form has expired" in refused.text and "open for a long time" in refused.text


async def test_static_responses_never_set_a_cookie(client):
    for path in ("/manifest.webmanifest", "/healthz", "/static/css/app.css"):
        for method in ("GET", "HEAD"):
            response = await client.request(method, path)
            assert response.status_code == 200, (method, path)
            assert "set-cookie" not in response.headers, (method, path)
