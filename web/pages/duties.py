"""乡镇报送: what the units in the official's jurisdiction owe the county, how each occurrence
stands, filing one (with files and a note) and returning a filing with the reason.

Each occurrence carries the anchor ``{duty}:{unit}:{occurrence}``, the key 我的待办 links to. The
forms a page offers follow the duty's roles as the service reports them; the service judges each
filing and return again (role, jurisdiction, the occurrence's state) and records a refusal.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from engine.base.errors import BadInput, NotFound, PermissionDenied
from engine.services import duties as duty_services
from web.auth import caller, current_user
from web.files import file_response
from web.render import page, redirect_with
from web.uploads import spooled_uploads

router = APIRouter(include_in_schema=False)
STANDINGS = {"done": "按时报送", "late": "逾期报送", "missing": "逾期未报", "open": "待报送"}


def anchor(duty: str, unit: str, occurrence: int) -> str:
    return f"{duty}:{unit}:{occurrence}"


def in_date_order(rows: list[dict]) -> list[dict]:
    """Each unit's occurrences by date (the service lists them by duty name), units in the
    service's (the hierarchy's) order: what falls due first is read first."""
    units: dict[str, int] = {}
    for row in rows:
        units.setdefault(row["unit_code"], len(units))
    return sorted(rows, key=lambda r: (units[r["unit_code"]], r["due"], r["label"], r["occurrence"]))


def _back(request: Request, message: str, duty: str, unit: str, occurrence: int) -> RedirectResponse:
    """Back to the list, at the occurrence just acted on, saying what was done."""
    return redirect_with(request, f"/duties#{quote(anchor(duty, unit, occurrence))}", message)


@router.get("/duties")
def duty_list(request: Request, unit: str | None = None, standing: str | None = None) -> Response:
    user = current_user(request)
    if standing and standing not in STANDINGS:
        raise BadInput(f"未知的报送状态 / unknown standing '{standing}': {', '.join(STANDINGS)}")
    done = duty_services.duty_board(request.app.state.store, caller(request, user), unit_code=unit or None,
                                    standing=standing or None)
    return page(request, "duties.html", board=done.value, rows=in_date_order(done.value["rows"]),
                standings=STANDINGS, unit=unit or "", standing=standing or "",
                warnings=done.warnings)


@router.post("/duties/{duty}/{unit}/{occurrence}/submit")
async def submit(request: Request, duty: str, unit: str, occurrence: int) -> Response:
    user = current_user(request)
    store = request.app.state.store
    with tempfile.TemporaryDirectory(prefix="rectify-upload-") as folder:
        form, paths = await spooled_uploads(request, Path(folder), store.evidence_files.max_bytes)
        note = str(form.get("note") or "")
        filed = duty_services.submit(store, caller(request, user), duty, unit, occurrence, note, paths).value
    message = (f"已报送：{filed.unit}“{filed.label}”第 {filed.occurrence} 次（{STANDINGS[filed.standing]}）/ filed "
               f"{filed.unit_code} {filed.duty} #{filed.occurrence}")
    return _back(request, message, filed.duty, filed.unit_code, filed.occurrence)


@router.post("/duties/{duty}/{unit}/{occurrence}/return")
async def give_back(request: Request, duty: str, unit: str, occurrence: int) -> Response:
    user = current_user(request)
    form = await request.form()
    reason = str(form.get("reason") or "").strip()
    if not reason:
        raise BadInput("退回须写明理由 / a return needs its reason")
    if form.get("confirm") != "yes":
        raise BadInput("请勾选“确认退回”后再提交 / tick the confirmation box before returning a filing")
    filed = duty_services.give_back(request.app.state.store, caller(request, user), duty, unit, occurrence,
                                    reason).value
    message = (f"已退回：{filed.unit}“{filed.label}”第 {filed.occurrence} 次 / returned {filed.unit_code} "
               f"{filed.duty} #{filed.occurrence}")
    return _back(request, message, filed.duty, filed.unit_code, filed.occurrence)


@router.get("/duties/{duty}/{unit}/{occurrence}/files/{sha256}")
def filed_file(request: Request, duty: str, unit: str, occurrence: int, sha256: str) -> Response:
    """A file of a filing, for whoever may read the unit (the county reviewing it, the township)."""
    user = current_user(request)
    store = request.app.state.store
    try:
        got = duty_services.filed_file(store, caller(request, user), store.evidence_files, duty, unit, occurrence,
                                       sha256).value
    except PermissionDenied:  # as for a case: another unit's filing is not there for this official
        raise NotFound("filed file 报送附件", f"{unit} {duty} #{occurrence}") from None
    return file_response(got)
