"""The phone layout in use: the header's "Meny" with and without JavaScript, and focus that stays where the person
was after an htmx swap (keyboard only). The measurements on every page are in test_every_page_axe.py."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import wait_until
from tests.e2e.test_every_page_axe import build_world
from tests.e2e.test_walking_skeleton import login_cookie

pytestmark = pytest.mark.e2e

FOCUSED = """() => {
  const el = document.activeElement;
  return {tag: el.tagName.toLowerCase(), id: el.id, role: el.getAttribute('role'), text: el.textContent.trim().slice(0, 80)};
}"""


def settled(page) -> dict:
    """What has focus once the swap has settled (htmx settles 20 ms after swapping); body if nothing took it."""
    wait_until(page, "() => document.activeElement !== document.body && !document.querySelector('.htmx-settling')",
               timeout=2000)  # if it never settles, the caller's assertion on what has focus says so
    return page.evaluate(FOCUSED)


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab from the top of the page until the element matching `selector` has focus."""
    page.locator("body").focus()
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} never got focus with Tab")


def test_focus_stays_where_the_person_was_after_an_htmx_swap(phone, live_server):
    ids = build_world(live_server)
    patient = phone()
    login_cookie(patient, live_server, ids["patient"])
    patient.goto("/plan")
    page = patient.page
    uid = ids["uid"]
    # Keyboard only: Tab to the measure's status, change it with the arrow keys, write a note, save with Enter.
    tab_to(page, f"#status-{uid}")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    page.keyboard.type("Går fint")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["tag"] == "button"
    page.keyboard.press("Enter")
    card = page.locator(f"#measure-{uid}")
    expect(card.get_by_role("status")).to_be_visible()
    focused = settled(page)
    # Not dropped to <body> (19 Tabs back before): on the card's status message, which says what happened.
    assert focused["tag"] != "body", focused
    assert focused["role"] == "status" and page.evaluate(f"document.getElementById('measure-{uid}').contains("
                                                         "document.activeElement)"), focused
    # The next Tab goes on inside the same card, not from the top of the page.
    page.keyboard.press("Tab")
    assert page.evaluate(f"document.getElementById('measure-{uid}').contains(document.activeElement)")
    patient.check_a11y()

    # Elsewhere: the clinic's stage move answered with an error is swapped in place; focus goes to the
    # error summary, and the next Tab reaches the form it points to.
    clinic = phone()
    login_cookie(clinic, live_server, ids["clinician"])
    clinic.goto(f"/clinic/patients/{ids['patient_id']}")
    cp = clinic.page
    tab_to(cp, "#to_stage")
    cp.keyboard.press("Home")  # stage 1: going back needs a reason, which is left empty
    tab_to(cp, "#stage-move button[type=submit]")
    cp.keyboard.press("Enter")
    expect(cp.locator("#stage-move [data-error-summary]")).to_be_visible()
    focused = settled(cp)
    assert focused["tag"] != "body", focused
    assert cp.evaluate("document.getElementById('stage-move').contains(document.activeElement)"), focused
    for device in (patient, clinic):
        assert not device.console_errors, device.console_errors


def test_the_menu_opens_and_closes_with_the_keyboard(phone, live_server):
    ids = build_world(live_server)
    relative_free = phone()
    login_cookie(relative_free, live_server, ids["patient"])
    relative_free.goto("/home")
    page = relative_free.page
    menu = page.locator("details[data-site-menu]")
    tab_to(page, "details[data-site-menu] > summary")
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("open", "")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('details[data-site-menu]') !== null")
    relative_free.check_a11y()
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", re.compile(".*"))
    assert page.evaluate("document.activeElement.matches('details[data-site-menu] > summary')")
    # Focus that leaves the open menu closes it, so the panel never covers what has focus.
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("open", "")
    page.locator("#main").focus()
    expect(menu).not_to_have_attribute("open", re.compile(".*"))


def test_the_menu_works_without_javascript(phone, live_server):
    ids = build_world(live_server)
    device = phone(javascript=False)
    login_cookie(device, live_server, ids["patient"])
    device.goto("/plan")
    page = device.page
    header = page.locator("header")
    assert header.bounding_box()["height"] <= 111
    # The four places used most are always in view; the current one is marked.
    nav = page.get_by_role("navigation", name="Hovedmeny")
    for name in ("Forløp", "Møte", "Tiltaksplan"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Meldinger (12 uleste)", exact=True)).to_be_visible()  # the count, said
    expect(nav.get_by_role("link", name="Tiltaksplan", exact=True)).to_have_attribute("aria-current", "page")
    # The rest is behind "Meny", a <details> that needs no script.
    expect(page.get_by_role("link", name="Min konto")).to_be_hidden()
    device.open_menu()
    page.get_by_role("link", name="Min konto").click()
    expect(page).to_have_url(re.compile("/account$"))
    device.check_a11y()
    device.open_menu()
    page.get_by_role("button", name="Logg ut").click()
    expect(page.get_by_role("heading", name="Logg inn i Samhandling")).to_be_visible()
