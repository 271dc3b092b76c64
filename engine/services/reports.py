"""County-wide reading services: the quota, the dashboard, the bulletin and the ledger.

Their figures cover every township, so they are for callers whose jurisdiction is the whole
county (``Access.require_everything``); the ledger's import is an administrator's act.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.base.errors import BadInput
from engine.ops.bulletin import render_bulletin
from engine.ops.deploy import compiled_version, resolve_campaign
from engine.ops.ledger import ImportResult, Ledger, LedgerRow, build_ledger, import_ledger
from engine.ops.quota import QuotaParams, QuotaRow, quota_params, quota_table
from engine.reports.dashboard import dashboard
from engine.services import Access, Caller, Done, read, write
from engine.store.db import Store
from notifiers.render import RenderedNotice


@dataclass(frozen=True)
class Quota:
    params: QuotaParams
    rows: list[QuotaRow]  # one per township, then the county's total


def quota(store: Store, caller: Caller, campaign_ref: str | None = None) -> Done[Quota]:
    def work(access: Access) -> Quota:
        access.require_everything("后进比例", "the backward ratio table")
        campaign = resolve_campaign(access.session, campaign_ref)
        params = quota_params(campaign)
        if params is None:
            raise BadInput("工作流没有配置后进比例规则（backward_ratio）/ the workflow has no backward_ratio rule")
        rows, total = quota_table(access.session, campaign, params)
        return Quota(params, [*rows, total])
    return read(store, caller, work)


def report(store: Store, caller: Caller, campaign_ref: str | None = None) -> Done[dict[str, Any]]:
    """Every figure of the county dashboard at the caller's clock."""
    def work(access: Access) -> dict[str, Any]:
        access.require_everything("工作看板", "the county dashboard")
        campaign = resolve_campaign(access.session, campaign_ref)
        return dashboard(access.session, campaign, access.now(campaign))
    return read(store, caller, work)


def bulletin(store: Store, caller: Caller, campaign_ref: str | None = None) -> Done[RenderedNotice]:
    """The periodic bulletin as it reads at the caller's clock (nothing is sent)."""
    def work(access: Access) -> RenderedNotice:
        access.require_everything("定期通报", "the periodic bulletin")
        campaign = resolve_campaign(access.session, campaign_ref)
        return render_bulletin(access.session, campaign, access.now(campaign))
    return read(store, caller, work)


def export_ledger(store: Store, caller: Caller, write_file: Callable[[Ledger], None], *, unit: str | None = None,
                  reporter: str = "", campaign_ref: str | None = None) -> Done[int]:
    """Hand the ledger to ``write_file`` (its rows stream from the snapshot); returns the rows written."""
    def work(access: Access) -> int:
        access.require_everything("台账", "the ledger")
        campaign = resolve_campaign(access.session, campaign_ref)
        wf = compiled_version(campaign.current_version).definition
        book = build_ledger(access.session, campaign, unit or wf.issuer, reporter, access.now(campaign), wf.timezone)
        write_file(book)
        return book.written
    return read(store, caller, work)


def import_ledger_rows(store: Store, caller: Caller, source: str, rows: list[LedgerRow], problems: list[str], *,
                       skip_bad: bool = False, campaign_ref: str | None = None) -> Done[ImportResult]:
    """Open or update the cases of a ledger's rows (all or nothing unless ``skip_bad``)."""
    def work(access: Access) -> ImportResult:
        access.require_admin("导入台账", "import a ledger")
        campaign = resolve_campaign(access.session, campaign_ref)
        return import_ledger(access.session, campaign, source, rows, problems, access.actor(), access.now(campaign),
                             skip_bad)
    return write(store, caller, work)
