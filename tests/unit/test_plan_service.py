"""The action plan's rules: optimistic locking of the draft, publish numbering, the SHM 2 evaluation
requirement, goals seeded from the patient's wishes, and the status merge on publish."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import AuditContext
from server.db import utcnow
from server.notify.models import Notification
from server.plan import forms, service
from server.plan.models import ActionPlan, MeasureUpdate, PlanVersion
from tests import factories


def _measure(title: str, **fields) -> dict:
    return {"uid": forms.new_uid("m"), "title": title, "description": "", "responsible": "patient",
            "participant": "", "goal": "", "start": "", "due": "", "timeframe": "", "status": "planned",
            "evaluation": None} | fields


async def _plan(db, world, *measures: dict) -> tuple[ActionPlan, AuditContext, AuditContext]:
    patient, _ = await world.patient("Kari Nordmann")
    lise, ola = await world.staff(name="Lege Lise"), await world.staff(name="Lege Ola")
    ctx_lise, ctx_ola = AuditContext(lise.id, "clinician"), AuditContext(ola.id, "clinician")
    plan = await service.start_plan(db, ctx_lise, patient.id)
    if measures:
        assert await service.save_draft(db, ctx_lise, plan, plan.draft_version,
                                        {"goals": [], "measures": list(measures)}, None)
    await db.commit()
    return plan, ctx_lise, ctx_ola


def _with_title(draft: dict, title: str) -> dict:
    return service.with_measure(draft, draft["measures"][0] | {"title": title})


# --- Optimistic locking -------------------------------------------------------------------

async def test_two_clinicians_save_the_same_version_and_exactly_one_wins(db, world):
    plan, ctx_lise, ctx_ola = await _plan(db, world, _measure("Physiotherapy"))
    async with AsyncSession(db.bind, expire_on_commit=False) as lise, \
            AsyncSession(db.bind, expire_on_commit=False) as ola:
        plan_lise = await service.load_plan(lise, plan.patient_id)
        await lise.commit()  # SQLite: end the read before another connection writes
        plan_ola = await service.load_plan(ola, plan.patient_id)
        await ola.commit()
        version = plan_lise.draft_version
        assert plan_ola.draft_version == version

        assert await service.save_draft(lise, ctx_lise, plan_lise, version,
                                        _with_title(plan_lise.draft, "Physiotherapy twice a week"), "plan.measure_saved")
        await lise.commit()
        assert not await service.save_draft(ola, ctx_ola, plan_ola, version,
                                            _with_title(plan_ola.draft, "Yoga"), "plan.measure_saved")
        await ola.commit()
        # The loser now holds what is stored, to show beside their own changes.
        assert plan_ola.draft_version == version + 1
        assert plan_ola.draft["measures"][0]["title"] == "Physiotherapy twice a week"
        assert plan_ola.draft_updated_by == ctx_lise.account_id

    stored = await db.scalar(select(ActionPlan).where(ActionPlan.id == plan.id).execution_options(populate_existing=True))
    await db.commit()
    assert stored.draft_version == version + 1
    assert stored.draft["measures"][0]["title"] == "Physiotherapy twice a week"


async def test_concurrent_saves_cannot_both_win(db, world):
    plan, ctx_lise, ctx_ola = await _plan(db, world, _measure("Physiotherapy"))
    version, draft = plan.draft_version, plan.draft

    async def save(ctx: AuditContext, title: str) -> bool:
        async with AsyncSession(db.bind, expire_on_commit=False) as session:
            mine = await session.get(ActionPlan, plan.id)
            await session.commit()
            ok = await service.save_draft(session, ctx, mine, version, _with_title(draft, title), None)
            await session.commit()
            return ok

    results = await asyncio.gather(save(ctx_lise, "A"), save(ctx_ola, "B"))
    assert sorted(results) == [False, True]
    stored = await db.scalar(select(ActionPlan).where(ActionPlan.id == plan.id).execution_options(populate_existing=True))
    await db.commit()
    assert stored.draft_version == version + 1
    assert stored.draft["measures"][0]["title"] == ("A" if results[0] else "B")


async def test_a_stale_form_is_recognised():
    assert forms.stale("3", 4) and forms.stale("", 1) and forms.stale("x", 1)
    assert not forms.stale("4", 4)


# --- Publishing -----------------------------------------------------------------------------

async def test_publishing_numbers_versions_and_tells_the_patient(db, world):
    plan, ctx, _ = await _plan(db, world, _measure("Physiotherapy"))
    first = await service.publish(db, ctx, plan, plan.draft_version, "shm1", "")
    await db.commit()
    assert first.number == 1 and first.content["measures"][0]["title"] == "Physiotherapy"
    assert await service.save_draft(db, ctx, plan, plan.draft_version, _with_title(plan.draft, "Yoga"), None)
    second = await service.publish(db, ctx, plan, plan.draft_version, "update", "Yoga instead of physiotherapy")
    await db.commit()
    assert second.number == 2 and second.change_note == "Yoga instead of physiotherapy"
    assert [v.number for v in plan.versions] == [1, 2]
    assert first.content["measures"][0]["title"] == "Physiotherapy"  # a published version never changes
    notes = (await db.scalars(select(Notification).where(Notification.patient_id == plan.patient_id))).all()
    await db.commit()
    assert [n.params["number"] for n in notes] == ["1", "2"] and all(n.link == "/plan" for n in notes)


async def test_publishing_from_a_stale_draft_is_refused(db, world):
    plan, ctx, _ = await _plan(db, world, _measure("Physiotherapy"))
    stale = plan.draft_version
    assert await service.save_draft(db, ctx, plan, stale, _with_title(plan.draft, "Yoga"), None)
    assert await service.publish(db, ctx, plan, stale, "shm1", "") is None
    count = await db.scalar(select(func.count()).select_from(PlanVersion).where(PlanVersion.plan_id == plan.id))
    await db.commit()
    assert count == 0


async def test_allowed_labels_follow_the_pathway():
    assert forms.allowed_labels([]) == ["shm1"]
    assert forms.allowed_labels(["shm1"]) == ["update", "shm2"]
    assert forms.allowed_labels(["shm1", "update", "shm2"]) == ["update"]


async def test_the_shm2_version_needs_an_evaluation_of_every_measure():
    kept, dropped, removed = _measure("Physiotherapy"), _measure("Pain school"), _measure("Sleep diary")
    previous = {"goals": [], "measures": [kept, dropped, removed]}
    draft = {"goals": [], "measures": [kept, dropped, _measure("New: work training")]}  # "removed" was removed
    form = {"label": "shm2", "change_note": "Evaluated at SHM 2", "draft_version": "5"}
    errors, missing = forms.validate_publish(form, ["shm1"], draft, previous)
    assert "evaluation" in errors and [m["title"] for m in missing] == ["Physiotherapy", "Pain school"]

    evaluated = service.with_evaluations(draft, {kept["uid"]: {"outcome": "kept", "comment": ""},
                                                 dropped["uid"]: {"outcome": "dropped", "comment": "Too far away"}})
    errors, missing = forms.validate_publish(form, ["shm1"], evaluated, previous)
    assert errors == {} and missing == []
    assert [m["status"] for m in evaluated["measures"]] == ["planned", "ended", "planned"]  # dropped -> ended
    assert forms.validate_publish(form | {"change_note": ""}, ["shm1"], evaluated, previous)[0] == \
        {"change_note": "Write what changed since the last version."}


# --- Starting the plan: the patient's topics beside the goals, not as goals -----------------

async def test_starting_the_plan_leaves_the_goals_to_be_written_and_shows_the_sent_topics(db, world):
    patient, _ = await world.patient("Kari Nordmann")
    await factories.wishes(db, patient.id, {"topics": {"suggested": ["sleep"], "text": "Not sent yet"}},
                           submitted_answers={"topics": {"suggested": ["work", "bogus", "mood"],
                                                         "text": " Å gå tur med hunden "}})
    plan = await service.start_plan(db, AuditContext(None, "clinician"), patient.id)
    await db.commit()
    assert plan.draft == {"goals": [], "measures": []}
    context = await service.workspace(db, AuditContext(None, "clinician"), plan)
    await db.commit()
    assert context["wished_topics"] == {"suggested": ["Work", "Mood and mental health"], "text": "Å gå tur med hunden"}
    again = await service.start_plan(db, AuditContext(None, "clinician"), patient.id)
    await db.commit()
    assert again.id == plan.id  # starting twice keeps the plan


def test_no_wishes_no_topics():
    assert service.wished_topics(None) == {"suggested": [], "text": ""}
    assert service.wished_topics({"topics": {"suggested": [], "text": "  "}}) == {"suggested": [], "text": ""}


# --- Status merge ------------------------------------------------------------------------------

def test_a_patient_status_newer_than_the_draft_wins_on_publish():
    saved_at = utcnow()
    a, b = _measure("Walk", status="planned"), _measure("Physio", status="planned")
    draft = {"goals": [], "measures": [a, b]}
    updates = [MeasureUpdate(measure_uid=a["uid"], status="in_progress", at=saved_at + timedelta(hours=1)),
               MeasureUpdate(measure_uid=a["uid"], status="done", at=saved_at + timedelta(hours=2)),
               MeasureUpdate(measure_uid=b["uid"], status="paused", at=saved_at - timedelta(hours=1))]
    merged = service.merge_statuses(draft, updates, saved_at)
    assert [m["status"] for m in merged["measures"]] == ["done", "planned"]
    assert draft["measures"][0]["status"] == "planned"  # the draft itself is not changed
