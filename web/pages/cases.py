"""A case: its page (state, deadlines, facts, evidence, problems, people, history, what can be
done now), firing a trigger after a confirmation, recording facts, uploading and viewing evidence.

A case outside the official's jurisdiction is "not found" here, with nothing about it shown
(the service refused the read and recorded the refusal).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from engine.base.errors import BadInput, NotFound, PermissionDenied, Refused
from engine.services import cases as case_services
from engine.services import evidence as evidence_services
from engine.services import problems as problem_services
from web.auth import caller, current_user
from web.files import file_response
from web.render import page, redirect_with
from web.uploads import spooled_uploads

router = APIRouter(include_in_schema=False)
LIST_LIMIT = 200


def _not_found(ref: str) -> NotFound:
    return NotFound("case 整顿对象", ref, "它不存在，或不在您的管辖范围内 / it does not exist or is outside your jurisdiction")


def _detail(request: Request, ref: str) -> dict:
    user = current_user(request)
    try:
        return case_services.show_case(request.app.state.store, caller(request, user), ref).value
    except PermissionDenied:
        raise _not_found(ref) from None


@router.get("/cases")
def case_list(request: Request, state: str | None = None, overdue: bool = False) -> Response:
    user = current_user(request)
    done = case_services.list_cases(request.app.state.store, caller(request, user), state=state or None,
                                    overdue=overdue, limit=LIST_LIMIT + 1)
    rows = done.value
    return page(request, "cases.html", rows=rows[:LIST_LIMIT], more=len(rows) > LIST_LIMIT, state=state,
                overdue=overdue)


@router.get("/cases/{ref}")
def case_page(request: Request, ref: str) -> Response:
    detail = _detail(request, ref)
    files = _evidence(request, ref)
    return page(request, "case.html", case=detail, files=files)


def _evidence(request: Request, ref: str) -> list[dict]:
    user = current_user(request)
    return evidence_services.list_evidence(request.app.state.store, caller(request, user), ref).value


@router.get("/cases/{ref}/fire/{trigger}")
def confirm_fire(request: Request, ref: str, trigger: str) -> Response:
    detail = _detail(request, ref)
    status = next((t for t in detail["triggers"] if t["trigger"] == trigger), None)
    if status is None:
        raise NotFound("trigger 操作", trigger, f"“{detail['state_label']}”状态下可办理的操作见案件页 / see the case "
                       "page for what can be done in this state")
    return page(request, "fire.html", case=detail, trigger=status)


@router.post("/cases/{ref}/fire/{trigger}")
async def fire(request: Request, ref: str, trigger: str) -> Response:
    user = current_user(request)
    form = await request.form()
    note = str(form.get("note", "")).strip() or None
    if form.get("confirm") != "yes":
        raise BadInput("请勾选“确认办理”后再提交 / tick the confirmation box before submitting")
    _detail(request, ref)  # another township's case is not found, before anything is judged
    try:
        done = case_services.fire(request.app.state.store, caller(request, user), ref, trigger, note)
    except Refused as exc:  # a rule or the role said no: every reason shown, the note kept
        detail = _detail(request, ref)
        status = next((t for t in detail["triggers"] if t["trigger"] == trigger), None)
        return page(request, "fire.html", 409, case=detail, trigger=status, refused=str(exc), note=note or "")
    fired = done.value
    message = f"已办理：{fired.source_label} → {fired.dest_label}"
    return redirect_with(request, f"/cases/{quote(fired.ref)}", message)


@router.post("/cases/{ref}/facts/{name}")
async def set_fact(request: Request, ref: str, name: str) -> Response:
    user = current_user(request)
    form = await request.form()
    value = str(form.get("value", ""))
    cleared = form.get("clear") == "yes"
    _detail(request, ref)  # another township's case is not found, before anything is judged
    done = case_services.set_fact(request.app.state.store, caller(request, user), ref, name,
                                  None if cleared else value)
    message = f"已记录：{done.value.name}" if not cleared else f"已清除：{done.value.name}"
    return redirect_with(request, f"/cases/{quote(done.value.ref)}#facts", message)


@router.post("/cases/{ref}/problems/{number}/close")
async def close_problem(request: Request, ref: str, number: int) -> Response:
    """销号: the engine refuses it without the evidence the workflow asks for, with the reason."""
    user = current_user(request)
    form = await request.form()
    if form.get("confirm") != "yes":
        raise BadInput("请勾选“确认销号”后再提交 / tick the confirmation box before closing the problem")
    _detail(request, ref)
    note = str(form.get("note", "")).strip() or None
    problem_services.close(request.app.state.store, caller(request, user), ref, number, note)
    return redirect_with(request, f"/cases/{quote(ref)}#problems", f"问题第{number}项已销号")


@router.post("/cases/{ref}/evidence")
async def upload(request: Request, ref: str) -> Response:
    user = current_user(request)
    _detail(request, ref)
    store = request.app.state.store
    with tempfile.TemporaryDirectory(prefix="rectify-upload-") as folder:
        form, paths = await spooled_uploads(request, Path(folder), store.evidence_files.max_bytes)
        fact, problem = _attached_to(str(form.get("fact") or ""))
        note = str(form.get("note") or "") or None
        if not paths:
            raise BadInput("请选择要上传的文件 / choose a file to upload")
        done = evidence_services.add(store, caller(request, user), store.evidence_files, ref, paths,
                                     fact=fact, problem=problem, note=note)
    names = "、".join(a.name for a in done.value)
    return redirect_with(request, f"/cases/{quote(ref)}#evidence", f"已上传：{names}")


def _attached_to(choice: str) -> tuple[str | None, int | None]:
    """The upload form's "用于": a fact's name, ``problem:N`` for a problem, or the case itself."""
    if choice.startswith("problem:"):
        number = choice.removeprefix("problem:")
        if not (number.isascii() and number.isdigit()):
            raise BadInput(f"问题序号应为数字 / the problem's number is a whole number, not '{number}'")
        return None, int(number)
    return choice or None, None


@router.get("/cases/{ref}/evidence/{number}")
def evidence_file(request: Request, ref: str, number: int) -> Response:
    user = current_user(request)
    store = request.app.state.store
    try:
        got = evidence_services.content(store, caller(request, user), store.evidence_files, ref, number).value
    except PermissionDenied:
        raise _not_found(ref) from None
    return file_response(got)
