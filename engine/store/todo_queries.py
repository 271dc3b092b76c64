"""Queries of the to-do list (我的待办, ``engine.ops.todo``): what waits for an official, by deadline.

The page must answer at 250 000 cases as fast as at 20, so every list here is read along an
index in deadline order and stops after ``limit`` rows (migration 0015): a state's cases by
(campaign, state, due_at, id) or (township, campaign, state, due_at, id), the open problems by
a partial index on (due_at, id). A deadline-less row sorts last; since SQLite puts NULLs first in
an index and PostgreSQL last, the dated and the undated rows are two index ranges read separately,
all of them in one statement (``UNION ALL`` of limited subqueries). What the guards of the cases
shown need (facts, problem lists, a township's filings, quota counts) is then read for all of
them at once: the statement count of one page does not depend on the number of cases.

Every function takes the caller's session and never commits.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Integer,
    Join,
    bindparam,
    false,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from engine.store.campaign_queries import GRASSROOTS, under
from engine.store.models import (
    Case,
    DutyAction,
    DutyStatus,
    Event,
    Evidence,
    Organization,
    OrgKind,
    Problem,
    UnitDuty,
    WorkflowVersion,
)
from engine.store.problem_queries import OPEN_STATUSES

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy import Select
    from sqlalchemy.engine import Row
    from sqlalchemy.orm import Session

# Written out, not bound: a partial index is used only when the query states its condition in
# the same literal words (SQLite; PostgreSQL's generic plans, too).
_OPEN_PROBLEM = Problem.status.in_([literal_column(f"'{s}'") for s in OPEN_STATUSES])


@dataclass(frozen=True)
class Reach:
    """Whose organizations' rows an official's list holds, and so which index reads them:

    - ``all``: everything (the county of a one-county database);
    - ``township``: one township's (``township_id``), read along the township index, which
      covers the township's own case too;
    - ``within``: those at or under ``path`` inside township ``township_id`` (an organization's
      own secretary): the township index, each row's organization checked;
    - ``above``: those at or under ``path``, a county or more: the township index of each township
      under it, and its entries for organizations under no township. Never a walk of the whole
      campaign's state, whose cost would depend on where the county's cases lie among the others."""

    kind: str = "all"
    township_id: int | None = None
    path: str | None = None


def single_top(session: Session) -> bool:
    """Whether the database holds one hierarchy only (one county): its top's jurisdiction is then
    every row, with no filter at all."""
    return session.scalar(select(func.count()).select_from(Organization)
                          .where(Organization.parent_id.is_(None))) == 1


def workflow_versions(session: Session, name: str) -> list[WorkflowVersion]:
    """Every deployed version of workflow ``name`` (a campaign's cases may be on any), oldest first."""
    return list(session.scalars(select(WorkflowVersion).where(WorkflowVersion.name == name)
                                .order_by(WorkflowVersion.version)))


# A page's statements have the same shape at every call: each is built once per shape (the states
# a role waits in, how the jurisdiction is filtered) with bound parameters, which spares every page
# after the first SQLAlchemy's construction of a dozen limited subqueries (several milliseconds).
_BUILT: dict[tuple[Any, ...], Any] = {}


def _built(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    found = _BUILT.get(key)
    if found is None:
        found = _BUILT[key] = build()
    return found


def _reach_params(reach: Reach) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if reach.township_id is not None:
        params["township"] = reach.township_id
    if reach.path is not None and reach.kind != "township":  # as campaign_queries.under: "0" sorts right after "/"
        params |= {"path_from": reach.path, "path_to": reach.path[:-1] + "0"}
    return params


def _under_path() -> Select:
    return select(Organization.id).where(Organization.path >= bindparam("path_from"),
                                         Organization.path < bindparam("path_to"))


def _cases_within(query: Select, kind: str, *, hidden: bool = False) -> Select:
    """``query`` kept to the cases within the reach (its parameters: ``_reach_params``), each case
    checked on the rows another index gives. ``hidden``: the case's columns are only checked on
    each row another index gives in order ("+ 0" hides them from SQLite's planner, which would
    otherwise walk a township's cases and sort every row they have; PostgreSQL weighs both ways by
    its statistics, and misjudges "+ 0")."""
    township = Case.township_id + 0 if hidden else Case.township_id
    organization = Case.organization_id + 0 if hidden else Case.organization_id
    if kind in ("township", "within"):
        query = query.where(township == bindparam("township"))
    if kind in ("within", "above"):
        query = query.where(organization.in_(_under_path()))
    return query


def case_slots(session: Session, campaign_id: int, states: Mapping[str, Collection[int] | None], reach: Reach,
               per_state: int) -> list[Row]:
    """The first ``per_state`` dated cases of each state by deadline (ties by id: reference
    order within a campaign), and its first ``per_state`` undated ones, as rows (id, state,
    due_at, part), in one statement. ``states`` maps each state to the workflow versions whose
    cases count there (None: all). ``part`` numbers the index ranges read: a part that gave
    ``per_state`` rows may have more."""
    if not states:
        return []
    shape = tuple((state, None if versions is None else tuple(sorted(versions))) for state, versions in states.items())
    statement = _built(("slots", shape, reach.kind), lambda: _slots_statement(shape, reach.kind))
    return list(session.execute(statement, {"campaign": campaign_id, "per_state": per_state, **_reach_params(reach)}))


def _slots_statement(shape: tuple[tuple[str, tuple[int, ...] | None], ...], kind: str) -> Any:
    parts = []
    arms = _slot_arms(kind)
    for state, versions in shape:
        for dated in (True, False):
            for arm in arms:
                query = arm.where(Case.state == state)
                if versions is not None:
                    query = query.where(Case.workflow_version_id.in_(versions))
                # the undated ordered by due_at too: PostgreSQL sees the index's order only so
                query = query.where(Case.due_at.is_not(None) if dated else Case.due_at.is_(None))
                query = query.order_by(Case.due_at, Case.id).limit(bindparam("per_state", type_=Integer))
                parts.append(select(query.subquery()))
    numbered = [select(*part.selected_columns, literal(number).label("part")) for number, part in enumerate(parts)]
    return union_all(*numbered)


class _OuterFirst(Join):
    """A join whose left side SQLite must take as the outer loop (``CROSS JOIN``, SQLite's
    documented way to fix the order of a join); an ordinary join elsewhere."""

    inherit_cache = True


@compiles(_OuterFirst, "sqlite")
def _cross_join(join: _OuterFirst, compiler: Any, asfrom: bool = False, **kw: Any) -> str:
    return (f"{compiler.process(join.left, asfrom=True, **kw)} CROSS JOIN "
            f"{compiler.process(join.right, asfrom=True, **kw)} ON {compiler.process(join.onclause, **kw)}")


def _slot_arms(kind: str) -> list[Select]:
    """The index ranges a state's cases within the reach are read from, each a query of (id, state,
    due_at) still to be narrowed to the state and ordered."""
    columns = (Case.id, Case.state, Case.due_at)
    if kind != "above":
        return [_cases_within(select(*columns).where(Case.campaign_id == bindparam("campaign")), kind)]
    # The townships under it, and the organizations under it that belong to no township (县直机关
    # and the like: few), found once (each is a common table expression every state's ranges read)
    within = (Organization.path >= bindparam("path_from"), Organization.path < bindparam("path_to"))
    townships = select(Organization.id).where(*within, Organization.kind == OrgKind.TOWNSHIP.value).cte("townships")
    loose = select(Organization.id).where(*within, Organization.township_id.is_(None)).cte("unattached")
    # Each township's cases along its index, merged and sorted: a few thousand rows for a county.
    # Without the fixed order SQLite's planner, having no statistics, walks the state's cases of
    # every county in deadline order and checks each one's township (hundreds of milliseconds).
    in_townships = (select(*columns).select_from(_OuterFirst(townships, Case, Case.township_id == townships.c.id))
                    .where(Case.campaign_id == bindparam("campaign")))
    # each unattached organization's case of the campaign, by the unique (campaign, organization) key
    unattached = select(*columns).select_from(_OuterFirst(loose, Case, (Case.organization_id == loose.c.id)
                                                          & (Case.campaign_id == bindparam("campaign"))))
    return [in_townships, unattached]


def cases_with_places(session: Session, case_ids: Iterable[int],
                      versions: Mapping[int, WorkflowVersion] | None = None) -> dict[int, Case]:
    """The cases ``case_ids`` by id, with their organization and township joined: one query for
    a page of them. Each case's workflow version is taken from ``versions`` when it is there
    (read already: one lazy load per case spared)."""
    ids = list(case_ids)
    if not ids:
        return {}
    query = (select(Case).options(joinedload(Case.organization), joinedload(Case.township))
             .where(Case.id.in_(ids)))
    found = {case.id: case for case in session.scalars(query)}
    for case in found.values():
        if versions and case.workflow_version_id in versions:
            set_committed_value(case, "workflow_version", versions[case.workflow_version_id])
    return found


def open_duties(session: Session, campaign_id: int, duties: Collection[str], reach: Reach,
                limit: int) -> list[UnitDuty]:
    """The first ``limit`` occurrences of ``duties`` not filed (or returned), of units within
    ``reach``, by due date, their unit loaded. A county's units times a duty's dates: small,
    whatever the number of cases."""
    if not duties:
        return []
    query = (select(UnitDuty).options(joinedload(UnitDuty.unit))
             .where(UnitDuty.campaign_id == campaign_id, UnitDuty.status == DutyStatus.OPEN.value,
                    UnitDuty.duty.in_(list(duties))))
    if reach.path is not None:
        # checked on the campaign's few occurrences: the organizations under a township are thousands
        path = Organization.path.concat("")  # not the path index
        query = query.join(Organization, Organization.id == UnitDuty.unit_id).where(
            path >= reach.path, path < reach.path[:-1] + "0")
    return list(session.scalars(query.order_by(UnitDuty.due_at, UnitDuty.id).limit(limit)))


def last_returns(session: Session, duty_ids: Collection[int]) -> dict[int, DutyAction]:
    """The latest return (退回) of each of ``duty_ids`` that has one."""
    if not duty_ids:
        return {}
    found: dict[int, DutyAction] = {}
    for action in session.scalars(select(DutyAction).where(DutyAction.unit_duty_id.in_(list(duty_ids)),
                                                           DutyAction.kind == "return").order_by(DutyAction.seq)):
        found[action.unit_duty_id] = action
    return found


def open_problems(session: Session, campaign_id: int, reach: Reach, limit: int) -> list[Row]:
    """The first ``limit`` open or reopened problems of the campaign's cases within ``reach`` by
    deadline, and the undated ones after (each part read along the partial index), in one
    statement, as rows (Problem, its case's ``ref``, ``version_id``, ``organization`` and
    ``township`` names); the caller orders them."""
    hidden = session.get_bind().dialect.name == "sqlite"
    statement = _built(("problems", reach.kind, hidden), lambda: _problems_statement(reach.kind, hidden))
    return list(session.execute(statement, {"campaign": campaign_id, "limit": limit, **_reach_params(reach)}))


def _problems_statement(kind: str, hidden: bool) -> Any:
    parts = []
    campaign = Case.campaign_id + 0 if hidden else Case.campaign_id
    for dated in (True, False):
        # along the partial index in deadline order, each problem's case checked by its key
        query = _cases_within(select(Problem.id).join(Case, Case.id == Problem.case_id)
                              .where(_OPEN_PROBLEM, campaign == bindparam("campaign")), kind, hidden=hidden)
        query = query.where(Problem.due_at.is_not(None) if dated else Problem.due_at.is_(None))
        query = query.order_by(Problem.due_at, Problem.id)
        parts.append(select(query.limit(bindparam("limit", type_=Integer)).subquery()))
    chosen = union_all(*parts).subquery()
    township = aliased(Organization)
    return (select(Problem, Case.ref.label("ref"), Case.workflow_version_id.label("version_id"),
                   Organization.name.label("organization"), township.name.label("township"))
            .join(Case, Case.id == Problem.case_id).join(Organization, Organization.id == Case.organization_id)
            .outerjoin(township, township.id == Case.township_id).where(Problem.id.in_(select(chosen.c.id))))


def problem_reopenings(session: Session, case_ids: Collection[int]) -> dict[tuple[int, int], datetime]:
    """When each problem of ``case_ids`` was last reopened, by (case id, number): from the
    cases' problem events, as ``engine.ops.problems.last_reopened`` reads them one by one."""
    if not case_ids:
        return {}
    found: dict[tuple[int, int], datetime] = {}
    for case_id, at, data in session.execute(select(Event.case_id, Event.at, Event.data).where(
            Event.case_id.in_(list(case_ids)), Event.kind == "problem").order_by(Event.case_id, Event.seq)):
        if (data or {}).get("action") == "reopen":
            key = (case_id, data.get("number"))
            found[key] = max(at, found.get(key, at))
    return found


def latest_evidence(session: Session, problem_ids: Collection[int]) -> dict[int, datetime]:
    """When the last file was attached to each of ``problem_ids`` (those with none left out)."""
    if not problem_ids:
        return {}
    rows = session.execute(select(Evidence.problem_id, func.max(Evidence.added_at))
                           .where(Evidence.problem_id.in_(list(problem_ids))).group_by(Evidence.problem_id))
    return {int(pid): when for pid, when in rows if pid is not None}


# --- the figures of many cases' guards at once (engine.ops.cases gathers them case by case) -----------

def problem_lists(session: Session, case_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """Per case, what the ``problems_closed`` rule judges (``problem_queries.list_figures``):
    how many problems it lists and the numbers of those not closed. Cases without are absent."""
    found: dict[int, dict[str, Any]] = {}
    if not case_ids:
        return found
    for case_id, number, status in session.execute(
            select(Problem.case_id, Problem.number, Problem.status).where(Problem.case_id.in_(list(case_ids)))
            .order_by(Problem.case_id, Problem.number)):
        entry = found.setdefault(case_id, {"total": 0, "open": []})
        entry["total"] += 1
        if status in OPEN_STATUSES:
            entry["open"].append(number)
    return found


def recurring_requests(session: Session, case_ids: Collection[int]) -> list[Row]:
    """The recurring requests sent to ``case_ids`` as rows (case id, round, data): the
    ``recurring_sent`` figure (``case_queries.recurring_sent``), counted by the caller per round."""
    if not case_ids:
        return []
    return list(session.execute(select(Event.case_id, Event.round, Event.data).where(
        Event.case_id.in_(list(case_ids)), Event.kind == "timer", Event.trigger == "recurring")))


@dataclass(frozen=True)
class QuotaCounts:
    """``campaign_queries.jurisdiction_counts`` for several townships of one county at once,
    with no case left out (the caller leaves each case out of its own figures)."""

    township_organizations: dict[int | None, int]
    township_cases: dict[int | None, int]
    county_organizations: int
    county_cases: int


def quota_counts(session: Session, campaign_id: int, initial: str, county: str,
                 township_ids: Collection[int | None]) -> QuotaCounts:
    """Grassroots organizations and confirmed cases (past ``initial``) of each township of
    ``township_ids`` (None: organizations under no township) and of the county whose path is
    ``county``: five statements however many townships, counted as the quota rule counts them."""
    ids = [t for t in township_ids if t is not None]
    no_township = None in township_ids
    grassroots_case = (Organization.id == Case.organization_id) & GRASSROOTS
    org_wanted = Organization.township_id.in_(ids) | (Organization.township_id.is_(None) if no_township else false())
    case_wanted = Case.township_id.in_(ids) | (Case.township_id.is_(None) if no_township else false())
    orgs = dict(session.execute(select(Organization.township_id, func.count()).where(GRASSROOTS, org_wanted)
                                .group_by(Organization.township_id)).all())
    cases = dict(session.execute(select(Case.township_id, func.count()).select_from(Case)
                                 .join(Organization, grassroots_case)
                                 .where(Case.campaign_id == campaign_id, Case.state != initial, case_wanted)
                                 .group_by(Case.township_id)).all())
    townships = select(Organization.id).where(under(county), Organization.kind == OrgKind.TOWNSHIP.value)
    # as campaign_queries.jurisdiction_counts: "+ 0" keeps SQLite on the township index
    in_county = select(func.count()).select_from(Case).join(Organization, grassroots_case).where(
        Case.campaign_id + 0 == campaign_id, Case.state != initial, Case.township_id.in_(townships))
    direct = select(func.count()).select_from(Case).join(Organization, grassroots_case).where(
        Case.campaign_id + 0 == campaign_id, Case.state != initial, Case.township_id.is_(None), under(county))
    return QuotaCounts(
        orgs, cases, session.scalar(select(func.count()).select_from(Organization).where(GRASSROOTS, under(county))) or 0,
        (session.scalar(in_county) or 0) + (session.scalar(direct) or 0))
