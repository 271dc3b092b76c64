"""Backward-ratio figures: per township and for the county (``rectify quota``, the quota rule)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.ops.deploy import compiled_version
from engine.store.models import Campaign, Case, Organization, OrgKind
from rules.base import Verdict
from rules.quota import BackwardRatio, QuotaParams, judge_ratio

GRASSROOTS = ~Organization.kind.in_((OrgKind.COUNTY.value, OrgKind.TOWNSHIP.value))


def under(path: str):
    """Organizations at or below the one whose materialised path is ``path``: an index range
    (a path is ids between slashes, and "0" sorts right after "/")."""
    return (Organization.path >= path) & (Organization.path < path[:-1] + "0")


def county_path(org_path: str) -> str:
    """The top of the hierarchy an organization belongs to: its county (``/7/`` of ``/7/42/913/``)."""
    return "/" + org_path.strip("/").split("/")[0] + "/"


def jurisdiction_counts(session: Session, campaign_id: int, township_id: int | None, initial: str,
                        exclude_case: int | None = None, org_path: str = "/") -> dict[str, int]:
    """Grassroots organizations and confirmed cases, in the township and in the county of the
    organization at ``org_path``. Index look-ups over that township and county only: a
    province's database is not counted for one county's quota. The county's cases are those
    of its townships, and those of organizations directly under the county (no township),
    found through the township index's NULL entries."""
    confirmed = select(func.count()).select_from(Case).where(Case.campaign_id == campaign_id, Case.state != initial)
    if exclude_case is not None:
        confirmed = confirmed.where(Case.id != exclude_case)
    orgs = select(func.count()).select_from(Organization).where(GRASSROOTS)
    county = under(county_path(org_path))
    townships = select(Organization.id).where(county, Organization.kind == OrgKind.TOWNSHIP.value)
    # "+ 0" keeps SQLite from walking every case of the campaign by the (campaign, …) index:
    # the township index, probed once per township of the county, is the short way.
    in_county = select(func.count()).select_from(Case).where(
        Case.campaign_id + 0 == campaign_id, Case.state != initial, Case.township_id.in_(townships))
    direct = select(func.count()).select_from(Case).join(Organization, Case.organization_id == Organization.id).where(
        Case.campaign_id + 0 == campaign_id, Case.state != initial, Case.township_id.is_(None), county)
    if exclude_case is not None:
        in_county = in_county.where(Case.id != exclude_case)
        direct = direct.where(Case.id != exclude_case)
    return {
        "township_organizations": session.scalar(orgs.where(Organization.township_id == township_id)) or 0,
        "township_cases": session.scalar(confirmed.where(Case.township_id == township_id)) or 0,
        "county_organizations": session.scalar(orgs.where(county)) or 0,
        "county_cases": (session.scalar(in_county) or 0) + (session.scalar(direct) or 0),
    }


def quota_params(campaign: Campaign) -> QuotaParams | None:
    compiled = compiled_version(campaign.current_version)
    for rule in compiled.loaded.rules.values():
        if isinstance(rule, BackwardRatio):
            return rule.params  # type: ignore[return-value]
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
    orgs = dict(session.execute(select(Organization.township_id, func.count()).where(GRASSROOTS)
                                .group_by(Organization.township_id)).all())
    counts: dict[tuple[int | None, bool], int] = {}
    for township, state, n in session.execute(  # by state: PostgreSQL cannot group by a bound comparison
            select(Case.township_id, Case.state, func.count())
            .where(Case.campaign_id == campaign.id).group_by(Case.township_id, Case.state)):
        key = (township, state != initial)
        counts[key] = counts.get(key, 0) + n
    rows = []
    townships = session.execute(select(Organization.id, Organization.code, Organization.name)
                                .where(Organization.kind == OrgKind.TOWNSHIP.value).order_by(Organization.code))
    for tid, code, name in townships:
        confirmed = counts.get((tid, True), 0)
        rows.append(QuotaRow(code, name, orgs.get(tid, 0), counts.get((tid, False), 0), confirmed,
                             judge_ratio(confirmed, orgs.get(tid, 0), params.model_copy(update={"per": "township"}))))
    total_orgs = sum(orgs.values())
    total_confirmed = sum(n for (_, c), n in counts.items() if c)
    total = QuotaRow("", "全县合计", total_orgs, sum(n for (_, c), n in counts.items() if not c), total_confirmed,
                     judge_ratio(total_confirmed, total_orgs, params.model_copy(update={"per": "county"})))
    return rows, total
