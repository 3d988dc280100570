"""One-time enrollment codes: format, forgiving input, guessing limits, expiry, single use, storage."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import codes
from server.access.models import EnrollmentCode, RateLimitHit
from server.db import make_engine, make_sessionmaker, utcnow
from tests.conftest import SECRET

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_SHAPE = re.compile(rf"^[{CROCKFORD}]{{4}}-[{CROCKFORD}]{{4}}-[{CROCKFORD}]{{4}}$")
CLIENT = "192.0.2.10"
OTHER_CLIENT = "198.51.100.7"


def _wrong_secret(code: str) -> str:
    """The same code with its last character changed: right lookup, wrong secret."""
    last = code[-1]
    return code[:-1] + ("Z" if last != "Z" else "Y")


def _unknown_lookup(code: str, n: int) -> str:
    """A well-formed code whose lookup part is not `code`'s."""
    lookup = f"{CROCKFORD[n % 32]}{CROCKFORD[(n // 32) % 32]}QQ"
    if lookup == code[:4].upper():
        lookup = "WWWW"
    return f"{lookup}-ABCD-EFGH"


async def _row(db, code: str) -> EnrollmentCode:
    normalised = code.replace("-", "")
    rows = (await db.scalars(select(EnrollmentCode))).all()
    for row in rows:
        if row.code_hash == codes._digest(SECRET, normalised):
            return row
    raise AssertionError("no row for this code")


async def test_issued_codes_look_like_xxxx_xxxx_xxxx_in_crockford_base32(db, world):
    seen = set()
    for n in range(25):
        account = await world.staff("clinician", f"Lege {n}")
        code = await world.code_for(account)
        assert CODE_SHAPE.match(code), code
        seen.add(code)
    assert len(seen) == 25


async def test_the_right_code_is_accepted(db, world):
    _patient, account = await world.patient("Kari Nordmann")
    code = await world.code_for(account)
    result = await codes.check(db, SECRET, code, CLIENT)
    assert result.ok
    assert result.error == ""
    assert result.account.id == account.id


async def test_check_forgives_lower_case_spaces_and_missing_dashes(db, world):
    _patient, account = await world.patient("Kari Nordmann")
    code = await world.code_for(account)
    plain = code.replace("-", "")
    for typed in (code.lower(), plain, plain.lower(), code.replace("-", " "), f"  {code}  ",
                  " ".join(plain), f"{plain[:4]} - {plain[4:8]} - {plain[8:]}".lower()):
        result = await codes.check(db, SECRET, typed, CLIENT)
        assert result.ok, typed
        assert result.account.id == account.id


async def test_check_reads_letters_that_look_like_digits_as_the_digits(db, world):
    account = await world.staff("clinician", "Lege Lise")
    for _ in range(60):
        code = await world.code_for(account)
        if "0" in code or "1" in code:
            break
    else:  # pragma: no cover - 60 codes without a 0 or a 1 is practically impossible
        raise AssertionError("no code with 0 or 1")
    typed = code.replace("0", "o").replace("1", "l")
    assert (await codes.check(db, SECRET, typed, CLIENT)).ok
    assert (await codes.check(db, SECRET, code.replace("1", "I"), CLIENT)).ok


async def test_check_with_another_secret_key_fails(db, world):
    account = await world.staff()
    code = await world.code_for(account)
    result = await codes.check(db, "some-other-secret", code, CLIENT)
    assert not result.ok
    assert result.error in {"wrong", "locked"}


async def test_badly_formed_input_is_a_format_error(db, world):
    account = await world.staff()
    code = await world.code_for(account)
    for typed in (code[:-1], code + "A", "", "ABCD-EFGH-JKM!", "ÅÆØÅ-ÆØÅÆ-ØÅÆØ"):
        result = await codes.check(db, SECRET, typed, CLIENT)
        assert not result.ok
        assert result.error == "format", typed


async def test_wrong_secrets_are_counted_on_the_code_but_never_block_its_owner(db, world):
    """Knowing a code's first four characters must not let anyone lock its owner out."""
    account = await world.staff()
    code = await world.code_for(account)
    wrong = _wrong_secret(code)
    for attempt in range(1, 31):  # thirty wrong guesses from three addresses (each under its own limit)
        result = await codes.check(db, SECRET, wrong, f"203.0.113.{attempt % 3}")
        assert (result.ok, result.error) == (False, "wrong")
    assert (await _row(db, code)).failed_attempts == 30
    # The owner's exact code still works.
    assert (await codes.check(db, SECRET, code, OTHER_CLIENT)).ok


async def test_failed_attempts_are_stored(db, world, client):
    account = await world.staff()
    code = await world.code_for(account)
    await codes.check(db, SECRET, _wrong_secret(code), CLIENT)
    await codes.check(db, SECRET, _wrong_secret(code), CLIENT)
    await db.commit()
    async with AsyncSession(db.bind) as fresh:
        stored = await fresh.scalar(select(EnrollmentCode.failed_attempts).where(EnrollmentCode.account_id == account.id))
        await fresh.rollback()
    assert stored == 2


async def test_one_client_is_limited_after_ten_failures_but_others_are_not(db, world):
    account = await world.staff()
    code = await world.code_for(account)
    for n in range(10):
        result = await codes.check(db, SECRET, _unknown_lookup(code, n), CLIENT)
        assert (result.ok, result.error) == (False, "wrong")
    # The eleventh attempt is refused even with the right code...
    result = await codes.check(db, SECRET, code, CLIENT)
    assert (result.ok, result.error) == (False, "client_limited")
    # ...while another client can still use it.
    assert (await codes.check(db, SECRET, code, OTHER_CLIENT)).ok


async def test_nine_failures_do_not_limit_the_client(db, world):
    account = await world.staff()
    code = await world.code_for(account)
    for n in range(9):
        await codes.check(db, SECRET, _unknown_lookup(code, n), CLIENT)
    assert (await codes.check(db, SECRET, code, CLIENT)).ok


async def test_failures_older_than_the_window_do_not_count(db, world):
    account = await world.staff()
    code = await world.code_for(account)
    long_ago = utcnow() - timedelta(minutes=16)
    db.add_all([RateLimitHit(key=f"enroll:{CLIENT}", at=long_ago) for _ in range(12)])
    await db.flush()
    assert (await codes.check(db, SECRET, code, CLIENT)).ok


async def test_an_expired_code_is_refused(db, world):
    _patient, account = await world.patient("Kari Nordmann")
    code = await world.code_for(account)
    row = await _row(db, code)
    row.expires_at = utcnow() - timedelta(seconds=1)
    await db.commit()
    result = await codes.check(db, SECRET, code, CLIENT)
    assert (result.ok, result.error) == (False, "expired")
    assert not await codes.consume(db, row.id)


async def test_issuing_a_new_code_revokes_the_previous_one(db, world):
    _patient, account = await world.patient("Kari Nordmann")
    first = await world.code_for(account)
    first_id = (await _row(db, first)).id
    second = await world.code_for(account)
    assert first != second
    result = await codes.check(db, SECRET, first, CLIENT)
    assert (result.ok, result.error) == (False, "wrong")
    assert not await codes.consume(db, first_id)
    assert (await codes.check(db, SECRET, second, CLIENT)).ok


async def test_a_code_for_one_account_does_not_revoke_another_accounts_code(db, world):
    _p1, kari = await world.patient("Kari Nordmann")
    _p2, ola = await world.patient("Ola Nordmann")
    kari_code = await world.code_for(kari)
    ola_code = await world.code_for(ola)
    assert (await codes.check(db, SECRET, kari_code, CLIENT)).account.id == kari.id
    assert (await codes.check(db, SECRET, ola_code, CLIENT)).account.id == ola.id


async def test_a_code_is_single_use(db, world):
    account = await world.staff()
    code = await world.code_for(account)
    result = await codes.check(db, SECRET, code, CLIENT)
    assert result.ok
    assert await codes.consume(db, result.code.id) is True
    assert await codes.consume(db, result.code.id) is False
    after = await codes.check(db, SECRET, code, CLIENT)
    assert (after.ok, after.error) == (False, "wrong")


async def test_a_code_for_a_deactivated_account_is_refused(db, world):
    account = await world.staff()
    code = await world.code_for(account)
    account.active = False
    await db.commit()
    assert not (await codes.check(db, SECRET, code, CLIENT)).ok


async def test_codes_are_stored_hashed_never_in_plain_text(db, world):
    account = await world.staff()
    code = await world.code_for(account)
    plain = code.replace("-", "")
    rows = (await db.execute(text("SELECT * FROM enrollment_codes"))).mappings().all()
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0].values())
    for needle in (plain, code, plain[4:], plain.lower(), plain[4:].lower()):
        assert needle not in stored
    assert re.fullmatch(r"[0-9a-f]{64}", rows[0]["code_hash"])


async def test_an_expired_code_still_says_expired_after_another_code_is_issued(db, world):
    _patient, kari = await world.patient("Kari Nordmann")
    code = await world.code_for(kari)
    row = await _row(db, code)
    row.expires_at = utcnow() - timedelta(seconds=1)
    await db.commit()
    # The clinic issues a code to someone else, as it does many times a day.
    _other, ola = await world.patient("Ola Nordmann")
    await world.code_for(ola)
    result = await codes.check(db, SECRET, code, CLIENT)
    assert (result.ok, result.error) == (False, "expired")


async def test_wrong_guesses_sent_at_the_same_time_all_count(db, world, settings):
    """Two wrong guesses racing (two requests, two transactions) must both count against the code."""
    account = await world.staff()
    code = await world.code_for(account)
    engine = make_engine(settings.database_url)
    try:
        maker = make_sessionmaker(engine)
        async with maker() as first, maker() as second:
            assert not (await codes.check(first, SECRET, _wrong_secret(code), CLIENT)).ok  # row updated, not committed
            racing = asyncio.create_task(codes.check(second, SECRET, _wrong_secret(code), OTHER_CLIENT))
            await asyncio.sleep(0.3)
            await first.commit()
            assert not (await asyncio.wait_for(racing, 20)).ok
            await second.commit()
        async with maker() as fresh:
            attempts = await fresh.scalar(select(EnrollmentCode.failed_attempts)
                                          .where(EnrollmentCode.account_id == account.id,
                                                 EnrollmentCode.revoked_at.is_(None)))
            await fresh.rollback()
    finally:
        await engine.dispose()
    assert attempts == 2


async def test_parallel_wrong_codes_from_one_device_never_exceed_the_limit(db, settings):
    """Fourteen wrong codes sent at once from one device: ten are counted, the rest are refused."""
    engine = make_engine(settings.database_url)
    try:
        maker = make_sessionmaker(engine)

        async def guess(n: int) -> str:
            async with maker() as session:
                result = await codes.check(session, SECRET, f"ZZZZ-ZZZZ-ZZ{n:02d}", CLIENT)
                await session.commit()
                return result.error

        errors = await asyncio.gather(*(guess(n) for n in range(14)))
    finally:
        await engine.dispose()
    assert errors.count("wrong") == codes.MAX_FAILURES_PER_CLIENT
    assert errors.count("client_limited") == 14 - codes.MAX_FAILURES_PER_CLIENT
    hits = (await db.execute(select(RateLimitHit).where(RateLimitHit.key == f"enroll:{CLIENT}"))).scalars().all()
    assert len(hits) == codes.MAX_FAILURES_PER_CLIENT
