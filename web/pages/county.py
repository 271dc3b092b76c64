"""全县看板: the figures of ``rectify report --html`` inside the workspace (the same dashboard dict
and SVG charts, our template and stylesheet: the report's own page carries an inline <style> the
CSP forbids), the periodic bulletin as it reads now, and the ledger as an XLSX download.

County-wide callers only: the reports service refuses anyone else, and records the refusal.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from engine.ops.ledger import TITLE
from engine.reports.ledger_files import write_xlsx
from engine.reports.report_html import charts
from engine.services import reports
from web.auth import caller, current_user
from web.render import page

router = APIRouter(include_in_schema=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def summary(d: dict[str, Any]) -> dict[str, Any]:
    """The few figures the report's page derives from the dashboard dict, derived the same way
    (engine.reports.report_html.render_dashboard)."""
    quota_rows = d["quota"]["rows"] if d["quota"] else []
    ratios = [r["ratio"] for r in d["surveys"]["rows"]]
    return {"accepted": sum(s["count"] for s in d["states"] if s["final"]),
            "average": f"{sum(ratios) / len(ratios):.1%}" if ratios else "—",
            "quota_by_name": {r["name"]: r for r in quota_rows[:-1]},
            "quota_total": quota_rows[-1] if quota_rows else None}


@router.get("/county")
def dashboard(request: Request) -> Response:
    user = current_user(request)
    done = reports.report(request.app.state.store, caller(request, user))
    d = done.value
    return page(request, "county.html", d=d, charts=charts(d), warnings=done.warnings, **summary(d))


@router.get("/county/bulletin")
def bulletin(request: Request) -> Response:
    user = current_user(request)
    done = reports.bulletin(request.app.state.store, caller(request, user))
    return page(request, "county_bulletin.html", bulletin=done.value, warnings=done.warnings)


@router.get("/county/ledger.xlsx")
def ledger(request: Request) -> Response:
    """The ledger written from the service's snapshot into a private temporary folder, sent as an
    attachment, the folder removed once it is sent."""
    user = current_user(request)
    folder = Path(tempfile.mkdtemp(prefix="rectify-ledger-"))
    target = folder / f"{TITLE}.xlsx"
    try:
        reports.export_ledger(request.app.state.store, caller(request, user), lambda book: write_xlsx(book, target))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(target, media_type=XLSX, filename=target.name,
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))
