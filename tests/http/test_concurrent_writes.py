"""Two people (or two tabs) writing the same thing at the same moment: nothing is silently lost.

Each test sends two requests at once (asyncio.gather against the app; each request has its own
database connection) and repeats the round, because a lost update is a race: one round may pass
by luck, ten rounds in a row do not. On SQLite writers are serialised (BEGIN IMMEDIATE); on
PostgreSQL both requests really run at the same time.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import func, select, update

from server.app import create_app
from server.i18n import today_oslo
from server.meetings import invitations
from server.meetings.models import Invitation, Meeting, MeetingParticipant, MeetingWishes
from server.pathway.models import Patient, StageEvent
from tests.conftest import BASE_URL, SECRET, csrf_token

ROUNDS = 10
CONFLICT = "Someone else changed this patient"


@asynccontextmanager
async def running_app(settings):
    """The app, run in this event loop: the test client sends one request at a time (through a
    blocking portal), while httpx's ASGI transport lets two requests really run at the same time."""
    app = create_app(settings)
    for hook in app.on_startup:
        await hook(app)
    try:
        yield app
    finally:
        for hook in app.on_shutdown:
            await hook(app)


async def browser(world, app, account, page: str) -> tuple[httpx.AsyncClient, dict[str, str]]:
    """A client signed in as `account` (its own session), and the CSRF header from `page`."""
    await world.login_as(account)
    token = await csrf_token(world.client, page)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL,
                             cookies=httpx.Cookies(world.client.cookies), follow_redirects=True)
    return http, {"x-csrftoken": token}


async def _patient_row(db, patient_id: int):
    """(version, stage, gp_accepted_on) as stored now."""
    row = (await db.execute(select(Patient.version, Patient.stage, Patient.gp_accepted_on)
                            .where(Patient.id == patient_id))).one()
    await db.commit()
    return row


async def _count_events(db, patient_id: int) -> int:
    count = await db.scalar(select(func.count()).select_from(StageEvent).where(StageEvent.patient_id == patient_id))
    await db.commit()
    return count


async def test_two_clinicians_moving_the_same_patient_at_once_one_wins_the_other_sees_the_conflict(world, db, settings):
    patient, _ = await world.patient(stage=3, gp_accepted_on=today_oslo() - timedelta(days=30))
    page = f"/clinic/patients/{patient.id}"
    async with running_app(settings) as app:
        lise = await browser(world, app, await world.staff(name="Lege Lise"), page)
        ola = await browser(world, app, await world.staff(name="Lege Ola"), page)
        for round_ in range(ROUNDS):
            before = await _patient_row(db, patient.id)
            events_before = await _count_events(db, patient.id)
            targets = [s for s in range(1, 10) if s != before.stage][round_ % 3::4][:2]

            async def move(who, target: int, round_: int = round_, version: int = before.version):
                http, headers = who
                return await http.post(f"{page}/stage", headers=headers,
                                       data={"to_stage": str(target), "note": "", "reason": f"round {round_}",
                                             "version": str(version)})

            responses = await asyncio.gather(move(lise, targets[0]), move(ola, targets[1]))
            moved = [r for r in responses if r.status_code == 200 and "moved to stage" in r.text]
            refused = [r for r in responses if r.status_code == 422 and CONFLICT in r.text]
            assert len(moved) == 1 and len(refused) == 1, (round_, [r.status_code for r in responses])
            after = await _patient_row(db, patient.id)
            assert after.version == before.version + 1, round_
            assert await _count_events(db, patient.id) == events_before + 1, round_  # exactly one move
            assert f"moved to stage {after.stage}." in moved[0].text  # the one the winner was told about
        for http, _ in (lise, ola):
            await http.aclose()


async def test_two_clinicians_recording_the_gps_acceptance_at_once_one_wins(world, db, settings):
    patient, _ = await world.patient(stage=4, received=today_oslo() - timedelta(days=200))
    page = f"/clinic/patients/{patient.id}"
    async with running_app(settings) as app:
        lise = await browser(world, app, await world.staff(name="Lege Lise"), page)
        ola = await browser(world, app, await world.staff(name="Lege Ola"), page)
        for round_ in range(ROUNDS):
            before = await _patient_row(db, patient.id)
            dates = [today_oslo() - timedelta(days=2 * round_ + 1), today_oslo() - timedelta(days=2 * round_ + 2)]

            async def accept(who, day, version: int = before.version):
                http, headers = who
                return await http.post(f"{page}/gp-acceptance", headers=headers,
                                       data={"accepted_on": day.isoformat(), "version": str(version)})

            responses = await asyncio.gather(accept(lise, dates[0]), accept(ola, dates[1]))
            recorded = [r for r in responses if r.status_code == 200 and "acceptance was recorded" in r.text]
            refused = [r for r in responses if r.status_code == 422 and CONFLICT in r.text]
            assert len(recorded) == 1 and len(refused) == 1, (round_, [r.status_code for r in responses])
            after = await _patient_row(db, patient.id)
            assert after.version == before.version + 1, round_
            winner = dates[0] if responses[0] in recorded else dates[1]
            assert after.gp_accepted_on == winner, round_
        for http, _ in (lise, ola):
            await http.aclose()


async def test_a_gp_acceptance_form_from_before_another_change_is_refused(client, world, db):
    patient, _ = await world.patient(stage=4)
    await world.login_as(await world.staff())
    token = await csrf_token(client, f"/clinic/patients/{patient.id}")
    first = await client.post(f"/clinic/patients/{patient.id}/gp-acceptance", headers={"x-csrftoken": token},
                              data={"accepted_on": today_oslo().isoformat(), "version": "1"})
    assert first.status_code == 200
    stale = await client.post(f"/clinic/patients/{patient.id}/gp-acceptance", headers={"x-csrftoken": token},
                              data={"accepted_on": (today_oslo() - timedelta(days=1)).isoformat(), "version": "1"})
    assert stale.status_code == 422 and CONFLICT in stale.text
    assert (await _patient_row(db, patient.id)).gp_accepted_on == today_oslo()


async def test_two_wishes_steps_autosaved_at_once_are_both_kept(world, db, settings):
    """Two tabs (or a slow phone) autosaving different steps at the same moment."""
    patient, account = await world.patient()
    async with running_app(settings) as app:
        http, headers = await browser(world, app, account, "/meeting/wishes/gp")
        headers |= {"HX-Request": "true", "HX-Target": "autosave-status"}
        for round_ in range(ROUNDS):
            needs, topics = f"tolk {round_}", f"sove {round_}"
            responses = await asyncio.gather(
                http.post("/meeting/wishes/needs/autosave", headers=headers, data={"interpreter": needs}),
                http.post("/meeting/wishes/topics/autosave", headers=headers, data={"text": topics}),
            )
            assert all(r.status_code == 200 and "Draft saved." in r.text for r in responses), round_
            wishes = await db.scalar(select(MeetingWishes).where(MeetingWishes.patient_id == patient.id)
                                     .execution_options(populate_existing=True))
            await db.commit()
            assert wishes.answers["needs"]["interpreter"] == needs, round_
            assert wishes.answers["topics"]["text"] == topics, round_
            assert wishes.version == 1 + 2 * (round_ + 1), round_  # every save counted
        await http.aclose()


async def test_a_gp_answering_twice_at_once_leaves_the_answer_and_the_acceptance_in_step(world, db, settings):
    """Accept and decline sent at the same moment: whichever is stored last, the patient's GP acceptance matches it."""
    patient, _ = await world.patient(stage=4)
    meeting = Meeting(patient_id=patient.id, number=1, starts_at=datetime(2030, 6, 10, 8, tzinfo=timezone.utc),
                      duration_minutes=90, format="digital", video_link="https://video.example/k")
    meeting.participants = [MeetingParticipant(kind="gp", name="Berit Bø", role="Fastlege", position=0)]
    db.add(meeting)
    await db.flush()
    invitation = Invitation(participant_id=meeting.participants[0].id, nonce="nonce-concurrent-abcdefghijkl",
                            expires_at=invitations.meeting_end(meeting))
    db.add(invitation)
    await db.commit()
    token = invitations.make_token(SECRET, invitation)
    async with running_app(settings) as app:
        http, headers = await browser(world, app, None, f"/invitation/{token}")
        for round_ in range(ROUNDS):
            await db.execute(update(Invitation).where(Invitation.id == invitation.id).values(answer="pending"))
            await db.execute(update(Patient).where(Patient.id == patient.id).values(gp_accepted_on=None))
            await db.commit()
            responses = await asyncio.gather(*(
                http.post(f"/invitation/{token}/answer", headers=headers, data={"answer": a, "comment": ""})
                for a in ("accepted", "declined")))
            assert all(r.status_code == 200 for r in responses), (round_, [r.status_code for r in responses])
            answer = await db.scalar(select(Invitation.answer).where(Invitation.id == invitation.id))
            accepted_on = (await _patient_row(db, patient.id)).gp_accepted_on
            assert (answer == "accepted") == (accepted_on is not None), (round_, answer, accepted_on)
        await http.aclose()


async def test_two_administrators_deciding_the_same_staff_code_at_once_exactly_one_decides(world, db, settings):
    """Four-eyes approval: Berit approves while Cecilie rejects the same pending code. Exactly one
    decision is stored and audited; the other administrator is told it was already decided."""
    from server.access import codes
    from server.access.models import EnrollmentCode
    from server.audit.models import AuditEvent

    arne = await world.staff("admin", "Arne Admin")
    berit = await world.staff("admin", "Berit Admin")
    cecilie = await world.staff("admin", "Cecilie Admin")
    async with running_app(settings) as app:
        approver = await browser(world, app, berit, "/admin/accounts")
        rejecter = await browser(world, app, cecilie, "/admin/accounts")
        for round_ in range(ROUNDS):
            clinician = await world.staff("clinician", f"Klinikus {round_}")
            await codes.issue(db, SECRET, clinician.id, arne.id, 14, needs_approval=True)
            await db.commit()
            code_id = await db.scalar(select(EnrollmentCode.id).where(EnrollmentCode.account_id == clinician.id))
            events_before = await db.scalar(select(func.count()).select_from(AuditEvent)
                                            .where(AuditEvent.action.in_(("staff.code_approved", "staff.code_rejected"))))
            await db.commit()
            responses = await asyncio.gather(
                approver[0].post(f"/admin/codes/{code_id}/approve", headers=approver[1]),
                rejecter[0].post(f"/admin/codes/{code_id}/reject", headers=rejecter[1]))
            assert all(r.status_code == 200 for r in responses), (round_, [r.status_code for r in responses])
            told = ["already decided" in r.text for r in responses]
            assert sorted(told) == [False, True], (round_, told)
            code = await db.scalar(select(EnrollmentCode).where(EnrollmentCode.id == code_id)
                                   .execution_options(populate_existing=True))
            events_after = await db.scalar(select(func.count()).select_from(AuditEvent)
                                           .where(AuditEvent.action.in_(("staff.code_approved", "staff.code_rejected"))))
            await db.commit()
            assert (code.approved_at is None) != (code.revoked_at is None), round_  # one decision, never both
            assert events_after - events_before == 1, round_
            if code.approved_at is not None:
                assert "approved and works now" in responses[0].text and code.approved_by == berit.id
            else:
                assert "rejected and will not work" in responses[1].text and code.revoked_by == cecilie.id
        for http, _ in (approver, rejecter):
            await http.aclose()


async def test_a_patient_answering_a_research_request_twice_at_once_stores_one_answer(world, db, settings):
    """Two tabs send yes and no to the same request at the same moment: one answer is stored, never both;
    two withdrawals at once withdraw once."""
    from server.research.models import ResearchEvent
    from tests.http.test_research import held_meeting

    patient, account = await world.patient("Anne A")
    clinician = await world.staff("clinician", "Cecilie")
    meetings = [await held_meeting(world, db, patient, clinician, number=1 + n % 2) for n in range(ROUNDS)]
    async with running_app(settings) as app:
        http, headers = await browser(world, app, account, "/research")
        for round_, meeting in enumerate(meetings):
            responses = await asyncio.gather(
                http.post(f"/research/meetings/{meeting.id}", headers=headers,
                          data={"answer": "yes", "contact_method": "phone", "contact_when": ""}),
                http.post(f"/research/meetings/{meeting.id}", headers=headers, data={"answer": "no"}))
            assert all(r.status_code in (200, 404, 409, 422) for r in responses), [r.status_code for r in responses]
            kinds = (await db.scalars(select(ResearchEvent.kind).where(ResearchEvent.meeting_id == meeting.id,
                                                                        ResearchEvent.kind.in_(("yes", "no"))))).all()
            await db.commit()
            assert len(kinds) == 1, (round_, kinds)
        yeses = await db.scalar(select(func.count()).select_from(ResearchEvent).where(ResearchEvent.kind == "yes"))
        await db.commit()
        await asyncio.gather(*(http.post("/research/withdraw", headers=headers, data={}) for _ in range(2)))
        withdrawn = await db.scalar(select(func.count()).select_from(ResearchEvent)
                                    .where(ResearchEvent.kind == "withdrawn"))
        await db.commit()
        assert withdrawn == yeses
        await http.aclose()
