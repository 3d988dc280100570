"""Every route declares who may use it, and the access rules hold for every kind of actor."""

from __future__ import annotations

import re

import pytest
from litestar.routes import HTTPRoute
from sqlalchemy import select

from server.access.models import Credential, UserSession
from server.access.policy import ROUTE_POLICIES, Actor, route_allows
from server.app import create_app
from server.settings import Settings
from tests import factories
from tests.conftest import SECRET, csrf_token


def all_handlers():
    app = create_app(Settings(database_url="sqlite+aiosqlite://", secret_key="x"))
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                for method in sorted(handler.http_methods):
                    yield route.path, method, handler


HANDLERS = list(all_handlers())


def test_every_route_declares_an_access_policy():
    missing = [f"{method} {path}" for path, method, handler in HANDLERS
               if handler.opt.get("policy") not in ROUTE_POLICIES]
    assert not missing, f"routes without a declared access policy: {missing}"
    assert len(HANDLERS) >= 30  # the enumeration really sees the app's routes


def test_no_schema_or_docs_pages_are_exposed():
    paths = {path for path, _, _ in HANDLERS}
    assert not any(p.startswith("/schema") or "openapi" in p for p in paths)


ACTORS = ["anonymous", "patient_a", "patient_b", "clinician", "admin", "researcher", "relative_see", "relative_act",
          "relative_see_act", "relative_reminders", "relative_expired", "relative_revoked", "relative_of_b"]
ROLE_OF = {"anonymous": "anonymous", "patient_a": "patient", "patient_b": "patient",
           "clinician": "clinician", "admin": "admin", "researcher": "researcher"} | {
    name: "relative" for name in ACTORS if name.startswith("relative")}
# Relatives of patient A (scopes), except relative_of_b; expired: its end date passed; revoked: ended a
# second ago by the patient while the relative's session stays open.
RELATIVE_SCOPES = {"relative_see": ("see",), "relative_act": ("act",), "relative_see_act": ("see", "act"),
                   "relative_reminders": ("reminders",), "relative_expired": ("see", "act"),
                   "relative_revoked": ("see", "act"), "relative_of_b": ("see", "act")}
# Changes a relative may make only with the act scope (everything else that changes is the patient's own).
ACT_CHANGES = ("/plan/measures/", "/meeting/wishes")
# What a relative with see may change: marking the patient's (not private) messages read.
SEE_CHANGES = ("/inbox/read",)
# Routes whose path parameter names an object that belongs to patient A.
OWNED_BY_PATIENT_A = ("/account/passkeys/", "/account/sessions/", "/meeting/", "/plan/measures/",
                      "/research/meetings/", "/research/receipts/", "/settings/notifications/devices/", "/inbox/")


async def meeting_of(db, patient_id: int):
    """A scheduled SHM 1 for the patient with a GP participant who has an invitation link."""
    from datetime import timedelta

    from server.db import utcnow
    from server.meetings.invitations import make_token
    from server.meetings.models import Invitation

    invitation = Invitation(nonce="nonce-for-the-access-tests", expires_at=utcnow() + timedelta(days=21))
    meeting = await factories.meeting(db, patient_id, participants=[
        factories.participant("gp", "Dr. Bø", contact="bo@legekontor.no", invitation=invitation)])
    await factories.plan(db, patient_id, PLAN, draft=PLAN)
    return meeting.id, meeting.participants[0].id, make_token(SECRET, invitation)


async def research_yes_of(db, patient_id: int) -> int:
    """Patient A said yes to a research interview after a held SHM 2: the id of that answer (a receipt)."""
    from server.db import utcnow
    from server.research.models import ResearchEvent

    meeting = await factories.meeting(db, patient_id, number=2, held_at=utcnow())
    db.add(ResearchEvent(patient_id=patient_id, meeting_id=meeting.id, meeting_number=2, kind="asked", text_version=1))
    answer = ResearchEvent(patient_id=patient_id, meeting_id=meeting.id, meeting_number=2, kind="yes", text_version=1,
                           contact_method="phone")
    db.add(answer)
    await db.commit()
    answer_id = answer.id
    await db.commit()
    return answer_id


async def pending_code_for(db, account_id: int) -> int:
    """A staff code waiting for a second administrator's approval (issued by the operator)."""
    from server.access import codes
    from server.access.models import EnrollmentCode

    await codes.issue(db, SECRET, account_id, None, 14, needs_approval=True)
    await db.commit()
    code_id = await db.scalar(select(EnrollmentCode.id).where(EnrollmentCode.needs_approval.is_(True)))
    await db.commit()
    return code_id


async def device_and_message_of(db, account_id: int, patient_id: int, tag: str) -> tuple[int, int]:
    """A push device of patient A's account and a message in A's inbox."""
    from server.notify.models import Notification, PushSubscription

    device = PushSubscription(account_id=account_id, endpoint=f"https://push.example/{tag}", p256dh="p" * 87,
                              auth="a" * 22, label="Anne's phone")
    note = Notification(patient_id=patient_id, message="Hello", params={}, link="/meeting")
    db.add_all([device, note])
    await db.commit()
    ids = (device.id, note.id)
    await db.commit()
    return ids


# Patient A's published plan with one measure of their own.
PLAN = {"goals": [{"uid": "g-a0b1c2d3e4f5", "text": "Sove bedre"}],
        "measures": [{"uid": "m-a0b1c2d3e4f5", "title": "Gå tur", "description": "", "responsible": "patient",
                      "participant": "", "goal": "g-a0b1c2d3e4f5", "start": "", "due": "", "timeframe": "innen 3 måneder",
                      "status": "planned", "evaluation": None}]}


def fill_path(path: str, **values) -> str:
    """The route's path with its parameters filled in: ids given by the test, fixed values for the rest."""
    values = {"key": "place", "uid": "m-a0b1c2d3e4f5", "path": "/does-not-exist.css"} | values
    return re.sub(r"\{(\w+):\w+\}", lambda m: str(values.get(m.group(1), m.group(0))), path)


@pytest.mark.parametrize("path,method", [(p, m) for p, m, _ in HANDLERS if m in ("GET", "POST")],
                         ids=[f"{m} {p}" for p, m, _ in HANDLERS if m in ("GET", "POST")])
async def test_access_matrix(world, client, db, path, method):
    patient_a, account_a = await world.patient("Anne A")
    patient_b, account_b = await world.patient("Bjørn B")
    clinician = await world.staff("clinician", "Cecilie Clinician")
    admin = await world.staff("admin", "Arne Admin")
    researcher = await world.staff("researcher", "Rita Researcher")
    accounts = {"patient_a": account_a, "patient_b": account_b, "clinician": clinician, "admin": admin,
                "researcher": researcher}
    meeting_a, participant_a, token_a = await meeting_of(db, patient_a.id)
    research_answer_a = await research_yes_of(db, patient_a.id)
    pending_code = await pending_code_for(db, clinician.id)
    handler = next(h for p, m, h in HANDLERS if p == path and m == method)
    policy_name = handler.opt["policy"]
    from datetime import timedelta

    from server.access.models import Delegation
    from server.db import utcnow
    _, other_delegation = await world.relative(patient_a, ("see",), "Someone Else")
    relatives = {}
    for name, scopes in RELATIVE_SCOPES.items():
        target = patient_b if name == "relative_of_b" else patient_a
        ends_in = timedelta(seconds=-1) if name == "relative_expired" else None
        relatives[name] = await world.relative(target, scopes, name.replace("_", " "), ends_in=ends_in)

    for actor_name in ACTORS:
        account = accounts.get(actor_name)
        if actor_name in relatives:
            account, delegation = relatives[actor_name]
            await world.login_as_relative(account, delegation)
            if actor_name == "relative_revoked":  # the patient ends it now; the session is still open
                row = await db.get(Delegation, delegation.id)
                row.ended_at = utcnow() - timedelta(seconds=1)
                await db.commit()
        else:
            await world.login_as(account)
        # Objects that belong to patient A: a passkey and A's own session.
        db.add(Credential(account_id=account_a.id, credential_id=f"cred-{actor_name}".encode(), public_key=b"k",
                          sign_count=0, name="Anne's phone"))
        await db.commit()
        credential_id = await db.scalar(select(Credential.id).where(Credential.credential_id == f"cred-{actor_name}".encode()))
        await db.commit()
        device_a, note_a = await device_and_message_of(db, account_a.id, patient_a.id, actor_name)
        session_a = await db.scalar(select(UserSession.id).where(UserSession.account_id == account_a.id).limit(1))
        await db.commit()
        if session_a is None:
            from server.access import sessions
            session_a = (await sessions.start(db, account_a.id, "other phone"))[0].id
            await db.commit()
        url = fill_path(path, patient_id=patient_a.id, credential_id=credential_id, session_id=session_a,
                        account_id=clinician.id, code_id=pending_code, meeting_id=meeting_a,
                        participant_id=participant_a, event_id=research_answer_a, token=token_a,
                        device_id=device_a, notification_id=note_a, delegation_id=other_delegation.id)
        assert "{" not in url, f"fill in the path parameter of {path}"

        if method == "GET":
            response = await client.get(url, follow_redirects=False)
        else:
            token = await csrf_token(client, "/enroll")
            response = await client.post(url, data={"_csrf_token": token}, headers={"x-csrftoken": token},
                                         follow_redirects=False)
        status = response.status_code
        label = f"{actor_name} {method} {url} -> {status}"
        assert status < 500, label
        actor = Actor(account_id=account.id if account else None, role=ROLE_OF[actor_name])
        scopes = RELATIVE_SCOPES.get(actor_name, ())
        if actor_name in ("relative_expired", "relative_revoked") and policy_name == "patient_side":
            assert status == 403, f"ended access must be refused at once: {label}"
            assert "access has ended" in response.text, label
        elif actor_name.startswith("relative") and policy_name == "patient_side" and (
                (actor_name == "relative_of_b" and re.search(r"\{(meeting_id|uid|notification_id)", path))
                or not {"see", "act"} & set(scopes)
                or (method == "POST" and not path.startswith(SEE_CHANGES)
                    and (not path.startswith(ACT_CHANGES) or "act" not in scopes))):
            assert status in (403, 404), f"a relative may not do this: {label}"
        elif not route_allows(policy_name, actor):
            if actor_name == "anonymous":
                assert status in (303, 401), label
                if status == 303:
                    assert response.headers["location"].startswith("/login"), label
            else:
                assert status == 403, label
        elif actor_name == "patient_b" and path.startswith(OWNED_BY_PATIENT_A) and re.search(r"\{(credential_id|session_id|meeting_id|uid|event_id|device_id|notification_id)", path):
            assert status == 404, f"another patient's object must be a 404: {label}"
        else:
            assert status not in (401, 403), label


@pytest.mark.parametrize("actor_name", list(RELATIVE_SCOPES))
async def test_relatives_and_the_patients_inbox_one_rule(world, client, db, actor_name):
    """A relative with see (or act) reads, opens and marks read patient A's messages, never the private ones
    (a research request); without see, of another patient, or after the access ended: refused."""
    from datetime import timedelta

    from server.access.models import Delegation
    from server.db import utcnow
    from server.notify.models import Notification

    patient_a, _ = await world.patient("Anne A")
    patient_b, _ = await world.patient("Bjørn B")
    scopes = RELATIVE_SCOPES[actor_name]
    ends_in = timedelta(seconds=-1) if actor_name == "relative_expired" else None
    account, delegation = await world.relative(patient_b if actor_name == "relative_of_b" else patient_a, scopes,
                                               ends_in=ends_in)
    note = Notification(patient_id=patient_a.id, message="Hello", params={}, link="/meeting")
    secret = Notification(patient_id=patient_a.id, message="Research", params={}, link="/research", private=True)
    db.add_all([note, secret])
    await db.commit()
    note_id, secret_id = note.id, secret.id
    await db.commit()
    await world.login_as_relative(account, delegation)
    if actor_name == "relative_revoked":
        row = await db.get(Delegation, delegation.id)
        row.ended_at = utcnow() - timedelta(seconds=1)
        await db.commit()
    token = await csrf_token(client, "/enroll")
    opened = await client.get(f"/inbox/{note_id}", follow_redirects=False)
    private = await client.get(f"/inbox/{secret_id}", follow_redirects=False)
    marked = await client.post("/inbox/read", data={"_csrf_token": token}, follow_redirects=False)
    read = dict((await db.execute(select(Notification.id, Notification.read_at))).all())
    await db.commit()
    if actor_name in ("relative_see", "relative_act", "relative_see_act"):
        assert opened.status_code == 303 and opened.headers["location"] == "/meeting"
        assert private.status_code == 404 and marked.status_code == 303
        assert read[note_id] is not None and read[secret_id] is None  # the private message stays unread
    else:
        expected = 403 if actor_name in ("relative_expired", "relative_revoked") else 404
        assert (opened.status_code, private.status_code) == (expected, expected), actor_name
        # (patient B's relative marks B's messages read, never A's)
        assert marked.status_code == (303 if actor_name == "relative_of_b" else expected)
        assert read[note_id] is None and read[secret_id] is None
