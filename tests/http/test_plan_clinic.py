"""The clinic's action plan: start, goals, measures, stale forms, SHM 2 evaluation, publishing, progress updates."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.db import utcnow
from server.notify.models import Notification
from server.plan.models import ActionPlan, MeasureUpdate, PlanVersion
from tests import factories
from tests.conftest import post_form
from tests.helpers import audit_count, html, listed_count

MEASURE = {"title": "Physiotherapy once a week", "description": "At the municipal physiotherapist",
           "responsible": "gp", "participant": "", "goal": "", "start": "2027-01-10", "due": "2027-04-10",
           "timeframe": "", "status": "planned"}


def _home(patient_id: int) -> str:
    return f"/clinic/patients/{patient_id}/plan"


def _version(html: str) -> str:
    return re.search(r'name="draft_version" value="(\d+)"', html).group(1)


def _redirected(response, path: str) -> bool:
    """POST → 303 → GET (the test client follows the redirect)."""
    return response.status_code == 200 and bool(response.history) and response.url.path == path


async def _stored(db, patient_id: int) -> ActionPlan:
    plan = await db.scalar(select(ActionPlan).where(ActionPlan.patient_id == patient_id)
                           .execution_options(populate_existing=True))
    await db.commit()
    return plan


async def _setup(world, db, wishes: dict | None = None):
    """A patient (with submitted SHM 1 wishes, if given) and a logged-in clinician."""
    patient, account = await world.patient("Kari Nordmann")
    if wishes is not None:
        await factories.wishes(db, patient.id, wishes)
    clinician = await world.staff(name="Lege Lise")
    await world.login_as(clinician)
    return patient, account, clinician


async def _start(client, patient_id: int):
    return await post_form(client, f"{_home(patient_id)}/start", token_from=_home(patient_id))


async def _add(client, patient_id: int, **changes):
    path = f"{_home(patient_id)}/measures/new"
    page = await client.get(path)
    return await post_form(client, path, MEASURE | {"draft_version": _version(page.text)} | changes, token_from=path)


async def _publish(client, patient_id: int, **form):
    page = await client.get(_home(patient_id))
    data = {"draft_version": re.findall(r'name="draft_version" value="(\d+)"', page.text)[-1]} | form
    return await post_form(client, f"{_home(patient_id)}/publish", data, token_from=_home(patient_id))


async def _started_with_measure(client, world, db):
    patient, account, clinician = await _setup(world, db)
    await _start(client, patient.id)
    await _add(client, patient.id)
    plan = await _stored(db, patient.id)
    return patient, account, clinician, plan, plan.draft["measures"][0]["uid"]


# --- Workspace and start ------------------------------------------------------------------

async def test_empty_state_then_start_shows_the_topics_beside_empty_goal_fields(client, world, db):
    patient, _, _ = await _setup(world, db, {"topics": {"suggested": ["work", "sleep"], "text": "Walk the dog again"}})
    page = await client.get(_home(patient.id))
    assert page.status_code == 200 and "No action plan yet" in page.text and "Start the plan" in page.text
    assert await audit_count(db, "plan.viewed", patient.id) == 1
    response = await _start(client, patient.id)
    assert _redirected(response, _home(patient.id))
    page = await client.get(_home(patient.id))
    assert "Start the plan" not in page.text and "Add a measure" in page.text
    doc = html(page.text)
    # issue 8: no bare topic words as goals; the patient's topics are shown beside the goal fields
    assert [doc.by_id(f"g{i}").attrs["value"] for i in range(3)] == ["", "", ""]
    topics = doc.find("aside", data_wished_topics=True)
    assert [li.text for li in topics.find_all("li")] == ["Work", "Sleep"] and "Walk the dog again" in topics.text
    assert (await _stored(db, patient.id)).draft["goals"] == []
    assert "Not published yet" in page.text
    assert await audit_count(db, "plan.started", patient.id) == 1


async def test_the_patient_page_links_to_the_plan(client, world, db):
    patient, _, _ = await _setup(world, db)
    page = await client.get(f"/clinic/patients/{patient.id}")
    assert f'href="/clinic/patients/{patient.id}/plan">Action plan</a>' in page.text


async def test_goals_are_edited_and_empty_rows_removed(client, world, db):
    patient, _, _ = await _setup(world, db, {"topics": {"suggested": ["work", "sleep"], "text": ""}})
    await _start(client, patient.id)
    page = (await client.get(_home(patient.id))).text
    first = {"draft_version": _version(page), "g0": "Work", "g1": "Sleep"}
    await post_form(client, f"{_home(patient.id)}/goals", first, token_from=_home(patient.id))
    page = (await client.get(_home(patient.id))).text
    uids = re.findall(r'name="g\d_uid" value="(g-[0-9a-f]+)"', page)
    form = {"draft_version": _version(page), "g0_uid": uids[0], "g0": "Back at work 50 %", "g1_uid": uids[1], "g1": "",
            "g2": "Sleep through the night"}
    response = await post_form(client, f"{_home(patient.id)}/goals", form, token_from=_home(patient.id))
    assert _redirected(response, _home(patient.id))
    plan = await _stored(db, patient.id)
    assert [g["text"] for g in plan.draft["goals"]] == ["Back at work 50 %", "Sleep through the night"]
    assert plan.draft["goals"][0]["uid"] == uids[0] and plan.draft_version == 3

    too_long = form | {"draft_version": "3", "g2": "x" * 301}
    response = await post_form(client, f"{_home(patient.id)}/goals", too_long, token_from=_home(patient.id))
    assert response.status_code == 422 and "at most 300 characters" in response.text
    assert "x" * 301 in response.text and response.text.count("<title>Error:") == 1


# --- Measures -------------------------------------------------------------------------------

async def test_add_edit_and_remove_a_measure(client, world, db):
    patient, _, _, plan, uid = await _started_with_measure(client, world, db)
    measure = plan.draft["measures"][0]
    assert measure["title"] == MEASURE["title"] and measure["responsible"] == "gp" and measure["due"] == "2027-04-10"
    page = (await client.get(_home(patient.id))).text
    assert MEASURE["title"] in page and f"/plan/measures/{uid}/edit" in page and "Planned" in page

    edit = f"{_home(patient.id)}/measures/{uid}/edit"
    form = (await client.get(edit)).text
    assert 'value="Physiotherapy once a week"' in form and 'value="2027-04-10"' in form
    response = await post_form(client, edit, MEASURE | {"status": "in_progress", "draft_version": _version(form)},
                               token_from=edit)
    assert _redirected(response, _home(patient.id))
    assert (await _stored(db, patient.id)).draft["measures"][0]["status"] == "in_progress"

    remove = f"{_home(patient.id)}/measures/{uid}/remove"
    confirm = await client.get(remove)
    assert confirm.status_code == 200 and "Remove “Physiotherapy once a week” from the draft?" in confirm.text
    assert (await _stored(db, patient.id)).draft["measures"]  # asking does not remove
    response = await post_form(client, remove, {"draft_version": _version(confirm.text)}, token_from=remove)
    assert _redirected(response, _home(patient.id))
    assert (await _stored(db, patient.id)).draft["measures"] == []
    assert await audit_count(db, "plan.measure_removed", patient.id) == 1
    assert (await client.get(edit)).status_code == 404


@pytest.mark.parametrize("changes,field,message", [
    ({"title": ""}, "title", "Write what the measure is."),
    ({"title": "T" * 201}, "title", "at most 200 characters"),
    ({"description": "D" * 2001}, "description", "at most 2000 characters"),
    ({"start": "2027-05-01", "due": "2027-04-01"}, "due", "same as or after the start date"),
    ({"start": "31.02.2027"}, "start", "Enter a real date"),
    ({"due": "soon"}, "due", "Enter a real date"),
    ({"timeframe": "innen " + "3" * 100}, "timeframe", "at most 100 characters"),
    ({"responsible": "the neighbour"}, "responsible", "Choose who is responsible."),
    ({"status": "forgotten"}, "status", "Choose a status."),
    ({"goal": "g-000000000000"}, "goal", "Choose one of the plan&#39;s goals."),
])
async def test_invalid_measures_are_refused_with_the_answers_kept(client, world, db, changes, field, message):
    patient, _, _ = await _setup(world, db)
    await _start(client, patient.id)
    response = await _add(client, patient.id, **({"description": "Keep this text"} | changes))
    assert response.status_code == 422
    assert message in response.text and f'href="#{field}"' in response.text
    assert "<title>Error:" in response.text
    assert "description" in changes or "Keep this text" in response.text
    for value in changes.values():
        if value and value not in ("the neighbour", "forgotten", "g-000000000000"):
            assert value in response.text
    assert (await _stored(db, patient.id)).draft["measures"] == []


async def test_a_responsible_participant_must_be_in_the_meeting(client, world, db):
    patient, _, _ = await _setup(world, db)
    await factories.meeting(db, patient.id, starts_at=utcnow() + timedelta(days=3),
                            participants=[factories.participant("nav", "Nils NAV"),
                                          factories.participant("other", "Eva Fysio")])
    await _start(client, patient.id)
    form = (await client.get(f"{_home(patient.id)}/measures/new")).text
    assert '<option value="Eva Fysio"' in form and '<option value="Nils NAV"' in form

    refused = await _add(client, patient.id, responsible="participant", participant="Ola Outsider")
    assert refused.status_code == 422 and "not in the meeting" in refused.text and "Ola Outsider" in refused.text
    assert (await _stored(db, patient.id)).draft["measures"] == []
    accepted = await _add(client, patient.id, responsible="participant", participant="Eva Fysio")
    assert _redirected(accepted, _home(patient.id))
    measure = (await _stored(db, patient.id)).draft["measures"][0]
    assert measure["responsible"] == "participant" and measure["participant"] == "Eva Fysio"
    assert "Eva Fysio" in (await client.get(_home(patient.id))).text


# --- Two clinicians ---------------------------------------------------------------------------

async def test_a_stale_measure_form_shows_both_versions_and_overwrites_nothing(client, world, db):
    patient, _, lise, _, uid = await _started_with_measure(client, world, db)
    edit = f"{_home(patient.id)}/measures/{uid}/edit"
    lise_version = _version((await client.get(edit)).text)

    await world.login_as(await world.staff(name="Lege Ola"))
    ola_form = (await client.get(edit)).text
    response = await post_form(client, edit, MEASURE | {"title": "Hydrotherapy", "draft_version": _version(ola_form)},
                               token_from=edit)
    assert _redirected(response, _home(patient.id))

    await world.login_as(lise)
    stale = await post_form(client, edit, MEASURE | {"title": "Pain school", "draft_version": lise_version},
                            token_from=edit)
    assert stale.status_code == 422
    assert "Someone else saved the plan" in stale.text and "Your changes" in stale.text
    assert "Saved meanwhile by Lege Ola at" in stale.text
    assert "Pain school" in stale.text and "Hydrotherapy" in stale.text
    assert (await _stored(db, patient.id)).draft["measures"][0]["title"] == "Hydrotherapy"
    assert await audit_count(db, "plan.save_conflict", patient.id) == 1

    # Saving the merged form again (it now carries the current version) goes through.
    again = await post_form(client, edit, MEASURE | {"title": "Pain school", "draft_version": _version(stale.text)},
                            token_from=edit)
    assert _redirected(again, _home(patient.id))
    assert (await _stored(db, patient.id)).draft["measures"][0]["title"] == "Pain school"


async def test_stale_goals_and_stale_publish_are_refused(client, world, db):
    patient, _, _, plan, _ = await _started_with_measure(client, world, db)
    old = str(plan.draft_version - 1)
    response = await post_form(client, f"{_home(patient.id)}/goals", {"draft_version": old, "g0": "My goal"},
                               token_from=_home(patient.id))
    assert response.status_code == 422 and "Someone else saved the plan" in response.text
    assert "Saved meanwhile by Lege Lise" in response.text and "My goal" in response.text
    assert (await _stored(db, patient.id)).draft["goals"] == []
    response = await post_form(client, f"{_home(patient.id)}/publish", {"draft_version": old, "label": "shm1"},
                               token_from=_home(patient.id))
    assert response.status_code == 422 and "The draft was changed while you had this page open" in response.text
    assert await db.scalar(select(func.count()).select_from(PlanVersion)) == 0
    await db.commit()


async def test_a_stale_removal_asks_again(client, world, db):
    patient, _, _, plan, uid = await _started_with_measure(client, world, db)
    remove = f"{_home(patient.id)}/measures/{uid}/remove"
    response = await post_form(client, remove, {"draft_version": str(plan.draft_version - 1)}, token_from=remove)
    assert response.status_code == 422 and "The measure is not removed" in response.text
    assert (await _stored(db, patient.id)).draft["measures"]


# --- Publishing and SHM 2 ---------------------------------------------------------------------

async def test_publish_v1_then_v2_with_a_change_note_and_the_patient_is_told(client, world, db):
    patient, _, _, _, uid = await _started_with_measure(client, world, db)
    response = await _publish(client, patient.id, label="shm1")
    assert _redirected(response, _home(patient.id))
    assert "Version 1 of the plan is published" in response.text and "1 (SHM 1)" in response.text

    refused = await _publish(client, patient.id, label="update", change_note="")
    assert refused.status_code == 422 and "Write what changed since the last version." in refused.text
    too_long = await _publish(client, patient.id, label="update", change_note="n" * 501)
    assert too_long.status_code == 422 and "n" * 501 in too_long.text
    response = await _publish(client, patient.id, label="update", change_note="New physiotherapist")
    assert _redirected(response, _home(patient.id))
    page = (await client.get(_home(patient.id))).text
    assert "2 (Update between meetings)" in page and "New physiotherapist" in page

    versions = (await db.scalars(select(PlanVersion).order_by(PlanVersion.number))).all()
    notes = (await db.scalars(select(Notification).where(Notification.patient_id == patient.id))).all()
    await db.commit()
    assert [(v.number, v.label) for v in versions] == [(1, "shm1"), (2, "update")]
    assert versions[0].content["measures"][0]["uid"] == uid
    assert [n.params for n in notes] == [{"number": "1"}, {"number": "2"}]
    assert notes[0].message == "Your action plan has a new version: version %(number)s."
    assert await audit_count(db, "plan.published", patient.id) == 2


async def test_publishing_needs_a_measure(client, world, db):
    patient, _, _ = await _setup(world, db)
    await _start(client, patient.id)
    response = await _publish(client, patient.id, label="shm1")
    assert response.status_code == 422 and "Add at least one measure" in response.text


async def test_shm2_needs_the_evaluation_then_publishes(client, world, db):
    patient, _, _, _, uid = await _started_with_measure(client, world, db)
    await _publish(client, patient.id, label="shm1")
    refused = await _publish(client, patient.id, label="shm2", change_note="Evaluated at SHM 2")
    assert refused.status_code == 422 and "These measures have no evaluation yet" in refused.text
    assert "Physiotherapy once a week" in refused.text.split("data-missing-evaluations")[1]

    path = f"{_home(patient.id)}/evaluation"
    page = await client.get(path)
    assert page.status_code == 200 and f'name="outcome_{uid}"' in page.text and "Dropped" in page.text
    invalid = await post_form(client, path, {"draft_version": _version(page.text), f"comment_{uid}": "c" * 501},
                              token_from=path)
    assert invalid.status_code == 422 and "at most 500 characters" in invalid.text
    response = await post_form(client, path, {"draft_version": _version(page.text), f"outcome_{uid}": "dropped",
                                              f"comment_{uid}": "Too far to travel"}, token_from=path)
    assert _redirected(response, _home(patient.id))
    measure = (await _stored(db, patient.id)).draft["measures"][0]
    assert measure["evaluation"] == {"outcome": "dropped", "comment": "Too far to travel"}
    assert measure["status"] == "ended"

    response = await _publish(client, patient.id, label="shm2", change_note="Evaluated at SHM 2")
    assert _redirected(response, _home(patient.id))
    shm2 = await db.scalar(select(PlanVersion).where(PlanVersion.number == 2))
    await db.commit()
    assert shm2.label == "shm2" and shm2.content["measures"][0]["evaluation"]["outcome"] == "dropped"
    assert (await _stored(db, patient.id)).draft["measures"][0]["evaluation"] is None


async def test_a_stale_evaluation_shows_both(client, world, db):
    patient, _, _, _, uid = await _started_with_measure(client, world, db)
    await _publish(client, patient.id, label="shm1")
    path = f"{_home(patient.id)}/evaluation"
    old = _version((await client.get(path)).text)
    await post_form(client, path, {"draft_version": old, f"outcome_{uid}": "kept"}, token_from=path)
    stale = await post_form(client, path, {"draft_version": old, f"outcome_{uid}": "finished"}, token_from=path)
    assert stale.status_code == 422 and "Saved meanwhile by Lege Lise" in stale.text
    table = stale.text.split('id="conflict-heading"')[1].split("</table>")[0]
    assert "Finished" in table and "Kept" in table
    assert (await _stored(db, patient.id)).draft["measures"][0]["evaluation"]["outcome"] == "kept"


# --- Progress updates -----------------------------------------------------------------------

async def test_unread_progress_updates_show_in_the_workspace_and_the_worklist(client, world, db):
    patient, account, _, plan, uid = await _started_with_measure(client, world, db)
    calm, _ = await world.patient("Rolf Rolig")
    db.add_all([MeasureUpdate(plan_id=plan.id, measure_uid=uid, by_account_id=account.id, by_role="patient",
                              status="in_progress", note="First session done", at=utcnow() - timedelta(hours=2)),
                MeasureUpdate(plan_id=plan.id, measure_uid=uid, by_account_id=account.id, by_role="patient",
                              note="It hurts less", at=utcnow() - timedelta(hours=1))])
    await db.commit()
    worklist = (await client.get("/clinic/worklist")).text
    section = worklist.split('id="progress-heading"')[1].split("</section>")[0]
    assert "Kari Nordmann" in section and "2 new updates" in section and "Rolf Rolig" not in section
    assert f'href="/clinic/patients/{patient.id}/plan"' in section
    assert await listed_count(db, "patient.list_view", patient.id) == 1

    page = (await client.get(_home(patient.id))).text
    updates = page.split("data-updates")[1].split("</ul>")[0]
    assert updates.index("It hurts less") < updates.index("First session done")  # newest first
    assert updates.count(">New<") == 2 and "status set to In progress" in updates and "Kari Nordmann" in updates
    response = await post_form(client, f"{_home(patient.id)}/updates/read", token_from=_home(patient.id))
    assert _redirected(response, _home(patient.id))
    page = (await client.get(_home(patient.id))).text
    assert ">New<" not in page.split("data-updates")[1].split("</ul>")[0]
    worklist = (await client.get("/clinic/worklist")).text
    assert "Kari Nordmann" not in worklist.split('id="progress-heading"')[1].split("</section>")[0]
    assert await audit_count(db, "plan.updates_read", patient.id) == 1


# --- Access -----------------------------------------------------------------------------------

async def test_patients_cannot_use_the_clinic_routes(client, world, db):
    patient, account, _, _, uid = await _started_with_measure(client, world, db)
    await world.login_as(account)
    base = _home(patient.id)
    for path in (base, f"{base}/measures/new", f"{base}/measures/{uid}/edit", f"{base}/evaluation"):
        assert (await client.get(path)).status_code == 403, path
    for path in (f"{base}/start", f"{base}/goals", f"{base}/publish", f"{base}/updates/read",
                 f"{base}/measures/{uid}/remove"):
        assert (await post_form(client, path, {}, token_from="/home")).status_code == 403, path


async def test_unknown_patients_and_measures_are_404(client, world, db):
    patient, _, _, _, _ = await _started_with_measure(client, world, db)
    assert (await client.get(_home(99999))).status_code == 404
    assert (await post_form(client, _home(99999) + "/start", token_from=_home(patient.id))).status_code == 404
    assert (await client.get(f"{_home(patient.id)}/measures/m-000000000000/edit")).status_code == 404
    assert (await client.get(f"{_home(patient.id)}/measures/nonsense/remove")).status_code == 404
    other, _ = await world.patient("Uten Plan")
    assert (await client.get(f"{_home(other.id)}/measures/new")).status_code == 404  # no plan yet
