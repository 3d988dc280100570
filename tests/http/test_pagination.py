"""The clinic's patient list offers the other page numbers (issue 8): the first and the last page and the
pages next to the current one, each a link named "Page 3" ("Side 3"), the current one aria-current="page";
never a bare "…" where Previous or Next would be."""

from __future__ import annotations

import pytest

from server.i18n import today_oslo
from server.pathway.service import PER_PAGE
from server.seed import build_patient
from tests.conftest import LANG_COOKIE
from tests.helpers import html

PAGES = 7


@pytest.fixture
async def seven_pages(world, db):
    db.add_all([build_patient(f"Pasient {n:03d}", 7, today_oslo()) for n in range(PER_PAGE * (PAGES - 1) + 1)])
    await db.commit()
    await world.login_as(await world.staff())


def _items(page_html: str) -> list[tuple[str, str, str]]:
    """Each item of the pagination: (visible text, accessible name, aria-current), "…" for a gap."""
    nav = html(page_html).find("nav", class_="ds-pagination")
    items = []
    for li in nav.find("ul").find_all("li"):
        link = li.find("a")
        if link is None:
            hidden = li.find(None, aria_hidden="true") or li
            items.append(("" if hidden is li else "hidden " + hidden.text, "", ""))
            continue
        items.append((link.text, link.attrs.get("aria-label", link.text), link.attrs.get("aria-current", "")))
    return items


@pytest.mark.parametrize(("page", "numbers"), [
    (1, ["1", "2", "", "7"]),
    (3, ["1", "2", "3", "4", "", "7"]),
    (4, ["1", "2", "3", "4", "5", "6", "7"]),
    (5, ["1", "", "4", "5", "6", "7"]),
    (7, ["1", "", "6", "7"]),
])
async def test_the_list_offers_first_last_and_neighbouring_pages(client, seven_pages, page, numbers):
    items = _items((await client.get(f"/clinic/patients?page={page}")).text)
    previous, *middle, following = items
    assert [text for text, _, _ in middle] == numbers
    assert [text for text, _, current in middle if current] == [str(page)]
    assert all(current in ("", "page") for _, _, current in items)
    assert all(name == f"Page {text}" for text, name, _ in middle if text)
    # Previous and Next are links, or an invisible placeholder on the first and the last page (never "…").
    assert previous[0] == ("hidden Previous" if page == 1 else "Previous")
    assert following[0] == ("hidden Next" if page == PAGES else "Next")


async def test_page_links_keep_the_search_and_are_named_in_bokmal(client, seven_pages):
    client.cookies.set(LANG_COOKIE, "nb", domain="testserver.local")
    page = (await client.get("/clinic/patients?q=Pasient&page=3")).text
    nav = html(page).find("nav", class_="ds-pagination")
    three = nav.find("a", aria_current="page")
    assert three.attrs["aria-label"] == "Side 3" and three.text == "3"
    assert nav.find("a", aria_label="Side 7").attrs["href"] == "/clinic/patients?q=Pasient&stage_filter=&page=7"
    block = await client.get("/clinic/patients?q=Pasient&page=3", headers={"HX-Request": "true",
                                                                         "HX-Target": "results"})
    assert 'aria-label="Side 4"' in block.text and "<html" not in block.text
