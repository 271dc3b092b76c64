"""Backward-ratio figures: per township and for the county (``rectify quota``, the quota rule)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.ops.deploy import compiled_version
from engine.store import campaign_queries
from engine.store.models import Campaign
from rules.base import Verdict
from rules.quota import BackwardRatio, Breach, QuotaParams, breach, judge_ratio

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def jurisdiction_counts(session: Session, campaign_id: int, township_id: int | None, initial: str,
                        exclude_case: int | None = None, org_path: str = "/") -> dict[str, int]:
    """Grassroots organizations and confirmed cases (past ``initial``), in the township and in
    the county of the organization at ``org_path``, leaving out ``exclude_case``: the quota
    rule's figures, counted over that township and county only
    (``engine.store.campaign_queries.jurisdiction_counts``)."""
    return campaign_queries.jurisdiction_counts(session, campaign_id, township_id, initial, exclude_case, org_path)


def quota_params(campaign: Campaign) -> QuotaParams | None:
    compiled = compiled_version(campaign.current_version)
    for rule in compiled.loaded.rules.values():
        if isinstance(rule, BackwardRatio):
            return rule.params
    return None


@dataclass(frozen=True)
class QuotaRow:
    code: str
    name: str
    organizations: int
    screening: int
    confirmed: int
    verdict: Verdict
    breach: Breach | None  # "above" or "below" target ± tolerance ("below" only if the rule checks it)


def _row(code: str, name: str, organizations: int, screening: int, confirmed: int, params: QuotaParams) -> QuotaRow:
    return QuotaRow(code, name, organizations, screening, confirmed, judge_ratio(confirmed, organizations, params),
                    breach(confirmed, organizations, params))


def quota_table(session: Session, campaign: Campaign, params: QuotaParams) -> tuple[list[QuotaRow], QuotaRow]:
    """One row per township, every one even with no case (zero cases may be below the target),
    and the county's total."""
    initial = compiled_version(campaign.current_version).definition.initial_state
    orgs = campaign_queries.grassroots_by_township(session)
    counts: dict[tuple[int | None, bool], int] = {}
    for township, state, n in campaign_queries.campaign_cases_by_township_state(session, campaign.id):
        key = (township, state != initial)
        counts[key] = counts.get(key, 0) + n
    township, county = params.model_copy(update={"per": "township"}), params.model_copy(update={"per": "county"})
    rows = [_row(code, name, orgs.get(tid, 0), counts.get((tid, False), 0), counts.get((tid, True), 0), township)
            for tid, code, name in campaign_queries.townships(session)]
    total = _row("", "全县合计", sum(orgs.values()), sum(n for (_, c), n in counts.items() if not c),
                 sum(n for (_, c), n in counts.items() if c), county)
    return rows, total
