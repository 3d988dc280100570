"""Accounts and login state: creating accounts, codes, signing in and out, passkeys, sessions, staff.

Plain values in (a database session, an audit context, ids, clean data), never a request: the
cookie and per-request state stay in the web layer (server/pages/account.py).
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import codes, sessions
from server.access.models import Account, Credential, EnrollmentCode, UserSession
from server.audit.service import AuditContext, record
from server.settings import Settings

STAFF_ROLES = ("clinician", "admin", "researcher")


async def create_account(db: AsyncSession, role: str, display_name: str, patient_id: int | None = None) -> Account:
    account = Account(role=role, display_name=display_name.strip(), active=True,
                      webauthn_user_id=secrets.token_bytes(32), patient_id=patient_id)
    db.add(account)
    await db.flush()
    return account


async def issue_code(db: AsyncSession, settings: Settings, ctx: AuditContext, account_id: int) -> str:
    """A new one-time enrollment code for the account, issued by the acting user (shown once)."""
    return await codes.issue(db, settings.secret_key, account_id, ctx.account_id, settings.enrollment_code_days)


def attribution(credential: Credential) -> str:
    """For the audit: the passkey, and the administrators whose code made it possible."""
    text = f"credential {credential.id}"
    if credential.issued_by is not None:
        text += f", code issued by account {credential.issued_by}"
    if credential.approved_by is not None:
        text += f", approved by account {credential.approved_by}"
    return text


async def sign_in(db: AsyncSession, request_id: str, account: Account, credential: Credential | None,
                  user_agent: str, replacing: UserSession | None) -> tuple[UserSession, str]:
    """A new session (and its cookie token) for the signed-in account, never the pre-login one.
    The audit names the passkey and the administrators whose code made it possible."""
    session, token = await sessions.start(db, account.id, user_agent, replacing=replacing)
    await record(db, AuditContext(account.id, account.role, request_id), "auth.login",
                 patient_ids=[account.patient_id], detail=attribution(credential) if credential else "")
    return session, token


async def remember_language(db: AsyncSession, account_id: int, language: str) -> None:
    """The language the person chose (the language switch, or its cookie at sign-in): push texts use it."""
    await db.execute(update(Account).where(Account.id == account_id).values(language=language))


async def sign_out(db: AsyncSession, ctx: AuditContext, session: UserSession | None,
                   patient_id: int | None) -> None:
    await record(db, ctx, "auth.logout", patient_ids=[patient_id])
    if session is not None:
        await db.delete(session)


async def refuse_login(db: AsyncSession, ctx: AuditContext, security_event: str) -> None:
    await record(db, ctx, security_event, outcome="refused")


async def passkey_added(db: AsyncSession, ctx: AuditContext, account: Account, credential: Credential) -> None:
    await record(db, ctx, "auth.passkey_added", patient_ids=[account.patient_id], detail=attribution(credential))


async def remove_passkey(db: AsyncSession, ctx: AuditContext, credential: Credential,
                         patient_id: int | None) -> None:
    credential_id = credential.id
    await db.delete(credential)
    await record(db, ctx, "auth.passkey_removed", patient_ids=[patient_id], detail=f"credential {credential_id}")


async def end_session(db: AsyncSession, ctx: AuditContext, target: UserSession, patient_id: int | None) -> None:
    await db.delete(target)
    await record(db, ctx, "auth.session_ended", patient_ids=[patient_id])


async def end_other_sessions(db: AsyncSession, ctx: AuditContext, account_id: int, keep_session_id: int | None,
                             patient_id: int | None) -> int:
    count = await sessions.end_all_for_account(db, account_id, except_id=keep_session_id)
    await record(db, ctx, "auth.sessions_ended", patient_ids=[patient_id], detail=f"{count} sessions")
    return count


# --- Staff accounts (admin) ------------------------------------------------------------------

async def staff(db: AsyncSession) -> list[Account]:
    return list((await db.scalars(
        select(Account).where(Account.role.in_(STAFF_ROLES)).order_by(Account.display_name)
    )).all())


async def staff_account(db: AsyncSession, account_id: int) -> Account | None:
    account = await db.get(Account, account_id)
    return account if account is not None and account.role in STAFF_ROLES else None


async def create_staff(db: AsyncSession, settings: Settings, ctx: AuditContext, role: str,
                       name: str) -> tuple[Account, str]:
    """A staff account and its first code, which works only after a second administrator approves it."""
    account = await create_account(db, role, name)
    code = await codes.issue(db, settings.secret_key, account.id, ctx.account_id, settings.enrollment_code_days,
                             needs_approval=True)
    await record(db, ctx, "staff.created", detail=f"account {account.id} {role}, code pending approval")
    return account, code


async def issue_staff_code(db: AsyncSession, settings: Settings, ctx: AuditContext, account: Account) -> str:
    """A new code for a staff account (earlier unused ones stop working); it waits for a second administrator."""
    code = await codes.issue(db, settings.secret_key, account.id, ctx.account_id, settings.enrollment_code_days,
                             needs_approval=True)
    await record(db, ctx, "staff.code_issued", detail=f"account {account.id}, pending approval")
    return code


async def decide_staff_code(db: AsyncSession, ctx: AuditContext, code_id: int,
                            approve: bool) -> tuple[EnrollmentCode, Account] | None:
    """A second administrator approves or rejects a pending staff code (None: not theirs to decide)."""
    code = await codes.decide(db, code_id, ctx.account_id, approve)
    if code is None:
        return None
    account = await db.get(Account, code.account_id)
    detail = f"code {code.id} for account {account.id}, issued by account {code.created_by}"
    await record(db, ctx, "staff.code_approved" if approve else "staff.code_rejected", detail=detail)
    return code, account


async def deactivate_staff(db: AsyncSession, ctx: AuditContext, account: Account) -> int:
    account.active = False
    ended = await sessions.end_all_for_account(db, account.id)
    await record(db, ctx, "staff.deactivated", detail=f"account {account.id}, {ended} sessions ended")
    return ended


async def activate_staff(db: AsyncSession, ctx: AuditContext, account: Account) -> None:
    account.active = True
    await record(db, ctx, "staff.activated", detail=f"account {account.id}")


async def account_names(db: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    """id -> display name, for "changed by" lines."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict((await db.execute(select(Account.id, Account.display_name).where(Account.id.in_(ids)))).all())


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


async def latest_code(db: AsyncSession, account_id: int) -> EnrollmentCode | None:
    """The account's newest enrollment code (the one just issued)."""
    return await db.scalar(select(EnrollmentCode).where(EnrollmentCode.account_id == account_id)
                           .order_by(EnrollmentCode.id.desc()).limit(1))
