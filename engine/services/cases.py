"""Services on cases: open, fire, record facts and surveys; list, show and trace them.

Each function is one transaction with the policy decided inside it (``Access``) and
returns plain data once committed: nothing here prints or knows a front end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.ops import cases as case_ops
from engine.ops import survey as survey_ops
from engine.ops.deploy import compiled_version, resolve_campaign
from engine.ops.orgs import get_org
from engine.reports import views
from engine.services import Access, Caller, Done, read, write
from engine.store.db import Store
from engine.store.models import Case


@dataclass(frozen=True)
class Opened:
    ref: str
    organization: str
    state: str


@dataclass(frozen=True)
class Fired:
    ref: str
    trigger: str
    source_label: str
    dest_label: str
    round: int
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (中文, English) of rules that warned
    notices: list[str] = field(default_factory=list)  # templates of the notices queued
    basis: str = ""  # the figures a survey was judged by


@dataclass(frozen=True)
class FactChanged:
    ref: str
    name: str
    old: Any
    new: Any


def _case(access: Access, ref: str) -> Case:
    return access.require_case(case_ops.get_case(access.session, ref))


def open_case(store: Store, caller: Caller, org_code: str, campaign_ref: str | None = None, *,
              problems: tuple[int, ...] = (), flags: tuple[str, ...] = (), key_target: bool = False,
              weak_and_lax: bool = False, measures: str | None = None) -> Done[Opened]:
    def work(access: Access) -> Opened:
        campaign = resolve_campaign(access.session, campaign_ref)
        case = case_ops.open_case(access.session, campaign, org_code, access.actor(), access.now(campaign),
                                  problems=problems, flags=flags, key_target=key_target,
                                  weak_and_lax=weak_and_lax, measures=measures)
        return Opened(case.ref, case.organization.name, case.state)
    return write(store, caller, work)


def _fired(case: Case, trigger: str, result: case_ops.FireResult, basis: str = "") -> Fired:
    states = compiled_version(case.workflow_version).definition.states
    return Fired(case.ref, trigger, states[result.source].label, states[result.dest].label, case.round,
                 [(w.reason_zh, w.reason_en) for w in result.warnings], list(result.notices), basis)


def fire(store: Store, caller: Caller, ref: str, trigger: str, note: str | None = None) -> Done[Fired]:
    def work(access: Access) -> Fired:
        case = case_ops.get_case(access.session, ref)
        result = case_ops.fire(access.session, case, trigger, access.actor(), access.now(case), note)
        return _fired(case, trigger, result)
    return write(store, caller, work)


def set_fact(store: Store, caller: Caller, ref: str, name: str, value: str | None) -> Done[FactChanged]:
    """Record fact ``name`` (``value`` None clears it)."""
    def work(access: Access) -> FactChanged:
        case = case_ops.get_case(access.session, ref)
        old, new = case_ops.set_fact(access.session, case, name, value, access.actor(), access.now(case))
        return FactChanged(case.ref, name, old, new)
    return write(store, caller, work)


def record_survey(store: Store, caller: Caller, ref: str, respondents: int, satisfied: int,
                  scores: tuple[str, ...] = (), note: str | None = None) -> Done[Fired]:
    """Record a case's survey and conclude it (accepted, or re-rectify below the threshold)."""
    survey_ops.check_figures(respondents, satisfied)
    parsed = survey_ops.parse_scores(scores)

    def work(access: Access) -> Fired:
        case = case_ops.get_case(access.session, ref)
        result = survey_ops.record_survey(access.session, case, respondents, satisfied, access.actor(),
                                          access.now(case), parsed, note)
        basis = "；".join(v["reason_zh"] for v in result.event.data["guards"].values() if "满意度" in v["reason_zh"])
        return _fired(case, result.event.trigger or "", result, basis)
    return write(store, caller, work)


def list_cases(store: Store, caller: Caller, campaign_ref: str | None = None, *, state: str | None = None,
               township: str | None = None, overdue: bool = False,
               limit: int | None = None) -> Done[list[dict[str, Any]]]:
    """The cases the caller may read, filtered; rows as ``engine.reports.views.case_row``."""
    def work(access: Access) -> list[dict[str, Any]]:
        session = access.session
        campaign = resolve_campaign(session, campaign_ref)
        now = access.now(campaign)
        town = get_org(session, township) if township else None
        found = case_ops.list_cases(session, campaign, state, town, now if overdue else None, limit,
                                    within=access.scope())
        return [views.case_row(c, now) for c in found]
    return read(store, caller, work)


def show_case(store: Store, caller: Caller, ref: str) -> Done[dict[str, Any]]:
    """State, facts, deadlines, triggers and history of a case inside the caller's jurisdiction."""
    def work(access: Access) -> dict[str, Any]:
        case = _case(access, ref)
        return views.case_detail(access.session, case, access.now(case))
    return read(store, caller, work)


def history(store: Store, caller: Caller, ref: str) -> Done[list[dict[str, Any]]]:
    return read(store, caller, lambda access: views.history(access.session, _case(access, ref)))
