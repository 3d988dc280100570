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


ACTORS = ["anonymous", "patient_a", "patient_b", "clinician", "admin", "relative_see", "relative_act",
          "relative_see_act", "relative_reminders", "relative_expired", "relative_revoked", "relative_of_b"]
ROLE_OF = {"anonymous": "anonymous", "patient_a": "patient", "patient_b": "patient",
           "clinician": "clinician", "admin": "admin"} | {name: "relative" for name in ACTORS if name.startswith("relative")}
# Relatives of patient A (scopes), except relative_of_b; expired: its end date passed; revoked: ended a
# second ago by the patient while the relative's session stays open.
RELATIVE_SCOPES = {"relative_see": ("see",), "relative_act": ("act",), "relative_see_act": ("see", "act"),
                   "relative_reminders": ("reminders",), "relative_expired": ("see", "act"),
                   "relative_revoked": ("see", "act"), "relative_of_b": ("see", "act")}
# Changes a relative may make only with the act scope (everything else that changes is the patient's own).
ACT_CHANGES = ("/plan/measures/", "/meeting/wishes")
# Routes whose path parameter names an object that belongs to patient A.
OWNED_BY_PATIENT_A = ("/account/passkeys/", "/account/sessions/", "/meeting/", "/plan/measures/")


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


async def pending_code_for(db, account_id: int) -> int:
    """A staff code waiting for a second administrator's approval (issued by the operator)."""
    from server.access import codes
    from server.access.models import EnrollmentCode

    await codes.issue(db, SECRET, account_id, None, 14, needs_approval=True)
    await db.commit()
    code_id = await db.scalar(select(EnrollmentCode.id).where(EnrollmentCode.needs_approval.is_(True)))
    await db.commit()
    return code_id


# Patient A's published plan with one measure of their own.
PLAN = {"goals": [{"uid": "g-a0b1c2d3e4f5", "text": "Sove bedre"}],
        "measures": [{"uid": "m-a0b1c2d3e4f5", "title": "Gå tur", "description": "", "responsible": "patient",
                      "participant": "", "goal": "g-a0b1c2d3e4f5", "start": "", "due": "", "timeframe": "innen 3 måneder",
                      "status": "planned", "evaluation": None}]}


@pytest.mark.parametrize("path,method", [(p, m) for p, m, _ in HANDLERS if m in ("GET", "POST")],
                         ids=[f"{m} {p}" for p, m, _ in HANDLERS if m in ("GET", "POST")])
async def test_access_matrix(world, client, db, path, method):
    patient_a, account_a = await world.patient("Anne A")
    patient_b, account_b = await world.patient("Bjørn B")
    clinician = await world.staff("clinician", "Cecilie Clinician")
    admin = await world.staff("admin", "Arne Admin")
    accounts = {"patient_a": account_a, "patient_b": account_b, "clinician": clinician, "admin": admin}
    meeting_a, participant_a, token_a = await meeting_of(db, patient_a.id)
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
        session_a = await db.scalar(select(UserSession.id).where(UserSession.account_id == account_a.id).limit(1))
        await db.commit()
        if session_a is None:
            from server.access import sessions
            session_a = (await sessions.start(db, account_a.id, "other phone"))[0].id
            await db.commit()
        url = (path.replace("{patient_id:int}", str(patient_a.id))
                   .replace("{credential_id:int}", str(credential_id))
                   .replace("{session_id:int}", str(session_a))
                   .replace("{account_id:int}", str(clinician.id))
                   .replace("{code_id:int}", str(pending_code))
                   .replace("{delegation_id:int}", str(other_delegation.id))
                   .replace("{meeting_id:int}", str(meeting_a))
                   .replace("{participant_id:int}", str(participant_a))
                   .replace("{token:str}", token_a)
                   .replace("{key:str}", "place")
                   .replace("{uid:str}", "m-a0b1c2d3e4f5")
                   .replace("{path:path}", "/does-not-exist.css"))
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
                (actor_name == "relative_of_b" and re.search(r"\{(meeting_id|uid)", path)) or not {"see", "act"} & set(scopes)
                or (method == "POST" and (not path.startswith(ACT_CHANGES) or "act" not in scopes))):
            assert status in (403, 404), f"a relative may not do this: {label}"
        elif not route_allows(policy_name, actor):
            if actor_name == "anonymous":
                assert status in (303, 401), label
                if status == 303:
                    assert response.headers["location"].startswith("/login"), label
            else:
                assert status == 403, label
        elif actor_name == "patient_b" and path.startswith(OWNED_BY_PATIENT_A) and re.search(r"\{(credential_id|session_id|meeting_id|uid)", path):
            assert status == 404, f"another patient's object must be a 404: {label}"
        else:
            assert status not in (401, 403), label
