"""The patient's action plan: read it on the phone, update their own measures (form post and htmx),
see every version, compare two of them and print it. Another patient's plan is never reachable."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from server.dates import format_date
from server.db import utcnow
from server.plan.models import ActionPlan, MeasureUpdate, PlanVersion
from tests import factories
from tests.conftest import csrf_token, post_form
from tests.helpers import audit_count, count, html

GOALS = [{"uid": "g-sleep", "text": "Sove gjennom natten"}, {"uid": "g-work", "text": "Jobbe 50 prosent"}]


def measure(uid: str, title: str, responsible: str = "patient", **fields) -> dict:
    return {"uid": uid, "title": title, "description": fields.pop("description", ""), "responsible": responsible,
            "participant": fields.pop("participant", ""), "goal": fields.pop("goal", "g-sleep"),
            "start": fields.pop("start", ""), "due": fields.pop("due", ""), "timeframe": fields.pop("timeframe", ""),
            "status": fields.pop("status", "planned"), "evaluation": fields.pop("evaluation", None)}


V1 = {"goals": GOALS, "measures": [
    measure("m-gp", "Samtale om søvnmedisin", "gp", due="2026-03-14"),
    measure("m-walk", "Gå tur hver dag", description="Tjue minutter, helst ute", due="2026-03-14"),
    measure("m-nav", "Møte om arbeidsplassen", "nav", goal="g-work", timeframe="innen 3 måneder"),
    measure("m-physio", "Øvelser for ryggen", "participant", participant="Fysioterapeut Per Olsen"),
    measure("m-clinic", "Kurs i smertemestring", "clinic"),
    measure("m-diary", "Søvndagbok", start="2026-02-01"),
]}
V2 = {"goals": [GOALS[0] | {"text": "Sove seks timer hver natt"}, GOALS[1]], "measures": [
    measure("m-gp", "Samtale om søvnmedisin", "gp", due="2026-03-14"),
    measure("m-walk", "Gå tur hver dag", description="Tjue minutter, helst ute", due="2026-03-14",
            status="in_progress", evaluation={"outcome": "kept", "comment": "Fungerer godt"}),
    measure("m-nav", "Møte om arbeidsplassen", "nav", goal="g-work", timeframe="innen 3 måneder"),
    measure("m-physio", "Øvelser for ryggen", "participant", participant="Fysioterapeut Per Olsen"),
    measure("m-clinic", "Kurs i smertemestring", "clinic"),
    measure("m-swim", "Svømming på onsdager", due="2026-09-01"),
]}


_count, _audit = count, audit_count


async def _publish(db, patient_id: int, *contents: dict, labels=("shm1", "update", "shm2"), notes=()) -> ActionPlan:
    """Published versions written straight to the database, one week apart, the last one 10 days ago."""
    return await factories.plan(db, patient_id, *contents, labels=labels, notes=notes)


async def _updates(db, plan_id: int, uid: str) -> list[MeasureUpdate]:
    rows = list(await db.scalars(select(MeasureUpdate).where(MeasureUpdate.plan_id == plan_id,
                                                            MeasureUpdate.measure_uid == uid)))
    await db.commit()
    return rows


def _htmx(token: str) -> dict[str, str]:
    return {"HX-Request": "true", "HX-Target": "measure-m-walk", "x-csrftoken": token}


def _card(html: str, uid: str) -> str:
    match = re.search(rf'<section class="ds-card" id="measure-{uid}".*?</section>', html, re.S)
    assert match, f"no card for {uid}"
    return match.group(0)


async def test_empty_state_explains_the_plan_comes_after_meeting_1(client, world, db):
    patient, account = await world.patient("Kari Nordmann", stage=5)
    await world.login_as(account)
    page = await client.get("/plan")
    assert page.status_code == 200 and "You do not have an action plan yet" in page.text
    assert "made together with you at collaboration meeting 1" in page.text
    assert 'href="/plan/print"' not in page.text
    assert "No version of the plan has been published yet" in (await client.get("/plan/history")).text
    assert await _audit(db, "plan.viewed", patient.id) == 1


async def test_goals_first_then_my_measures_then_the_others_grouped(client, world, db):
    patient, account = await world.patient("Kari Nordmann", stage=7)
    plan = await _publish(db, patient.id, V1, V2)
    db.add_all([  # the GP marked their measure done after v2; an update from before v2 no longer counts
        MeasureUpdate(plan_id=plan.id, measure_uid="m-gp", by_role="clinician", status="done", at=utcnow()),
        MeasureUpdate(plan_id=plan.id, measure_uid="m-nav", by_role="clinician", status="paused",
                      at=utcnow() - timedelta(days=15))])
    await db.commit()
    await world.login_as(account)
    page = (await client.get("/plan")).text
    published = (await db.get(PlanVersion, 2)).published_at
    await db.commit()
    assert f"Version 2, published {format_date(published, 'en')}" in page
    order = ["Your goals", "Sove seks timer hver natt", "My measures", "Gå tur hver dag", "Svømming på onsdager",
             "What the others will do", "Your GP", "Samtale om søvnmedisin", "The pain clinic", "Kurs i smertemestring",
             "NAV", "Møte om arbeidsplassen", "Fysioterapeut Per Olsen", "Øvelser for ryggen"]
    positions = [page.index(text, page.index("<main")) for text in order]
    assert positions == sorted(positions)
    assert "Søvndagbok" not in page  # removed in v2
    walk = _card(page, "m-walk")
    assert 'data-status="in_progress"' in walk and "At the latest 14 March 2026" in walk
    assert "Goal:</strong> Sove seks timer hver natt" in walk
    assert 'data-status="done"' in _card(page, "m-gp")
    assert 'data-status="planned"' in _card(page, "m-nav") and "innen 3 måneder" in _card(page, "m-nav")
    # The patient's own measures have forms; the others' are read only.
    # One form per measure (issue 8): status and note are posted together.
    assert walk.count("<form") == 1 and 'action="/plan/measures/m-walk"' in walk
    assert 'name="status"' in walk and 'name="note"' in walk
    for uid in ("m-gp", "m-nav", "m-physio", "m-clinic"):
        assert "<form" not in _card(page, uid) and f"/plan/measures/{uid}/" not in page
    assert 'href="/plan/history"' in page and 'href="/plan/print"' in page


async def test_status_update_by_plain_form_post(client, world, db):
    patient, account = await world.patient(stage=7)
    plan = await _publish(db, patient.id, V1)
    await world.login_as(account)
    response = await post_form(client, "/plan/measures/m-walk/status", {"status": "in_progress"}, token_from="/plan")
    assert response.status_code == 200 and response.url.path == "/plan"
    assert "The status is saved." in response.text
    assert 'data-status="in_progress"' in _card(response.text, "m-walk")
    (update,) = await _updates(db, plan.id, "m-walk")
    assert (update.status, update.by_role, update.by_account_id, update.note) == ("in_progress", "patient", account.id, "")
    redirect = await post_form(client, "/plan/measures/m-walk/status", {"status": "done"}, token_from="/plan")
    assert redirect.history[0].status_code == 303 and redirect.history[0].headers["location"] == "/plan#measure-m-walk"
    unchanged = await post_form(client, "/plan/measures/m-walk/status", {"status": "done"}, token_from="/plan")
    assert "Nothing changed" in unchanged.text
    assert [u.status for u in await _updates(db, plan.id, "m-walk")] == ["in_progress", "done"]
    assert await _audit(db, "plan.measure_status_changed", patient.id) == 2


async def test_status_update_with_htmx_returns_only_the_card(client, world, db):
    patient, account = await world.patient(stage=7)
    plan = await _publish(db, patient.id, V1)
    await world.login_as(account)
    token = await csrf_token(client, "/plan")
    response = await client.post("/plan/measures/m-walk/status", data={"status": "paused", "_csrf_token": token},
                                 headers=_htmx(token))
    assert response.status_code == 200 and "<html" not in response.text
    assert response.text.strip().startswith('<section class="ds-card" id="measure-m-walk"')
    assert response.text.count("<section") == 1 and "Søvndagbok" not in response.text
    assert 'data-status="paused"' in response.text and "The status is saved." in response.text
    assert 'hx-target="closest section"' in response.text
    assert [u.status for u in await _updates(db, plan.id, "m-walk")] == ["paused"]


async def test_a_note_is_saved_and_shown_on_the_card(client, world, db):
    patient, account = await world.patient(stage=7)
    plan = await _publish(db, patient.id, V1)
    await world.login_as(account)
    response = await post_form(client, "/plan/measures/m-diary/note", {"note": "Sover litt bedre nå"}, token_from="/plan")
    assert "Your note is saved" in response.text
    assert "Sover litt bedre nå" in _card(response.text, "m-diary")
    (update,) = await _updates(db, plan.id, "m-diary")
    assert update.note == "Sover litt bedre nå" and update.status is None and update.by_role == "patient"
    token = await csrf_token(client, "/plan")
    swapped = await client.post("/plan/measures/m-diary/note", data={"note": "Enda bedre", "_csrf_token": token},
                                headers=_htmx(token))
    assert swapped.status_code == 200 and "<html" not in swapped.text
    assert swapped.text.index("Enda bedre") < swapped.text.index("Sover litt bedre nå")  # newest first
    assert await _audit(db, "plan.measure_note_added", patient.id) == 2


async def test_bad_input_gives_422_with_the_text_kept(client, world, db):
    patient, account = await world.patient(stage=7)
    plan = await _publish(db, patient.id, V1)
    await world.login_as(account)
    empty = await post_form(client, "/plan/measures/m-walk/note", {"note": "   "}, token_from="/plan")
    assert empty.status_code == 422 and "<title>Error: " in empty.text
    assert 'href="#note-m-walk"' in empty.text and "Write how it is going" in empty.text
    assert empty.text.count("data-error-summary") == 1  # at the top of the page
    long_note = "Det går " + "x" * 1000
    too_long = await post_form(client, "/plan/measures/m-walk/note", {"note": long_note}, token_from="/plan")
    assert too_long.status_code == 422 and "at most 1000 characters" in too_long.text
    assert long_note in too_long.text and 'aria-invalid="true"' in _card(too_long.text, "m-walk")
    token = await csrf_token(client, "/plan")
    bad_status = await client.post("/plan/measures/m-walk/status", data={"status": "finished", "_csrf_token": token},
                                   headers=_htmx(token))
    assert bad_status.status_code == 422 and "<html" not in bad_status.text
    assert "Choose a status" in bad_status.text and 'href="#status-m-walk"' in bad_status.text
    assert await _updates(db, plan.id, "m-walk") == []


async def test_crafted_updates_of_measures_the_patient_does_not_own_are_404(client, world, db):
    patient, account = await world.patient("Anne Aas", stage=7)
    other, _ = await world.patient("Bjørn Berg", stage=7)
    plan = await _publish(db, patient.id, V1, V2)
    other_plan = await _publish(db, other.id, {"goals": [], "measures": [measure("m-bjorn", "Bjørns tiltak")]})
    await world.login_as(account)
    for uid in ("m-gp", "m-nav", "m-physio", "m-diary", "m-bjorn", "m-nothing"):  # others', removed in v2, B's
        for kind, data in (("status", {"status": "done"}), ("note", {"note": "Ferdig"})):
            response = await post_form(client, f"/plan/measures/{uid}/{kind}", data, token_from="/plan")
            assert response.status_code == 404, (uid, kind)
    assert await _count(db, MeasureUpdate, MeasureUpdate.plan_id.in_([plan.id, other_plan.id])) == 0
    assert await _audit(db, "plan.measure_update_refused", patient.id) == 12


async def test_another_patients_plan_never_shows(client, world, db):
    anne, anne_account = await world.patient("Anne Aas", stage=7)
    bjorn, _ = await world.patient("Bjørn Berg", stage=7)
    await _publish(db, bjorn.id, {"goals": [{"uid": "g-b", "text": "Bjørns hemmelige mål"}],
                                  "measures": [measure("m-b", "Bjørns tiltak")]}, V2)
    await world.login_as(anne_account)
    for path in ("/plan", "/plan/history", "/plan/print"):
        response = await client.get(path)
        assert response.status_code == 200 and "Bjørn" not in response.text
    assert (await client.get("/plan/compare?from=1&to=2")).status_code == 404
    assert await _audit(db, "plan.viewed", bjorn.id) == 0


async def test_history_lists_every_version_and_offers_shm1_against_the_latest(client, world, db):
    patient, account = await world.patient(stage=8)
    await _publish(db, patient.id, V1, V1, V2, notes=("", "Ny dato for fastlegetimen", "Evaluert i SHM 2"))
    await world.login_as(account)
    page = (await client.get("/plan/history")).text
    for number, label in ((1, "Collaboration meeting 1"), (2, "Update between the meetings"),
                          (3, "Collaboration meeting 2")):
        assert f"Version {number}</strong>: " in page or f"Version {number}: {label}" in page
        assert f'data-version="{number}"' in page
    assert "Ny dato for fastlegetimen" in page and "Evaluert i SHM 2" in page
    assert page.index('data-version="3"') < page.index('data-version="1"')  # newest first
    assert re.search(r'name="from".*?<option value="1" selected>', page, re.S)
    assert re.search(r'name="to".*?<option value="3" selected>', page, re.S)
    assert await _audit(db, "plan.history_viewed", patient.id) == 1


async def test_compare_shm1_with_shm2_shows_exactly_the_changes(client, world, db):
    patient, account = await world.patient(stage=8)
    await _publish(db, patient.id, V1, V2, labels=("shm1", "shm2"), notes=("", "Evaluert sammen"))
    await world.login_as(account)
    page = (await client.get("/plan/compare?from=1&to=2")).text
    main = page[page.index("<main"):]
    added = re.search(r"data-measures-added.*?</section>", main, re.S).group(0)
    removed = re.search(r"data-measures-removed.*?</section>", main, re.S).group(0)
    changed = re.search(r"data-measures-changed.*?</section>", main, re.S).group(0)
    assert "Svømming på onsdager" in added and "At the latest 1 September 2026" in added
    assert "Søvndagbok" in removed
    assert re.findall(r'data-measure="([^"]+)"', changed) == ["m-walk"]
    assert re.findall(r'data-field="([^"]+)"', changed) == ["status"]
    assert "Version 1: Planned" in changed and "Version 2: In progress" in changed
    assert "Sove gjennom natten" in main and "Sove seks timer hver natt" in main  # the goal's text changed
    assert "Jobbe 50 prosent" not in main
    for unchanged in ("Samtale om søvnmedisin", "Møte om arbeidsplassen", "Øvelser for ryggen", "Kurs i smertemestring"):
        assert unchanged not in main
    assert "data-measures-moved" not in main
    evaluation = re.search(r"data-evaluations.*?</section>", main, re.S).group(0)
    assert "Gå tur hver dag" in evaluation and "Kept" in evaluation and "Fungerer godt" in evaluation
    assert await _audit(db, "plan.compared", patient.id) == 1


async def test_compare_same_version_unknown_versions_and_defaults(client, world, db):
    patient, account = await world.patient(stage=8)
    await _publish(db, patient.id, V1, V2, labels=("shm1", "shm2"))
    await world.login_as(account)
    assert "You chose the same version twice" in (await client.get("/plan/compare?from=2&to=2")).text
    for query in ("from=1&to=7", "from=0&to=2", "from=x&to=2", "from=1&to=-1"):
        assert (await client.get(f"/plan/compare?{query}")).status_code == 404, query
    reversed_order = (await client.get("/plan/compare?from=2&to=1")).text
    assert 'data-compared="1-2"' in reversed_order
    assert 'data-compared="1-2"' in (await client.get("/plan/compare")).text


async def test_print_view_has_the_name_birth_date_and_every_measure(client, world, db):
    patient, account = await world.patient("Kari Nordmann", stage=7)
    plan = await _publish(db, patient.id, V1)
    db.add(MeasureUpdate(plan_id=plan.id, measure_uid="m-walk", by_role="patient", status="done", at=utcnow()))
    await db.commit()
    await world.login_as(account)
    page = (await client.get("/plan/print")).text
    assert "Kari Nordmann" in page and format_date(patient.birth_date, "en") in page
    assert "Version 1" in page and "Collaboration meeting 1" in page
    for m in V1["measures"]:
        assert f'data-measure="{m["uid"]}"' in page and m["title"] in page
    row = re.search(r'<tr data-measure="m-walk">.*?</tr>', page, re.S).group(0)
    assert 'data-status="done"' in row and "Kari Nordmann" in row
    assert "Fysioterapeut Per Olsen" in page and "innen 3 måneder" in page and "1 February 2026" in page
    assert re.search(r'<script src="/static/js/print\.\w+\.js" defer></script>', page)
    assert "data-print hidden" in page and "onclick" not in page
    assert "<form" not in page[page.index("<main"):]
    assert await _audit(db, "plan.printed", patient.id) == 1


async def test_clinicians_do_not_use_the_patient_plan(client, world):
    await world.login_as(await world.staff())
    assert (await client.get("/plan", follow_redirects=False)).status_code == 403


# --- Status and note together (issue 8: pressing one button used to drop the other change) ----------

async def test_status_and_note_are_saved_together_without_javascript(client, world, db):
    patient, account = await world.patient(stage=7)
    plan = await _publish(db, patient.id, V1)
    await world.login_as(account)
    response = await post_form(client, "/plan/measures/m-walk", {"status": "in_progress", "note": "Går bedre"},
                               token_from="/plan")
    assert response.status_code == 200 and "The status and your note are saved." in response.text
    walk = _card(response.text, "m-walk")
    assert 'data-status="in_progress"' in walk and "Går bedre" in walk
    (update,) = await _updates(db, plan.id, "m-walk")
    assert (update.status, update.note) == ("in_progress", "Går bedre")
    assert await _audit(db, "plan.measure_status_changed", patient.id) == 1
    assert await _audit(db, "plan.measure_note_added", patient.id) == 1


async def test_status_and_note_are_saved_together_with_htmx(client, world, db):
    patient, account = await world.patient(stage=7)
    plan = await _publish(db, patient.id, V1)
    await world.login_as(account)
    token = await csrf_token(client, "/plan")
    response = await client.post("/plan/measures/m-walk", data={"status": "done", "note": "Ferdig!", "_csrf_token": token},
                                 headers={"HX-Request": "true", "HX-Target": "measure-m-walk"})
    assert response.status_code == 200 and "<html" not in response.text
    assert 'data-status="done"' in response.text and "Ferdig!" in response.text
    (update,) = await _updates(db, plan.id, "m-walk")
    assert (update.status, update.note) == ("done", "Ferdig!")


async def test_a_rejected_status_keeps_the_note_the_patient_typed(client, world, db):
    patient, account = await world.patient(stage=7)
    plan = await _publish(db, patient.id, V1)
    await world.login_as(account)
    token = await csrf_token(client, "/plan")
    response = await client.post("/plan/measures/m-walk", data={"status": "finished", "note": "Mitt notat",
                                                                 "_csrf_token": token})
    assert response.status_code == 422
    assert ">Mitt notat</textarea>" in _card(response.text, "m-walk")
    assert await _updates(db, plan.id, "m-walk") == []


async def test_the_clinicians_note_on_the_latest_version_is_on_the_plan_page(client, world, db):
    """Issue 8: the note was only in the history."""
    patient, account = await world.patient("Kari Nordmann", stage=8)
    await _publish(db, patient.id, V1, V2, notes=("Første versjon", "Svømming er lagt til, søvnmålet er endret"))
    await world.login_as(account)
    doc = html((await client.get("/plan")).text)
    note = doc.find(None, data_change_note=True)
    assert note is not None
    assert note.text == "The clinic's note on this version: Svømming er lagt til, søvnmålet er endret"
    assert "Første versjon" not in doc.text  # an older version's note stays in the history


async def test_no_note_no_box(client, world, db):
    patient, account = await world.patient("Kari Nordmann", stage=7)
    await _publish(db, patient.id, V1)
    await world.login_as(account)
    assert html((await client.get("/plan")).text).find(None, data_change_note=True) is None
