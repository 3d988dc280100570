"""Admin: staff accounts (create, issue enrollment codes, deactivate)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from sqlalchemy import select

from server.access import service, sessions
from server.access.forms import STAFF_ROLES, StaffForm
from server.access.models import Account
from server.access.policy import ADMIN, policy
from server.audit.service import record
from server.i18n import N_
from server.web import actor, audit_ctx, flash, locale, redirect, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


async def _staff(request: Request) -> list[Account]:
    return list((await service.db_of(request).scalars(
        select(Account).where(Account.role.in_(STAFF_ROLES)).order_by(Account.display_name)
    )).all())


async def _staff_account(request: Request, account_id: int) -> Account:
    account = await service.db_of(request).get(Account, account_id)
    if account is None or account.role not in STAFF_ROLES:
        raise NotFoundException()
    return account


def _code_page(request: Request, account: Account, code: str) -> Response:
    return render(request, "admin/code.html", {"account": account, "code": code,
                                               "days": request.app.state.settings.enrollment_code_days})


@get("/admin/accounts", opt=policy(ADMIN))
async def accounts(request: Request) -> Response:
    return render(request, "admin/accounts.html", {"accounts": await _staff(request), "form": {}, "errors": {}})


@post("/admin/accounts", opt=policy(ADMIN))
async def create_account(request: Request, data: Form) -> Response:
    form = StaffForm(data, locale=locale(request))
    if not form.validate():
        return render(request, "admin/accounts.html",
                      {"accounts": await _staff(request), "form": form.values, "errors": form.error_map},
                      status=422)
    name, role = form.clean("name"), form.clean("role")
    db = service.db_of(request)
    account = await service.create_account(db, role, name)
    code = await service.issue_code(request, account.id)
    await record(db, audit_ctx(request), "staff.created", detail=f"account {account.id} {role}")
    return _code_page(request, account, code)


@post("/admin/accounts/{account_id:int}/code", opt=policy(ADMIN))
async def issue_code(request: Request, account_id: int) -> Response:
    account = await _staff_account(request, account_id)
    code = await service.issue_code(request, account.id)
    await record(service.db_of(request), audit_ctx(request), "staff.code_issued", detail=f"account {account.id}")
    return _code_page(request, account, code)


@get("/admin/accounts/{account_id:int}/deactivate", opt=policy(ADMIN))
async def deactivate_confirm(request: Request, account_id: int) -> Response:
    account = await _staff_account(request, account_id)
    return render(request, "admin/deactivate.html", {"account": account})


@post("/admin/accounts/{account_id:int}/deactivate", opt=policy(ADMIN))
async def deactivate(request: Request, account_id: int) -> Response:
    account = await _staff_account(request, account_id)
    if account.id == actor(request).account_id:
        flash(request, N_("You cannot deactivate your own account."), "danger")
        return redirect(request, "/admin/accounts")
    account.active = False
    ended = await sessions.end_all_for_account(service.db_of(request), account.id)
    await record(service.db_of(request), audit_ctx(request), "staff.deactivated",
                 detail=f"account {account.id}, {ended} sessions ended")
    flash(request, N_("%(name)s was deactivated and logged out everywhere."), name=account.display_name)
    return redirect(request, "/admin/accounts")


@post("/admin/accounts/{account_id:int}/activate", opt=policy(ADMIN))
async def activate(request: Request, account_id: int) -> Response:
    account = await _staff_account(request, account_id)
    account.active = True
    await record(service.db_of(request), audit_ctx(request), "staff.activated", detail=f"account {account.id}")
    flash(request, N_("%(name)s can log in again."), name=account.display_name)
    return redirect(request, "/admin/accounts")


ROUTES = [accounts, create_account, issue_code, deactivate_confirm, deactivate, activate]
