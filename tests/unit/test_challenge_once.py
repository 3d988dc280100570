"""A passkey challenge is used once, also when two requests present it at the same moment."""

from __future__ import annotations

import asyncio

from server.access import sessions
from server.access.passkeys import PasskeyError, _store_challenge, _take_challenge
from server.db import make_engine, make_sessionmaker

ROUNDS = 10


async def test_two_requests_with_the_same_challenge_only_one_gets_it(db, client, settings):
    session, _token = await sessions.start(db, None, "pytest")
    await db.commit()
    engine = make_engine(settings.database_url)
    maker = make_sessionmaker(engine)

    async def take() -> bool:
        async with maker() as other:
            try:
                await _take_challenge(other, session, "login")
            except PasskeyError:
                await other.rollback()
                return False
            await other.commit()
            return True

    try:
        for round_ in range(ROUNDS):
            async with maker() as writer:
                await _store_challenge(writer, session, "login", b"challenge-%d" % round_)
                await writer.commit()
            results = await asyncio.gather(take(), take())
            assert sorted(results) == [False, True], round_
    finally:
        await engine.dispose()
