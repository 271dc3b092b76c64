"""Who calls: logging in for a token (the CLI's ``rectify login``), who the token is, its tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from engine.base.errors import LoginRefused
from engine.services import accounts
from web import throttle
from web.api.models import Issued, LogIn, NewToken, Who
from web.auth import bearer, caller, current_user

router = APIRouter(prefix="/api/v1", tags=["身份 / identity"])


@router.post("/login", response_model=Issued, summary="登录，取得命令行客户端令牌 / log in for a CLI-client token")
def log_in(request: Request, body: LogIn) -> Issued:
    address = request.client.host if request.client else "?"
    minutes = throttle.blocked_for(address)
    if minutes is not None:
        raise throttle.TooManyLogIns(minutes)
    try:
        token = accounts.log_in(request.app.state.store, body.name, body.password, f"{address} {body.client}".strip(),
                                via="cli").value
    except LoginRefused:
        throttle.failed(address)
        raise
    return Issued(token=token, official=body.name)


@router.post("/logout", status_code=204, summary="吊销本令牌 / revoke the token of this call")
def log_out(request: Request) -> None:
    current_user(request)
    token = bearer(request)
    if token:
        accounts.log_out(request.app.state.store, token)


@router.get("/me", response_model=Who, summary="本令牌所属官员 / whose token this is")
def me(request: Request) -> Who:
    user = current_user(request)
    return Who(official=user.official, via=user.via, admin=user.admin)


@router.get("/tokens", summary="接口令牌 / API tokens (own; an administrator: anyone's)")
def tokens(request: Request, official: str | None = None) -> list[dict[str, Any]]:
    user = current_user(request)
    return accounts.list_tokens(request.app.state.store, caller(request, user), official).value


@router.post("/tokens", response_model=Issued, status_code=201, summary="签发接口令牌 / issue an API token")
def issue(request: Request, body: NewToken) -> Issued:
    user = current_user(request)
    token_id, token = accounts.issue_token(request.app.state.store, caller(request, user), body.label,
                                           body.official).value
    return Issued(id=token_id, token=token, official=body.official or user.official)


@router.delete("/tokens/{token_id}", status_code=204, summary="吊销接口令牌 / revoke an API token")
def revoke(request: Request, token_id: int) -> None:
    user = current_user(request)
    accounts.revoke_token(request.app.state.store, caller(request, user), token_id)
