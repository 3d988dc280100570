"""Two app processes on one PostgreSQL behave as one: a passkey sign-in started on one and finished on
the other, wishes and a plan written alternately through both (with reads hammering both meanwhile),
and the audit chain verifies afterwards, sealed by the processes' own sealers running side by side."""

from __future__ import annotations

import asyncio
import contextlib
import re

import httpx
import pytest
from sqlalchemy import func, select

from bench.load import server_process, serving
from server.access.models import Credential
from server.audit.models import AuditEvent
from server.audit.service import pending_database, verify_database
from server.meetings.models import MeetingWishes
from tests.conftest import BASE_URL, SECRET
from tests.http.test_plan_clinic import MEASURE
from tests.http.test_wishes import GP, NAV, PLACE
from tests.unit.test_passkey_payloads import RP_ID, Authenticator


async def sealed_by_the_apps(url: str) -> None:
    """Wait until the running processes' sealers have chained every event (they look twice a second, and
    every 5 s for events another process left). Not a timing test: the bound only stops a hang."""
    for _ in range(300):
        if await pending_database(url) == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("audit events were left unsealed")


class Browser:
    """One user's cookies, sent to whichever process a request goes to (as behind a load balancer)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.cookies: dict[str, str] = {"__Host-lang": "en"}

    async def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers = kwargs.pop("headers", {}) | {"cookie": cookie}
        response = await self.http.request(method, url, headers=headers, **kwargs)
        for value in response.headers.get_list("set-cookie"):
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";")[0]
        assert response.status_code < 400, (method, url, response.status_code, response.text[:300])
        return response

    async def csrf(self, base: str, path: str) -> str:
        page = await self.request("GET", base + path)
        return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)

    async def post_form(self, base: str, path: str, data: dict | None = None, token_from: str | None = None):
        token = await self.csrf(base, token_from or path)
        return await self.request("POST", base + path, data={**(data or {}), "_csrf_token": token})

    async def sign_in(self, start: str, finish: str, authenticator: Authenticator, user_handle: bytes) -> None:
        headers = {"x-csrftoken": await self.csrf(start, "/login")}
        challenge = (await self.request("POST", start + "/login/options", json={}, headers=headers)).json()["challenge"]
        verified = await self.request("POST", finish + "/login/verify", headers=headers,
                                      json={"credential": authenticator.assertion(challenge, user_handle)})
        assert verified.json()["redirect"] == "/"


async def _passkey(db, account) -> Authenticator:
    authenticator = Authenticator()
    db.add(Credential(account_id=account.id, credential_id=authenticator.credential_id,
                      public_key=authenticator.cose_public_key(), sign_count=0, name="Test"))
    await db.commit()
    return authenticator


async def test_two_processes_on_postgresql_behave_as_one(database_url, settings, world, db):
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes share one database on PostgreSQL")
    patient, patient_account = await world.patient("Kari Nordmann", stage=4)
    clinician = await world.staff(name="Lege Lise")
    patient_key, clinician_key = await _passkey(db, patient_account), await _passkey(db, clinician)
    env = {"PUBLIC_ORIGIN": BASE_URL, "WEBAUTHN_RP_ID": RP_ID, "SECRET_KEY": SECRET}
    with contextlib.ExitStack() as stack:
        a, b = (stack.enter_context(serving(settings, env=env)) for _ in range(2))
        async with httpx.AsyncClient(timeout=30) as http:
            kari, lise = Browser(http), Browser(http)
            await kari.sign_in(a, b, patient_key, patient_account.webauthn_user_id)
            await lise.sign_in(b, a, clinician_key, clinician.webauthn_user_id)

            async def reads(browser: Browser, path: str) -> None:
                await asyncio.gather(*(browser.request("GET", (a, b)[i % 2] + path) for i in range(20)))

            background = asyncio.gather(reads(kari, "/home"), reads(lise, "/clinic/worklist"))
            for step, (base, data) in zip(("gp", "nav", "place"), ((a, GP), (b, NAV), (a, PLACE)), strict=True):
                await kari.post_form(base, f"/meeting/wishes/{step}", data)
            await kari.post_form(b, "/meeting/wishes-submit", token_from="/meeting/wishes")
            home = f"/clinic/patients/{patient.id}/plan"
            await lise.post_form(a, f"{home}/start", token_from=home)
            new = await lise.request("GET", b + f"{home}/measures/new")
            version = re.search(r'name="draft_version" value="(\d+)"', new.text).group(1)
            await lise.post_form(b, f"{home}/measures/new", MEASURE | {"draft_version": version})
            page = await lise.request("GET", a + home)
            version = re.findall(r'name="draft_version" value="(\d+)"', page.text)[-1]
            await lise.post_form(a, f"{home}/publish", {"draft_version": version, "label": "shm1"},
                                 token_from=home)
            await background
            plan = await kari.request("GET", b + "/plan")
            assert MEASURE["title"] in plan.text
            await sealed_by_the_apps(database_url)  # both processes' sealers at work, neither sealed twice
    wishes = await db.scalar(select(MeetingWishes).where(MeetingWishes.patient_id == patient.id))
    assert wishes.status == "submitted"
    await db.commit()
    events = await db.scalar(select(func.count()).select_from(AuditEvent))
    await db.commit()
    checked, broken = await verify_database(database_url)
    assert broken is None and checked == events > 30


async def test_the_chain_verifies_after_a_process_is_killed_mid_load(database_url, settings, world, db):
    """kill -9 of a server while it appends audit events: what was committed is a whole chain."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes share one database on PostgreSQL")
    _patient, account = await world.patient("Kari Nordmann", stage=4)
    await world.login_as(account)
    token = world.client.cookies.get("__Host-samhandling")
    with contextlib.ExitStack() as stack:
        (victim, a), b = stack.enter_context(server_process(settings)), stack.enter_context(serving(settings))
        async with httpx.AsyncClient(timeout=30) as http:
            async def read(base: str) -> int:
                try:
                    return (await http.get(base + "/home", headers={"cookie": f"__Host-samhandling={token}"})).status_code
                except httpx.HTTPError:
                    return 0

            pending = [asyncio.ensure_future(read((a, b)[i % 2])) for i in range(200)]
            await asyncio.sleep(0.3)
            victim.kill()  # SIGKILL: no shutdown, transactions (a seal too) cut wherever they are
            statuses = await asyncio.gather(*pending)
            after = await asyncio.gather(*(read(b) for _ in range(10)))
            # What the killed process committed but never sealed is sealed by the survivor.
            await sealed_by_the_apps(database_url)
    assert victim.wait() == -9 and 0 in statuses and set(after) == {200}
    assert statuses.count(200) > 10
    checked, broken = await verify_database(database_url)
    assert broken is None and checked >= statuses.count(200)
