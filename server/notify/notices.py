"""Telling an account's owner about changes to how they sign in (new passkeys, new codes).

Staff read them on their account page; patients also get them in their inbox.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.models import Account, AccountNotice, EnrollmentCode
from server.i18n import N_
from server.notify.service import notify

CODE_ISSUED = N_("A one-time code for adding a passkey to your account was issued by %(issuer)s. "
                 "If you did not ask for it, tell your manager.")
CODE_APPROVED = N_("The one-time code for your account issued by %(issuer)s was approved by %(approver)s.")
PASSKEY_ADDED_BY_YOU = N_("A new passkey “%(name)s” was added by you.")
PASSKEY_ADDED_APPROVED = N_("A new passkey “%(name)s” was added with a code issued by %(issuer)s "
                            "and approved by %(approver)s.")
PASSKEY_ADDED_ISSUED = N_("A new passkey “%(name)s” was added with a code issued by %(issuer)s.")
PASSKEY_ADDED_OPERATOR = N_("A new passkey “%(name)s” was added with a code from the server operator.")


async def tell(db: AsyncSession, account: Account, message: str, **params: str) -> None:
    db.add(AccountNotice(account_id=account.id, message=message, params=params))
    if account.patient_id is not None:
        await notify(db, account.patient_id, message, link="/account", **params)
    await db.flush()


async def name_of(db: AsyncSession, account_id: int | None) -> str:
    account = await db.get(Account, account_id) if account_id is not None else None
    return account.display_name if account else "?"


async def passkey_added(db: AsyncSession, account: Account, name: str, code: EnrollmentCode | None) -> None:
    """The notice for a new passkey: added by the owner, or with a code (naming who issued and approved it)."""
    if code is None:
        await tell(db, account, PASSKEY_ADDED_BY_YOU, name=name)
    elif code.created_by is None:
        await tell(db, account, PASSKEY_ADDED_OPERATOR, name=name)
    elif code.approved_by is not None:
        await tell(db, account, PASSKEY_ADDED_APPROVED, name=name, issuer=await name_of(db, code.created_by),
                   approver=await name_of(db, code.approved_by))
    else:
        await tell(db, account, PASSKEY_ADDED_ISSUED, name=name, issuer=await name_of(db, code.created_by))


async def recent(db: AsyncSession, account_id: int, limit: int = 10) -> list[AccountNotice]:
    return list((await db.scalars(select(AccountNotice).where(AccountNotice.account_id == account_id)
                                  .order_by(AccountNotice.created_at.desc(), AccountNotice.id.desc())
                                  .limit(limit))).all())
