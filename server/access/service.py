"""Accounts and login state: creating accounts, signing in and out, passkey and session lists."""

from __future__ import annotations

import secrets

from litestar import Request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import codes, sessions
from server.access.models import Account, Credential, UserSession
from server.audit.service import AuditContext, record


def db_of(request: Request) -> AsyncSession:
    return request.scope["state"]["db"]


async def create_account(db: AsyncSession, role: str, display_name: str, patient_id: int | None = None) -> Account:
    account = Account(role=role, display_name=display_name.strip(), active=True,
                      webauthn_user_id=secrets.token_bytes(32), patient_id=patient_id)
    db.add(account)
    await db.flush()
    return account


async def issue_code(request: Request, account_id: int) -> str:
    """A new one-time enrollment code for the account, issued by the acting user (shown once)."""
    settings = request.app.state.settings
    return await codes.issue(db_of(request), settings.secret_key, account_id,
                             request.scope["state"]["actor"].account_id, settings.enrollment_code_days)


async def ensure_session(request: Request) -> UserSession:
    """The request's session; an anonymous one is created for a ceremony that needs it."""
    state = request.scope["state"]
    if state.get("user_session") is None:
        session, token = await sessions.start(db_of(request), None, request.headers.get("user-agent", ""))
        state["user_session"], state["session_cookie"] = session, token
    return state["user_session"]


def attribution(credential: Credential) -> str:
    """For the audit: the passkey, and the administrators whose code made it possible."""
    text = f"credential {credential.id}"
    if credential.issued_by is not None:
        text += f", code issued by account {credential.issued_by}"
    if credential.approved_by is not None:
        text += f", approved by account {credential.approved_by}"
    return text


async def sign_in(request: Request, account: Account, credential: Credential) -> None:
    """A new session id for the signed-in account (never the pre-login one)."""
    state = request.scope["state"]
    session, token = await sessions.start(db_of(request), account.id, request.headers.get("user-agent", ""),
                                          replacing=state.get("user_session"))
    state["user_session"], state["session_cookie"] = session, token
    await record(db_of(request), AuditContext(account.id, account.role, state["request_id"]), "auth.login",
                 patient_ids=[account.patient_id], detail=attribution(credential))


async def sign_out(request: Request) -> None:
    state = request.scope["state"]
    if state.get("user_session") is not None:
        await db_of(request).delete(state["user_session"])
    state["user_session"], state["session_cookie"] = None, None


async def credentials_of(db: AsyncSession, account_id: int) -> list[Credential]:
    return list((await db.scalars(
        select(Credential).where(Credential.account_id == account_id).order_by(Credential.created_at)
    )).all())


async def credential_count(db: AsyncSession, account_id: int) -> int:
    return await db.scalar(select(func.count()).select_from(Credential).where(Credential.account_id == account_id)) or 0


def device_label(user_agent: str) -> str:
    """A short, recognisable name for a browser/device from its user agent."""
    ua = user_agent.lower()
    for needle, label in (("iphone", "iPhone"), ("ipad", "iPad"), ("android", "Android"),
                          ("mac os", "Mac"), ("windows", "Windows"), ("cros", "Chromebook"), ("linux", "Linux")):
        if needle in ua:
            platform = label
            break
    else:
        platform = ""
    for needle, label in (("edg/", "Edge"), ("firefox", "Firefox"), ("chrome", "Chrome"), ("safari", "Safari")):
        if needle in ua:
            return f"{label}, {platform}" if platform else label
    return platform
