"""Relatives with delegated access: giving and redeeming a code, scopes, ending, attribution, the access log."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from server.access import delegations
from server.access.models import Account, Delegation, RateLimitHit
from server.audit.service import verify
from server.db import utcnow
from tests.conftest import post_form
from tests.helpers import audit_rows, count, seal

GP = {"attend": "yes", "part": "whole"}
NAV = {"attend": "unsure", "part": "part", "part_note": "Jeg er sykmeldt"}
PLACE = {"choice": "home", "note": "Lang reisevei"}


async def _give(client, name="Ola Nordmann", scopes=("see", "act"), ends_on=""):
    response = await post_form(client, "/access/relatives", {"name": name, "relation": "partner",
                                                             "scopes": list(scopes), "ends_on": ends_on},
                               token_from="/access/relatives")
    match = re.search(r'id="relative-code">([0-9A-Z-]{14})<', response.text)
    return response, match.group(1) if match else None


async def _delegation(db) -> Delegation:
    row = await db.scalar(select(Delegation).order_by(Delegation.id.desc()).limit(1))
    await db.commit()
    return row


async def test_patient_gives_access_for_12_months_and_sees_the_code_once(client, world, db):
    _, account = await world.patient("Kari Nordmann")
    await world.login_as(account)
    response, code = await _give(client)
    assert response.status_code == 200 and code
    row = await _delegation(db)
    assert row.scopes == "see,act" and row.relative_account_id is None
    assert timedelta(days=364) < row.ends_at - utcnow() < timedelta(days=367)  # default 12 months, never open
    again = await client.get("/access/relatives")
    assert code not in again.text and "Ola Nordmann" in again.text and "Has not used the code yet" in again.text


async def test_a_new_relative_enrolls_their_own_account_with_the_code(client, world, db):
    patient, account = await world.patient("Kari Nordmann")
    await world.login_as(account)
    _, code = await _give(client)
    await world.login_as(None)
    response = await post_form(client, "/relative/code", {"code": code}, token_from="/relative/code")
    assert response.url.path == "/enroll/passkey" and "Ola Nordmann" in response.text
    relative = await db.scalar(select(Account).where(Account.display_name == "Ola Nordmann"))
    await db.commit()
    assert relative.role == "relative" and relative.patient_id is None and relative.id != account.id
    row = await _delegation(db)
    assert row.relative_account_id == relative.id and row.code_used_at is not None
    page = await client.get("/enroll/passkey")
    assert page.status_code == 200 and "Ola Nordmann" in page.text
    # Single use: the same code again is refused plainly and creates nothing.
    await world.login_as(None)
    accounts = await count(db, Account)
    reused = await post_form(client, "/relative/code", {"code": code}, token_from="/relative/code")
    assert reused.status_code == 422 and "The code is not correct" in reused.text
    assert await count(db, Account) == accounts


async def test_bad_relative_codes_show_a_plain_message_count_against_the_limit_and_create_nothing(client, world, db):
    patient, account = await world.patient("Kari Nordmann")
    await world.login_as(account)
    _, expired_code = await _give(client, "Utløpt")
    expired = await _delegation(db)
    expired.code_expires_at = utcnow() - timedelta(seconds=1)
    await db.commit()
    _, revoked_code = await _give(client, "Trukket")
    revoked = await _delegation(db)
    await post_form(client, f"/access/relatives/{revoked.id}/end", token_from="/access/relatives")
    await world.login_as(None)
    accounts = await count(db, Account)
    cases = {"ABCD-EFGH-JKMN": "The code is not correct", "XYZ": "12 letters and digits",
             expired_code: "The code has expired", revoked_code: "The code is not correct"}
    for number, (code, message) in enumerate(cases.items(), start=1):
        response = await post_form(client, "/relative/code", {"code": code}, token_from="/relative/code")
        assert response.status_code == 422 and message in response.text, code
        assert await count(db, RateLimitHit) == number, code
    assert await count(db, Account) == accounts
    assert (await db.get(Delegation, expired.id)).relative_account_id is None
    await db.commit()


async def test_someone_with_an_account_adds_the_delegation_instead_of_a_second_account(client, world, db):
    patient_a, account_a = await world.patient("Kari Nordmann")
    _, account_b = await world.patient("Bjørn Berg")
    await world.login_as(account_a)
    _, code = await _give(client, "Bjørn Berg")
    await world.login_as(account_b)
    accounts = await count(db, Account)
    response = await post_form(client, "/relative/code", {"code": code}, token_from="/relative/code")
    assert response.url.path == "/relatives"
    assert await count(db, Account) == accounts
    assert (await _delegation(db)).relative_account_id == account_b.id
    page = await client.get("/relatives")
    assert "Kari Nordmann" in page.text and "You have access until" in page.text


async def test_narrowing_and_ending_take_effect_on_the_relatives_very_next_request(client, world, db):
    patient, account = await world.patient("Kari Nordmann")
    relative, delegation = await world.relative(patient, ("see", "act"))
    await world.login_as_relative(relative, delegation)
    home = await client.get("/home")
    assert home.status_code == 200 and "You are viewing Kari Nordmann’s page as a relative." in home.text
    assert (await client.get("/meeting/wishes")).status_code == 200
    # The patient removes "act" (in their own session; the relative's session stays open).
    row = await db.get(Delegation, delegation.id)
    row.scopes = "see"
    await db.commit()
    assert (await client.get("/meeting/wishes")).status_code == 404
    refused = await post_form(client, "/meeting/wishes/gp", GP, token_from="/plan")
    assert refused.status_code in (403, 404)
    assert (await client.get("/plan")).status_code == 200
    row = await db.get(Delegation, delegation.id)
    row.ended_at = utcnow()
    await db.commit()
    ended = await client.get("/plan")
    assert ended.status_code == 403 and "Your access has ended" in ended.text
    boosted = await client.get("/meeting", headers={"hx-request": "true", "hx-boosted": "true"})
    assert boosted.status_code == 403 and boosted.headers["hx-redirect"] == "/meeting"  # a full page load shows it
    assert "Only Kari Nordmann can give you access again" in ended.text


async def test_access_ends_by_itself_at_its_end_date(client, world, db):
    patient, _ = await world.patient("Kari Nordmann")
    relative, delegation = await world.relative(patient, ("see",), ends_in=timedelta(seconds=-1))
    await world.login_as_relative(relative, delegation)
    response = await client.get("/home")
    assert response.status_code == 403 and "Your access has ended" in response.text


async def test_a_relative_sends_the_wishes_attributed_to_both(client, world, db):
    patient, account = await world.patient("Kari Nordmann")
    clinician = await world.staff("clinician", "Lege Lise")
    relative, delegation = await world.relative(patient, ("see", "act"), "Ola Nordmann")
    await world.login_as_relative(relative, delegation)
    for step, data in (("gp", GP), ("nav", NAV), ("place", PLACE)):
        await post_form(client, f"/meeting/wishes/{step}", data, token_from=f"/meeting/wishes/{step}")
    sent = await post_form(client, "/meeting/wishes-submit", token_from="/meeting/wishes")
    attribution = "Registered by Ola Nordmann (relative) for Kari Nordmann"
    assert attribution in sent.text
    [event] = await audit_rows(db, "meeting.wishes_submitted")
    assert event.actor_account_id == relative.id and event.actor_role == "relative"
    assert event.on_behalf_of == patient.id and event.patient_id == patient.id
    assert (await verify(db))[1] is None
    await db.commit()
    await world.login_as(clinician)
    assert "(registered by Ola Nordmann, relative)" in (await client.get("/clinic/worklist")).text
    assert attribution in (await client.get(f"/clinic/patients/{patient.id}/wishes")).text
    await world.login_as(account)
    assert attribution in (await client.get("/meeting/wishes")).text


async def test_the_access_log_lists_others_reads_newest_first_and_never_to_a_relative(client, world, db):
    patient, account = await world.patient("Kari Nordmann")
    clinician = await world.staff("clinician", "Lege Lise")
    relative, delegation = await world.relative(patient, ("see", "act"), "Ola Nordmann")
    await world.login_as(clinician)
    await client.get(f"/clinic/patients/{patient.id}")
    await world.login_as_relative(relative, delegation)
    await client.get("/plan")
    assert (await client.get("/access/log")).status_code == 403
    assert (await client.get("/access/relatives")).status_code == 403
    await world.login_as(account)
    await client.get("/home")
    log = await client.get("/access/log")
    assert log.status_code == 200 and "The log is complete" in log.text
    table = log.text[log.text.index('id="access-log"'):]
    assert "Lege Lise" in table and "Opened your pathway" in table
    assert "Ola Nordmann" in table and "Opened the action plan" in table
    assert table.index("Ola Nordmann") < table.index("Lege Lise")  # newest first
    assert "Kari Nordmann" not in table  # the patient's own reads are not listed
    only_clinician = await client.get(f"/access/log?who={clinician.id}")
    assert "Ola Nordmann" not in only_clinician.text[only_clinician.text.index('id="access-log"'):]
    # A changed entry is noticed (once sealed: the app's sealer does it within a second).
    await seal(db)
    [viewed] = await audit_rows(db, "patient.viewed")
    viewed.detail = "tampered"
    await db.commit()
    tampered = await client.get("/access/log")
    assert "the log has been tampered with" in tampered.text and "The log is complete" not in tampered.text


async def test_the_clinic_patient_page_lists_relatives_and_reminders_scope_is_queryable(client, world, db):
    patient, _ = await world.patient("Kari Nordmann")
    clinician = await world.staff()
    relative, _ = await world.relative(patient, ("see", "reminders"), "Ola Nordmann")
    await world.relative(patient, ("see",), "Per Ended", ends_in=timedelta(days=-1))
    await world.login_as(clinician)
    page = await client.get(f"/clinic/patients/{patient.id}")
    listing = page.text[page.text.index('id="patient-relatives"'):]
    assert "Ola Nordmann" in listing and "Get my reminders" in listing and "Per Ended" not in listing
    assert await delegations.relatives_with_scope(db, patient.id, "reminders") == [relative.id]
    await db.commit()
