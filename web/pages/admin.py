"""The administrators' pages: 通知 (the outbox, with 重新投递 for dead notices), 拒绝记录 (the
refusals log), 审计 (verifying every hash chain, on request) and 账号 (web accounts and API tokens).

Who may do what is the services' (engine.services.outbox, records, accounts): a page offers an
administrator's buttons to administrators, and the service refuses (and records) anyone else.
"""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from engine.base.errors import BadInput
from engine.services import accounts, outbox, records
from web.auth import caller, current_user
from web.render import page, redirect_with

router = APIRouter(include_in_schema=False)
NOTICE_PAGE = 50
NOTICE_STATUSES = {"pending": "待投递", "delivered": "已投递", "dead": "投递失败", "held": "暂缓发出"}
REFUSALS_LIMIT = 100
REFUSALS_MAX = 1000
# The buttons each account state offers (the accounts service still judges every press): an
# invitation until a password is set, a reset (a new invitation) once one was, which also
# restores a disabled account; nothing for an official who is no longer active.
ACCOUNT_ACTIONS = {
    "none": [("invite", "邀请"), ("disable", "停用")],
    "invited": [("invite", "重新邀请"), ("disable", "停用")],
    "invitation_expired": [("invite", "重新邀请"), ("disable", "停用")],
    "active": [("reset", "重置"), ("disable", "停用")],
    "locked": [("reset", "重置"), ("disable", "停用")],
    "disabled": [("reset", "重置")],
}


def _confirmed(form, what: str) -> None:
    if form.get("confirm") != "yes":
        raise BadInput(f"请勾选确认框后再{what} / tick the confirmation box first")


def _redirect(request: Request, path: str, message: str) -> RedirectResponse:
    return redirect_with(request, path, message)


# --- 通知 ---------------------------------------------------------------------------------------

@router.get("/notices")
def notice_list(request: Request, status: str | None = None, unreached: bool = False,
                before: int | None = None) -> Response:
    """A page of notices, newest first; the next page starts below the last one shown (read along
    the primary key: never every row)."""
    user = current_user(request)
    if status and status not in NOTICE_STATUSES:
        raise BadInput(f"未知的通知状态 / unknown notice status '{status}': {', '.join(NOTICE_STATUSES)}")
    done = outbox.list_notices(request.app.state.store, caller(request, user), status=status or None,
                               limit=NOTICE_PAGE + 1, unreached=unreached, before=before)
    rows = done.value[:NOTICE_PAGE]
    more = len(done.value) > NOTICE_PAGE
    query = {k: v for k, v in (("status", status or ""), ("unreached", "true" if unreached else "")) if v}
    next_page = urlencode({**query, "before": rows[-1]["id"]}) if more and rows else None
    return page(request, "notices.html", rows=rows, next_page=next_page, first_page=urlencode(query),
                paged=before is not None, chosen=status or "", unreached=unreached, statuses=NOTICE_STATUSES,
                warnings=done.warnings)


@router.post("/notices/{notice_id}/retry")
async def retry_notice(request: Request, notice_id: int) -> Response:
    user = current_user(request)
    count = outbox.retry_notice(request.app.state.store, caller(request, user), notice_id).value
    return _redirect(request, "/notices", f"通知 #{notice_id}：{count} 个投递重新排队 / {count} deliveries queued again")


@router.post("/notices/retry-dead")
async def retry_dead(request: Request) -> Response:
    user = current_user(request)
    _confirmed(await request.form(), "重新投递全部失败的通知")
    notices, deliveries = outbox.retry_dead_notices(request.app.state.store, caller(request, user)).value
    return _redirect(request, "/notices", f"{notices} 份通知、{deliveries} 个投递重新排队 / {notices} notices, {deliveries} "
                                 "deliveries queued again")


# --- 拒绝记录 -------------------------------------------------------------------------------------

@router.get("/refusals")
def refusal_list(request: Request, limit: int = REFUSALS_LIMIT) -> Response:
    user = current_user(request)
    limit = max(1, min(limit, REFUSALS_MAX))
    done = records.refusals(request.app.state.store, caller(request, user), limit)
    return page(request, "refusals.html", rows=done.value, limit=limit, more=len(done.value) == limit,
                larger=min(limit * 5, REFUSALS_MAX), warnings=done.warnings)


# --- 审计 ---------------------------------------------------------------------------------------

@router.get("/audit")
def audit_form(request: Request) -> Response:
    """Only the button: verifying reads every record, so it runs when asked (POST), never on a GET."""
    current_user(request)
    return page(request, "audit.html", result=None, case="")


@router.post("/audit")
async def audit_verify(request: Request) -> Response:
    user = current_user(request)
    form = await request.form()
    case = str(form.get("case") or "").strip()
    store = request.app.state.store
    result = records.verify_audit(store, caller(request, user), case or None, files=store.evidence_files).value
    return page(request, "audit.html", result=result, case=case, more=result.problem_count - len(result.problems))


# --- 账号 ---------------------------------------------------------------------------------------

@router.get("/admin/accounts")
def account_list(request: Request) -> Response:
    return _accounts_page(request)


def _accounts_page(request: Request, **shown) -> Response:
    user = current_user(request)
    store, who = request.app.state.store, caller(request, user)
    listed = accounts.accounts(store, who)
    tokens = defaultdict(list)
    for token in accounts.list_tokens(store, who).value:  # an administrator's: everyone's
        tokens[token["official"]].append(token)
    return page(request, "accounts.html", rows=listed.value, tokens=tokens, actions=ACCOUNT_ACTIONS,
                warnings=listed.warnings, **shown)


@router.post("/admin/accounts/invite")
async def invite(request: Request) -> Response:
    return await _invitation(request, accounts.invite, "邀请", "开通")


@router.post("/admin/accounts/reset")
async def reset(request: Request) -> Response:
    return await _invitation(request, accounts.reset, "重置", "重置（原密码、会话和令牌随即失效）")


async def _invitation(request: Request, make, label: str, what: str) -> Response:
    """The invitation link shown this once, on the page the POST answers (never in a URL or a
    redirect: it is a password in waiting)."""
    user = current_user(request)
    form = await request.form()
    name = str(form.get("name") or "")
    _confirmed(form, label)
    made = make(request.app.state.store, caller(request, user), name, request.app.state.config.base_url).value
    return _accounts_page(request, invitation=made, invitation_what=what,
                          message=f"已为{made.name}生成{label}链接 / a link for {made.name} was made")


@router.post("/admin/accounts/disable")
async def disable(request: Request) -> Response:
    user = current_user(request)
    form = await request.form()
    name = str(form.get("name") or "")
    _confirmed(form, "停用")
    accounts.deactivate(request.app.state.store, caller(request, user), name)
    return _redirect(request, "/admin/accounts", f"已停用{name}的网页账户，其会话和令牌随即失效 / {name}'s web account is "
                                        "disabled, with every session and token")


@router.post("/admin/tokens/{token_id}/revoke")
async def revoke(request: Request, token_id: int) -> Response:
    user = current_user(request)
    _confirmed(await request.form(), "吊销")
    accounts.revoke_token(request.app.state.store, caller(request, user), token_id)
    return _redirect(request, "/admin/accounts", f"令牌 #{token_id} 已吊销 / token #{token_id} revoked")
