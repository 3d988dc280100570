"""A serving process is warmed before its first request (`samhandling serve` calls server.app.warm): a fresh
process used to compile templates and open database connections inside its first requests, and under load the
requests behind them queued for a second or two (docs/performance.md)."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from server.access import sessions
from server.app import create_app, warm
from tests.conftest import BASE_URL


def counting_compiles(app) -> list[str]:
    """The names of the templates the app's Jinja environment compiles from now on."""
    env = app.state.template_env
    compiled: list[str] = []
    compile_ = env.compile

    def counted(source, name=None, filename=None, *args, **kwargs):
        compiled.append(name)
        return compile_(source, name, filename, *args, **kwargs)

    env.compile = counted
    return compiled


async def pages_as(app, token: str) -> None:
    async with AsyncTestClient(app=app, base_url=BASE_URL) as client:
        client.cookies.set(sessions.COOKIE_NAME, token, domain="testserver.local")
        for page in ("/home", "/meeting", "/plan", "/inbox"):
            response = await client.get(page)
            assert response.status_code == 200, page


async def test_a_warmed_process_compiles_no_template_in_its_first_requests(world, db, settings):
    _, account = await world.patient()
    _, token = await sessions.start(db, account.id, "pytest")
    await db.commit()

    cold = create_app(settings)
    compiled_cold = counting_compiles(cold)
    await pages_as(cold, token)
    assert "pathway/home.html" in compiled_cold and "base.html" in compiled_cold  # what a fresh process did

    warmed = create_app(settings)
    warm(warmed)
    compiled_warm = counting_compiles(warmed)
    await pages_as(warmed, token)
    assert compiled_warm == []


async def test_a_warmed_process_opens_its_database_connections_at_start(settings):
    app = create_app(settings)
    warm(app)
    async with AsyncTestClient(app=app, base_url=BASE_URL):
        pool = app.state.engine.sync_engine.pool
        assert pool.checkedin() == pool.size() > 0  # open and idle before any request
    unwarmed = create_app(settings)
    async with AsyncTestClient(app=unwarmed, base_url=BASE_URL):
        assert unwarmed.state.engine.sync_engine.pool.checkedin() == 0
