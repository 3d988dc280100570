"""An administrator alone cannot become a clinician: a staff code needs a second administrator's
approval before it works, the owner is told, and the audit trail names both administrators."""

from __future__ import annotations

import re

from sqlalchemy import select

from server.access.models import EnrollmentCode
from server.audit.models import AuditEvent
from tests.conftest import csrf_token, post_form
from tests.unit.test_passkey_payloads import Authenticator, registration

CODE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")
NOT_YET = "a second administrator must approve it first"


async def _create_clinician_as(client, world, admin, name: str = "Cecilie Clinician") -> str:
    await world.login_as(admin)
    response = await post_form(client, "/admin/accounts", {"name": name, "role": "clinician"},
                               token_from="/admin/accounts")
    assert response.status_code == 200, response.text[:300]
    assert "does not work yet" in response.text
    return CODE.search(response.text).group(0)


async def _enroll(client, code: str):
    token = await csrf_token(client, "/enroll")
    return await client.post("/enroll", data={"code": code, "_csrf_token": token}, follow_redirects=False)


async def _pending_id(db) -> int:
    await db.commit()
    code_id = await db.scalar(select(EnrollmentCode.id).where(EnrollmentCode.needs_approval.is_(True),
                                                              EnrollmentCode.revoked_at.is_(None)))
    await db.commit()
    return code_id


async def _finish_enrollment(client) -> None:
    headers = {"x-csrftoken": await csrf_token(client, "/enroll/passkey")}
    challenge = (await client.post("/enroll/options", json={}, headers=headers)).json()["challenge"]
    response = await client.post("/enroll/verify", json={"credential": registration(Authenticator(), challenge),
                                                          "name": "Telefon"}, headers=headers)
    assert response.status_code == 200, response.text


async def test_one_admin_alone_cannot_obtain_a_working_clinician_code(client, world, db):
    arne = await world.staff("admin", "Arne Admin")
    code = await _create_clinician_as(client, world, arne)
    await world.login_as(None)
    refused = await _enroll(client, code)
    assert refused.status_code == 422 and NOT_YET in refused.text
    # Arne cannot approve his own code, nor create a second admin to approve it: that code waits too.
    await world.login_as(arne)
    code_id = await _pending_id(db)
    page = await client.get("/admin/accounts")
    assert "Waiting for another administrator" in page.text and f"/admin/codes/{code_id}/approve" not in page.text
    own = await post_form(client, f"/admin/codes/{code_id}/approve", token_from="/admin/accounts")
    assert "Another administrator must decide on this code" in own.text
    response = await post_form(client, "/admin/accounts", {"name": "Arne Again", "role": "admin"},
                               token_from="/admin/accounts")
    second = CODE.search(response.text).group(0)
    await world.login_as(None)
    assert NOT_YET in (await _enroll(client, code)).text
    assert NOT_YET in (await _enroll(client, second)).text


async def test_a_second_admin_approves_and_the_trail_names_both(client, world, db):
    arne = await world.staff("admin", "Arne Admin")
    berit = await world.staff("admin", "Berit Admin")
    code = await _create_clinician_as(client, world, arne)
    code_id = await _pending_id(db)
    await world.login_as(berit)
    page = await client.get("/admin/accounts")
    assert "Codes waiting for approval" in page.text and f"/admin/codes/{code_id}/approve" in page.text
    approved = await post_form(client, f"/admin/codes/{code_id}/approve", token_from="/admin/accounts")
    assert "The code for Cecilie Clinician was approved and works now." in approved.text
    await world.login_as(None)
    accepted = await _enroll(client, code)
    assert accepted.status_code == 303 and accepted.headers["location"] == "/enroll/passkey"
    await _finish_enrollment(client)
    assert (await client.get("/clinic/patients", follow_redirects=False)).status_code == 200
    await db.commit()
    events = {e.action: e for e in (await db.scalars(select(AuditEvent))).all()}
    await db.commit()
    for action in ("auth.passkey_added", "auth.login"):
        assert f"issued by account {arne.id}" in events[action].detail, events[action].detail
        assert f"approved by account {berit.id}" in events[action].detail, events[action].detail
    assert events["staff.code_approved"].actor_account_id == berit.id
    # The clinician sees who made it possible on their account page.
    account_page = await client.get("/account")
    assert "issued by Arne Admin and approved by Berit Admin" in account_page.text
    assert "was issued by Arne Admin" in account_page.text


async def test_a_rejected_code_never_works(client, world, db):
    arne = await world.staff("admin", "Arne Admin")
    berit = await world.staff("admin", "Berit Admin")
    code = await _create_clinician_as(client, world, arne)
    await world.login_as(berit)
    rejected = await post_form(client, f"/admin/codes/{await _pending_id(db)}/reject", token_from="/admin/accounts")
    assert "The code for Cecilie Clinician was rejected and will not work." in rejected.text
    await world.login_as(None)
    assert "The code is not correct" in (await _enroll(client, code)).text


async def test_a_new_code_for_an_existing_clinician_waits_and_the_clinician_is_told(client, world, db):
    arne = await world.staff("admin", "Arne Admin")
    clinician = await world.staff("clinician", "Cecilie Clinician")
    await world.login_as(arne)
    response = await post_form(client, f"/admin/accounts/{clinician.id}/code", token_from="/admin/accounts")
    code = CODE.search(response.text).group(0)
    await world.login_as(None)
    assert NOT_YET in (await _enroll(client, code)).text
    await world.login_as(clinician)
    assert "was issued by Arne Admin" in (await client.get("/account")).text


async def test_patient_codes_from_clinicians_work_at_once(client, world):
    clinician = await world.staff("clinician", "Cecilie Clinician")
    await world.login_as(clinician)
    form = {"name": "Ola Nordmann", "birth_date": "1980-05-17", "referral_received_on": "2026-11-01",
            "gp_name": "Dr. Bø", "gp_office": "Sentrum"}
    response = await post_form(client, "/clinic/patients", form, token_from="/clinic/patients/new")
    match = CODE.search(response.text)
    assert match, response.text[:2000]
    await world.login_as(None)
    accepted = await _enroll(client, match.group(0))
    assert accepted.status_code == 303
    await _finish_enrollment(client)
    assert (await client.get("/home", follow_redirects=False)).status_code == 200
    # A patient hears of a new passkey in the inbox too.
    inbox = await client.get("/inbox")
    assert "A new passkey “Telefon” was added with a code issued by Cecilie Clinician." in inbox.text
