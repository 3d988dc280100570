"""Behind the documented TLS proxy: the real client counts for rate limits and HSTS, and forwarded
headers are believed only from TRUSTED_PROXIES. Also: every GET route answers HEAD, without a body."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_network

import pytest
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from server.access.edge import real_client
from server.app import create_app
from server.settings import Settings
from tests.conftest import BASE_URL, csrf_token

PROXY = "10.0.0.5"
TRUSTED = (ip_network("10.0.0.0/8"),)


def _h(**headers: str) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]


@pytest.mark.parametrize("peer,headers,expected", [
    (PROXY, _h(x_forwarded_for="198.51.100.1", x_forwarded_proto="https"), ("198.51.100.1", "https")),
    # A client's own X-Forwarded-For entry sits left of the address the proxy saw: it is ignored.
    (PROXY, _h(x_forwarded_for="6.6.6.6, 198.51.100.1"), ("198.51.100.1", None)),
    # Two trusted proxies in a row: the first untrusted address from the right is the client.
    (PROXY, _h(x_forwarded_for="198.51.100.1, 10.1.1.1"), ("198.51.100.1", None)),
    (PROXY, _h(forwarded='for="[2001:db8::7]:4711";proto=https'), ("2001:db8::7", "https")),
    (PROXY, _h(forwarded="for=192.0.2.60;proto=http;by=203.0.113.43"), ("192.0.2.60", "http")),
    # Not from a trusted proxy: the headers are not believed.
    ("198.51.100.9", _h(x_forwarded_for="6.6.6.6", x_forwarded_proto="https"), ("198.51.100.9", None)),
    (PROXY, _h(x_forwarded_for="garbage"), (PROXY, None)),
    (PROXY, _h(x_forwarded_proto="javascript"), (PROXY, None)),
])
def test_real_client(peer, headers, expected):
    assert real_client(peer, headers, TRUSTED) == expected


def test_nothing_is_trusted_by_default():
    assert real_client(PROXY, _h(x_forwarded_for="6.6.6.6"), ()) == (PROXY, None)
    assert Settings.from_env({"SECRET_KEY": "x"}).trusted_proxies == ()
    assert Settings.from_env({"SECRET_KEY": "x", "TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7"}).trusted_proxies == (
        ip_network("10.0.0.0/8"), ip_network("192.0.2.7/32"))
    with pytest.raises(ValueError):
        Settings.from_env({"SECRET_KEY": "x", "TRUSTED_PROXIES": "not-an-ip"})


def _behind_proxy(app):
    """Every request reaches the app from the proxy's address, as behind the documented TLS proxy."""
    inner = app.asgi_handler

    async def from_proxy(scope, receive, send):
        if scope["type"] == "http":
            scope["client"] = (PROXY, 50000)
        await inner(scope, receive, send)

    app.asgi_handler = from_proxy
    return app


@pytest.fixture
async def proxied(settings):
    app = _behind_proxy(create_app(replace(settings, trusted_proxies=TRUSTED)))
    async with AsyncTestClient(app=app, base_url=BASE_URL) as test_client:
        test_client.cookies.set("__Host-lang", "en", domain="testserver.local")
        yield test_client


async def _wrong_code(client, address: str):
    token = await csrf_token(client, "/enroll")
    return await client.post("/enroll", data={"code": "ZZZZ-ZZZZ-ZZZZ", "_csrf_token": token},
                             headers={"x-forwarded-for": address})


async def test_ten_wrong_codes_from_one_client_do_not_block_another_behind_the_proxy(proxied):
    for _ in range(10):
        assert (await _wrong_code(proxied, "198.51.100.1")).status_code == 422
    assert (await _wrong_code(proxied, "198.51.100.1")).status_code == 429
    assert (await _wrong_code(proxied, "198.51.100.2")).status_code == 422


async def test_hsts_is_sent_when_the_trusted_proxy_says_https(settings):
    app = _behind_proxy(create_app(replace(settings, trusted_proxies=TRUSTED)))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as plain:
        response = await plain.get("/login", headers={"x-forwarded-proto": "https"})
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert "strict-transport-security" not in (await plain.get("/login")).headers
    untrusted = _behind_proxy(create_app(settings))  # TRUSTED_PROXIES empty: the header is not believed
    async with AsyncTestClient(app=untrusted, base_url="http://testserver.local") as plain:
        response = await plain.get("/login", headers={"x-forwarded-proto": "https"})
        assert "strict-transport-security" not in response.headers


def _get_paths() -> list[str]:
    app = create_app(Settings(database_url="sqlite+aiosqlite://", secret_key="x"))
    return sorted({route.path for route in app.routes if isinstance(route, HTTPRoute)
                   for handler in route.route_handlers if "GET" in handler.http_methods})


@pytest.mark.parametrize("path", _get_paths())
async def test_head_answers_wherever_get_does_without_a_body(client, world, path):
    await world.login_as(await world.staff("clinician", "Cecilie Clinician"))
    url = (path.replace("{path:path}", "css/app.css").replace("{token:str}", "x.y.z").replace("{key:str}", "place")
           .replace("{uid:str}", "m-0").replace(":int}", "}").replace("{", "").replace("}", "")
           .replace("patient_id", "1").replace("meeting_id", "1").replace("participant_id", "1")
           .replace("account_id", "1").replace("credential_id", "1"))
    get = await client.get(url, follow_redirects=False)
    head = await client.head(url, follow_redirects=False)
    assert head.status_code == get.status_code != 405, (url, get.status_code, head.status_code)
    assert head.content == b""
