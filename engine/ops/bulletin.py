"""The county's periodic bulletin (定期通报): one notice per period for the whole campaign.

No timer rows: the schedule is a pure function of the workflow (start, every, end), and
the notice's idempotency key (``bulletin:<campaign>:<date>``) is unique, so a tick costs
one indexed look-up per campaign and a bulletin is never written twice, however many
daemons run. The figures are gathered only when a bulletin is due.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.base.clock import due_day, local, start_of
from engine.base.errors import BadInput
from engine.ops.deploy import campaigns, compiled_version
from engine.ops.notices import notice_row, resolve_admins
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
    wf = compiled.definition
    by_state = campaign_queries.cases_by_state(session, campaign.id)
    rounds = campaign_queries.cases_past_first_round(session, campaign.id)
    overdue = campaign_queries.overdue_cases(session, campaign.id, now, OVERDUE_LISTED)
    pairs = campaign_queries.facts_in_state(session, campaign.id, "accepted",
                                            ("survey_respondents", "survey_satisfied"))
    surveys: dict[int, dict[str, int]] = {}
    for case_id, name, value in pairs:
        surveys.setdefault(case_id, {})[name] = value.get("v")
    ratios = [s["survey_satisfied"] / s["survey_respondents"] for s in surveys.values()
              if s.get("survey_respondents") and s.get("survey_satisfied") is not None]
    return {
        "total": sum(by_state.values()),
        "by_state": [{"state": name, "label": state.label, "count": by_state[name]}
                     for name, state in wf.states.items() if by_state.get(name)],
        "overdue": [{"ref": c.ref, "organization": c.organization.name, "township": town or "",
                     "state_label": wf.states[c.state].label,
                     "due": due_day(c.due_at, wf.timezone) if c.due_at else ""}
                    for c, town in overdue],
        "accepted": by_state.get("accepted", 0), "re_rectify": rounds,
        "average_satisfaction": sum(ratios) / len(ratios) if ratios else None,
    }


def bulletin_context(session: Session, campaign: Campaign, compiled: CompiledWorkflow, issued: datetime,
                     now: datetime, number: int) -> dict[str, Any]:
    """The notice context of bulletin number ``number``, dated ``issued``, with the figures at ``now``."""
    return bulletin_notice_context(compiled, issued, number, figures(session, campaign, compiled, now))


def bulletin_notice_context(compiled: CompiledWorkflow, issued: datetime, number: int,
                            counted: dict[str, Any]) -> dict[str, Any]:
    """The notice context of bulletin number ``number``, dated ``issued``, with the figures
    ``counted`` (``figures``, or the sample ``rectify notices preview`` shows)."""
    wf = compiled.definition
    local_day = local(issued, wf.timezone)
    return {
        "workflow": {"name": wf.name, "title": wf.title, "year": wf.year, "issuer": wf.issuer},
        # Every part a notice's context has (notifiers.render.SAMPLE_CONTEXT), so that a template
        # the workflow check passed cannot meet an undefined ``recurring`` here.
        "case": None, "transition": None, "deadline": None, "recurring": None, "actor": "system",
        "now": local_day.strftime("%Y-%m-%d"),
        "bulletin": {"period": f"{local_day.year}年{local_day.month}月", "number": number, **counted},
    }


def render_bulletin(session: Session, campaign: Campaign, now: datetime) -> RenderedNotice:
    """The bulletin as it would read at ``now``, numbered after the ones already due
    (``rectify bulletin``); nothing is written."""
    compiled = compiled_version(campaign.current_version)
    spec = compiled.definition.bulletin
    if spec is None:
        raise BadInput("工作流没有配置定期通报（bulletin）/ the workflow has no bulletin section: "
                       "add one (see docs/workflow-format.md) and deploy it")
    number = max(len([m for m in schedule(compiled) if m <= now]), 1)
    try:
        return compiled.renderer.render(spec.notice, bulletin_context(session, campaign, compiled, now, now, number))
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
        rendered = compiled.renderer.render(spec.notice, context)
        session.add(Notice(**notice_row(key=key, template=spec.notice, template_hash=rendered.template_hash,
                                        title=rendered.title, body=rendered.body, now=now,
                                        recipients=resolve_admins(session, spec.notify))))
        written.append(key)
    return written
