"""Every HTML page of the app, enumerated from the router, opened at 360 px by an actor allowed to see it,
passes axe-core (WCAG 2.0/2.1/2.2 A and AA and axe's best practices) and the layout checks of tests/e2e/layout.py:
a header of at most 15 % of the screen with 44 px targets and a marked current page, reflow at 320 px, headings
that never break a word without a hyphen (320 and 360 px), clinic tables that fit at 1280 and 1024 px.
A new page is covered without anyone remembering to add it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from litestar.routes import HTTPRoute

from server.access import codes
from server.access.policy import ADMIN, AUTHENTICATED, CLINICIAN, PATIENT, PATIENT_SIDE, PUBLIC, RESEARCHER
from server.access.service import create_account
from server.app import create_app
from server.db import utcnow
from server.i18n import today_oslo
from server.settings import Settings
from tests import factories
from tests.conftest import SECRET
from tests.e2e.layout import check_page
from tests.e2e.test_walking_skeleton import login_cookie

pytestmark = pytest.mark.e2e
NOT_PAGES = ("/static/", "/manifest.webmanifest", "/healthz", ".ics", ".csv", "/sw.js")


def get_pages() -> list[tuple[str, str]]:
    app = create_app(Settings(database_url="sqlite+aiosqlite://", secret_key="x"))
    pages = []
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                if "GET" in handler.http_methods and not any(part in route.path for part in NOT_PAGES):
                    pages.append((route.path, handler.opt["policy"]))
    return pages


def build_world(server):
    """Patient A with wishes, a scheduled SHM 1 with an invitation, a published plan; staff accounts."""

    async def work(db):
        from server.meetings.invitations import make_token
        from server.meetings.models import Invitation
        from server.seed import build_patient

        patient = build_patient("Kari Nordmann", 6, today_oslo() - timedelta(weeks=20))
        db.add(patient)
        await db.flush()
        ids = {"patient": (await create_account(db, "patient", "Kari Nordmann", patient.id)).id,
               "clinician": (await create_account(db, "clinician", "Lege Lise Lund")).id,
               "admin": (await create_account(db, "admin", "Admin Arne")).id, "patient_id": patient.id,
               "researcher": (await create_account(db, "researcher", "Forsker Frida")).id}
        # A staff code waiting for approval, so that the admin page shows its approval table.
        other_admin = await create_account(db, "admin", "Admin Berit")
        await codes.issue(db, SECRET, ids["clinician"], other_admin.id, 14, needs_approval=True)
        answers = {"gp": {"attend": "yes", "part": "whole"}, "nav": {"attend": "yes", "part": "part", "part_note": ""},
                   "place": {"choice": "home", "note": ""}, "topics": {"suggested": ["sleep"], "text": "Sove bedre"}}
        await factories.wishes(db, patient.id, answers)
        invitation = Invitation(nonce="axe-nonce-0123456789", expires_at=utcnow() + timedelta(days=11))
        meeting = await factories.meeting(
            db, patient.id, starts_at=utcnow() + timedelta(days=10), duration_minutes=90,
            video_link="https://video.example.no/m", segments=[("Tilbakemelding fra utredningen", [0])],
            participants=[factories.participant("gp", "Fastlege Berit Bø", contact="bo@legekontor.no",
                                                invitation=invitation)])
        # Unread messages: the header's «Meldinger» carries a two-digit count on every page.
        from server.notify.models import Notification
        db.add_all([Notification(patient_id=patient.id, message="This is a test notification from Samhandling.",
                                 params={}, link="/settings/notifications") for _ in range(12)])
        gp = meeting.participants[0]
        ids |= {"meeting": meeting.id, "participant": gp.id, "token": make_token(SECRET, invitation),
                "uid": await _plan(db, patient.id), **await _relative(db, patient)} | await _research(db, patient.id)
        return ids

    return server.run(work)


async def _relative(db, patient) -> dict:
    """Ola, Kari's partner, with see and act: the relatives pages and the banner on her pages."""
    from server.access import delegations
    from server.access.models import Credential
    from server.audit.service import AuditContext

    ola = await create_account(db, "relative", "Ola Nordmann")
    db.add(Credential(account_id=ola.id, credential_id=b"ola-phone", public_key=b"k", sign_count=0,
                      name="Phone"))  # an account without a passkey never acts for anyone
    delegation, _ = await delegations.give(db, SECRET, AuditContext(None, "patient"), patient.id, patient.name,
                                           "Ola Nordmann", "partner", frozenset({"see", "act"}),
                                           delegations.default_end())
    await delegations.redeem(db, AuditContext(ola.id, "relative"), delegation.id, ola.id)
    return {"relative": ola.id, "delegation": delegation.id}


async def _plan(db, patient_id: int) -> str:
    content = {"goals": [{"uid": "g-0123456789ab", "text": "Sove hele natten"}],
               "measures": [{"uid": "m-0123456789ab", "title": "Gå tur hver dag", "description": "20 minutter",
                             "responsible": "patient", "participant": "", "goal": "g-0123456789ab", "start": "",
                             "due": (today_oslo() + timedelta(days=60)).isoformat(), "timeframe": "",
                             "status": "in_progress", "evaluation": None}]}
    await factories.plan(db, patient_id, content, content, draft=content, notes=("", "Ingen endring"),
                         last_published=timedelta(0))
    return "m-0123456789ab"


async def _research(db, patient_id: int) -> dict:
    """Two held meetings: one request answered yes (a receipt, an active yes), one still open (the form)."""
    from server.research.models import ResearchEvent

    answered = await factories.meeting(db, patient_id, number=2, starts_at=utcnow() - timedelta(days=1),
                                       held_at=utcnow())
    open_one = await factories.meeting(db, patient_id, number=2, starts_at=utcnow() - timedelta(hours=1),
                                       held_at=utcnow())
    yes = ResearchEvent(patient_id=patient_id, meeting_id=answered.id, meeting_number=2, kind="yes", text_version=1,
                        contact_method="phone", contact_when="Etter kl. 15")
    db.add_all([ResearchEvent(patient_id=patient_id, meeting_id=m.id, meeting_number=2, kind="asked", text_version=1)
                for m in (answered, open_one)] + [yes])
    await db.commit()
    return {"research_meeting": open_one.id, "research_event": yes.id}


def fill(path: str, ids: dict) -> str:
    if path.startswith("/research/meetings/"):
        return path.replace("{meeting_id:int}", str(ids["research_meeting"]))
    return (path.replace("{patient_id:int}", str(ids["patient_id"]))
            .replace("{event_id:int}", str(ids["research_event"]))
            .replace("{meeting_id:int}", str(ids["meeting"]))
            .replace("{participant_id:int}", str(ids["participant"]))
            .replace("{account_id:int}", str(ids["clinician"]))
            .replace("{token:str}", ids["token"])
            .replace("{uid:str}", ids["uid"])
            .replace("{key:str}", "nav")
            .replace("{credential_id:int}", "0"))


def careful_phone(phone):
    """A phone whose every page is also checked with axe's best-practice rules (landmark-unique, region, ...)."""
    device = phone()
    device.best_practice = True
    return device


def test_every_page_passes_axe(phone, live_server):
    ids = build_world(live_server)
    devices = {PUBLIC: careful_phone(phone)}
    for policy_name, role in ((PATIENT, "patient"), (CLINICIAN, "clinician"), (ADMIN, "admin"),
                              (RESEARCHER, "researcher")):
        devices[policy_name] = careful_phone(phone)
        login_cookie(devices[policy_name], live_server, ids[role])
    devices[AUTHENTICATED] = devices[PATIENT_SIDE] = devices[PATIENT]
    checked, problems, menu_seen = [], [], set()
    for path, policy_name in get_pages():
        if "{credential_id:int}" in path:
            continue  # needs a real passkey: covered by the passkey flows
        if "{notification_id:int}" in path:
            continue  # opens a message and redirects: covered by tests/http/test_push.py
        url = fill(path, ids) + ("?number=2" if path.endswith("/meetings/new") else "")
        url += "?from=1&to=2" if path == "/plan/compare" else ""
        device = devices[policy_name]
        response = device.goto(url)
        assert response.status < 400, f"{policy_name} {url} -> {response.status}"
        checked.append(url)
        problems += check_page(device.page, wide=policy_name in (CLINICIAN, ADMIN, RESEARCHER),
                               menu=id(device) not in menu_seen)
        menu_seen.add(id(device))
    assert len(checked) >= 30, checked
    # The relative's pages: whom they represent, Kari's pages with the banner, and access ended.
    relative = careful_phone(phone)
    login_cookie(relative, live_server, ids["relative"])
    relative.goto("/relatives")
    relative.page.get_by_role("button", name="Gå til siden til Kari Nordmann").click()
    relative.page.get_by_text("Du ser Kari Nordmanns side som pårørende.").wait_for()
    relative.check_a11y()
    problems += check_page(relative.page, wide=False, menu=True)
    for path, policy_name in get_pages():
        if policy_name in (PATIENT_SIDE, AUTHENTICATED) and "{" not in path and path != "/plan/compare":
            assert relative.goto(path).status < 400, path
            problems += [f"relative {p}" for p in check_page(relative.page, wide=False)]
    assert not problems, "\n".join(problems)

    async def end(db):
        from server.access.models import Delegation
        (await db.get(Delegation, ids["delegation"])).ended_at = utcnow()

    live_server.run(end)
    assert relative.goto("/plan").status == 403
    relative.page.get_by_role("heading", name="Tilgangen er avsluttet").wait_for()
    devices["relative"] = relative
    for device in set(devices.values()):
        assert not device.console_errors, device.console_errors
