"""Labels are stored as keys and translated when shown (issue 8): a helper role chosen in bokmål as
"Fysioterapeut" is stored as the key and never reaches the Norwegian pages as "Physiotherapist"."""

from __future__ import annotations

from sqlalchemy import select

from server.meetings.models import MeetingParticipant
from server.meetings.wishes import role_key
from tests import factories
from tests.conftest import LANG_COOKIE
from tests.http.test_meetings import _schedule


def test_role_key_recognises_the_label_in_every_language():
    assert role_key("Fysioterapeut") == role_key("physiotherapist") == role_key("Physiotherapist ") \
        == "physiotherapist"
    assert role_key("Kiropraktor") == "Kiropraktor"  # free text stays as typed


async def test_role_chosen_in_the_wishes_is_shown_in_the_readers_language(client, world, db):
    patient, account = await world.patient(stage=4)
    await factories.wishes(db, patient.id, {"others": [{"name": "Eva Fysio", "role": "physiotherapist",
                                                        "contact": "e@f.no", "part": "whole"}]})
    await world.login_as(await world.staff("clinician", "Lege Lise"))
    client.cookies.set(LANG_COOKIE, "nb", domain="testserver.local")
    form_page = (await client.get(f"/clinic/patients/{patient.id}/meetings/new")).text
    assert 'value="Fysioterapeut"' in form_page and "Physiotherapist" not in form_page
    response = await _schedule(client, patient.id, p3_kind="other", p3_name="Eva Fysio", p3_role="Fysioterapeut",
                               p3_contact="e@f.no", p3_part="whole")
    assert response.status_code == 200
    stored = await db.scalar(select(MeetingParticipant.role).where(MeetingParticipant.name == "Eva Fysio"))
    await db.commit()
    assert stored == "physiotherapist"
    await world.login_as(account)
    client.cookies.set(LANG_COOKIE, "nb", domain="testserver.local")
    page = (await client.get("/meeting")).text
    assert "Eva Fysio (Fysioterapeut)" in page and "Physiotherapist" not in page
    client.cookies.set(LANG_COOKIE, "en", domain="testserver.local")
    assert "Eva Fysio (Physiotherapist)" in (await client.get("/meeting")).text
