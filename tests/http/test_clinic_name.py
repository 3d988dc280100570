"""The clinic's name is a setting (CLINIC_NAME), never written into a page or a catalog (issue 8)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from server.settings import Clinic
from tests.conftest import LANG_COOKIE
from tests.http.test_invitations import _link, _meeting

SERVER = Path(__file__).resolve().parents[2] / "server"
CUSTOM = Clinic(name="Sørlandet smerteklinikk", phone="+47 38 00 00 00")


@pytest.fixture
def settings(settings):
    return replace(settings, clinic=CUSTOM)


@pytest.mark.parametrize(("lang", "invites", "place"), [
    ("nb", "Sørlandet smerteklinikk inviterer deg til et samhandlingsmøte om en pasient du følger.",
     "På Sørlandet smerteklinikk"),
    ("en", "Sørlandet smerteklinikk invites you to a collaboration meeting about a patient you follow.",
     "At Sørlandet smerteklinikk"),
])
async def test_the_invitation_names_the_clinic_from_the_setting(client, db, world, lang, invites, place):
    _, _, meeting, gp, _ = await _meeting(db, world)
    meeting.format = "clinic"
    await db.merge(meeting)
    await db.commit()
    _, token = await _link(db, gp, meeting)
    client.cookies.set(LANG_COOKIE, lang, domain="testserver.local")
    html = (await client.get(f"/invitation/{token}")).text
    assert invites in html and place in html and 'href="tel:+4738000000"' in html
    assert "St. Olav" not in html and "Smerteklinikken test" not in html


def test_no_hospital_name_is_written_into_the_code_or_the_catalogs():
    written = re.compile(r"St\.? ?Olav|Haukeland|Ullevål|Rikshospitalet", re.IGNORECASE)
    found = [str(path.relative_to(SERVER)) for path in SERVER.rglob("*")
             if path.suffix in (".py", ".html", ".po", ".pot", ".js", ".json", ".webmanifest")
             and written.search(path.read_text(encoding="utf-8"))]
    assert not found, f"a clinic's name written into: {found}"
