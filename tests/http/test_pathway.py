"""The patient's home page, the clinic's list and patient page, stage moves and the audit trail."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from server.dates import format_date
from server.i18n import today_oslo
from server.pathway.models import Patient
from server.pathway.stages import add_working_days
from tests.conftest import LANG_COOKIE, csrf_token, post_form
from tests.helpers import audit_count, listed_count

_audit = audit_count


# --- Patient home ---------------------------------------------------------------------------

async def test_home_shows_stage_goal_timeline_and_target_date(client, world, db):
    patient, account = await world.patient("Kari Nordmann", stage=4)
    await world.login_as(account)
    response = await client.get("/home")
    html = response.text
    assert "Stage 4 of 9" in html and "Assessment" in html
    assert "A whole picture of your situation" in html  # the goal
    assert html.count('data-state="done"') == 3 and html.count('data-state="upcoming"') == 5
    assert 'aria-current="step"' in html
    entered_4 = (today_oslo() - timedelta(weeks=6)) + timedelta(days=2 * 14)
    due = format_date(entered_4 + timedelta(weeks=12), "en")
    assert f"Collaboration meeting 1: at the latest {due}." in html
    assert await _audit(db, "patient.home_viewed", patient.id) == 1


async def test_home_in_bokmal_by_default(client, world):
    _, account = await world.patient(stage=4)
    await world.login_as(account)
    client.cookies.delete(LANG_COOKIE, domain="testserver.local")
    html = (await client.get("/home")).text
    assert '<html lang="nb">' in html
    assert "Utredning" in html and "Steg 4 av 9" in html


async def test_patient_sees_only_their_own_pathway(client, world):
    _, account_a = await world.patient("Anne Aas", stage=4)
    await world.patient("Bjørn Berg", stage=7)
    await world.login_as(account_a)
    html = (await client.get("/home")).text
    assert "Anne Aas" in html and "Bjørn Berg" not in html
    assert (await client.get("/clinic/patients")).status_code == 403


# --- Clinic list ----------------------------------------------------------------------------

async def test_list_searches_filters_sorts_by_deadline_and_paginates(client, world, db):
    today = today_oslo()
    await world.patient("Late Larsen", stage=3, received=today - timedelta(weeks=13))  # passed
    await world.patient("Soon Solberg", stage=3, received=today - timedelta(weeks=11))  # within 2 weeks
    for n in range(30):
        await world.patient(f"Other Olsen {n:02d}", stage=7, received=today - timedelta(weeks=10))
    await world.login_as(await world.staff())
    first = (await client.get("/clinic/patients")).text
    names = re.findall(r'href="/clinic/patients/\d+">([^<]+)</a>', first)
    assert names[:2] == ["Late Larsen", "Soon Solberg"]
    assert len(names) == 25 and "32 patients" in first and "page 1 of 2" in first
    assert "Overdue" in first and "Soon" in first
    second = (await client.get("/clinic/patients?page=2")).text
    assert len(re.findall(r'href="/clinic/patients/\d+">', second)) == 7
    found = (await client.get("/clinic/patients?q=solBERG")).text
    assert re.findall(r'href="/clinic/patients/\d+">([^<]+)</a>', found) == ["Soon Solberg"]
    stage7 = (await client.get("/clinic/patients?stage_filter=7")).text
    assert "30 patients" in stage7
    assert "No patients match" in (await client.get("/clinic/patients?q=%25%25nobody")).text
    # Every patient whose data was shown is in the audit log: one event per list shown, naming them.
    assert await _audit(db, "patient.list_view") == 4
    assert await listed_count(db, "patient.list_view") == 25 + 7 + 1 + 25


async def test_list_search_returns_only_the_results_block_to_htmx(client, world):
    await world.patient("Kari Nordmann")
    await world.login_as(await world.staff())
    response = await client.get("/clinic/patients?q=kari", headers={"HX-Request": "true", "HX-Target": "results"})
    assert response.text.lstrip().startswith('<section id="results"')
    assert "<html" not in response.text and "HX-Request" in response.headers["vary"]
    boosted = await client.get("/clinic/patients?q=kari", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.text


# --- Create a patient -------------------------------------------------------------------------

async def test_create_patient_shows_a_one_time_code(client, world, db):
    await world.login_as(await world.staff())
    response = await post_form(client, "/clinic/patients", {
        "name": "Ola Nordmann", "birth_date": "1970-03-14", "gp_name": "Dr. Berit Bø", "gp_office": "Sentrum legekontor",
        "referral_received_on": today_oslo().isoformat()}, token_from="/clinic/patients/new")
    assert response.status_code == 200
    code = re.search(r"data-code>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})<", response.text).group(1)
    assert code
    patient = await db.scalar(select(Patient).where(Patient.name == "Ola Nordmann"))
    await db.commit()
    assert patient.stage == 2
    assert patient.next_deadline == add_working_days(today_oslo(), 10)
    assert await _audit(db, "patient.created", patient.id) == 1


async def test_create_patient_with_bad_input_keeps_answers_and_lists_errors(client, world, db):
    await world.login_as(await world.staff())
    future = (today_oslo() + timedelta(days=3)).isoformat()
    response = await post_form(client, "/clinic/patients", {
        "name": "Ola Nordmann", "birth_date": "31.02.1970", "gp_name": "", "gp_office": "x" * 201,
        "referral_received_on": future}, token_from="/clinic/patients/new")
    assert response.status_code == 422
    html = response.text
    assert "<title>Error: Add patient" in html
    assert 'class="ds-error-summary"' in html
    for field in ("birth_date", "gp_name", "gp_office", "referral_received_on"):
        assert f'href="#{field}"' in html
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', html, re.S), field
    assert 'value="Ola Nordmann"' in html and 'value="31.02.1970"' in html
    assert await db.scalar(select(func.count()).select_from(Patient)) == 0


# --- Stage moves ------------------------------------------------------------------------------

async def _move(client, patient_id, **form):
    return await post_form(client, f"/clinic/patients/{patient_id}/stage", form,
                           token_from=f"/clinic/patients/{patient_id}")


async def test_move_forward_with_optional_note_and_patient_sees_it(client, world, db):
    patient, account = await world.patient(stage=3)
    await world.login_as(await world.staff())
    response = await _move(client, patient.id, to_stage="4", note="Kom til utredning", reason="", version="1")
    assert response.status_code == 200 and "moved to stage 4" in response.text
    assert "Kom til utredning" in response.text  # in the stage history
    assert await _audit(db, "patient.stage_moved", patient.id) == 1
    await world.login_as(account)
    assert "Stage 4 of 9" in (await client.get("/home")).text


async def test_going_back_or_skipping_needs_a_reason(client, world):
    patient, _ = await world.patient(stage=4, gp_accepted_on=today_oslo())
    await world.login_as(await world.staff())
    back = await _move(client, patient.id, to_stage="3", note="", reason="", version="1")
    assert back.status_code == 422 and "Give a reason when going back or skipping a stage." in back.text
    skip = await _move(client, patient.id, to_stage="6", note="", reason="  ", version="1")
    assert skip.status_code == 422
    ok = await _move(client, patient.id, to_stage="3", note="", reason="Utredningen må gjøres om", version="1")
    assert ok.status_code == 200 and "Stage 3 of 9" in ok.text and "Utredningen må gjøres om" in ok.text


async def test_stage_5_needs_the_gps_acceptance(client, world):
    patient, _ = await world.patient(stage=4)
    await world.login_as(await world.staff())
    refused = await _move(client, patient.id, to_stage="5", note="", reason="", version="1")
    assert refused.status_code == 422 and "only be sent after the GP has accepted" in refused.text
    skip = await _move(client, patient.id, to_stage="7", note="", reason="Hastesak", version="1")
    assert skip.status_code == 422
    recorded = await post_form(client, f"/clinic/patients/{patient.id}/gp-acceptance",
                               {"accepted_on": today_oslo().isoformat()}, token_from=f"/clinic/patients/{patient.id}")
    assert "The GP accepted on" in recorded.text
    ok = await _move(client, patient.id, to_stage="5", note="", reason="", version="2")
    assert ok.status_code == 200 and "Stage 5 of 9" in ok.text


async def test_gp_acceptance_cannot_be_in_the_future(client, world):
    patient, _ = await world.patient(stage=4)
    await world.login_as(await world.staff())
    response = await post_form(client, f"/clinic/patients/{patient.id}/gp-acceptance",
                               {"accepted_on": (today_oslo() + timedelta(days=1)).isoformat()},
                               token_from=f"/clinic/patients/{patient.id}")
    assert response.status_code == 422 and "cannot be in the future" in response.text


async def test_a_stale_form_does_not_overwrite_another_clinicians_move(client, world):
    patient, _ = await world.patient(stage=3)
    await world.login_as(await world.staff())
    assert (await _move(client, patient.id, to_stage="4", note="", reason="", version="1")).status_code == 200
    stale = await _move(client, patient.id, to_stage="4", note="", reason="", version="1")
    assert stale.status_code == 422 and "Someone else changed this patient" in stale.text


async def test_invalid_move_to_htmx_returns_the_form_block_with_errors(client, world):
    patient, _ = await world.patient(stage=4)
    await world.login_as(await world.staff())
    token = await csrf_token(client, f"/clinic/patients/{patient.id}")
    response = await client.post(f"/clinic/patients/{patient.id}/stage",
                                 data={"to_stage": "2", "version": "1", "reason": ""},
                                 headers={"x-csrftoken": token, "HX-Request": "true", "HX-Target": "stage-move"})
    assert response.status_code == 422
    assert response.text.lstrip().startswith('<section id="stage-move"')
    assert 'aria-invalid="true"' in response.text


async def test_new_enrollment_code_for_a_lost_phone_removes_passkeys(client, world, db):
    from server.access.models import Credential

    patient, account = await world.patient()
    db.add(Credential(account_id=account.id, credential_id=b"lost-phone", public_key=b"k", name="Lost"))
    await db.commit()
    await world.login_as(await world.staff())
    response = await post_form(client, f"/clinic/patients/{patient.id}/enrollment-code", {"remove_passkeys": "yes"},
                               token_from=f"/clinic/patients/{patient.id}")
    assert response.status_code == 200 and "data-code>" in response.text
    assert await db.scalar(select(func.count()).select_from(Credential)) == 0


async def test_unknown_patient_is_404(client, world):
    await world.login_as(await world.staff())
    assert (await client.get("/clinic/patients/999999")).status_code == 404
