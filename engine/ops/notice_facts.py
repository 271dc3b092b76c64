"""What a notice may claim, read from the record at the moment it is issued.

A notice states facts officials are held to: why a case goes back to rectification, how many
days a stage is overdue, which acceptance checks it passed. Each of those is computed here
from the event the notice belongs to, the case's facts and its event log, never from the
workflow's intentions: a case that was not drawn for the spot check was not spot-checked,
and a stage whose deadline passed twelve days ago is twelve days overdue whatever the offset
of the escalation that reports it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.base.clock import local
from engine.base.cndate import closing_day, cn_date, cn_day, days_between
from engine.spec.machine import CompiledWorkflow, split_guard
from engine.store.case_queries import states_left_in_round
from notifiers.render import Unrecorded

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.spec.definition import Transition


def percent(ratio: float) -> str:
    """63.0% — one decimal, as the dashboard shows it; whole numbers without (70%)."""
    text = f"{ratio * 100:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


def deadline_facts(kind: str, due_at: datetime | None, now: datetime, tz: str) -> dict[str, Any]:
    """The days a reminder or an escalation states: its deadline's last day, the day the notice
    speaks as of, and the real distance between them on the calendar (not the timer's offset:
    a daemon that was down, or a case that entered late, makes them differ)."""
    as_of = closing_day(now, tz)
    if due_at is None:
        return {"due": Unrecorded("办理期限"), "due_date": Unrecorded("办理期限"), "as_of": cn_day(as_of, local(now, tz).year),
                "days_left": None, "overdue_days": None}
    year = local(now, tz).year
    last = closing_day(due_at, tz)
    return {"due": cn_day(last, year), "due_date": cn_date(last), "as_of": cn_day(as_of, year),
            "days_left": max(days_between(as_of, last), 0), "overdue_days": max(days_between(last, as_of), 0)}


def transition_grounds(compiled: CompiledWorkflow, transition: Transition, verdicts: dict[str, dict[str, Any]],
                       facts: dict[str, Any]) -> dict[str, Any]:
    """Why ``transition`` fired, from the verdicts its event records: each guard with its
    label and reason, the survey's figures when a satisfaction rule decided, and the written
    findings (text facts the guards read: an inspection's opinion) as recorded."""
    wf, loaded = compiled.definition, compiled.loaded
    grounds, findings, seen = [], [], set()
    satisfaction = None
    for guard in transition.guards:
        name, negated = split_guard(guard)
        verdict = verdicts.get(name) or {}
        figures = verdict.get("figures") or {}
        grounds.append({"rule": name, "label": wf.rules[name].label, "negated": negated,
                        "reason": verdict.get("reason_zh", ""), "outcome": verdict.get("outcome", "")})
        if "ratio" in figures and "threshold" in figures and satisfaction is None:
            satisfaction = {"respondents": figures.get("respondents"), "satisfied": figures.get("satisfied"),
                            "ratio": percent(figures["ratio"]), "threshold": percent(figures["threshold"]),
                            "passed": verdict.get("outcome") == "pass"}
        for fact in loaded.rules[name].facts_used():
            spec = wf.facts.get(fact)
            value = facts.get(fact)
            if spec is not None and spec.type == "text" and isinstance(value, str) and value.strip() \
                    and fact not in seen:
                seen.add(fact)
                findings.append({"fact": fact, "label": spec.label, "value": value.strip()})
    return {"grounds": grounds, "satisfaction": satisfaction, "findings": findings}


def checks_passed(session: Session, compiled: CompiledWorkflow, case_id: int, round_no: int,
                  facts: dict[str, Any]) -> list[str]:
    """The labels of the acceptance checks (states marked ``check``) the case went through in
    round ``round_no``, in order, from its event log. The spot-check state counts only when the
    case was drawn: a case the draw passed over was never checked by the county."""
    wf = compiled.definition
    checks = [name for name, state in wf.states.items() if state.check]
    if not checks:
        return []
    spot = wf.spot_check
    labels: list[str] = []
    for state in states_left_in_round(session, case_id, round_no, checks):
        if spot is not None and state == spot.state and facts.get(spot.drawn_fact) not in (True, "是"):
            continue
        label = wf.states[state].label
        if label not in labels:
            labels.append(label)
    return labels
