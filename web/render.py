"""Pages from Jinja templates (autoescaped: whatever an official typed is shown as text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from engine.base.text import visible
from web import csrf

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.filters["visible"] = visible  # control characters shown as escapes, never obeyed


def chinese(text: str) -> str:
    """The Chinese half of an engine text written "中文 / English" (pages are in Chinese; the
    API keeps both)."""
    return text.split(" / ", 1)[0]


TEMPLATES.env.filters["zh"] = chinese


FLASH = "flash"


def redirect_with(request: Request, path: str, message: str) -> RedirectResponse:
    """After a POST that committed: go to ``path`` (303) and say ``message`` there once. The
    message rides in the signed session, not the URL, so no link can make a page say anything."""
    request.session[FLASH] = message
    return RedirectResponse(path, status_code=303)


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered for the logged-in official (if any), with the CSRF token its forms
    send back (its cookie set when the browser has none yet)."""
    user = getattr(request.state, "user", None)
    settings = request.app.state.config
    flashed = request.session.pop(FLASH, None) if "session" in request.scope else None
    if flashed and not context.get("message"):
        context["message"] = flashed
    token, signed = csrf.token_for(request)
    response = TEMPLATES.TemplateResponse(request, template, {
        "user": user, "csrf": token, "service_clock": settings.now_text, **context,
    }, status_code=status)
    csrf.set_cookie(response, signed)
    return response
