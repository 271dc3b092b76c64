"""The county's periodic bulletin (定期通报): one notice per period for the whole campaign.

No timer rows: the schedule is a pure function of the workflow (start, every, end), and
the notice's idempotency key (``bulletin:<campaign>:<date>``) is unique, so a tick costs
one indexed look-up per campaign and a bulletin is never written twice, however many
daemons run. The figures are gathered only when a bulletin is due.
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from engine.base.clock import local, start_of
from engine.base.cndate import closing_day, cn_date, cn_day, days_between
from engine.base.errors import BadInput
from engine.ops.deploy import campaigns, compiled_version
from engine.ops.documents import document_context, numbered
from engine.ops.duties import duty_table, unit_summary
from engine.ops.notice_facts import percent
from engine.ops.notices import notice_row, resolve_admins, workflow_context
from engine.ops.survey_results import distribution, survey_results
from engine.spec.deadlines import shift
from engine.spec.machine import CompiledWorkflow
from engine.store import campaign_queries
from engine.store.models import Campaign, Notice
from notifiers.render import NoticeTemplateError, RenderedNotice

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

OVERDUE_LISTED = 20


def schedule(compiled: CompiledWorkflow) -> list[datetime]:
    """Every bulletin moment of the campaign: 09:00 on each scheduled day."""
    wf = compiled.definition
    spec = wf.bulletin
    if spec is None:
        return []
    dates = wf.resolved_dates()
    moment, end = start_of(dates[spec.start], wf.timezone), start_of(dates[spec.end], wf.timezone)
    moments: list[datetime] = []
    while moment <= end and len(moments) < 1000:
        moments.append(moment.replace(hour=9))
        moment = shift(moment, spec.every, 1, compiled.loaded.calendar, wf.timezone).at
    return moments


def figures(session: Session, campaign: Campaign, compiled: CompiledWorkflow, now: datetime) -> dict[str, Any]:
    """The bulletin's figures at ``now``, each of one kind so that they add up: the cases by
    their current state (which sum to the total); the cumulative count of cases sent back to
    rectify, split into those since finished and those still under way; every survey concluded
    so far, each round's, with its average and distribution. Finished means a final state of
    the workflow and a survey is what its satisfaction rule judged: no state or fact name is
    assumed."""
    wf = compiled.definition
    final = {name for name, state in wf.states.items() if state.final}
    by_state: dict[str, int] = {}
    again = {"total": 0, "finished": 0, "ongoing": 0}
    for state, past_first, count in campaign_queries.cases_by_state_and_round(session, campaign.id):
        by_state[state] = by_state.get(state, 0) + count
        if past_first:
            again["total"] += count
            again["finished" if state in final else "ongoing"] += count
    overdue = campaign_queries.overdue_cases(session, campaign.id, now, OVERDUE_LISTED)
    tz, year = wf.timezone, local(now, wf.timezone).year
    today = closing_day(now, tz)
    return {
        "total": sum(by_state.values()),
        "by_state": [{"state": name, "label": state.label, "count": by_state[name], "final": state.final}
                     for name, state in wf.states.items() if by_state.get(name)],
        "finished": sum(by_state.get(name, 0) for name in final),
        "re_rectified": again,
        "overdue": [{"ref": c.ref, "organization": c.organization.name, "township": town or "",
                     "state_label": wf.states[c.state].label,
                     "due": cn_day(closing_day(c.due_at, tz), year) if c.due_at else "",
                     "overdue_days": days_between(closing_day(c.due_at, tz), today) if c.due_at else 0}
                    for c, town in overdue],
        "surveys": survey_figures(survey_results(session, campaign, compiled, now)),
        "duties": duty_figures(unit_summary(duty_table(session, campaign, compiled, now))),
    }


def duty_figures(units: list[dict[str, Any]]) -> dict[str, Any]:
    """What the townships owed so far (engine.ops.duties): the occurrences due, filed on time,
    filed late and still missing (done + late + missing = due), and who has not filed what."""
    done, late, missing = (sum(u[k] for u in units) for k in ("done", "late", "missing"))
    return {"due": done + late + missing, "done": done, "late": late, "missing": missing,
            "units_missing": [{"unit": u["unit"], "owed": u["missing_items"]} for u in units if u["missing"]]}


def survey_figures(results: dict[str, Any]) -> dict[str, Any]:
    """Every survey concluded so far: how many, passed and failed against the threshold, the
    average satisfaction over all of them (each survey counts once), and how they spread."""
    rows, threshold = results["rows"], results["threshold"]
    ratios = [Fraction(r["satisfied"], r["respondents"]) for r in rows if r["respondents"]]
    return {"count": len(rows), "passed": results["passed"], "failed": results["failed"],
            "threshold": percent(threshold) if threshold is not None else "",
            "average": percent(float(sum(ratios) / len(ratios))) if ratios else "",
            "distribution": distribution(rows, threshold) if rows and threshold is not None else []}


def bulletin_context(session: Session, campaign: Campaign, compiled: CompiledWorkflow, scheduled: datetime,
                     now: datetime, number: int) -> dict[str, Any]:
    """The notice context of bulletin number ``number`` (the one scheduled at ``scheduled``),
    written at ``now`` with the figures at ``now``: a daemon that was down writes the latest
    bulletin due with today's figures, dated today."""
    return bulletin_notice_context(compiled, scheduled, number, figures(session, campaign, compiled, now), now)


def bulletin_notice_context(compiled: CompiledWorkflow, scheduled: datetime, number: int,
                            counted: dict[str, Any], written: datetime | None = None) -> dict[str, Any]:
    """The notice context of bulletin number ``number`` of the period of ``scheduled``, with the
    figures ``counted`` (``figures``, or the sample ``rectify notices preview`` shows) as they
    stood at ``written`` (default: ``scheduled``): its date line, and the day its figures run to
    (``bulletin.as_of``: at midnight, the day that just ended, as ``figures`` counts)."""
    wf = compiled.definition
    period = local(scheduled, wf.timezone)
    written = written or scheduled
    day, counted_to = local(written, wf.timezone).date(), closing_day(written, wf.timezone)
    return {
        "workflow": workflow_context(compiled),
        # Every part a notice's context has (notifiers.render.SAMPLE_CONTEXT), so that a template
        # the workflow check passed cannot meet an undefined ``recurring`` here.
        "case": None, "transition": None, "deadline": None, "recurring": None, "duty": None, "problem": None,
        "look_back": None, "actor": "system",
        "now": cn_date(day), "today": cn_day(day, day.year),
        "document": document_context(compiled, wf.bulletin.notice if wf.bulletin else "", wf.bulletin.notify
                                     if wf.bulletin else (), all_units(compiled)),
        "bulletin": {"period": f"{period.year}年{period.month}月", "number": number,
                     "as_of": cn_day(counted_to, day.year), **counted},
    }


def all_units(compiled: CompiledWorkflow) -> str:
    """The addressee of a document to every unit (主送): 各乡镇（街道）党委."""
    docs, roles = compiled.definition.documents, compiled.definition.roles
    return f"各{roles[docs.addressee_role]}" if docs.addressee_role in roles else ""


def render_bulletin(session: Session, campaign: Campaign, now: datetime) -> RenderedNotice:
    """The bulletin as it would read at ``now``, numbered after the ones already due
    (``rectify bulletin``); nothing is written."""
    compiled = compiled_version(campaign.current_version)
    spec = compiled.definition.bulletin
    if spec is None:
        raise BadInput("工作流没有配置定期通报（bulletin）/ the workflow has no bulletin section: "
                       "add one (see docs/workflow-format.md) and deploy it")
    moments = schedule(compiled)
    number = max(len([m for m in moments if m <= now]), 1)
    scheduled = moments[number - 1] if moments else now  # the period of the bulletin numbered so
    try:
        return compiled.renderer.render(spec.notice, bulletin_context(session, campaign, compiled, scheduled, now,
                                                                      number))
    except NoticeTemplateError as exc:
        raise BadInput(str(exc)) from exc


def issue_due_bulletins(session: Session, now: datetime) -> list[str]:
    """Write the latest due bulletin of each campaign, if it is not written yet."""
    written = []
    for campaign in campaigns(session):
        compiled = compiled_version(campaign.current_version)
        spec = compiled.definition.bulletin
        due = [m for m in schedule(compiled) if m <= now]
        if spec is None or not due:
            continue
        key = f"bulletin:{campaign.id}:{due[-1].date().isoformat()}"
        prefix = f"bulletin:{campaign.id}:"
        latest = campaign_queries.latest_notice_key(session, prefix)  # one look-up along the unique index
        if latest is not None and latest >= key:
            continue  # written already, or a later one was: after the clock went back, nothing again
        context = bulletin_context(session, campaign, compiled, due[-1], now, len(due))
        rendered, number = numbered(session, compiled, compiled.renderer.render(spec.notice, context), now)
        recipients = resolve_admins(session, spec.notify)
        reached = {r.get("role") for r in recipients}  # a role nobody holds: shown unreached, never silent
        roles = compiled.definition.roles
        unreached = [{"role": r, "label": roles.get(r, r)} for r in spec.notify if r not in reached]
        session.add(Notice(**notice_row(key=key, template=spec.notice, template_hash=rendered.template_hash,
                                        title=rendered.title, body=rendered.body, now=now, recipients=recipients,
                                        missing=rendered.missing, document_number=number, unreached=unreached)))
        written.append(key)
    return written
