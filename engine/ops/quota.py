"""Backward-ratio figures: per township and for the county (``rectify quota``, the quota rule)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.ops.deploy import compiled_version
from engine.store import campaign_queries
from engine.store.models import Campaign
from rules.base import Verdict
from rules.quota import BackwardRatio, QuotaParams, judge_ratio

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


def quota_table(session: Session, campaign: Campaign, params: QuotaParams) -> tuple[list[QuotaRow], QuotaRow]:
    """One row per township, and the county's total."""
    initial = compiled_version(campaign.current_version).definition.initial_state
    orgs = campaign_queries.grassroots_by_township(session)
    counts: dict[tuple[int | None, bool], int] = {}
    for township, state, n in campaign_queries.campaign_cases_by_township_state(session, campaign.id):
        key = (township, state != initial)
        counts[key] = counts.get(key, 0) + n
    rows = []
    for tid, code, name in campaign_queries.townships(session):
        confirmed = counts.get((tid, True), 0)
        rows.append(QuotaRow(code, name, orgs.get(tid, 0), counts.get((tid, False), 0), confirmed,
                             judge_ratio(confirmed, orgs.get(tid, 0), params.model_copy(update={"per": "township"}))))
    total_orgs = sum(orgs.values())
    total_confirmed = sum(n for (_, c), n in counts.items() if c)
    total = QuotaRow("", "全县合计", total_orgs, sum(n for (_, c), n in counts.items() if not c), total_confirmed,
                     judge_ratio(total_confirmed, total_orgs, params.model_copy(update={"per": "county"})))
    return rows, total
