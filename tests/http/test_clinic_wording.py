"""The clinic's pages speak about the patient, not to them (issue 8): "Pasienten er her" on the clinic's
patient page, "Fastlegen" and "pasientens …" in the clinic's review of the wishes, while the patient's own
pages keep speaking to the patient."""

from __future__ import annotations

import re

from server.i18n import translations
from server.meetings.wishes import STEPS
from tests import factories
from tests.conftest import LANG_COOKIE
from tests.helpers import html

NB = translations("nb")
ANSWERS = {"gp": {"attend": "yes", "part": "whole"}, "nav": {"attend": "no"}, "relatives": [], "others": [],
           "place": {"choice": "gp", "note": ""}, "needs": {"hearing": True},
           "topics": {"suggested": [], "text": "Søvn"}}
SECOND_PERSON = re.compile(r"\b(du|deg|din|ditt|dine|Du|Deg|Din|Ditt|Dine|mitt|min|mine)\b")


def _main(page: str) -> str:
    return html(page).find("main").text


async def test_the_clinic_patient_page_says_the_patient_is_here(client, world):
    patient, account = await world.patient("Kari Nordmann", stage=4)
    await world.login_as(await world.staff())
    client.cookies.set(LANG_COOKIE, "nb", domain="testserver.local")
    timeline = html((await client.get(f"/clinic/patients/{patient.id}")).text).find("ol", class_="timeline").text
    assert "Pasienten er her – siden" in timeline and "Du er her" not in timeline
    await world.login_as(account)
    own = html((await client.get("/home")).text).find("ol", class_="timeline").text
    assert "Du er her" in own and "Pasienten er her" not in own


async def test_the_clinic_review_of_the_wishes_speaks_about_the_patient(client, world, db):
    patient, account = await world.patient("Kari Nordmann", stage=4)
    await factories.wishes(db, patient.id, ANSWERS)
    await world.login_as(await world.staff())
    client.cookies.set(LANG_COOKIE, "nb", domain="testserver.local")
    review = _main((await client.get(f"/clinic/patients/{patient.id}/wishes")).text)
    for heading in ("Fastlegen", "NAV-veileder", "Hvor møtet skal være", "Pasientens praktiske behov",
                    "Det viktigste for pasienten"):
        assert heading in review
    assert "Hos pasientens fastlege" in review
    for step in STEPS:  # the patient's questions ("Skal fastlegen din være med?") are not the clinic's headings
        assert NB.gettext(step.title) not in review
    assert not SECOND_PERSON.findall(review), SECOND_PERSON.findall(review)
    # The patient's own summary still asks them.
    await world.login_as(account)
    own = _main((await client.get("/meeting/wishes")).text)
    assert "Skal fastlegen din være med?" in own and "Hos pasientens fastlege" not in own
