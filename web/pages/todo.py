"""我的待办: what needs the logged-in official's action, by deadline."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from engine.services import todo
from web.auth import caller, current_user
from web.render import page

router = APIRouter(include_in_schema=False)
# The most pressing items: what a phone shows in a few screens, and a page whose cost is the
# guards of these cases only (each shown case's open triggers are evaluated).
PAGE = 20


@router.get("/")
def my_todo(request: Request) -> Response:
    user = current_user(request)
    done = todo.my_todo(request.app.state.store, caller(request, user), PAGE)
    return page(request, "todo.html", todo=done.value, warnings=done.warnings)
