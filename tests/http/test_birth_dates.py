"""Patients with the same name are told apart wherever the clinic picks one (issue 8): the birth date is in
every row of the patient list, the search and the worklist."""

from __future__ import annotations

import re
from datetime import date, timedelta

from server.dates import format_date_short
from server.db import utcnow
from server.i18n import today_oslo
from server.meetings.models import Invitation
from server.plan.models import MeasureUpdate
from tests import factories


def _rows_named(html: str, name: str) -> list[str]:
    return [m.group(0) for m in re.finditer(rf"{name}</a>.{{0,200}}", html, re.S)]


async def test_same_names_are_told_apart_in_the_list_and_search(client, world):
    await world.patient("Ola Hansen", stage=3, birth_date=date(1970, 1, 2))
    await world.patient("Ola Hansen", stage=3, birth_date=date(1985, 6, 7))
    await world.login_as(await world.staff("clinician"))
    for path in ("/clinic/patients", "/clinic/patients?q=Ola+Hansen"):
        rows = _rows_named((await client.get(path)).text, "Ola Hansen")
        assert len(rows) == 2, path
        assert any("2 Jan 1970" in r for r in rows)
        assert any("7 Jun 1985" in r for r in rows)


async def test_every_worklist_row_carries_the_birth_date(client, world, db):
    born = date(1966, 3, 4)
    patient, _ = await world.patient("Ola Hansen", stage=5, birth_date=born,
                                     received=today_oslo() - timedelta(weeks=11))
    await factories.wishes(db, patient.id, {"place": {"choice": "home"}})
    declined = Invitation(nonce="nonce-birth-abcdefghijklmnopqrstuv", expires_at=utcnow() + timedelta(days=30),
                          answer="declined", answered_at=utcnow())
    await factories.meeting(db, patient.id, participants=[factories.participant("gp", invitation=declined)])
    plan = await factories.plan(db, patient.id, {"goals": [], "measures": []})
    db.add(MeasureUpdate(plan_id=plan.id, measure_uid="m-x", by_role="patient", note="Bra"))
    await db.commit()
    await world.login_as(await world.staff("clinician"))
    html = (await client.get("/clinic/worklist")).text
    rows = _rows_named(html, "Ola Hansen")
    assert len(rows) >= 3  # new input, progress, answers to deal with
    assert all(format_date_short(born, "en") in row for row in rows)
