"""Who is asking: the official behind a session cookie or a bearer token, as a ``Caller``.

The cookie (Starlette's signed session) holds a random session token; the database holds only
its SHA-256 (``engine.services.accounts``), so a session ends everywhere the moment it is
revoked, expired or its account disabled. The caller the services see is that official, acting
``via`` web, api or cli (the CLI in client mode), on the service's clock.
"""

from __future__ import annotations

from fastapi import Request

from engine.services import Caller, accounts
from engine.services.accounts import Authenticated
from web.errors import LoginRequired

SESSION_KEY = "sid"


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def current_user(request: Request) -> Authenticated:
    """The authenticated official, or ``LoginRequired``. A bearer token is taken for the API
    only; pages take only the session cookie."""
    known = getattr(request.state, "user", None)
    if known is not None:  # asked once per request: a page that calls two services looks it up once
        return known
    store = request.app.state.store
    if request.url.path.startswith("/api/"):
        token = bearer(request)
        user = accounts.token_user(store, token) if token else None
    else:
        token = request.session.get(SESSION_KEY)
        user = accounts.session_user(store, token) if isinstance(token, str) else None
    if user is None:
        raise LoginRequired()
    request.state.user = user
    return user


def caller(request: Request, user: Authenticated) -> Caller:
    """The ``Caller`` for the services: the official, how they act, the service's clock, and the
    request as the refusals log shows it."""
    config = request.app.state.config
    return Caller(login=f"{user.via}:{user.official}", command=f"{user.via} {request.method} {request.url.path}",
                  official=user.official, via=user.via, now_text=config.now_text,
                  service_clock=config.now_text is not None)
