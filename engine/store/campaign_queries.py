"""Queries about deployed workflows and campaigns: their versions, the spot-check draws, the
bulletin's figures, the ledger's rows, the outbox's bulletins and the backward-ratio counts.

The ops layer (``engine.ops.deploy``, ``spotcheck``, ``bulletin``, ``ledger``, ``quota``) decides what
to do with what these return. Every function takes the caller's session, never commits, and
returns ORM objects or plain rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from engine.store.models import (
    Campaign,
    Case,
    CaseFact,
    Event,
    Notice,
    Organization,
    OrgKind,
    SpotCheckAnnouncement,
    SpotCheckDraw,
    WorkflowVersion,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Row
    from sqlalchemy.orm import Session


# --- workflow versions and campaigns ---------------------------------------------------------

def version_by_digest(session: Session, name: str, digest: str) -> WorkflowVersion | None:
    """The deployed version of workflow ``name`` with that content hash, or None (deploying
    the same content again changes nothing)."""
    return session.scalar(select(WorkflowVersion).where(WorkflowVersion.name == name,
                                                        WorkflowVersion.digest == digest))


def last_version_number(session: Session, name: str) -> int | None:
    """The highest version number deployed of workflow ``name``, or None if none is."""
    return session.scalar(select(func.max(WorkflowVersion.version)).where(WorkflowVersion.name == name))


def campaign_of(session: Session, workflow_name: str, year: int) -> Campaign | None:
    """The campaign of a workflow's year, or None."""
    return session.scalar(select(Campaign).where(Campaign.workflow_name == workflow_name, Campaign.year == year))


def all_campaigns(session: Session) -> list[Campaign]:
    """Every campaign, by year then workflow name."""
    return list(session.scalars(select(Campaign).order_by(Campaign.year, Campaign.workflow_name)))


def open_announcement(session: Session, campaign_id: int) -> SpotCheckAnnouncement | None:
    """The campaign's announced spot-check draw not yet made (at most one)."""
    return session.scalar(select(SpotCheckAnnouncement).where(SpotCheckAnnouncement.campaign_id == campaign_id,
                                                               SpotCheckAnnouncement.draw_id.is_(None))
                          .order_by(SpotCheckAnnouncement.id).limit(1))


def spot_check_draws(session: Session) -> list[SpotCheckDraw]:
    """Every spot-check draw, in the order they were made."""
    return list(session.scalars(select(SpotCheckDraw).order_by(SpotCheckDraw.id)))


# --- the bulletin -------------------------------------------------------------------------------

def cases_by_state(session: Session, campaign_id: int) -> dict[str, int]:
    """How many of the campaign's cases are in each state (states without any are absent)."""
    return dict(session.execute(select(Case.state, func.count()).where(Case.campaign_id == campaign_id)
                                .group_by(Case.state)).all())


def overdue_cases(session: Session, campaign_id: int, now: datetime, limit: int) -> list[Row]:
    """The first ``limit`` of the campaign's cases past their deadline at ``now``, most overdue
    first (equally overdue ones in the natural order of their references), as rows (case, township name or None): one query with the township joined."""
    return list(session.execute(
        select(Case, Organization.name).join(Organization, Organization.id == Case.township_id, isouter=True)
        .where(Case.campaign_id == campaign_id, Case.due_at < now).order_by(Case.due_at, Case.sort_key)
        .limit(limit)).all())


def cases_by_state_and_round(session: Session, campaign_id: int) -> list[Row]:
    """(state, whether past its first round, count) for the campaign's cases, in one query."""
    again = case((Case.round > 1, True), else_=False).label("again")
    return list(session.execute(select(Case.state, again, func.count()).where(Case.campaign_id == campaign_id)
                                .group_by(Case.state, again)).all())


def transitions_from(session: Session, campaign_id: int, sources: Iterable[str], until: datetime) -> list[Row]:
    """Every transition event of the campaign's cases out of ``sources`` up to ``until``, as rows
    (round, at, data, case ref, organization name), oldest first: the columns, not whole events
    (a large campaign has as many as cases)."""
    return list(session.execute(
        select(Event.round, Event.at, Event.data, Case.ref, Organization.name).join(Case, Case.id == Event.case_id)
        .join(Organization, Organization.id == Case.organization_id)
        .where(Case.campaign_id == campaign_id, Event.kind == "transition", Event.from_state.in_(tuple(sources)),
               Event.at <= until)
        .order_by(Event.at, Case.sort_key)).all())


def latest_notice_key(session: Session, prefix: str) -> str | None:
    """The greatest idempotency key of the outbox starting with ``prefix`` (which ends in
    ``:``), or None. A range, not LIKE: it reads the unique index, so a daemon's tick does not
    scan the outbox."""
    return session.scalar(select(func.max(Notice.idempotency_key)).where(
        Notice.idempotency_key >= prefix, Notice.idempotency_key < prefix[:-1] + ";"))


# --- the ledger ---------------------------------------------------------------------------------

def ledger_lines(session: Session, campaign_id: int, chunk: int) -> Iterator[Row]:
    """One row per case of the campaign, in hierarchy order with codes in natural order (the
    organizations' indexed ``sort_key``), streamed ``chunk`` rows at a time (250 000 cases
    never sit in memory): organization name, secretary, phone, parent's name, the case's
    problems, flags and measures, the stored ``measures`` and ``contact_leader`` facts, and the
    organization's id (its secretary on the ledger's date: engine.ops.ledger), and the case's
    id (``case_id``: its problem list, engine.ops.problem_ledger). One query: a facts query per case made 250 000 cases take minutes."""
    parent, measures, leader = aliased(Organization), aliased(CaseFact), aliased(CaseFact)
    query = (select(Organization.name, Organization.secretary_name, Organization.secretary_phone, parent.name,
                    Case.problems, Case.flags, Case.measures, measures.value, leader.value, Organization.id,
                    Case.id.label("case_id"))
             .join(Organization, Organization.id == Case.organization_id)
             .outerjoin(parent, parent.id == Organization.parent_id)
             .outerjoin(measures, (measures.case_id == Case.id) & (measures.name == "measures"))
             .outerjoin(leader, (leader.case_id == Case.id) & (leader.name == "contact_leader"))
             .where(Case.campaign_id == campaign_id).order_by(Organization.sort_key)
             .execution_options(yield_per=chunk))
    return iter(session.execute(query))


# --- the backward ratio (quota) ---------------------------------------------------------------

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
    """Grassroots organizations and confirmed cases (those past the ``initial`` state), in the
    township and in the county of the organization at ``org_path``: five index look-ups over
    that township and county only, so a province's database is not counted for one county's
    quota. The county's cases are those of its townships, and those of organizations directly
    under the county (no township), found through the township index's NULL entries. Only
    grassroots organizations' cases count: a township opened as a case before ``case_kinds``
    refused it is not one of its own backward organizations."""
    grassroots_case = (Organization.id == Case.organization_id) & GRASSROOTS
    confirmed = select(func.count()).select_from(Case).join(Organization, grassroots_case).where(
        Case.campaign_id == campaign_id, Case.state != initial)
    if exclude_case is not None:
        confirmed = confirmed.where(Case.id != exclude_case)
    orgs = select(func.count()).select_from(Organization).where(GRASSROOTS)
    county = under(county_path(org_path))
    townships = select(Organization.id).where(county, Organization.kind == OrgKind.TOWNSHIP.value)
    # "+ 0" keeps SQLite from walking every case of the campaign by the (campaign, …) index:
    # the township index, probed once per township of the county, is the short way.
    in_county = select(func.count()).select_from(Case).join(Organization, grassroots_case).where(
        Case.campaign_id + 0 == campaign_id, Case.state != initial, Case.township_id.in_(townships))
    direct = select(func.count()).select_from(Case).join(Organization, grassroots_case).where(
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


def grassroots_by_township(session: Session) -> dict[int | None, int]:
    """How many grassroots organizations each township has (None: those under no township)."""
    return dict(session.execute(select(Organization.township_id, func.count()).where(GRASSROOTS)
                                .group_by(Organization.township_id)).all())


def campaign_cases_by_township_state(session: Session, campaign_id: int) -> list[Row]:
    """The campaign's case counts of grassroots organizations as rows (township id, state,
    count). By state, not by "confirmed or not": PostgreSQL cannot group by a bound comparison,
    so the caller adds up."""
    return list(session.execute(select(Case.township_id, Case.state, func.count())
                                .join(Organization, (Organization.id == Case.organization_id) & GRASSROOTS)
                                .where(Case.campaign_id == campaign_id).group_by(Case.township_id, Case.state)))


def townships(session: Session) -> list[Row]:
    """Every township as rows (id, code, name), in hierarchy order, codes in natural order
    (``T2`` before ``T10``)."""
    return list(session.execute(select(Organization.id, Organization.code, Organization.name)
                                .where(Organization.kind == OrgKind.TOWNSHIP.value).order_by(Organization.sort_key)))
