"""Admin: staff accounts (create, issue enrollment codes, deactivate) and the four-eyes approval of codes.

A staff code issued here works only after a second, different administrator approves it: one
administrator alone cannot give themselves (or anyone) clinical or administrative access. The code is
shown once, to the issuer, at issue: only its HMAC is stored, so it cannot be shown again later.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import codes, service
from server.access.forms import StaffForm
from server.access.models import Account, EnrollmentCode
from server.access.policy import ADMIN, policy
from server.i18n import N_
from server.notify import notices
from server.web import actor, audit_ctx, flash, locale, redirect, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


async def _staff_account(db: AsyncSession, account_id: int) -> Account:
    account = await service.staff_account(db, account_id)
    if account is None:
        raise NotFoundException()
    return account


def _code_page(request: Request, account: Account, code: str) -> Response:
    return render(request, "admin/code.html", {"account": account, "code": code,
                                               "days": request.app.state.settings.enrollment_code_days})


async def _page_context(request: Request, db: AsyncSession) -> dict[str, Any]:
    me = actor(request).account_id
    waiting = [{"code": code, "account": await db.get(Account, code.account_id),
                "issuer": await notices.name_of(db, code.created_by), "may_decide": codes.may_decide(code, me)}
               for code in await codes.pending(db)]
    return {"accounts": await service.staff(db), "pending": waiting}


@get("/admin/accounts", opt=policy(ADMIN))
async def accounts(request: Request, db: AsyncSession) -> Response:
    return render(request, "admin/accounts.html", await _page_context(request, db) | {"form": {}, "errors": {}})


@post("/admin/accounts", opt=policy(ADMIN))
async def create_account(request: Request, data: Form, db: AsyncSession) -> Response:
    form = StaffForm(data, locale=locale(request))
    if not form.validate():
        return render(request, "admin/accounts.html",
                      await _page_context(request, db) | {"form": form.values, "errors": form.error_map},
                      status=422)
    name, role = form.clean("name"), form.clean("role")
    account, code = await service.create_staff(db, request.app.state.settings, audit_ctx(request), role, name)
    await notices.tell(db, account, notices.CODE_ISSUED, issuer=actor(request).display_name)
    return _code_page(request, account, code)


@post("/admin/accounts/{account_id:int}/code", opt=policy(ADMIN))
async def issue_code(request: Request, account_id: int, db: AsyncSession) -> Response:
    account = await _staff_account(db, account_id)
    code = await service.issue_staff_code(db, request.app.state.settings, audit_ctx(request), account)
    await notices.tell(db, account, notices.CODE_ISSUED, issuer=actor(request).display_name)
    return _code_page(request, account, code)


async def _decide(request: Request, db: AsyncSession, code_id: int, approve: bool) -> Response:
    decided = await service.decide_staff_code(db, audit_ctx(request), code_id, approve)
    if decided is None:
        existing = await db.get(EnrollmentCode, code_id)
        if existing is None or not existing.needs_approval:
            raise NotFoundException()
        flash(request, N_("Another administrator must decide on this code, or it was already decided."), "danger")
        return redirect(request, "/admin/accounts")
    code, account = decided
    if approve:
        await notices.tell(db, account, notices.CODE_APPROVED, issuer=await notices.name_of(db, code.created_by),
                           approver=actor(request).display_name)
        flash(request, N_("The code for %(name)s was approved and works now."), name=account.display_name)
    else:
        flash(request, N_("The code for %(name)s was rejected and will not work."), name=account.display_name)
    return redirect(request, "/admin/accounts")


@post("/admin/codes/{code_id:int}/approve", opt=policy(ADMIN))
async def approve_code(request: Request, code_id: int, db: AsyncSession) -> Response:
    return await _decide(request, db, code_id, approve=True)


@post("/admin/codes/{code_id:int}/reject", opt=policy(ADMIN))
async def reject_code(request: Request, code_id: int, db: AsyncSession) -> Response:
    return await _decide(request, db, code_id, approve=False)


@get("/admin/accounts/{account_id:int}/deactivate", opt=policy(ADMIN))
async def deactivate_confirm(request: Request, account_id: int, db: AsyncSession) -> Response:
    account = await _staff_account(db, account_id)
    return render(request, "admin/deactivate.html", {"account": account})


@post("/admin/accounts/{account_id:int}/deactivate", opt=policy(ADMIN))
async def deactivate(request: Request, account_id: int, db: AsyncSession) -> Response:
    account = await _staff_account(db, account_id)
    if account.id == actor(request).account_id:
        flash(request, N_("You cannot deactivate your own account."), "danger")
        return redirect(request, "/admin/accounts")
    await service.deactivate_staff(db, audit_ctx(request), account)
    flash(request, N_("%(name)s was deactivated and logged out everywhere."), name=account.display_name)
    return redirect(request, "/admin/accounts")


@post("/admin/accounts/{account_id:int}/activate", opt=policy(ADMIN))
async def activate(request: Request, account_id: int, db: AsyncSession) -> Response:
    account = await _staff_account(db, account_id)
    await service.activate_staff(db, audit_ctx(request), account)
    flash(request, N_("%(name)s can log in again."), name=account.display_name)
    return redirect(request, "/admin/accounts")


ROUTES = [accounts, create_account, issue_code, approve_code, reject_code, deactivate_confirm, deactivate, activate]
