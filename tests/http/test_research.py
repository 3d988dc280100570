"""Research interviews: the clinic marks a meeting held, the patient answers or withdraws, the researcher
sees only active yeses and exports them; relatives, clinicians and admins never see an answer."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from server.access.policy import RESEARCH_ANSWER, Actor, can
from server.db import utcnow
from server.notify.models import Notification
from server.research.models import ResearchEvent, ResearchText
from tests import factories
from tests.conftest import post_form
from tests.helpers import audit_count, audit_rows, count


async def held_meeting(world, db, patient, clinician, number: int = 1):
    meeting = await factories.meeting(db, patient.id, number=number, starts_at=utcnow() - timedelta(hours=2))
    await world.login_as(clinician)
    response = await post_form(world.client, f"/clinic/meetings/{meeting.id}/held",
                               token_from=f"/clinic/meetings/{meeting.id}")
    assert response.status_code == 200, response.text
    return meeting


async def answer(world, meeting, **data):
    return await post_form(world.client, f"/research/meetings/{meeting.id}", data,
                           token_from=f"/research/meetings/{meeting.id}")


async def test_marking_a_meeting_held_sends_a_discreet_request_the_clinic_sees_only_that_it_was_sent(world, client, db):
    patient, account = await world.patient("Anne A")
    clinician = await world.staff("clinician", "Cecilie")
    meeting = await held_meeting(world, db, patient, clinician)
    page = await client.get(f"/clinic/meetings/{meeting.id}")
    assert "data-held" in page.text and "data-mark-held" not in page.text
    note = await db.scalar(select(Notification).where(Notification.patient_id == patient.id))
    await db.commit()
    assert note.link == "/research" and "research" not in note.message.lower()  # discreet
    assert await audit_count(db, "research.asked", patient.id) == 1
    # Marking again sends nothing more.
    again = await post_form(client, f"/clinic/meetings/{meeting.id}/held", token_from=f"/clinic/meetings/{meeting.id}")
    assert again.status_code == 200
    assert await count(db, ResearchEvent, ResearchEvent.kind == "asked") == 1

    await world.login_as(account)
    await answer(world, meeting, answer="yes", contact_method="phone", contact_when="Etter kl. 15")
    await world.login_as(clinician)
    page = await client.get(f"/clinic/meetings/{meeting.id}")
    assert "Etter kl. 15" not in page.text and "data-answer=\"yes\"" not in page.text
    assert (await client.get("/research")).status_code == 403
    assert (await client.get("/research/participants")).status_code == 403


async def test_yes_with_contact_preference_gives_a_receipt_and_a_history_row_with_the_text_version(world, client, db):
    patient, account = await world.patient("Anne A")
    meeting = await held_meeting(world, db, patient, await world.staff())
    await world.login_as(account)
    page = await client.get("/research")
    assert 'data-state="open"' in page.text
    request = await client.get(f"/research/meetings/{meeting.id}")
    assert "45 minutes" in request.text  # the default information text
    missing = await answer(world, meeting, answer="yes")
    assert missing.status_code == 422 and 'id="contact_method-error"' in missing.text
    done = await answer(world, meeting, answer="yes", contact_method="email", contact_when="Mandager")
    assert done.status_code == 200 and 'data-receipt="yes"' in done.text and "Mandager" in done.text
    event = await db.scalar(select(ResearchEvent).where(ResearchEvent.kind == "yes"))
    await db.commit()
    assert event.text_version == 1 and event.contact_method == "email"
    page = await client.get("/research")
    assert 'data-state="yes"' in page.text and 'data-kind="asked"' in page.text and 'data-kind="yes"' in page.text
    # An answer is never changed: a second answer is refused and nothing new is stored.
    await answer(world, meeting, answer="no")
    assert await count(db, ResearchEvent, ResearchEvent.kind == "no") == 0


async def test_no_is_final_for_that_meeting(world, client, db):
    patient, account = await world.patient("Anne A")
    meeting = await held_meeting(world, db, patient, await world.staff())
    await world.login_as(account)
    done = await answer(world, meeting, answer="no")
    assert 'data-receipt="no"' in done.text
    await answer(world, meeting, answer="yes", contact_method="phone")
    assert await count(db, ResearchEvent, ResearchEvent.kind == "yes") == 0
    assert 'data-state="no"' in (await client.get("/research")).text


async def test_another_patients_request_and_a_meeting_never_held_are_refused(world, client, db):
    patient_a, _ = await world.patient("Anne A")
    patient_b, account_b = await world.patient("Bjørn B")
    meeting_a = await held_meeting(world, db, patient_a, await world.staff())
    never_held = await factories.meeting(db, patient_b.id)
    await world.login_as(account_b)
    assert (await client.get(f"/research/meetings/{meeting_a.id}")).status_code == 404
    forged = await post_form(client, f"/research/meetings/{meeting_a.id}", {"answer": "yes", "contact_method": "phone"},
                             token_from="/research")
    assert forged.status_code == 404
    forged = await post_form(client, f"/research/meetings/{never_held.id}", {"answer": "yes", "contact_method": "phone"},
                             token_from="/research")
    assert forged.status_code == 404
    assert await count(db, ResearchEvent, ResearchEvent.kind == "yes") == 0
    assert await audit_count(db, "research.request_refused") == 3  # the look and both forged answers


async def test_researcher_sees_only_active_yes_exports_csv_and_a_withdrawal_removes_the_patient_at_once(world, client, db):
    clinician = await world.staff()
    researcher = await world.staff("researcher", "Forsker Frida")
    anne, anne_account = await world.patient('Anne "Quote", A')
    bjorn, bjorn_account = await world.patient("Bjørn B")
    cato, _ = await world.patient("Cato C")  # asked, never answered
    meeting_a = await held_meeting(world, db, anne, clinician)
    meeting_b = await held_meeting(world, db, bjorn, clinician)
    await held_meeting(world, db, cato, clinician)
    await world.login_as(anne_account)
    await answer(world, meeting_a, answer="yes", contact_method="phone", contact_when="=1+1, etter kl. 15")
    await world.login_as(bjorn_account)
    await answer(world, meeting_b, answer="no")

    await world.login_as(researcher)
    page = await client.get("/research/participants")
    assert f'data-participant="{anne.id}"' in page.text
    assert f'data-participant="{bjorn.id}"' not in page.text and "Cato C" not in page.text
    exported = await client.get("/research/participants.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["name", "meeting", "contact_method", "contact_when", "consented_at", "outcome"]
    assert len(rows) == 2 and rows[1][:4] == ['Anne "Quote", A', "SHM 1", "phone", "'=1+1, etter kl. 15"]
    assert '"Anne ""Quote"", A"' in exported.text  # the csv module's quoting
    export_audit = (await audit_rows(db, "research.exported"))[-1]
    assert export_audit.actor_account_id == researcher.id and export_audit.detail == "1 rows"
    entry = await client.get(f"/research/participants/{anne.id}")
    assert entry.status_code == 200
    assert await audit_count(db, "research.entry_opened", anne.id, actor_account_id=researcher.id) == 1
    assert (await client.get(f"/research/participants/{bjorn.id}")).status_code == 404
    marked = await post_form(client, f"/research/participants/{anne.id}/outcome",
                             {"meeting_id": str(meeting_a.id), "outcome": "not_reached"},
                             token_from="/research/participants")
    assert marked.status_code == 200 and "Could not reach" in (await client.get("/research/participants")).text

    await world.login_as(anne_account)
    confirm = await client.get("/research/withdraw")
    assert confirm.status_code == 200
    receipt = await post_form(client, "/research/withdraw", token_from="/research/withdraw")
    assert 'data-receipt="withdrawn"' in receipt.text
    assert await count(db, ResearchEvent, ResearchEvent.patient_id == anne.id) == 4  # asked, yes, outcome, withdrawn

    await world.login_as(researcher)
    assert f'data-participant="{anne.id}"' not in (await client.get("/research/participants")).text
    rows = list(csv.reader(io.StringIO((await client.get("/research/participants.csv")).text)))
    assert rows == [["name", "meeting", "contact_method", "contact_when", "consented_at", "outcome"]]
    assert (await client.get(f"/research/participants/{anne.id}")).status_code == 404
    assert (await audit_rows(db, "research.exported"))[-1].detail == "0 rows"


async def test_admin_edits_the_text_as_new_versions_and_sees_no_answers(world, client, db):
    patient, account = await world.patient("Anne A")
    meeting = await held_meeting(world, db, patient, await world.staff())
    admin = await world.staff("admin", "Arne")
    await world.login_as(admin)
    saved = await post_form(client, "/admin/research-text", {"body_nb": "Ny tekst", "body_en": "New text"},
                            token_from="/admin/research-text")
    assert saved.status_code == 200 and 'data-version="2"' in saved.text and 'data-version="1"' in saved.text
    assert await count(db, ResearchText) == 2
    assert (await client.get("/research")).status_code == 403
    assert (await client.get("/research/participants")).status_code == 403
    # The request already sent keeps the version the patient was shown; a new meeting uses version 2.
    await world.login_as(account)
    assert "45 minutes" in (await client.get(f"/research/meetings/{meeting.id}")).text
    second = await held_meeting(world, db, patient, await world.staff("clinician", "Other"), number=2)
    await world.login_as(account)
    assert "New text" in (await client.get(f"/research/meetings/{second.id}")).text


def test_only_the_patient_themself_may_answer_never_a_relative_acting_for_them():
    patient = Actor(account_id=1, role="patient", patient_id=7)
    assert can(patient, RESEARCH_ANSWER, 7)
    assert not can(patient, RESEARCH_ANSWER, 8)
    relative = Actor(account_id=2, role="patient", patient_id=7, scopes=frozenset({"view", "act"}))
    assert not can(relative, RESEARCH_ANSWER, 7)
    for role in ("relative", "clinician", "admin", "researcher"):
        assert not can(Actor(account_id=3, role=role, patient_id=7), RESEARCH_ANSWER, 7)


async def test_the_request_in_the_inbox_is_private_to_the_patient_themself(world, client, db):
    from server.audit.service import AuditContext
    from server.notify import service as notify_service

    patient, account = await world.patient("Anne A")
    await held_meeting(world, db, patient, await world.staff())
    ctx = AuditContext(None, "system")
    # What a relative reading the inbox for the patient gets (issue 9 passes include_private=False for them).
    assert await notify_service.inbox(db, ctx, patient.id, include_private=False) == []
    assert len(await notify_service.inbox(db, ctx, patient.id)) == 1
    await db.commit()
    await world.login_as(account)
    assert "/research" in (await client.get("/inbox")).text


async def test_an_admin_creates_a_researcher_whose_code_needs_a_second_admin(world, client, db):
    from server.access.models import Account, EnrollmentCode

    await world.login_as(await world.staff("admin", "Arne"))
    created = await post_form(client, "/admin/accounts", {"name": "Rita Researcher", "role": "researcher"},
                              token_from="/admin/accounts")
    assert created.status_code == 200
    account = await db.scalar(select(Account).where(Account.display_name == "Rita Researcher"))
    await db.commit()
    assert account.role == "researcher"
    code = await db.scalar(select(EnrollmentCode).where(EnrollmentCode.account_id == account.id))
    await db.commit()
    assert code.needs_approval and code.approved_by is None
    page = await client.get("/admin/accounts")
    assert "Rita Researcher" in page.text and "Researcher" in page.text


async def test_a_relative_with_every_scope_sees_no_trace_of_the_research_request(world, client, db):
    """The patient's relative (see + act + reminders) reads the inbox and the patient's pages: the research
    request is not there, and the research pages and answer routes are refused, even by crafting the request."""
    patient, account = await world.patient("Anne A")
    meeting = await held_meeting(world, db, patient, await world.staff())
    relative, delegation = await world.relative(patient, ("see", "act", "reminders"), "Ola Nordmann")
    await world.login_as_relative(relative, delegation)

    inbox = await client.get("/inbox")
    assert inbox.status_code == 200
    assert "/research" not in inbox.text
    for path in ("/research", f"/research/meetings/{meeting.id}", "/research/withdraw"):
        assert (await client.get(path)).status_code in (403, 404), path
    forged = await post_form(client, f"/research/meetings/{meeting.id}",
                             {"answer": "yes", "contact_method": "phone"}, token_from="/inbox")
    assert forged.status_code in (403, 404)
    assert await count(db, ResearchEvent, ResearchEvent.kind == "yes") == 0

    await world.login_as(account)  # the patient still has the request
    assert "/research" in (await client.get("/inbox")).text
