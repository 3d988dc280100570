"""Passkey ceremonies (py_webauthn): registration and discoverable login.

Challenges live server-side, bound to one session, single use, five minutes.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from server.access.models import Account, Challenge, Credential, UserSession
from server.db import utcnow
from server.i18n import N_
from server.settings import Settings

CHALLENGE_TTL = timedelta(minutes=5)
UNUSABLE_KEY = N_("This passkey uses a kind of key we cannot check, so it could never be used to log in. "
                  "Nothing was saved and your code still works: try another device or passkey app.")
_MALFORMED = (WebAuthnException, ValueError, KeyError, TypeError, AttributeError, IndexError)


class PasskeyError(Exception):
    """A refused ceremony; `message` is a msgid shown to the user."""

    def __init__(self, message: str, security_event: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.security_event = security_event


async def _store_challenge(db: AsyncSession, session: UserSession, purpose: str, challenge: bytes) -> None:
    now = utcnow()
    await db.execute(delete(Challenge).where(
        (Challenge.expires_at < now) | ((Challenge.session_id == session.id) & (Challenge.purpose == purpose))
    ))
    db.add(Challenge(session_id=session.id, purpose=purpose, challenge=challenge, expires_at=now + CHALLENGE_TTL))
    await db.flush()


async def _take_challenge(db: AsyncSession, session: UserSession, purpose: str) -> bytes:
    """Remove and return this session's challenge; it can be used once only."""
    row = await db.scalar(select(Challenge).where(Challenge.session_id == session.id, Challenge.purpose == purpose))
    # Deleted by one statement whose row count says who took it: of two requests sent at once with the
    # same challenge, the second's DELETE waits for the first to commit and then deletes nothing.
    taken = row is not None and (await db.execute(
        delete(Challenge).where(Challenge.id == row.id).execution_options(synchronize_session=False))).rowcount == 1
    if not taken:
        raise PasskeyError(N_("This sign-in attempt is no longer valid. Please try again."))
    db.expunge(row)
    if row.expires_at <= utcnow():
        raise PasskeyError(N_("This sign-in attempt took too long and has expired. Please try again."))
    return row.challenge


async def registration_options(db: AsyncSession, settings: Settings, session: UserSession, account: Account) -> str:
    existing = (await db.scalars(select(Credential.credential_id).where(Credential.account_id == account.id))).all()
    options = generate_registration_options(
        rp_id=settings.rp_id,
        rp_name=settings.rp_name,
        user_id=account.webauthn_user_id,
        user_name=account.display_name,
        user_display_name=account.display_name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in existing],
    )
    await _store_challenge(db, session, "register", options.challenge)
    return options_to_json(options)


async def finish_registration(db: AsyncSession, settings: Settings, session: UserSession, account: Account,
                              credential_json: str, name: str) -> Credential:
    challenge = await _take_challenge(db, session, "register")
    try:
        verified = verify_registration_response(
            credential=parse_registration_credential_json(credential_json),
            expected_challenge=challenge,
            expected_rp_id=settings.rp_id,
            expected_origin=settings.origin,
            require_user_verification=True,
        )
    except _MALFORMED as exc:
        raise PasskeyError(N_("The passkey could not be created. Please try again.")) from exc
    _require_usable(verified.credential_public_key)
    taken = await db.scalar(select(Credential.id).where(Credential.credential_id == verified.credential_id))
    if taken:
        raise PasskeyError(N_("This passkey is already registered."))
    credential = Credential(account_id=account.id, credential_id=verified.credential_id,
                            public_key=verified.credential_public_key, sign_count=verified.sign_count,
                            name=name[:100])
    db.add(credential)
    await db.flush()
    return credential


def _require_usable(public_key: bytes) -> None:
    """Refuse a key that login could not verify (an unknown curve, a point not on it ...)."""
    try:
        decoded_public_key_to_cryptography(decode_credential_public_key(public_key))
    except Exception as exc:  # noqa: BLE001 - any failure here means the key is unusable
        raise PasskeyError(UNUSABLE_KEY) from exc


async def authentication_options(db: AsyncSession, settings: Settings, session: UserSession) -> str:
    options = generate_authentication_options(
        rp_id=settings.rp_id, user_verification=UserVerificationRequirement.REQUIRED,
    )
    await _store_challenge(db, session, "login", options.challenge)
    return options_to_json(options)


async def finish_authentication(db: AsyncSession, settings: Settings, session: UserSession,
                                credential_json: str) -> tuple[Account, Credential]:
    challenge = await _take_challenge(db, session, "login")
    refused = N_("We could not sign you in with this passkey. Please try again.")
    try:
        parsed = parse_authentication_credential_json(credential_json)
    except _MALFORMED as exc:
        raise PasskeyError(refused) from exc
    row = (await db.execute(
        select(Credential, Account).join(Account).where(Credential.credential_id == parsed.raw_id)
        .with_for_update(of=Credential)  # the sign-count check below reads, compares and writes it
    )).first()
    if row is None:
        raise PasskeyError(N_("This passkey is not registered with us. It may have been removed."))
    credential, account = row
    if not account.active:
        raise PasskeyError(refused)
    if parsed.response.user_handle is None or parsed.response.user_handle != account.webauthn_user_id:
        raise PasskeyError(refused, security_event="auth.user_handle_mismatch")
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=settings.rp_id,
            expected_origin=settings.origin,
            credential_public_key=credential.public_key,
            # The sign count is checked below, after the signature, so a regression is a security event.
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except _MALFORMED as exc:
        raise PasskeyError(refused) from exc
    new_count = verified.new_sign_count
    if (new_count > 0 or credential.sign_count > 0) and new_count <= credential.sign_count:
        raise PasskeyError(refused, security_event="auth.sign_count_regression")
    credential.sign_count = new_count
    credential.last_used_at = utcnow()
    await db.flush()
    return account, credential
