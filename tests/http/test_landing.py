"""The landing page (issue 8): "Jeg har fått en kode" (a first visit) is as prominent as "Logg inn med
passnøkkel" — the same kind of button in the same kind of card — and one sentence says what a passkey is."""

from __future__ import annotations

from tests.conftest import LANG_COOKIE
from tests.helpers import html

PASSKEY_SENTENCE = ("En passnøkkel er innloggingen som ligger på telefonen din – du låser den opp med fingeren, "
                    "ansiktet eller PIN-koden.")


def _style(element) -> dict[str, str]:
    """The attributes that decide how a button looks."""
    return {key: value for key, value in element.attrs.items() if key == "class" or key.startswith("data-")
            and key not in ("data-passkey-start",)}


async def test_the_first_visit_is_as_prominent_as_the_login(client):
    client.cookies.set(LANG_COOKIE, "nb", domain="testserver.local")
    landing = await client.get("/", follow_redirects=True)
    assert landing.status_code == 200 and landing.url.path == "/login"
    main = html(landing.text).find("main")
    login = next(b for b in main.find_all("button") if b.text == "Logg inn med passnøkkel")
    code = next(a for a in main.find_all("a") if a.text == "Jeg har fått en kode")
    assert code.attrs["href"] == "/enroll"
    assert "ds-button" in login.attrs["class"].split() and _style(login) == _style(code)
    cards = main.find_all("section", class_="ds-card")
    assert len(cards) == 2
    assert login in cards[0].iter() and code in cards[1].iter()
    assert cards[0].attrs["class"] == cards[1].attrs["class"] and {c.attrs.get("data-variant") for c in cards} == {None}
    assert PASSKEY_SENTENCE in main.text


async def test_the_landing_page_in_english(client):
    page = html((await client.get("/login")).text).find("main").text
    assert "A passkey is the login that stays on your phone" in page and "I have received a code" in page
