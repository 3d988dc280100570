"""Server-side sessions: fixation, timeouts, logout, ending other sessions, deactivation."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from server.access.models import UserSession
from server.access.sessions import COOKIE_NAME, hash_token
from server.db import utcnow
from tests.conftest import post_form


async def _session_count(db, account_id) -> int:
    count = await db.scalar(select(func.count()).select_from(UserSession).where(UserSession.account_id == account_id))
    await db.commit()
    return count


async def test_an_invented_session_id_is_ignored_and_never_adopted(client, db):
    client.cookies.set(COOKIE_NAME, "attacker-chosen-id", domain="testserver.local")
    response = await client.get("/home", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    # Starting a login ceremony creates a session with a server-made id, not the invented one.
    token = (await client.get("/login")).text.split('name="csrf-token" content="')[1].split('"')[0]
    response = await client.post("/login/options", json={}, headers={"x-csrftoken": token})
    assert response.status_code == 200
    issued = response.cookies.get(COOKIE_NAME) or client.cookies.get(COOKIE_NAME)
    assert issued and issued != "attacker-chosen-id"
    assert await db.scalar(select(func.count()).select_from(UserSession)
                           .where(UserSession.token_hash == hash_token("attacker-chosen-id"))) == 0


async def test_session_cookie_is_host_prefixed_secure_httponly_samesite(client, world):
    _, account = await world.patient()
    token = (await client.get("/login")).text.split('name="csrf-token" content="')[1].split('"')[0]
    response = await client.post("/login/options", json={}, headers={"x-csrftoken": token})
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(COOKIE_NAME))
    assert cookie.startswith("__Host-")
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in cookie
    assert "Domain" not in cookie
    csrf_cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "csrftoken" in v) \
        if any("csrftoken" in v for k, v in response.headers.multi_items()) else None
    if csrf_cookie:
        assert "Secure" in csrf_cookie and "HttpOnly" in csrf_cookie


async def test_idle_timeout_ends_the_session(client, world, db):
    _, account = await world.patient()
    await world.login_as(account)
    assert (await client.get("/home")).status_code == 200
    await db.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
    await db.commit()
    response = await client.get("/home", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=/home")
    assert await _session_count(db, account.id) == 0


async def test_absolute_timeout_ends_an_active_session(client, world, db):
    _, account = await world.patient()
    await world.login_as(account)
    await db.execute(update(UserSession).values(created_at=utcnow() - timedelta(hours=12, minutes=1),
                                                last_seen_at=utcnow()))
    await db.commit()
    assert (await client.get("/home", follow_redirects=False)).status_code == 303


async def test_logout_deletes_the_session_server_side(client, world, db):
    _, account = await world.patient()
    await world.login_as(account)
    stolen = client.cookies.get(COOKIE_NAME)
    response = await post_form(client, "/logout", token_from="/home")
    assert response.status_code == 200 and "/login" in str(response.url)
    assert await _session_count(db, account.id) == 0
    client.cookies.set(COOKIE_NAME, stolen, domain="testserver.local")
    assert (await client.get("/home", follow_redirects=False)).status_code == 303


async def test_user_sees_sessions_and_ends_the_others(client, world, db):
    _, account = await world.patient()
    from server.access import sessions

    await db.commit()
    other, _ = await sessions.start(db, account.id, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1")
    await db.commit()
    await world.login_as(account)
    page = await client.get("/account")
    assert "iPhone" in page.text
    response = await post_form(client, f"/account/sessions/{other.id}/end", token_from="/account")
    assert response.status_code == 200
    assert await _session_count(db, account.id) == 1
    assert (await client.get("/home")).status_code == 200  # this device stays logged in


async def test_deactivating_an_account_ends_its_sessions_at_once(client, world, db):
    admin = await world.staff("admin", "Arne Admin")
    clinician = await world.staff("clinician", "Cecilie")
    await world.login_as(clinician)
    clinician_cookie = client.cookies.get(COOKIE_NAME)
    await world.login_as(admin)
    response = await post_form(client, f"/admin/accounts/{clinician.id}/deactivate", token_from="/admin/accounts")
    assert response.status_code == 200
    assert await _session_count(db, clinician.id) == 0
    await world.login_as(None)
    client.cookies.set(COOKIE_NAME, clinician_cookie, domain="testserver.local")
    assert (await client.get("/clinic/patients", follow_redirects=False)).status_code == 303


async def test_a_session_in_use_never_ends_at_a_short_idle_limit(settings, world, db):
    """SESSION_IDLE_MINUTES=1 and a click every 40 seconds: the user stays logged in."""
    from dataclasses import replace

    from litestar.testing import AsyncTestClient

    from server.access import sessions
    from server.app import create_app
    from tests.conftest import BASE_URL

    _, account = await world.patient()
    _session, token = await sessions.start(db, account.id, "pytest")
    await db.commit()
    app = create_app(replace(settings, session_idle_minutes=1))
    async with AsyncTestClient(app=app, base_url=BASE_URL) as short:
        short.cookies.set(COOKIE_NAME, token, domain="testserver.local")
        for _click in range(4):
            # Forty seconds pass between clicks.
            row = await db.scalar(select(UserSession).where(UserSession.account_id == account.id)
                                  .execution_options(populate_existing=True))
            row.last_seen_at -= timedelta(seconds=40)
            row.created_at -= timedelta(seconds=40)
            await db.commit()
            assert (await short.get("/home", follow_redirects=False)).status_code == 200
        # Seventy seconds without a click: the session ends.
        await db.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(seconds=70)))
        await db.commit()
        assert (await short.get("/home", follow_redirects=False)).status_code == 303
