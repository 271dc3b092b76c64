"""The county's picture (``rectify report``): the figures behind the dashboard, as plain data.

One function gathers everything the terminal tables, ``--json`` and the HTML page show, so
the three never disagree. This is a report: its cost grows with the campaign's cases and
events (grouped queries; the state changes are summed per period in the database), not
with the rest of the database, and it never writes.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case as case_when
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from engine.base.clock import due_day, fmt, local
from engine.base.natural import natural_sorted
from engine.ops.cases import case_facts
from engine.ops.deploy import compiled_version
from engine.ops.duties import duty_table, unit_summary
from engine.ops.notices import resolve_recipients
from engine.ops.quota import quota_params, quota_table
from engine.ops.survey_results import survey_results
from engine.spec.machine import CompiledWorkflow
from engine.store.models import Campaign, Case, Event, Organization, OrgKind, SpotCheckDraw
from engine.store.outbox_queries import unreached_of_campaign
from engine.store.problem_queries import campaign_counts

LISTED = 100  # overdue and upcoming cases listed by name; the counts are always complete
UPCOMING_DAYS = 14
MAX_POINTS = 60  # points on the progress chart, whatever the campaign's length


def dashboard(session: Session, campaign: Campaign, now: datetime) -> dict[str, Any]:
    """Every figure of the county dashboard at ``now``."""
    compiled = compiled_version(campaign.current_version)
    wf = compiled.definition
    by_state, key_targets, re_rectified = headline(session, campaign)
    states = [{"state": name, "label": s.label, "count": by_state.get(name, 0), "final": s.final}
              for name, s in wf.states.items()]
    return {
        "campaign": {"name": wf.name, "title": wf.title, "year": wf.year, "issuer": wf.issuer,
                     "version": campaign.current_version.version, "timezone": wf.timezone},
        "now": fmt(now, wf.timezone),
        "total": sum(by_state.values()),
        "key_targets": key_targets,
        "re_rectified": re_rectified,
        "states": states,
        "townships": townships(session, campaign, [s["state"] for s in states]),
        "quota": quota(session, campaign),
        "overdue": overdue(session, campaign, compiled, now),
        "upcoming": upcoming(session, campaign, compiled, now),
        "surveys": surveys(session, campaign, compiled, now),
        "spot_checks": spot_checks(session, campaign, compiled, now),
        "progress": progress(session, campaign, compiled, now),
        # 一支一策: the problems on the cases' lists, open (of them overdue) and closed
        "problems": campaign_counts(session, campaign.id, now),
        "unreached": unreached(session, campaign),
        "duties": duties(session, campaign, compiled, now),
    }


def duties(session: Session, campaign: Campaign, compiled: CompiledWorkflow, now: datetime) -> dict[str, Any]:
    """What each unit owes and how it stands (engine.ops.duties): per unit the occurrences filed
    on time, filed late, overdue with nothing filed (named), and not yet due."""
    table = duty_table(session, campaign, compiled, now)
    return {"labels": {k: d.label for k, d in compiled.definition.duties.items()}, "units": unit_summary(table)}


def unreached(session: Session, campaign: Campaign) -> dict[str, Any]:
    """Notices that reached nobody for some audience (a contact leader nobody assigned, a role no
    official holds): how many, and how often each audience was missed — never silent."""
    count, roles = 0, Counter[tuple[str, str]]()
    for missed in unreached_of_campaign(session, campaign.id):
        count += 1
        roles.update((u.get("role", ""), u.get("label", "")) for u in missed if isinstance(u, dict))
    return {"count": count, "roles": [{"role": r, "label": label, "count": n}
                                      for (r, label), n in sorted(roles.items(), key=lambda kv: (-kv[1], kv[0]))]}


def headline(session: Session, campaign: Campaign) -> tuple[dict[str, int], int, int]:
    """Cases by state, key targets and re-rectified cases: one grouped pass over the cases."""
    by_state: dict[str, int] = {}
    key_targets = re_rectified = 0
    for state, n, keys, again in session.execute(
            select(Case.state, func.count(), func.sum(case_when((Case.key_target.is_(True), 1), else_=0)),
                   func.sum(case_when((Case.round > 1, 1), else_=0)))
            .where(Case.campaign_id == campaign.id).group_by(Case.state)):
        by_state[state] = n
        key_targets += keys or 0
        re_rectified += again or 0
    return by_state, key_targets, re_rectified


def townships(session: Session, campaign: Campaign, order: list[str]) -> list[dict[str, Any]]:
    """Cases by township and state; townships without a case are listed with zeros."""
    counts: dict[int | None, Counter] = {}
    for township_id, state, n in session.execute(
            select(Case.township_id, Case.state, func.count()).where(Case.campaign_id == campaign.id)
            .group_by(Case.township_id, Case.state)):
        counts.setdefault(township_id, Counter())[state] = n
    rows = []
    for tid, code, name in session.execute(select(Organization.id, Organization.code, Organization.name)
                                           .where(Organization.kind == OrgKind.TOWNSHIP.value)
                                           .order_by(Organization.sort_key)):  # codes in natural order
        found = counts.pop(tid, Counter())
        rows.append({"code": code, "name": name, "total": sum(found.values()),
                     "counts": {s: found.get(s, 0) for s in order}})
    rest = sum(counts.values(), Counter())  # cases directly under the county, if any
    if rest:
        rows.append({"code": "", "name": "县直", "total": sum(rest.values()), "counts": {s: rest.get(s, 0) for s in order}})
    return rows


def quota(session: Session, campaign: Campaign) -> dict[str, Any] | None:
    params = quota_params(campaign)
    if params is None:
        return None
    rows, total = quota_table(session, campaign, params)
    return {"target": params.target, "tolerance": params.tolerance, "mode": params.mode, "below": params.below,
            "rows": [{"code": r.code, "name": r.name, "organizations": r.organizations, "screening": r.screening,
                      "confirmed": r.confirmed, "ratio": r.verdict.figures["ratio"], "outcome": r.verdict.outcome.value,
                      "breach": r.breach}
                     for r in [*rows, total]]}


def _case_line(session: Session, compiled: CompiledWorkflow, case: Case, now: datetime) -> dict[str, Any]:
    wf = compiled.definition
    days = (local(now, wf.timezone).date() - date.fromisoformat(due_day(case.due_at, wf.timezone))).days \
        if case.due_at else 0
    return {"ref": case.ref, "organization": case.organization.name,
            "township": case.township.name if case.township else "", "state": case.state,
            "state_label": wf.states[case.state].label, "round": case.round, "key_target": case.key_target,
            "due": due_day(case.due_at, wf.timezone) if case.due_at else "", "days": days}


def responsible(session: Session, compiled: CompiledWorkflow, case: Case, now: datetime) -> list[str]:
    """Who must act on the case now: the officials the state's reminders go to, within whose
    jurisdiction the case lies (and the people assigned, when they go to a person fact), and the
    contact leader the case names (联系领导)."""
    wf = compiled.definition
    deadline = wf.states[case.state].deadline
    roles = deadline.remind if deadline and deadline.remind else tuple(
        r for t in wf.transitions if case.state in t.sources for r in t.roles)
    day = local(now, wf.timezone).date()
    labels = {**wf.roles, **{n: f.label for n, f in wf.person_facts.items()}}
    names = [f"{p['name']}（{labels.get(p['role'], p['role'])}）" for p in resolve_recipients(session, case, roles, day)]
    if not names:
        names = [f"{wf.roles.get(r, r)}（未登记人员）" for r in dict.fromkeys(roles)]
    leader = case_facts(session, case.id).get("contact_leader")
    if isinstance(leader, str) and leader.strip() and not any(n.startswith(leader.strip() + "（") for n in names):
        names.append(f"{leader.strip()}（联系领导）")
    return names


def _listed(session: Session, campaign: Campaign, deadline: tuple, compiled: CompiledWorkflow,
            now: datetime) -> dict[str, Any]:
    """The campaign's cases whose deadline meets ``deadline``: all counted, the first ``LISTED``
    (soonest deadline first) listed with who must act. "+ 0" keeps the campaign's index (most
    of the cases) out of it: SQLite then reads a range of the deadline index, in order."""
    where = (Case.campaign_id + 0 == campaign.id, *deadline)
    count = session.scalar(select(func.count()).select_from(Case).where(*where)) or 0
    cases = session.scalars(select(Case).where(*where).order_by(Case.due_at, Case.sort_key).limit(LISTED)
                            .options(joinedload(Case.organization), joinedload(Case.township)))
    rows = []
    for case in cases:
        row = _case_line(session, compiled, case, now)
        row["responsible"] = responsible(session, compiled, case, now)
        rows.append(row)
    return {"count": count, "rows": rows}


def overdue(session: Session, campaign: Campaign, compiled: CompiledWorkflow, now: datetime) -> dict[str, Any]:
    """Cases past their current deadline, longest overdue first, with who must act."""
    return _listed(session, campaign, (Case.due_at < now,), compiled, now)


def upcoming(session: Session, campaign: Campaign, compiled: CompiledWorkflow, now: datetime) -> dict[str, Any]:
    """Deadlines falling in the next ``UPCOMING_DAYS`` days, soonest first."""
    soon = (Case.due_at >= now, Case.due_at < now + timedelta(days=UPCOMING_DAYS))
    listed = _listed(session, campaign, soon, compiled, now)
    for row in listed["rows"]:
        row["days"] = -row["days"]  # days left
    listed["window"] = UPCOMING_DAYS
    return listed


def surveys(session: Session, campaign: Campaign, compiled: CompiledWorkflow, now: datetime) -> dict[str, Any]:
    """Every concluded survey (each round's), read from the events that concluded it."""
    return survey_results(session, campaign, compiled, now)


def spot_checks(session: Session, campaign: Campaign, compiled: CompiledWorkflow,
                now: datetime) -> list[dict[str, Any]]:
    """Each published draw and where its selected cases stand now."""
    draws = list(session.scalars(select(SpotCheckDraw).where(SpotCheckDraw.campaign_id == campaign.id,
                                                             SpotCheckDraw.at <= now)
                                 .order_by(SpotCheckDraw.id)))
    refs = list({ref for d in draws for ref in d.selected})
    found = {c.ref: c for c in session.scalars(select(Case).options(joinedload(Case.organization))
                                               .where(Case.ref.in_(refs)))} if refs else {}
    wf = compiled.definition
    return [{"id": d.id, "at": fmt(d.at, wf.timezone), "seed": d.seed, "method": d.method, "rate": d.rate,
             "population": len(d.population),
             "selected": [{"ref": ref, "organization": found[ref].organization.name if ref in found else "",
                           "state_label": wf.states[found[ref].state].label
                           if ref in found and found[ref].state in wf.states else ""}
                          for ref in natural_sorted(d.selected)]}
            for d in draws]


def progress(session: Session, campaign: Campaign, compiled: CompiledWorkflow, now: datetime) -> dict[str, Any]:
    """How many cases stood in each state at the end of each period, from the state changes.

    Counted in the database: each change moves one case out of the state its previous change
    (in time order) put it in and into its own; the changes are summed per period.
    """
    wf = compiled.definition
    changes = (Case.campaign_id == campaign.id, Event.to_state.is_not(None), Event.at <= now)
    earliest = session.scalar(select(func.min(Event.at)).join(Case, Case.id == Event.case_id).where(*changes))
    if earliest is None:
        return {"dates": [], "series": []}
    points = _points(local(earliest, wf.timezone).date(), local(now, wf.timezone).date())
    moved: list[Counter] = [Counter() for _ in points]
    for period, entered, left, n in _moves(session, changes, _period_ends(points, wf.timezone)):
        moved[period][entered] += n
        if left is not None:
            moved[period][left] -= n
    counts: list[Counter] = []
    standing: Counter = Counter()
    for period in moved:
        standing.update(period)  # adds, negatives included
        counts.append(standing.copy())
    return {"dates": [p.isoformat() for p in points],
            "series": [{"state": name, "label": s.label, "values": [c.get(name, 0) for c in counts]}
                       for name, s in wf.states.items()]}


def _points(first: date, last: date) -> list[date]:
    """At most ``MAX_POINTS`` dates from ``first`` to ``last``, a week apart or more."""
    step = max(7, -(-((last - first).days + 1) // MAX_POINTS))
    points = [first + timedelta(days=step * i) for i in range((last - first).days // step + 1)]
    if points[-1] != last:
        points.append(last)
    return points


def _period_ends(points: list[date], tz: str) -> list[datetime]:
    """The instant each point's local day ends: a change belongs to the first point it precedes."""
    zone = ZoneInfo(tz)
    return [datetime.combine(p + timedelta(days=1), time(), zone).astimezone(timezone.utc) for p in points]


def _moves(session: Session, changes, ends: list[datetime]):
    """(period, state entered, state left, number of cases) for every change up to ``now``."""
    period = case_when(*[(Event.at < end, i) for i, end in enumerate(ends)], else_=len(ends) - 1)
    left = func.lag(Event.to_state).over(partition_by=Event.case_id, order_by=(Event.at, Event.id))
    each = (select(period.label("period"), Event.to_state, left.label("left"))
            .join(Case, Case.id == Event.case_id).where(*changes).subquery())
    return session.execute(select(each.c.period, each.c.to_state, each.c.left, func.count())
                           .group_by(each.c.period, each.c.to_state, each.c.left)).all()
