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
from sqlalchemy import select

from server.access import codes, notices, service, sessions
from server.access.models import Account, EnrollmentCode
from server.access.policy import ADMIN, policy
from server.audit.service import record
from server.i18n import N_
from server.web import actor, audit_ctx, flash, redirect, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
STAFF_ROLES = ("clinician", "admin")
MAX_NAME = 200


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


async def _page_context(request: Request) -> dict[str, Any]:
    db = service.db_of(request)
    me = actor(request).account_id
    waiting = [{"code": code, "account": await db.get(Account, code.account_id),
                "issuer": await notices.name_of(db, code.created_by), "may_decide": codes.may_decide(code, me)}
               for code in await codes.pending(db)]
    return {"accounts": await _staff(request), "pending": waiting}


async def _issue_pending(request: Request, account: Account) -> str:
    """A staff code that waits for a second administrator; the owner is told at once."""
    db = service.db_of(request)
    settings = request.app.state.settings
    me = actor(request)
    code = await codes.issue(db, settings.secret_key, account.id, me.account_id, settings.enrollment_code_days,
                             needs_approval=True)
    await notices.tell(db, account, notices.CODE_ISSUED, issuer=me.display_name)
    return code


@get("/admin/accounts", opt=policy(ADMIN))
async def accounts(request: Request) -> Response:
    return render(request, "admin/accounts.html", await _page_context(request) | {"form": {}, "errors": {}})


@post("/admin/accounts", opt=policy(ADMIN))
async def create_account(request: Request, data: Form) -> Response:
    name = str(data.get("name", "")).strip()
    role = str(data.get("role", "clinician"))
    errors = {}
    if not name:
        errors["name"] = N_("Enter the person's full name.")
    elif len(name) > MAX_NAME:
        errors["name"] = N_("The name can be at most 200 characters.")
    if role not in STAFF_ROLES:
        errors["role"] = N_("Choose a role.")
    if errors:
        return render(request, "admin/accounts.html",
                      await _page_context(request) | {"form": {"name": name, "role": role}, "errors": errors},
                      status=422)
    db = service.db_of(request)
    account = await service.create_account(db, role, name)
    code = await _issue_pending(request, account)
    await record(db, audit_ctx(request), "staff.created", detail=f"account {account.id} {role}, code pending approval")
    return _code_page(request, account, code)


@post("/admin/accounts/{account_id:int}/code", opt=policy(ADMIN))
async def issue_code(request: Request, account_id: int) -> Response:
    account = await _staff_account(request, account_id)
    code = await _issue_pending(request, account)
    await record(service.db_of(request), audit_ctx(request), "staff.code_issued",
                 detail=f"account {account.id}, pending approval")
    return _code_page(request, account, code)


async def _decide(request: Request, code_id: int, approve: bool) -> Response:
    db = service.db_of(request)
    me = actor(request)
    code = await codes.decide(db, code_id, me.account_id, approve)
    if code is None:
        existing = await db.get(EnrollmentCode, code_id)
        if existing is None or not existing.needs_approval:
            raise NotFoundException()
        flash(request, N_("Another administrator must decide on this code, or it was already decided."), "danger")
        return redirect(request, "/admin/accounts")
    account = await db.get(Account, code.account_id)
    issuer = await notices.name_of(db, code.created_by)
    detail = f"code {code.id} for account {account.id}, issued by account {code.created_by}"
    if approve:
        await notices.tell(db, account, notices.CODE_APPROVED, issuer=issuer, approver=me.display_name)
        await record(db, audit_ctx(request), "staff.code_approved", detail=detail)
        flash(request, N_("The code for %(name)s was approved and works now."), name=account.display_name)
    else:
        await record(db, audit_ctx(request), "staff.code_rejected", detail=detail)
        flash(request, N_("The code for %(name)s was rejected and will not work."), name=account.display_name)
    return redirect(request, "/admin/accounts")


@post("/admin/codes/{code_id:int}/approve", opt=policy(ADMIN))
async def approve_code(request: Request, code_id: int) -> Response:
    return await _decide(request, code_id, approve=True)


@post("/admin/codes/{code_id:int}/reject", opt=policy(ADMIN))
async def reject_code(request: Request, code_id: int) -> Response:
    return await _decide(request, code_id, approve=False)


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


ROUTES = [accounts, create_account, issue_code, approve_code, reject_code, deactivate_confirm, deactivate, activate]
