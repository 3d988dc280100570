"""Text with NUL or other control characters is refused with a message and shown again (422/400), never a 500.

PostgreSQL cannot store a NUL byte in text or JSON, so before the form layer cleaned input such a post
failed with a server error there. Every text field goes through server/forms.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from server.i18n import OSLO, today_oslo
from server.meetings.models import Meeting, MeetingWishes
from server.pathway.models import Patient
from server.plan.models import ActionPlan
from tests.conftest import post_form
from tests.http.test_invitations import _link, _meeting

NOT_ALLOWED = "The text contains characters that are not allowed"


async def _count(db, model, *where) -> int:
    count = await db.scalar(select(func.count()).select_from(model).where(*where))
    await db.commit()
    return count


def _refused(response, field: str) -> None:
    assert response.status_code in (400, 422), response.status_code
    assert NOT_ALLOWED in response.text
    assert f'href="#{field}"' in response.text or f'id="{field}-error"' in response.text


async def test_a_nul_byte_in_a_new_patient_is_refused_and_the_rest_is_kept(client, world, db):
    await world.login_as(await world.staff())
    response = await post_form(client, "/clinic/patients", {
        "name": "Ola\x00Nordmann", "birth_date": "1970-03-14", "gp_name": "Dr. Berit Bø",
        "gp_office": "Sentrum legekontor", "referral_received_on": today_oslo().isoformat()},
        token_from="/clinic/patients/new")
    _refused(response, "name")
    assert "<title>Error: " in response.text and 'value="Dr. Berit Bø"' in response.text
    assert await _count(db, Patient) == 0


async def test_control_characters_in_a_stage_note_are_refused_but_line_breaks_are_not(client, world, db):
    patient, _ = await world.patient(stage=3)
    await world.login_as(await world.staff())
    path = f"/clinic/patients/{patient.id}/stage"
    response = await post_form(client, path, {"to_stage": "4", "version": "1", "note": "Ringte\x07 fastlegen",
                                              "reason": ""}, token_from=f"/clinic/patients/{patient.id}")
    _refused(response, "note")
    fine = await post_form(client, path, {"to_stage": "4", "version": "1", "note": "Ringte\r\nfastlegen\tkl. 10",
                                          "reason": ""}, token_from=f"/clinic/patients/{patient.id}")
    assert fine.status_code == 200 and fine.url.path == f"/clinic/patients/{patient.id}"


async def test_the_patient_search_refuses_control_characters(client, world):
    await world.login_as(await world.staff())
    response = await client.get("/clinic/patients", params={"q": "Kari\x00"})
    assert response.status_code == 400 and NOT_ALLOWED in response.text
    assert 'aria-invalid="true"' in response.text


async def test_a_nul_byte_in_the_wishes_is_shown_again_and_never_stored(client, world, db):
    patient, account = await world.patient()
    await world.login_as(account)
    response = await post_form(client, "/meeting/wishes/place", {"choice": "home", "note": "Lang\x00reisevei"},
                               token_from="/meeting/wishes/place")
    _refused(response, "note")
    assert await _count(db, MeetingWishes, MeetingWishes.patient_id == patient.id) == 0
    autosave = await post_form(client, "/meeting/wishes/topics/autosave", {"text": "Søvn\x00"},
                               token_from="/meeting/wishes/topics")
    assert autosave.status_code == 200 and "Draft saved" not in autosave.text
    assert await _count(db, MeetingWishes, MeetingWishes.patient_id == patient.id) == 0


async def test_the_invitation_page_refuses_a_nul_byte_in_the_comment(client, world, db):
    _patient, _account, meeting, gp, _nav = await _meeting(db, world)
    _invitation, token = await _link(db, gp, meeting)
    response = await post_form(client, f"/invitation/{token}/answer",
                               {"answer": "accepted", "comment": "Kommer\x00"}, token_from=f"/invitation/{token}")
    _refused(response, "comment")


async def test_scheduling_refuses_a_nul_byte_in_the_note_and_a_name(client, world, db):
    patient, _ = await world.patient()
    await world.login_as(await world.staff())
    path = f"/clinic/patients/{patient.id}/meetings/new?number=1"
    day = (datetime.now(OSLO).date() + timedelta(days=30)).isoformat()
    response = await post_form(client, path, {
        "date": day, "time": "10:00", "duration": "90", "format": "digital",
        "video_link": "https://meet.example.no/abc-123", "p0_name": "Berit\x00Bø", "p0_contact": "73 00 00 00",
        "s0_title": "Feedback", "clinic_note": "Notat\x00"}, token_from=path)
    _refused(response, "clinic_note")
    assert 'href="#p0_name"' in response.text
    assert await _count(db, Meeting, Meeting.patient_id == patient.id) == 0


async def test_a_measure_with_a_nul_byte_is_refused(client, world, db):
    patient, _ = await world.patient()
    await world.login_as(await world.staff())
    home = f"/clinic/patients/{patient.id}/plan"
    await post_form(client, f"{home}/start", token_from=home)
    plan = await db.scalar(select(ActionPlan).where(ActionPlan.patient_id == patient.id))
    await db.commit()
    response = await post_form(client, f"{home}/measures/new", {
        "title": "Fysio\x00terapi", "description": "", "responsible": "gp", "status": "planned",
        "draft_version": str(plan.draft_version)}, token_from=f"{home}/measures/new")
    _refused(response, "title")


async def test_a_staff_name_with_a_nul_byte_is_refused(client, world):
    await world.login_as(await world.staff("admin", "Admin Anne"))
    response = await post_form(client, "/admin/accounts", {"name": "Ny\x00Lege", "role": "clinician"},
                               token_from="/admin/accounts")
    _refused(response, "name")


async def test_the_enrollment_code_refuses_a_nul_byte(client):
    response = await post_form(client, "/enroll", {"code": "ABCD-EFGH\x00"}, token_from="/enroll")
    _refused(response, "code")
