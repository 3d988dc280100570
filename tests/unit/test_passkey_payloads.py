"""Hostile WebAuthn input over HTTP: the passkey endpoints refuse it with a 4xx JSON error, never a
500 and never a session that grants access. A small software authenticator (P-256) signs real
assertions, so the refusals are shown to be about the input and not about a broken test setup."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import timedelta

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.models import Challenge, Credential, EnrollmentCode, UserSession
from server.audit.models import AuditEvent
from server.db import utcnow
from tests.conftest import BASE_URL, csrf_token

RP_ID = "testserver.local"
NO_LONGER_VALID = "This sign-in attempt is no longer valid. Please try again."


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Authenticator:
    """A software passkey: an EC P-256 key pair with a credential id."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.sign_count = 0

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def assertion(self, challenge: str, user_handle: bytes | None, *, origin: str = BASE_URL,
                  flags: int = 0x05, count: int | None = None, rp_id: str = RP_ID) -> dict:
        if count is None:
            self.sign_count += 1
            count = self.sign_count
        client_data = json.dumps({"type": "webauthn.get", "challenge": challenge, "origin": origin,
                                  "crossOrigin": False}).encode()
        auth_data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + count.to_bytes(4, "big")
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                         "signature": b64url(signature),
                         "userHandle": b64url(user_handle) if user_handle is not None else None},
            "clientExtensionResults": {}, "authenticatorAttachment": "platform",
        }


@pytest.fixture
async def headers(client) -> dict[str, str]:
    """English messages, and the CSRF token as the login page gives it."""
    client.cookies.set("__Host-lang", "en", domain=RP_ID)
    return {"x-csrftoken": await csrf_token(client, "/login")}


@pytest.fixture
async def passkey(db, world):
    """A patient with a registered software passkey: (authenticator, account)."""
    _patient, account = await world.patient("Kari Nordmann")
    authenticator = Authenticator()
    db.add(Credential(account_id=account.id, credential_id=authenticator.credential_id,
                      public_key=authenticator.cose_public_key(), sign_count=0, name="Test"))
    await db.commit()
    return authenticator, account


async def options(client, headers) -> str:
    response = await client.post("/login/options", json={}, headers=headers)
    assert response.status_code == 200
    return response.json()["challenge"]


async def verify(client, headers, body):
    return await client.post("/login/verify", json=body, headers=headers)


async def assert_json_refusal(response, message: str | None = None) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error, str) and error
    if message is not None:
        assert error == message


async def assert_not_signed_in(client, db, sessions_before: int = 0) -> None:
    response = await client.get("/home", follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/login")
    assert await count(db, UserSession, UserSession.account_id.is_not(None)) == sessions_before


async def count(db, model, *where) -> int:
    """Count rows in a fresh session, ended at once (SQLite takes the write lock up front)."""
    async with AsyncSession(db.bind) as fresh:
        value = await fresh.scalar(select(func.count()).select_from(model).where(*where))
        await fresh.rollback()
    return value or 0


# --- The harness works: a real assertion signs in ------------------------------------------

async def test_a_valid_assertion_signs_in(client, db, headers, passkey):
    authenticator, account = passkey
    challenge = await options(client, headers)
    anonymous_token = client.cookies.get("__Host-samhandling")
    assert anonymous_token
    response = await verify(client, headers, {"credential": authenticator.assertion(challenge, account.webauthn_user_id)})
    assert response.status_code == 200, response.text
    assert response.json() == {"redirect": "/"}
    # A new session id at sign-in (no session fixation), and the challenge is gone.
    assert client.cookies.get("__Host-samhandling") not in (None, anonymous_token)
    assert await count(db, Challenge) == 0
    home = await client.get("/home", follow_redirects=False)
    assert home.status_code == 200


@pytest.mark.parametrize("next_value, redirect", [
    ("/home", "/home"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example/", "/"),
    ("/\t/evil.example/", "/"),
    ("javascript:alert(1)", "/"),
    (5, "/"),
    (["/home"], "/"),
])
async def test_sign_in_only_redirects_to_local_paths(client, db, headers, passkey, next_value, redirect):
    authenticator, account = passkey
    challenge = await options(client, headers)
    body = {"credential": authenticator.assertion(challenge, account.webauthn_user_id), "next": next_value}
    response = await verify(client, headers, body)
    assert response.status_code == 200, response.text
    assert response.json() == {"redirect": redirect}


# --- No ceremony started -----------------------------------------------------------------

async def test_verify_without_options_is_refused(client, db, headers, passkey):
    authenticator, account = passkey
    body = {"credential": authenticator.assertion(b64url(os.urandom(32)), account.webauthn_user_id)}
    await assert_json_refusal(await verify(client, headers, body), NO_LONGER_VALID)
    await assert_json_refusal(await verify(client, headers, {}), NO_LONGER_VALID)
    await assert_not_signed_in(client, db)


async def test_verify_without_csrf_token_is_forbidden(client, db, headers, passkey):
    authenticator, account = passkey
    challenge = await options(client, headers)
    body = {"credential": authenticator.assertion(challenge, account.webauthn_user_id)}
    response = await client.post("/login/verify", json=body)
    assert response.status_code == 403
    response = await client.post("/login/verify", json=body, headers={"x-csrftoken": "forged-token"})
    assert response.status_code == 403
    await assert_not_signed_in(client, db)


async def test_options_without_csrf_token_is_forbidden(client, headers):
    response = await client.post("/login/options", json={})
    assert response.status_code == 403


# --- Garbage bodies after a real options call -------------------------------------------------

def _random_credential(raw_id: str | None = None) -> dict:
    rid = raw_id or b64url(os.urandom(32))
    return {"id": rid, "rawId": rid, "type": "public-key",
            "response": {"clientDataJSON": b64url(os.urandom(120)), "authenticatorData": b64url(os.urandom(37)),
                         "signature": b64url(os.urandom(70)), "userHandle": b64url(os.urandom(32))}}


GARBAGE = {
    "empty": {},
    "string credential": {"credential": "x"},
    "list credential": {"credential": [1, 2, 3]},
    "null credential": {"credential": None},
    "empty response": {"credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}},
    "no response": {"credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key"}},
    "wrong types": {"credential": {"id": 5, "rawId": [], "type": None, "response": "x"}},
    "random base64": {"credential": _random_credential()},
    "not base64": {"credential": {"id": "!!!", "rawId": "%%%", "type": "public-key",
                                  "response": {"clientDataJSON": "***", "authenticatorData": "???",
                                               "signature": "...", "userHandle": "~~~"}}},
    "huge string": {"credential": "A" * 1_000_000},
    "huge id": {"credential": _random_credential("A" * 200_000)},
    "deep nesting": {"credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key",
                                    "response": {"clientDataJSON": {"a": {"b": {"c": [[[[]]]]}}}}}},
}


@pytest.mark.parametrize("body", GARBAGE.values(), ids=GARBAGE.keys())
async def test_garbage_after_options_is_refused_as_json(client, db, headers, passkey, body):
    await options(client, headers)
    await assert_json_refusal(await verify(client, headers, body))
    await assert_not_signed_in(client, db)


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"credential"', b"null", b"5", b"{not json", b"\xff\xfe\x00"],
                         ids=["list", "string", "null", "number", "broken", "binary"])
async def test_a_body_that_is_not_a_json_object_is_a_client_error(client, db, headers, raw):
    await options(client, headers)
    response = await client.post("/login/verify", content=raw,
                                 headers={**headers, "content-type": "application/json"})
    assert 400 <= response.status_code < 500
    await assert_not_signed_in(client, db)


async def test_a_huge_raw_body_is_a_client_error(client, db, headers):
    await options(client, headers)
    response = await client.post("/login/verify", content=b"{" + b'"a":' * 5_000_000 + b"}",
                                 headers={**headers, "content-type": "application/json"})
    assert 400 <= response.status_code < 500
    await assert_not_signed_in(client, db)


# --- Garbage aimed at a registered passkey (gets past the credential lookup) ------------------

def _fields(authenticator: Authenticator, account, challenge: str) -> dict:
    return authenticator.assertion(challenge, account.webauthn_user_id)


def _with_response(credential: dict, **changes) -> dict:
    return {**credential, "response": {**credential["response"], **changes}}


def _client_data(**fields) -> str:
    return b64url(json.dumps(fields).encode())


HOSTILE = {
    "random signature": lambda c, ch: _with_response(c, signature=b64url(os.urandom(70))),
    "empty signature": lambda c, ch: _with_response(c, signature=""),
    "short authenticator data": lambda c, ch: _with_response(c, authenticatorData=b64url(os.urandom(10))),
    "empty authenticator data": lambda c, ch: _with_response(c, authenticatorData=""),
    "random client data": lambda c, ch: _with_response(c, clientDataJSON=b64url(os.urandom(80))),
    "client data not an object": lambda c, ch: _with_response(c, clientDataJSON=b64url(b"[1,2,3]")),
    "client data wrong types": lambda c, ch: _with_response(
        c, clientDataJSON=_client_data(type=5, challenge=[], origin=None)),
    "client data for registration": lambda c, ch: _with_response(
        c, clientDataJSON=_client_data(type="webauthn.create", challenge=ch, origin=BASE_URL)),
    "client data bad challenge encoding": lambda c, ch: _with_response(
        c, clientDataJSON=_client_data(type="webauthn.get", challenge="!!!", origin=BASE_URL)),
    "no user handle": lambda c, ch: _with_response(c, userHandle=None),
    "type not public-key": lambda c, ch: {**c, "type": "password"},
    "odd attachment": lambda c, ch: {**c, "authenticatorAttachment": "usb-stick"},
}


@pytest.mark.parametrize("mutate", HOSTILE.values(), ids=HOSTILE.keys())
async def test_hostile_assertion_for_a_registered_passkey_is_refused(client, db, headers, passkey, mutate):
    authenticator, account = passkey
    challenge = await options(client, headers)
    body = {"credential": mutate(_fields(authenticator, account, challenge), challenge)}
    await assert_json_refusal(await verify(client, headers, body))
    await assert_not_signed_in(client, db)


@pytest.mark.parametrize("case", ["wrong origin", "wrong rp id", "no user verification", "no user presence"])
async def test_signed_assertion_with_wrong_context_is_refused(client, db, headers, passkey, case):
    authenticator, account = passkey
    challenge = await options(client, headers)
    kwargs = {"wrong origin": {"origin": "https://evil.example"},
              "wrong rp id": {"rp_id": "evil.example"},
              "no user verification": {"flags": 0x01},
              "no user presence": {"flags": 0x04}}[case]
    body = {"credential": authenticator.assertion(challenge, account.webauthn_user_id, **kwargs)}
    await assert_json_refusal(await verify(client, headers, body))
    await assert_not_signed_in(client, db)


async def test_a_signed_assertion_for_another_challenge_is_refused(client, db, headers, passkey):
    authenticator, account = passkey
    await options(client, headers)
    body = {"credential": authenticator.assertion(b64url(os.urandom(64)), account.webauthn_user_id)}
    await assert_json_refusal(await verify(client, headers, body))
    await assert_not_signed_in(client, db)


async def test_another_accounts_user_handle_is_refused_and_audited(client, db, world, headers, passkey):
    authenticator, _account = passkey
    _other_patient, other = await world.patient("Ola Nordmann")
    challenge = await options(client, headers)
    body = {"credential": authenticator.assertion(challenge, other.webauthn_user_id)}
    await assert_json_refusal(await verify(client, headers, body))
    await assert_not_signed_in(client, db)
    assert await count(db, AuditEvent, AuditEvent.action == "auth.user_handle_mismatch",
                       AuditEvent.outcome == "refused") == 1


async def test_a_sign_count_that_goes_back_is_refused_and_audited(client, db, headers, passkey):
    authenticator, account = passkey
    challenge = await options(client, headers)
    ok = await verify(client, headers, {"credential": authenticator.assertion(challenge, account.webauthn_user_id,
                                                                            count=10)})
    assert ok.status_code == 200
    client.cookies.clear()
    headers["x-csrftoken"] = await csrf_token(client, "/login")
    client.cookies.set("__Host-lang", "en", domain=RP_ID)
    challenge = await options(client, headers)
    cloned = await verify(client, headers, {"credential": authenticator.assertion(challenge, account.webauthn_user_id,
                                                                                count=9)})
    await assert_json_refusal(cloned)
    home = await client.get("/home", follow_redirects=False)
    assert home.status_code in (302, 303)
    assert await count(db, AuditEvent, AuditEvent.action == "auth.sign_count_regression") == 1


# --- A challenge is single use ----------------------------------------------------------------

async def test_a_challenge_is_single_use(client, db, headers, passkey):
    await options(client, headers)
    assert await count(db, Challenge) == 1
    first = await verify(client, headers, {"credential": _random_credential()})
    assert first.status_code == 400
    assert await count(db, Challenge) == 0
    second = await verify(client, headers, {"credential": _random_credential()})
    await assert_json_refusal(second, NO_LONGER_VALID)
    assert second.status_code == 400
    await assert_not_signed_in(client, db)


async def test_a_valid_assertion_cannot_be_replayed(client, db, headers, passkey):
    authenticator, account = passkey
    challenge = await options(client, headers)
    body = {"credential": authenticator.assertion(challenge, account.webauthn_user_id)}
    assert (await verify(client, headers, body)).status_code == 200
    # The attacker replays the captured assertion from a fresh browser.
    client.cookies.clear()
    client.cookies.set("__Host-lang", "en", domain=RP_ID)
    headers["x-csrftoken"] = await csrf_token(client, "/login")
    await assert_json_refusal(await verify(client, headers, body), NO_LONGER_VALID)
    await options(client, headers)
    await assert_json_refusal(await verify(client, headers, body))
    await assert_not_signed_in(client, db, sessions_before=1)  # only the legitimate sign-in


async def test_a_new_options_call_replaces_the_earlier_challenge(client, db, headers, passkey):
    authenticator, account = passkey
    old = await options(client, headers)
    await options(client, headers)
    assert await count(db, Challenge) == 1
    body = {"credential": authenticator.assertion(old, account.webauthn_user_id)}
    await assert_json_refusal(await verify(client, headers, body))
    await assert_not_signed_in(client, db)


# --- Enrollment without a code -------------------------------------------------------------

async def test_enroll_verify_without_a_code_is_refused(client, db, headers):
    response = await client.post("/enroll/verify", json={"credential": _random_credential()}, headers=headers)
    await assert_json_refusal(response, "Enter your code first.")
    await assert_not_signed_in(client, db)


async def test_enroll_options_without_a_code_is_refused(client, db, headers):
    response = await client.post("/enroll/options", json={}, headers=headers)
    await assert_json_refusal(response, "Enter your code first.")
    assert await count(db, Challenge) == 0


async def test_enroll_verify_after_login_options_is_still_refused(client, db, headers):
    # An anonymous session from the login ceremony is not an enrollment.
    await options(client, headers)
    response = await client.post("/enroll/verify", json={"credential": _random_credential()}, headers=headers)
    await assert_json_refusal(response, "Enter your code first.")
    assert await count(db, Credential) == 0


# --- Enrollment with a code: hostile registration input ----------------------------------------

def registration(authenticator: Authenticator, challenge: str, *, flags: int = 0x45,
                 origin: str = BASE_URL) -> dict:
    """A 'none' attestation for `authenticator`, as a browser would send it."""
    client_data = json.dumps({"type": "webauthn.create", "challenge": challenge, "origin": origin,
                              "crossOrigin": False}).encode()
    auth_data = (hashlib.sha256(RP_ID.encode()).digest() + bytes([flags]) + (0).to_bytes(4, "big")
                 + bytes(16) + len(authenticator.credential_id).to_bytes(2, "big") + authenticator.credential_id
                 + authenticator.cose_public_key())
    attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
    return {"id": b64url(authenticator.credential_id), "rawId": b64url(authenticator.credential_id),
            "type": "public-key", "clientExtensionResults": {}, "authenticatorAttachment": "platform",
            "response": {"clientDataJSON": b64url(client_data), "attestationObject": b64url(attestation),
                         "transports": ["internal"]}}


@pytest.fixture
async def enrolling(client, db, world, headers):
    """A patient who has typed their code: (account, code)."""
    _patient, account = await world.patient("Kari Nordmann")
    code = await world.code_for(account)
    response = await client.post("/enroll", data={"code": code, "_csrf_token": headers["x-csrftoken"]},
                                 follow_redirects=False)
    assert response.status_code in (302, 303), response.text[:300]
    assert response.headers["location"] == "/enroll/passkey"
    return account, code


async def enroll_options(client, headers) -> str:
    response = await client.post("/enroll/options", json={}, headers=headers)
    assert response.status_code == 200, response.text[:300]
    return response.json()["challenge"]


async def test_a_valid_registration_enrolls_once(client, db, headers, enrolling):
    account, _code = enrolling
    authenticator = Authenticator()
    challenge = await enroll_options(client, headers)
    response = await client.post("/enroll/verify", json={"credential": registration(authenticator, challenge)},
                                 headers=headers)
    assert response.status_code == 200, response.text
    assert (await client.get("/home", follow_redirects=False)).status_code == 200
    assert await count(db, Credential, Credential.account_id == account.id) == 1
    # The code is used up: the signed-in session cannot enroll again with it.
    again = await client.post("/enroll/verify", json={"credential": registration(Authenticator(), challenge)},
                              headers=headers)
    await assert_json_refusal(again, "Enter your code first.")
    assert await count(db, Credential) == 1


@pytest.mark.parametrize("body", GARBAGE.values(), ids=GARBAGE.keys())
async def test_garbage_registration_is_refused_and_keeps_the_code(client, db, headers, enrolling, body):
    account, _code = enrolling
    await enroll_options(client, headers)
    await assert_json_refusal(await client.post("/enroll/verify", json=body, headers=headers))
    await assert_not_signed_in(client, db)
    assert await count(db, Credential) == 0
    assert await count(db, EnrollmentCode, EnrollmentCode.used_at.is_(None),
                       EnrollmentCode.revoked_at.is_(None)) == 1


@pytest.mark.parametrize("case", ["wrong origin", "no user verification", "wrong challenge", "login type"])
async def test_hostile_registration_is_refused(client, db, headers, enrolling, case):
    authenticator = Authenticator()
    challenge = await enroll_options(client, headers)
    if case == "wrong origin":
        credential = registration(authenticator, challenge, origin="https://evil.example")
    elif case == "no user verification":
        credential = registration(authenticator, challenge, flags=0x41)
    elif case == "wrong challenge":
        credential = registration(authenticator, b64url(os.urandom(64)))
    else:
        credential = registration(authenticator, challenge)
        data = json.loads(unb64url(credential["response"]["clientDataJSON"]))
        credential["response"]["clientDataJSON"] = b64url(json.dumps({**data, "type": "webauthn.get"}).encode())
    await assert_json_refusal(await client.post("/enroll/verify", json={"credential": credential}, headers=headers))
    await assert_not_signed_in(client, db)
    assert await count(db, Credential) == 0


async def test_a_registration_challenge_cannot_be_used_to_log_in(client, db, headers, enrolling, passkey):
    authenticator, account = passkey
    challenge = await enroll_options(client, headers)
    body = {"credential": authenticator.assertion(challenge, account.webauthn_user_id)}
    await assert_json_refusal(await verify(client, headers, body), NO_LONGER_VALID)
    await assert_not_signed_in(client, db)


async def test_an_expired_challenge_is_refused(client, db, headers, passkey):
    authenticator, account = passkey
    challenge = await options(client, headers)
    async with AsyncSession(db.bind) as fresh:
        await fresh.execute(update(Challenge).values(expires_at=utcnow() - timedelta(seconds=1)))
        await fresh.commit()
    body = {"credential": authenticator.assertion(challenge, account.webauthn_user_id)}
    await assert_json_refusal(await verify(client, headers, body),
                              "This sign-in attempt took too long and has expired. Please try again.")
    await assert_not_signed_in(client, db)
    assert await count(db, Challenge) == 0
