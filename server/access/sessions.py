"""Server-side sessions in the database (shared by every app instance).

The cookie carries a random token; the table stores its SHA-256. A token the server did not
issue is ignored, never adopted. Login and privilege changes always create a new session.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.models import Account, Credential, Delegation, UserSession
from server.db import utcnow

COOKIE_NAME = "__Host-samhandling"
TOUCH_AT_MOST_EVERY = timedelta(seconds=60)


def touch_interval(idle: timedelta) -> timedelta:
    """How stale last-seen may get: a tenth of the idle limit, at most a minute, so that a session
    in use never reaches the idle limit while each request does not have to write."""
    return min(idle / 10, TOUCH_AT_MOST_EVERY)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Identity:
    """Who makes a request, from ONE query: the live session, its account, the delegation the session acts
    under (only if it is this account's; live or not, `delegations.is_live` decides) and whether the account
    has a passkey; `extra` holds the labelled columns a caller added (e.g. the header's unread count)."""

    session: UserSession | None = None
    account: Account | None = None
    delegation: Delegation | None = None
    has_passkey: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def identity_query(extra_columns: tuple = ()):
    """The statement behind `load`, built once (a prebuilt statement skips the construction and cache-key work
    on every request). `extra_columns`: labelled scalar subqueries, correlated to `accounts`, `delegations`
    or `sessions`, that ride along in the same round trip."""
    acting = and_(Delegation.id == UserSession.acting_delegation_id,
                  Delegation.relative_account_id == UserSession.account_id)
    return (select(UserSession, Account, Delegation,
                   exists().where(Credential.account_id == UserSession.account_id).label("has_passkey"),
                   *extra_columns)
            .outerjoin(Account, Account.id == UserSession.account_id)
            .outerjoin(Delegation, acting)
            .where(UserSession.token_hash == bindparam("token_hash")))


_IDENTITY = identity_query()


async def load(db: AsyncSession, token: str | None, idle: timedelta, absolute: timedelta,
               query=None) -> Identity:
    """The live session and whom it belongs to (an empty `Identity` when there is none), ending sessions that timed out
    (idle or absolute limit) or whose account was deactivated. Last-seen is written at most every
    `touch_interval(idle)`. `query`: an `identity_query(...)` with extra columns (default: none)."""
    if not token or len(token) > 200:
        return Identity()
    row = (await db.execute(query if query is not None else _IDENTITY, {"token_hash": hash_token(token)})).first()
    if row is None:
        return Identity()
    session, account, delegation, has_passkey = row[:4]
    now = utcnow()
    expired = now - session.last_seen_at > idle or now - session.created_at > absolute
    if expired or (account is not None and not account.active):
        await db.delete(session)
        await db.flush()
        return Identity()
    if now - session.last_seen_at >= touch_interval(idle):
        session.last_seen_at = now
    return Identity(session, account, delegation, bool(has_passkey), dict(zip(row._fields[4:], row[4:], strict=True)))


async def start(db: AsyncSession, account_id: int | None, user_agent: str,
                replacing: UserSession | None = None) -> tuple[UserSession, str]:
    """A new session with a fresh id; the one it replaces (if any) is deleted."""
    flash = None
    if replacing is not None:
        flash = replacing.flash
        await db.delete(replacing)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session = UserSession(token_hash=hash_token(token), account_id=account_id, created_at=now,
                          last_seen_at=now, user_agent=user_agent[:300], flash=flash)
    db.add(session)
    await db.flush()
    return session, token


async def rotate(db: AsyncSession, current: UserSession, user_agent: str,
                 acting_delegation_id: int | None) -> tuple[UserSession, str]:
    """The same sign-in under a new id and cookie, acting for someone else (the old row is deleted): nothing
    still holding the old session can act in the new context. The absolute limit still counts from the login."""
    started = current.created_at
    session, token = await start(db, current.account_id, user_agent, replacing=current)
    session.created_at, session.acting_delegation_id = started, acting_delegation_id
    await db.flush()
    return session, token


async def end_all_for_account(db: AsyncSession, account_id: int, except_id: int | None = None) -> int:
    stmt = delete(UserSession).where(UserSession.account_id == account_id)
    if except_id is not None:
        stmt = stmt.where(UserSession.id != except_id)
    result = await db.execute(stmt)
    return result.rowcount or 0


async def list_for_account(db: AsyncSession, account_id: int) -> list[UserSession]:
    return list((await db.scalars(
        select(UserSession).where(UserSession.account_id == account_id).order_by(UserSession.last_seen_at.desc())
    )).all())


def push_flash(session: UserSession | None, message: str, kind: str = "success", **params: str) -> None:
    """Queue a message (a msgid with %(name)s params) for the next page this session sees."""
    if session is None:
        return
    items = json.loads(session.flash) if session.flash else []
    items.append({"message": message, "kind": kind, "params": params})
    session.flash = json.dumps(items[-5:])


def pop_flash(session: UserSession | None) -> list[dict]:
    if session is None or not session.flash:
        return []
    items = json.loads(session.flash)
    session.flash = None
    return items
