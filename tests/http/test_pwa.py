"""The installable app over HTTP: manifest, service worker, offline page and copy, the notifications page."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from server.notify.models import PushPreferences, PushSubscription, Reminder
from tests.conftest import csrf_token, post_form
from tests.helpers import count

P256DH = "B" + "x" * 86
AUTH = "a" * 22


async def test_manifest_is_complete_with_png_icons(client):
    manifest = (await client.get("/manifest.webmanifest")).json()
    assert manifest["id"] == "/" and manifest["start_url"] == "/" and manifest["scope"] == "/"
    assert manifest["display"] == "standalone" and manifest["short_name"] == "Samhandling"
    assert manifest["theme_color"] == "#0062BA" and manifest["background_color"] == "#ffffff"
    icons = {(icon["sizes"], icon["purpose"]): icon["src"] for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= set(icons)
    for src in icons.values():
        response = await client.get(src)
        assert response.status_code == 200
        assert response.content[:4] in (b"\x89PNG", b"<svg")


async def test_service_worker_precaches_hashed_assets_and_is_never_http_cached(client):
    response = await client.get("/sw.js")
    assert response.status_code == 200 and "javascript" in response.headers["content-type"]
    assert response.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    source = response.text
    version = re.search(r'const VERSION = "([0-9a-f]{12})"', source).group(1)
    precache = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", source).group(1))
    assert "/offline" in precache and all(re.search(r"\.[0-9a-f]{12}\.", url) for url in precache if url != "/offline")
    assert version and "caches.delete(name)" in source


async def test_offline_page_has_no_personal_data_and_personal_pages_are_no_store(world, client):
    _patient, account = await world.patient("Kari Nordmann")
    await world.login_as(account)
    offline = await client.get("/offline")
    assert offline.status_code == 200 and "Kari" not in offline.text and "csrf" not in offline.text
    copy = await client.get("/offline/copy")
    assert copy.status_code == 200 and copy.headers["cache-control"] == "no-store"
    assert "data-saved-at=" in copy.text and "Last updated" in copy.text


async def test_logout_clears_the_site_cache(world, client):
    _patient, account = await world.patient()
    await world.login_as(account)
    token = await csrf_token(client, "/home")
    response = await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers.get("clear-site-data") == '"cache"'


async def test_notifications_page_saves_quiet_hours_and_text(world, client, db):
    _patient, account = await world.patient()
    await world.login_as(account)
    page = await client.get("/settings/notifications")
    assert page.status_code == 200 and 'value="21:00"' in page.text and 'value="08:00"' in page.text
    assert "<noscript>" in page.text and "Home Screen" in page.text
    response = await post_form(client, "/settings/notifications", {"quiet_start": "22.30", "quiet_end": "07:00",
                                                                   "text": "detailed"},
                               token_from="/settings/notifications")
    assert response.status_code == 200 and "saved" in response.text
    prefs = await db.get(PushPreferences, account.id)
    assert (prefs.quiet_start, prefs.quiet_end, prefs.detailed) == ("22:30", "07:00", True)
    await db.commit()
    bad = await post_form(client, "/settings/notifications", {"quiet_start": "25:99", "quiet_end": "", "text": "x"},
                          token_from="/settings/notifications")
    assert bad.status_code == 422


async def test_a_device_is_added_listed_tested_and_removed(world, client, db):
    _patient, account = await world.patient()
    await world.login_as(account)
    token = await csrf_token(client, "/settings/notifications")
    body = {"endpoint": "https://push.example.net/abc", "keys": {"p256dh": P256DH, "auth": AUTH}, "label": "Linux"}
    response = await client.post("/settings/notifications/devices", json=body, headers={"x-csrftoken": token})
    assert response.status_code == 200
    bad = await client.post("/settings/notifications/devices", json={"endpoint": "http://evil"},
                            headers={"x-csrftoken": token})
    assert bad.status_code == 400
    device = await db.scalar(select(PushSubscription).where(PushSubscription.account_id == account.id))
    await db.commit()
    page = await client.get("/settings/notifications")
    assert f'data-device="{device.id}"' in page.text
    await post_form(client, "/settings/notifications/test", token_from="/settings/notifications")
    test = await db.scalar(select(Reminder).where(Reminder.recipient_id == account.id))
    assert test.kind == "test" and test.urgent
    await db.commit()
    await post_form(client, f"/settings/notifications/devices/{device.id}/remove", token_from="/settings/notifications")
    assert await count(db, PushSubscription) == 0
