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
from tests.helpers import Statements, audit_count, audit_rows, count, html, seal

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


# --- Measure updates by a relative: stored with both identities, shown with the attribution --------------

WALK = {"goals": [], "measures": [
    {"uid": "m-walk", "title": "Gå tur hver dag", "description": "", "responsible": "patient", "participant": "",
     "goal": "", "start": "", "due": "", "timeframe": "", "status": "planned", "evaluation": None},
    {"uid": "m-diary", "title": "Søvndagbok", "description": "", "responsible": "patient", "participant": "",
     "goal": "", "start": "", "due": "", "timeframe": "", "status": "planned", "evaluation": None}]}
BY_OLA = re.compile(r"Registered by Ola Nordmann \(relative\) for Kari Nordmann, \d{1,2} [A-Z][a-z]+ \d{4}, \d\d:\d\d")  # en-GB, 24-hour


async def test_a_relatives_measure_update_is_stored_with_both_identities_and_attributed_everywhere(client, world, db):
    from server.plan.models import MeasureUpdate
    from tests import factories

    patient, account = await world.patient("Kari Nordmann")
    clinician = await world.staff("clinician", "Lege Lise")
    await factories.plan(db, patient.id, WALK)
    relative, delegation = await world.relative(patient, ("see", "act"), "Ola Nordmann")
    await world.login_as_relative(relative, delegation)
    saved = await post_form(client, "/plan/measures/m-walk", {"status": "in_progress", "note": "Gikk 20 minutter"},
                            token_from="/plan")
    assert saved.status_code == 200 and saved.url.path == "/plan"
    assert BY_OLA.search(saved.text)
    update = await db.scalar(select(MeasureUpdate).where(MeasureUpdate.measure_uid == "m-walk"))
    await db.commit()
    assert update.by_account_id == relative.id and update.on_behalf_of == patient.id
    # The patient's own update on the other measure carries no relative's wording.
    await world.login_as(account)
    await post_form(client, "/plan/measures/m-diary", {"status": "done", "note": "Skrevet hver dag"},
                    token_from="/plan")
    page = await client.get("/plan")
    assert len(BY_OLA.findall(page.text)) == 2  # the status and the note on m-walk
    diary = re.search(r'<section class="ds-card" id="measure-m-diary".*?</section>', page.text, re.S).group(0)
    assert "Skrevet hver dag" in diary and "(relative)" not in diary
    await world.login_as(clinician)
    clinic = await client.get(f"/clinic/patients/{patient.id}/plan")
    assert len(BY_OLA.findall(clinic.text)) == 1 and "Skrevet hver dag" in clinic.text
    assert "Gikk 20 minutter" in clinic.text
    worklist = await client.get("/clinic/worklist")
    assert BY_OLA.search(worklist.text)


async def test_the_patients_own_measure_update_shows_no_relative_wording(client, world, db):
    from tests import factories

    patient, account = await world.patient("Kari Nordmann")
    clinician = await world.staff("clinician", "Lege Lise")
    await factories.plan(db, patient.id, WALK)
    await world.login_as(account)
    await post_form(client, "/plan/measures/m-walk", {"status": "in_progress", "note": "Gikk"}, token_from="/plan")
    assert "(relative)" not in (await client.get("/plan")).text
    await world.login_as(clinician)
    assert "(relative)" not in (await client.get(f"/clinic/patients/{patient.id}/plan")).text
    assert "(relative)" not in (await client.get("/clinic/worklist")).text


async def test_a_relative_with_see_reads_the_inbox_and_marks_it_read_but_never_the_private_messages(client, world, db):
    from server.notify.models import Notification

    patient, account = await world.patient("Kari Nordmann")
    db.add_all([Notification(patient_id=patient.id, message="Hello", params={}, link="/meeting"),
                Notification(patient_id=patient.id, message="A research request", params={}, link="/research",
                             private=True)])
    await db.commit()
    relative, delegation = await world.relative(patient, ("see",))
    await world.login_as_relative(relative, delegation)
    inbox = await client.get("/inbox")
    assert "Hello" in inbox.text and "A research request" not in inbox.text and "Mark all as read" in inbox.text
    marked = await post_form(client, "/inbox/read", token_from="/inbox")
    assert marked.status_code == 200 and "All messages are marked as read." in marked.text
    assert "Mark all as read" not in marked.text
    await world.login_as(account)
    mine = await client.get("/inbox")
    assert "A research request" in mine.text and "Mark all as read" in mine.text  # still new for the patient


# --- The header's unread count: the relative's view of it, and only where a header is rendered ------------

async def _messages(db, patient_id: int, *, private: int = 0, read: int = 0, new: int = 2) -> None:
    from server.notify.models import Notification

    db.add_all([Notification(patient_id=patient_id, message="New", params={}) for _ in range(new)]
               + [Notification(patient_id=patient_id, message="Old", params={}, read_at=utcnow()) for _ in range(read)]
               + [Notification(patient_id=patient_id, message="Research", params={}, private=True)
                  for _ in range(private)])
    await db.commit()


def _badge(html: str) -> str | None:
    match = re.search(r'href="/inbox">Messages <span class="unread-badge" data-unread aria-hidden="true">(\d+)<', html)
    return match.group(1) if match else None


async def test_a_relative_with_see_sees_the_unread_count_of_the_messages_they_may_read(client, world, db):
    patient, account = await world.patient("Kari Nordmann")
    await _messages(db, patient.id, private=1, read=1, new=2)
    relative, delegation = await world.relative(patient, ("see",))
    await world.login_as_relative(relative, delegation)
    assert _badge((await client.get("/home")).text) == "2"  # the private research request is not theirs
    await world.login_as(account)
    assert _badge((await client.get("/home")).text) == "3"
    reminders_only, other = await world.relative(patient, ("reminders",), "Per Nordmann")
    await world.login_as_relative(reminders_only, other)
    assert _badge((await client.get("/relatives")).text) is None


async def test_the_unread_count_runs_for_full_pages_only_never_for_an_htmx_block_or_json(client, world, db):
    from tests import factories

    patient, account = await world.patient("Kari Nordmann")
    await _messages(db, patient.id)
    await factories.plan(db, patient.id, WALK)
    await world.login_as(account)
    token = re.search(r'name="csrf-token" content="([^"]+)"', (await client.get("/plan")).text).group(1)
    with Statements(client.app.state.engine) as statements:
        page = await client.get("/plan")
    assert _badge(page.text) == "2" and len(statements.counting("notifications")) == 1  # a GET: in its identity query
    with Statements(client.app.state.engine) as statements:
        block = await client.post("/plan/measures/m-walk", data={"status": "in_progress", "note": ""},
                                  headers={"HX-Request": "true", "HX-Target": "measure-m-walk", "x-csrftoken": token})
    assert block.status_code == 200 and "<header" not in block.text and "measure-m-walk" in block.text
    assert statements.seen and statements.counting("notifications") == []  # the block was served, without counting
    with Statements(client.app.state.engine) as statements:
        json = await client.post("/login/options", headers={"x-csrftoken": token})
    assert json.status_code == 200 and statements.counting("notifications") == []


async def test_switching_whom_to_act_for_starts_a_new_session_so_the_old_one_cannot_post(client, world, db):
    from server.access import sessions as sessions_module
    from server.access.models import UserSession
    from server.plan.models import MeasureUpdate
    from tests import factories

    patient_a, _ = await world.patient("Kari Nordmann")
    patient_b, _ = await world.patient("Bjørn Berg")
    await factories.plan(db, patient_a.id, WALK)
    await factories.plan(db, patient_b.id, WALK)
    relative, delegation_a = await world.relative(patient_a, ("see", "act"))
    _, delegation_b = await world.relative(patient_b, ("see", "act"), account=relative)
    old_id = await world.login_as_relative(relative, delegation_a)
    old_cookie = client.cookies.get(sessions_module.COOKIE_NAME)
    old_created = (await db.get(UserSession, old_id)).created_at
    await db.commit()
    tab_a = re.search(r'name="csrf-token" content="([^"]+)"', (await client.get("/plan")).text).group(1)
    switched = await post_form(client, f"/relatives/{delegation_b.id}/act", token_from="/plan")
    assert switched.status_code == 200 and "Bjørn Berg’s page" in switched.text
    # Another tab of the same browser, still showing Kari's plan (its form carries the old token), posts a
    # measure update with the browser's new cookies: refused, nothing stored in Bjørn's plan.
    stale_tab = await client.post("/plan/measures/m-walk", data={"status": "done", "note": "", "_csrf_token": tab_a},
                                  follow_redirects=False)
    assert stale_tab.status_code == 403 and await count(db, MeasureUpdate) == 0
    new_cookie = client.cookies.get(sessions_module.COOKIE_NAME)
    assert new_cookie and new_cookie != old_cookie
    assert await db.get(UserSession, old_id) is None  # the old session row is gone
    rows = list((await db.scalars(select(UserSession).where(UserSession.account_id == relative.id))).all())
    await db.commit()
    assert [(r.acting_delegation_id, r.created_at) for r in rows] == [(delegation_b.id, old_created)]
    # A tab left open on Kari's plan, still holding the old session, posts a measure update: refused, nothing stored.
    token = await client.get("/plan")
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', token.text).group(1)
    client.cookies.set(sessions_module.COOKIE_NAME, old_cookie, domain="testserver.local")
    stale = await client.post("/plan/measures/m-walk", data={"status": "done", "note": "", "_csrf_token": csrf},
                              follow_redirects=False)
    assert stale.status_code in (303, 401) and await count(db, MeasureUpdate) == 0
    # Back to their own pages: again a new session.
    client.cookies.set(sessions_module.COOKIE_NAME, new_cookie, domain="testserver.local")
    own = await post_form(client, "/relatives/own", token_from="/relatives")
    assert own.status_code == 200 and client.cookies.get(sessions_module.COOKIE_NAME) not in (new_cookie, old_cookie)
    assert await count(db, UserSession, UserSession.account_id == relative.id) == 1


# --- A relative who stops before making a passkey -------------------------------------------------------

async def test_an_account_without_a_passkey_never_acts_and_is_sent_to_make_one(client, world, db):
    patient, _ = await world.patient("Kari Nordmann")
    relative, delegation = await world.relative(patient, ("see", "act"), passkey=False)
    await world.login_as_relative(relative, delegation)
    for path in ("/home", "/plan", "/inbox"):
        response = await client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/account", path
    page = await client.get("/plan")
    assert page.url.path == "/account" and "Make your passkey first. Then you can see Kari Nordmann’s page." in page.text
    assert "Kari Nordmann" not in page.text.split("Make your passkey first")[0].split("<main")[-1]
    refused = await post_form(client, "/meeting/wishes/gp", GP, token_from="/account")
    assert refused.url.path == "/account"
    assert await audit_count(db, "meeting.wishes_saved") == 0


async def test_an_unfinished_relative_enrollment_lapses_after_the_codes_lifetime(client, world, db, settings):
    from server.access import purge
    from server.access.models import Credential

    patient, account = await world.patient("Kari Nordmann")
    await world.login_as(account)
    _, code = await _give(client)
    await world.login_as(None)
    started = await post_form(client, "/relative/code", {"code": code}, token_from="/relative/code")
    assert started.url.path == "/enroll/passkey"  # ... and the relative closes the browser here
    finished, finished_delegation = await world.relative(patient, ("see",), "Per Nordmann")  # has a passkey
    stranded = await db.scalar(select(Delegation).where(Delegation.relative_name == "Ola Nordmann"))
    await db.commit()
    relative_id = stranded.relative_account_id
    assert relative_id is not None and stranded.ended_at is None
    assert (await purge.purge(db, settings, now=utcnow() + timedelta(days=6)))["unfinished_relatives"] == 0
    await db.commit()
    counts = await purge.purge(db, settings, now=utcnow() + timedelta(days=delegations.CODE_DAYS, hours=1))
    await db.commit()
    assert counts["unfinished_relatives"] == 1
    row = await db.get(Delegation, stranded.id)
    await db.refresh(row)
    assert row.ended_at is not None and row.relative_account_id is None and not delegations.is_live(row)
    assert await db.get(Account, relative_id) is None
    kept = await db.get(Delegation, finished_delegation.id)
    await db.refresh(kept)
    await db.commit()
    assert kept.relative_account_id == finished.id and kept.ended_at is None
    assert await count(db, Credential, Credential.account_id == finished.id) == 1
    [event] = await audit_rows(db, "delegation.lapsed")
    assert event.patient_id == patient.id and event.actor_account_id is None
    await world.login_as(account)
    page = await client.get("/access/relatives")
    assert "Ola Nordmann" in page.text


async def test_a_relative_with_only_the_reminders_scope_is_not_offered_the_patients_tabs(client, world):
    """The header offers only what the relative may open: with "see" the patient's tabs, with reminders alone
    none of them (they would all answer 403/404), but still the page of whom they represent."""
    patient, _ = await world.patient("Kari Nordmann")
    reminders_only, delegation = await world.relative(patient, ("reminders",), "Per Nordmann")
    await world.login_as_relative(reminders_only, delegation)
    header = html((await client.get("/relatives")).text).find("header")
    hrefs = {a.attrs["href"] for a in header.find_all("a", href=True)}
    assert "/relatives" in hrefs and not hrefs & {"/home", "/meeting", "/plan", "/inbox"}, hrefs
    for path in ("/plan", "/meeting", "/inbox"):
        assert (await client.get(path, follow_redirects=False)).status_code in (403, 404), path

    seeing, delegation = await world.relative(patient, ("see",), "Ola Nordmann")
    await world.login_as_relative(seeing, delegation)
    header = html((await client.get("/relatives")).text).find("header")
    assert {"/home", "/meeting", "/plan", "/inbox"} <= {a.attrs["href"] for a in header.find_all("a", href=True)}
