"""Security defaults a browser enforces: headers, CSRF, caching, compression."""

from __future__ import annotations

import re

from tests.conftest import csrf_token, post_form


async def test_every_page_has_strict_security_headers(client):
    response = await client.get("/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "camera=(self)" in response.headers["permissions-policy"] and "geolocation=()" in response.headers["permissions-policy"]
    assert response.headers["strict-transport-security"].startswith("max-age=")  # served over https here


async def test_pages_have_no_inline_script_or_style(client, world):
    _, account = await world.patient()
    await world.login_as(account)
    for path in ("/home", "/account"):
        html = (await client.get(path)).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert " style=" not in html and "<style" not in html, path
        assert re.search(r"\son[a-z]+=", html) is None, path


async def test_patient_pages_are_not_cached(client, world):
    _, account = await world.patient()
    await world.login_as(account)
    response = await client.get("/home")
    assert response.headers["cache-control"] == "no-store"
    assert "HX-Request" in response.headers["vary"]


async def test_form_post_without_csrf_token_is_refused_and_changes_nothing(client, world):
    patient, _ = await world.patient()
    clinician = await world.staff()
    await world.login_as(clinician)
    await client.get("/clinic/patients")
    response = await client.post(f"/clinic/patients/{patient.id}/stage", data={"to_stage": "5", "version": "1"})
    assert response.status_code == 403
    page = await client.get(f"/clinic/patients/{patient.id}")
    assert "Stage 4 of 9" in page.text


async def test_htmx_post_with_csrf_header_is_accepted(client, world):
    patient, _ = await world.patient(stage=3)
    clinician = await world.staff()
    await world.login_as(clinician)
    token = await csrf_token(client, f"/clinic/patients/{patient.id}")
    response = await client.post(f"/clinic/patients/{patient.id}/stage", data={"to_stage": "4", "version": "1"},
                                 headers={"x-csrftoken": token, "HX-Request": "true", "HX-Target": "stage-move"})
    assert response.status_code == 200
    assert response.headers["hx-location"] == f"/clinic/patients/{patient.id}"


async def test_static_files_are_fingerprinted_immutable_and_compressed(client):
    html = (await client.get("/login")).text
    css = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', html).group(1)
    response = await client.get(css, headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "immutable" in response.headers["cache-control"]
    assert response.headers.get("content-encoding") == "gzip"
    assert (await client.get("/static/css/nope.css")).status_code == 404


async def test_no_api_schema_pages(client):
    for path in ("/schema", "/schema/swagger", "/schema/openapi.json"):
        assert (await client.get(path, follow_redirects=False)).status_code == 404


async def test_language_switch_sets_english_and_only_redirects_locally(client):
    response = await post_form(client, "/language", {"lang": "en", "next": "https://evil.example/"})
    assert response.url.path == "/login"
    assert '<html lang="en">' in response.text
