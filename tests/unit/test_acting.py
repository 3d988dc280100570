"""Whom a request acts for: the one resolver every patient route goes through."""

from __future__ import annotations

import pytest
from litestar.exceptions import NotAuthorizedException, NotFoundException

from server.access.acting import acting_for
from server.access.policy import ANONYMOUS, EDIT_PLAN, EDIT_WISHES, MANAGE_STAFF, REVIEW_WISHES, VIEW_PLAN, Actor
from server.pathway.acting import patient_for
from tests.helpers import html

PATIENT = Actor(account_id=1, role="patient", display_name="Kari", patient_id=7)
CLINICIAN = Actor(account_id=2, role="clinician", display_name="Lise")
ADMIN = Actor(account_id=3, role="admin", display_name="Ada")


def test_a_patient_acts_for_themselves_only():
    assert acting_for(PATIENT, VIEW_PLAN) == 7
    assert acting_for(PATIENT, VIEW_PLAN, 7) == 7
    with pytest.raises(NotFoundException):
        acting_for(PATIENT, VIEW_PLAN, 8)  # another patient's id (in a path, or a meeting's) is a 404


def test_a_patient_cannot_do_what_only_the_clinic_does_for_them():
    with pytest.raises(NotFoundException):
        acting_for(PATIENT, REVIEW_WISHES)
    with pytest.raises(NotFoundException):
        acting_for(PATIENT, EDIT_PLAN, 7)


def test_a_clinician_acts_for_the_patient_in_the_path():
    assert acting_for(CLINICIAN, REVIEW_WISHES, 8) == 8
    with pytest.raises(NotFoundException):
        acting_for(CLINICIAN, REVIEW_WISHES)  # no patient named: nobody to act for
    with pytest.raises(NotFoundException):
        acting_for(CLINICIAN, EDIT_WISHES, 8)  # the patient's own action


def test_an_admin_never_acts_for_a_patient():
    for action in (VIEW_PLAN, REVIEW_WISHES, MANAGE_STAFF):
        with pytest.raises(NotFoundException):
            acting_for(ADMIN, action, 7)


def test_nobody_logged_in_is_asked_to_log_in():
    with pytest.raises(NotAuthorizedException):
        acting_for(ANONYMOUS, VIEW_PLAN, 7)


async def test_patient_for_loads_the_patient_or_404(db, world):
    kari, kari_account = await world.patient("Kari Nordmann")
    ola, _ = await world.patient("Ola Nordmann")
    me = Actor(kari_account.id, "patient", "Kari Nordmann", kari.id)
    assert (await patient_for(db, me, VIEW_PLAN)).name == "Kari Nordmann"
    with pytest.raises(NotFoundException):
        await patient_for(db, me, VIEW_PLAN, ola.id)
    clinician = Actor(99, "clinician", "Lise")
    found = await patient_for(db, clinician, REVIEW_WISHES, ola.id, lock=True)
    assert found.name == "Ola Nordmann" and [e.to_stage for e in found.events][-1] == found.stage
    with pytest.raises(NotFoundException):
        await patient_for(db, clinician, REVIEW_WISHES, ola.id + 1000)  # no such patient
    with pytest.raises(NotFoundException):
        await patient_for(db, Actor(98, "admin", "Ada"), VIEW_PLAN, ola.id)
    await db.commit()


async def test_over_http_another_patients_id_is_404_and_an_admin_gets_403(client, world):
    kari, kari_account = await world.patient("Kari Nordmann")
    ola, _ = await world.patient("Ola Nordmann")
    await world.login_as(await world.staff("admin", "Ada Admin"))
    assert (await client.get(f"/clinic/patients/{kari.id}/wishes")).status_code == 403  # route policy
    await world.login_as(kari_account)
    page = html((await client.get("/home")).text)
    assert "Kari Nordmann" in page.find("main").text
    assert (await client.get(f"/clinic/patients/{ola.id}/wishes")).status_code == 403  # patients: no clinic routes
    await world.login_as(None)
    assert (await client.get("/plan", follow_redirects=False)).status_code in (302, 303)  # to the login page
