"""Admin: staff accounts (create, issue enrollment codes, deactivate)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import service
from server.access.forms import StaffForm
from server.access.models import Account
from server.access.policy import ADMIN, policy
from server.i18n import N_
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


@get("/admin/accounts", opt=policy(ADMIN))
async def accounts(request: Request, db: AsyncSession) -> Response:
    return render(request, "admin/accounts.html", {"accounts": await service.staff(db), "form": {}, "errors": {}})


@post("/admin/accounts", opt=policy(ADMIN))
async def create_account(request: Request, data: Form, db: AsyncSession) -> Response:
    form = StaffForm(data, locale=locale(request))
    if not form.validate():
        return render(request, "admin/accounts.html",
                      {"accounts": await service.staff(db), "form": form.values, "errors": form.error_map},
                      status=422)
    name, role = form.clean("name"), form.clean("role")
    account, code = await service.create_staff(db, request.app.state.settings, audit_ctx(request), role, name)
    return _code_page(request, account, code)


@post("/admin/accounts/{account_id:int}/code", opt=policy(ADMIN))
async def issue_code(request: Request, account_id: int, db: AsyncSession) -> Response:
    account = await _staff_account(db, account_id)
    code = await service.issue_staff_code(db, request.app.state.settings, audit_ctx(request), account)
    return _code_page(request, account, code)


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


ROUTES = [accounts, create_account, issue_code, deactivate_confirm, deactivate, activate]
