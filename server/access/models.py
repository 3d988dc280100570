"""Accounts, passkeys, enrollment codes, server-side sessions, WebAuthn challenges, rate limits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow

ROLES = ("patient", "clinician", "admin", "researcher", "relative")


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Random, opaque WebAuthn user handle (never the database id or a name).
    webauthn_user_id: Mapped[bytes] = mapped_column(LargeBinary(64), unique=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The language the person last chose (nb/en): push texts are written in it. None: the default (bokmål).
    language: Mapped[str | None] = mapped_column(String(8))

    credentials: Mapped[list["Credential"]] = relationship(back_populates="account", cascade="all, delete-orphan")


class Credential(Base):
    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1024), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(2048))
    # WebAuthn sign counts are unsigned 32-bit: a 64-bit column holds every value on PostgreSQL too.
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(100))
    transports: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who made the passkey possible: the issuer and (for staff codes) the approver of its enrollment code.
    # (Account ids, kept as plain numbers like the audit log's: they outlive the code.)
    issued_by: Mapped[int | None] = mapped_column(Integer)
    approved_by: Mapped[int | None] = mapped_column(Integer)

    account: Mapped[Account] = relationship(back_populates="credentials")


class EnrollmentCode(Base):
    __tablename__ = "enrollment_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    # Public lookup part of the code; cleared once the code can no longer be used.
    lookup: Mapped[str | None] = mapped_column(String(8), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Four eyes: a staff code works only once a second, different administrator has approved it.
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class UserSession(Base):
    """A server-side session. The cookie holds a random token; only its hash is stored."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    # An enrollment in progress: the account whose code was accepted, and the code.
    enrolling_code_id: Mapped[int | None] = mapped_column(ForeignKey("enrollment_codes.id", ondelete="CASCADE"))
    # A relative's choice of whom they act for (None: their own pages).
    acting_delegation_id: Mapped[int | None] = mapped_column(ForeignKey("delegations.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    flash: Mapped[str | None] = mapped_column(Text)


class Challenge(Base):
    """A WebAuthn challenge: single use, bound to one session, short-lived."""

    __tablename__ = "webauthn_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class RateLimitHit(Base):
    __tablename__ = "rate_limit_hits"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AccountNotice(Base):
    """Something the account owner should know about their sign-in (a new passkey, a new code)."""

    __tablename__ = "account_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message: Mapped[str] = mapped_column(String(300))  # a msgid with %(name)s params
    params: Mapped[dict] = mapped_column(JSON, default=dict)


class Delegation(Base):
    """A patient's relative (pårørende) with delegated access: what they may do, until when.

    The relative enrolls their own account with a one-time code (code_* columns, same rules as
    enrollment codes: only an HMAC is stored, single use, short-lived). `scopes` is a comma-separated
    subset of SCOPES. Access ends at `ends_at` or when `ended_at` is set, whichever comes first."""

    __tablename__ = "delegations"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    relative_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                                            index=True)
    patient_name: Mapped[str] = mapped_column(String(200))  # as the patient was named when giving access
    relative_name: Mapped[str] = mapped_column(String(200))
    relation: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(String(64))
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    code_lookup: Mapped[str | None] = mapped_column(String(8), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64), default="")
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    code_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    code_failed_attempts: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(s for s in self.scopes.split(",") if s)
