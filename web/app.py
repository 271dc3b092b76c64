"""The application ``rectify serve`` runs: pages, the JSON API, and the layers around them.

From the outside in: security headers on every response, the signed session cookie, then
FastAPI's routes, each behind the CSRF check (an application-wide dependency, ``web.csrf``). Each worker process
builds its own (``app_from_environment``) on the same database.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from engine.services import accounts
from engine.store.db import Store, database_url
from web import csrf, errors
from web.api import cases as api_cases
from web.api import cli as api_cli
from web.api import session as api_session
from web.config import ServeConfig
from web.pages import admin, cases, county, duties, login, todo
from web.security import ASGIApp, with_headers

SESSION_COOKIE = "rectify_session"
SESSION_HOURS = 12


def create_app(config: ServeConfig, store: Store | None = None) -> ASGIApp:
    store = store or Store(database_url(config.db), evidence_dir=config.evidence_dir)
    csrf.configure(accounts.service_key(store, "csrf"), config.secure)
    app = FastAPI(title="rectify", version="1", docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json",
                  description="后进基层党组织整顿工作平台的接口 / the API of the rectify workspace",
                  dependencies=[Depends(csrf.check)])
    app.state.store, app.state.config = store, config
    errors.install(app)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    for module in (login, todo, cases, api_session, api_cases, api_cli, duties, county, admin):
        app.include_router(module.router)
    app.add_middleware(SessionMiddleware, secret_key=accounts.service_key(store, "session"),
                       session_cookie=SESSION_COOKIE, max_age=int(timedelta(hours=SESSION_HOURS).total_seconds()),
                       same_site="lax", https_only=config.secure)

    return with_headers(app)


def app_from_environment() -> ASGIApp:
    """uvicorn's factory: every worker builds the application from the environment."""
    return create_app(ServeConfig.from_environment())
