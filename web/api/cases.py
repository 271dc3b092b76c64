"""我的待办 and cases: list, show, history, fire, facts, evidence."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from engine.base.errors import BadInput
from engine.services import cases as case_services
from engine.services import evidence as evidence_services
from engine.services import todo
from web.api.models import FactValue, Fire
from web.auth import caller, current_user
from web.uploads import spooled_uploads

router = APIRouter(prefix="/api/v1", tags=["整顿对象 / cases"])


@router.get("/todo", summary="我的待办 / what needs the caller's action, by deadline")
def my_todo(request: Request, limit: int = Query(50, ge=1, le=200)) -> todo.Todo:
    user = current_user(request)
    return todo.my_todo(request.app.state.store, caller(request, user), limit).value


@router.get("/cases", summary="整顿对象 / the cases the caller may read")
def cases(request: Request, state: str | None = None, overdue: bool = False,
          limit: int = Query(200, ge=1, le=1000)) -> list[dict[str, Any]]:
    user = current_user(request)
    return case_services.list_cases(request.app.state.store, caller(request, user), state=state, overdue=overdue,
                                    limit=limit).value


@router.get("/cases/{ref}", summary="一个整顿对象 / a case: state, deadlines, facts, triggers, history")
def case(request: Request, ref: str) -> dict[str, Any]:
    user = current_user(request)
    return case_services.show_case(request.app.state.store, caller(request, user), ref).value


@router.get("/cases/{ref}/history", summary="办理记录 / a case's events")
def history(request: Request, ref: str) -> list[dict[str, Any]]:
    user = current_user(request)
    return case_services.history(request.app.state.store, caller(request, user), ref).value


@router.post("/cases/{ref}/fire", summary="办理 / fire a trigger (refused: 409 with every reason)")
def fire(request: Request, ref: str, body: Fire) -> case_services.Fired:
    user = current_user(request)
    return case_services.fire(request.app.state.store, caller(request, user), ref, body.trigger, body.note).value


@router.put("/cases/{ref}/facts/{name}", summary="登记事实 / record a fact (null clears it)")
def set_fact(request: Request, ref: str, name: str, body: FactValue) -> case_services.FactChanged:
    user = current_user(request)
    return case_services.set_fact(request.app.state.store, caller(request, user), ref, name, body.value).value


@router.get("/cases/{ref}/evidence", summary="证据材料 / a case's files")
def evidence(request: Request, ref: str) -> list[dict[str, Any]]:
    user = current_user(request)
    return evidence_services.list_evidence(request.app.state.store, caller(request, user), ref).value


@router.post("/cases/{ref}/evidence", status_code=201,
             summary="上传证据 / attach files (multipart: files, and fact or problem, note)")
async def upload(request: Request, ref: str) -> list[evidence_services.Added]:
    user = current_user(request)
    store = request.app.state.store
    with tempfile.TemporaryDirectory(prefix="rectify-upload-") as folder:
        form, paths = await spooled_uploads(request, Path(folder), store.evidence_files.max_bytes)
        problem = str(form.get("problem") or "")
        if problem and not (problem.isascii() and problem.isdigit()):
            raise BadInput(f"问题序号应为数字 / the problem's number is a whole number, not '{problem}'")
        done = evidence_services.add(store, caller(request, user), store.evidence_files, ref, paths,
                                     fact=str(form.get("fact") or "") or None,
                                     problem=int(problem) if problem.isdigit() else None,
                                     note=str(form.get("note") or "") or None)
    return done.value


@router.get("/cases/{ref}/evidence/{number}", summary="取回证据 / a file, verified against its hash",
            response_class=Response)
def evidence_file(request: Request, ref: str, number: int) -> Response:
    user = current_user(request)
    store = request.app.state.store
    got = evidence_services.content(store, caller(request, user), store.evidence_files, ref, number).value
    return Response(got.data, media_type="application/octet-stream", headers={
        "x-evidence-sha256": got.sha256, "content-disposition": f"attachment; filename*=UTF-8''{quote(got.name)}"})
