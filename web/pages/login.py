"""Logging in and out, and accepting an invitation (setting one's password)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from engine.base.errors import BadInput, Refused
from engine.services import accounts
from web import throttle
from web.auth import SESSION_KEY, current_user
from web.errors import status_of
from web.render import page

router = APIRouter(include_in_schema=False)
log = logging.getLogger("rectify.web")
KEPT_PREFIX = "kept."  # a form's fields carried through the login after a session expired


def local_path(target: str | None) -> str:
    """Where to go after logging in: a path of this site only (never //elsewhere or a URL)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def client_of(request: Request) -> str:
    return request.client.host if request.client else "?"


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    request.state.user = None
    return page(request, "login.html", next=local_path(next), kept={})


@router.post("/login")
async def log_in(request: Request) -> Response:
    form = await request.form()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    target = local_path(str(form.get("next", "/")))
    kept = {k[len(KEPT_PREFIX):]: str(v) for k, v in form.multi_items() if k.startswith(KEPT_PREFIX)}
    request.state.user = None
    store = request.app.state.store
    address = client_of(request)
    minutes = throttle.blocked_for(address)
    if minutes is not None:
        log.warning("failed log-ins from %s past the allowance", address)
        response = page(request, "login.html", 429, next=target, kept=kept, name=name,
                        message=throttle.refusal(minutes))
        response.headers["Retry-After"] = str(minutes * 60)
        return response
    try:
        token = accounts.log_in(store, name, password, address, via="web").value
    except Refused as exc:
        throttle.failed(address)
        return page(request, "login.html", 401, next=target, kept=kept, name=name, message=str(exc))
    request.session.clear()
    request.session[SESSION_KEY] = token
    if kept:  # the form the expired session interrupted: shown again, to be confirmed
        current_user(request)
        return page(request, "resubmit.html", target=target, kept=kept)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def log_out(request: Request) -> Response:
    token = request.session.get(SESSION_KEY)
    if isinstance(token, str):
        accounts.log_out(request.app.state.store, token)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/invite/{token}")
def invitation(request: Request, token: str) -> Response:
    request.state.user = None
    name = accounts.invitation_name(request.app.state.store, token)
    return page(request, "invite.html", name=name, token=token)


@router.post("/invite/{token}")
async def accept(request: Request, token: str) -> Response:
    form = await request.form()
    request.state.user = None
    store = request.app.state.store
    name = accounts.invitation_name(store, token)
    try:
        accounts.accept_invitation(store, token, str(form.get("password", "")), str(form.get("repeat", "")))
    except (BadInput, Refused) as exc:  # a weak or mistyped password: asked again
        return page(request, "invite.html", status_of(exc), name=name, token=token, message=str(exc))
    return page(request, "login.html", next="/", kept={}, name=name,
                notice="密码已设置，请登录 / your password is set: log in")
