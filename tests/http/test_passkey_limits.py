"""Passkey endpoints: body size and nesting limits, keys that could never log in, big sign counts."""

from __future__ import annotations

import cbor2
import pytest
from sqlalchemy import select, update

from server.access.json_body import too_deep
from server.access.models import Credential, EnrollmentCode
from tests.conftest import csrf_token
from tests.unit.test_passkey_payloads import (  # noqa: F401 - fixtures
    Authenticator,
    count,
    enroll_options,
    enrolling,
    headers,
    options,
    passkey,
    registration,
    verify,
)

ENDPOINTS = ["/login/verify", "/enroll/verify", "/account/passkeys/verify"]
DEEP = b'{"credential":' + b"[" * 10_000 + b"]" * 10_000 + b"}"
DEEP_OBJECTS = b'{"credential":{"response":' + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"}}"
LARGE = b'{"credential": "' + b"a" * 200_000 + b'"}'


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("body,status", [(DEEP, 400), (DEEP_OBJECTS, 400), (LARGE, 413)],
                         ids=["deep-arrays", "deep-objects", "200kB"])
async def test_deep_or_large_json_is_refused_as_json_not_a_500(client, world, headers, path, body, status):
    if path.startswith("/account"):
        _patient, account = await world.patient()
        await world.login_as(account)
        headers = {"x-csrftoken": await csrf_token(client, "/account")}
    await client.post("/login/options", json={}, headers=headers)
    response = await client.post(path, content=body, headers={**headers, "content-type": "application/json"})
    assert response.status_code == status, (response.status_code, response.text[:200])
    assert "error" in response.json()


def test_too_deep_skips_brackets_inside_strings():
    assert not too_deep(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"["}')
    assert too_deep(b"[" * 17 + b"]" * 17) and not too_deep(b"[" * 16 + b"]" * 16)


class UnknownCurve(Authenticator):
    """A passkey whose EC2 key names a curve we do not know (crv 99)."""

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 99, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})


class OffCurve(Authenticator):
    """A P-256 key whose point is not on the curve."""

    def cose_public_key(self) -> bytes:
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: (1).to_bytes(32, "big"), -3: (1).to_bytes(32, "big")})


@pytest.mark.parametrize("kind", [UnknownCurve, OffCurve])
async def test_an_unusable_key_is_refused_at_enrollment_and_the_code_still_works(client, db, headers, enrolling, kind):
    account, _code = enrolling
    challenge = await enroll_options(client, headers)
    response = await client.post("/enroll/verify", json={"credential": registration(kind(), challenge)},
                                 headers=headers)
    assert response.status_code == 400
    assert "could never be used to log in" in response.json()["error"]
    assert "your code still works" in response.json()["error"]
    assert await count(db, Credential) == 0
    assert await count(db, EnrollmentCode, EnrollmentCode.used_at.is_not(None)) == 0
    # The same code, a usable passkey: enrolled.
    challenge = await enroll_options(client, headers)
    response = await client.post("/enroll/verify", json={"credential": registration(Authenticator(), challenge)},
                                 headers=headers)
    assert response.status_code == 200, response.text
    assert await count(db, Credential, Credential.account_id == account.id) == 1


async def test_a_sign_count_beyond_two_to_the_31_keeps_working(client, db, headers, passkey):
    authenticator, account = passkey
    big = 2**31 + 5
    await db.execute(update(Credential).values(sign_count=big))
    await db.commit()
    challenge = await options(client, headers)
    response = await verify(client, headers, {"credential": authenticator.assertion(challenge, account.webauthn_user_id,
                                                                                   count=big + 1)})
    assert response.status_code == 200, response.text
    await db.commit()
    assert await db.scalar(select(Credential.sign_count)) == big + 1
    await db.commit()
