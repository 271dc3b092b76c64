"""Every use a deployed workflow makes of a notice template, and the notice each use gives.

``rectify notices preview`` shows a template as officials will read it, once for each place
the workflow uses it: a transition's notice, a state's reminders and escalations, a recurring
request, the spot-check notice, the periodic bulletin. The uses are those the workflow check
knows (``engine.spec.validate.notice_uses``), one per reminder or escalation offset. Each
use's context comes from the code its real render runs — ``notice_context`` as a fired
transition (``engine.ops.cases``) and a spot-check draw (``engine.ops.spotcheck``) call it,
``plan_due_notice`` on the timers ``plan_timers`` schedules as the daemon fires them, and
``engine.ops.bulletin`` for the bulletin — so a preview cannot drift from what is sent.

For a real case, a use gives the notice that case would get: a transition's notice as if
fired now; a reminder, escalation or request as the daemon will write it when it falls due
(the case's pending timer, else the timers its state scheduled when it entered, else those
it would schedule entering now). Without a case, the sample case of the workflow check
(``notifiers.render.SAMPLE_CONTEXT``) walks the workflow on a sample timeline drawn from the
campaign's dates, so that deadlines, day counts and dates are real and agree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.base.clock import local, start_of
from engine.base.errors import BadInput, InvalidValue
from engine.ops.bulletin import bulletin_notice_context, render_bulletin, schedule
from engine.ops.documents import document_context
from engine.ops.notice_facts import transition_grounds
from engine.ops.notices import CaseCard, card_of, notice_context, plan_due_notice
from engine.ops.officials import SYSTEM
from engine.ops.timers import pending_timers
from engine.spec.deadlines import PlannedTimer, deadline_for, due_moment, plan_timers, shift
from engine.spec.definition import Deadline, Duration, Transition, Workflow
from engine.spec.machine import CompiledWorkflow, split_guard
from engine.spec.validate import notice_uses
from engine.store.facts import case_facts
from notifiers.render import (
    SAMPLE_BULLETIN_FIGURES,
    SAMPLE_CONTEXT,
    NoticeTemplateError,
    RenderedNotice,
)
from rules.survey import SatisfactionAtLeast

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.store.models import Campaign, Case, Timer


@dataclass(frozen=True)
class NoticeUse:
    """One place the workflow uses a template, numbered from 1 among that template's uses."""

    number: int
    template: str
    kind: str  # transition | reminder | escalation | recurring | spot_check | bulletin
    where: str  # its place in the workflow file: states.rectifying.deadline.reminders[0]
    zh: str
    en: str
    state: str | None = None  # the state of a deadline or a recurring request
    deadline: Deadline | None = None  # the deadline spec of a reminder or an escalation
    offset: Duration | None = None
    first_round: bool = True  # False: a ``later_rounds`` deadline (re-rectification rounds)
    index: int = 0  # the transition's or the recurring request's position
    duty: str | None = None  # the duty of a unit's reminder, escalation or return (duties: NAME)


@dataclass(frozen=True)
class PreviewedUse:
    """A use and its notice; ``notice`` None when the use gives none, ``remark`` saying why (or
    how a real case's notice was dated when the case is past the moment it falls due)."""

    use: NoticeUse
    at: datetime | None  # when the notice would be written
    notice: RenderedNotice | None
    remark: str = ""


def template_uses(wf: Workflow, template: str) -> list[NoticeUse]:
    """The uses of ``template`` in ``wf``, in the workflow's order."""
    found = [use for path, name, _ in notice_uses(wf) if name == template for use in _expand(wf, path, name)]
    return [replace(use, number=n) for n, use in enumerate(found, 1)]


def select_uses(compiled: CompiledWorkflow, template: str, number: int | None) -> list[NoticeUse]:
    """The uses to preview: all of ``template``'s, or its use ``number``; bad input for a
    template the deployed workflow does not have or does not use, or a number it has not."""
    wf = compiled.definition
    known = compiled.renderer.sources
    if template not in known:
        raise InvalidValue(f"没有通知模板“{template}” / no template '{template}'; known: {', '.join(sorted(known))}")
    uses = template_uses(wf, template)
    if not uses:
        used = sorted({name for _, name, _ in notice_uses(wf)})
        raise InvalidValue(f"工作流 {wf.name} 没有使用通知模板“{template}” / workflow {wf.name} does not use template "
                           f"'{template}'; the templates it uses: {', '.join(used)}")
    if number is None:
        return uses
    if not 1 <= number <= len(uses):
        raise InvalidValue(f"通知模板“{template}”只有 {len(uses)} 处用途 / template '{template}' has {len(uses)} "
                           f"use(s): choose --use 1 to {len(uses)}")
    return [uses[number - 1]]


def _where(path: tuple) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")


def _expand(wf: Workflow, path: tuple, name: str) -> list[NoticeUse]:
    """The uses at ``path`` (a place ``notice_uses`` names): one per reminder or escalation offset."""
    where = _where(path)
    if path[0] == "transitions":
        t = wf.transitions[path[1]]
        sources = "、".join(wf.states[s].label for s in t.sources)
        return [NoticeUse(0, name, "transition", where, f"转换 {t.trigger}（{t.label}：{sources} → "
                          f"{wf.states[t.dest].label}）的通知", f"the notice of transition {t.trigger} "
                          f"({'/'.join(t.sources)} → {t.dest})", index=path[1])]
    if path[0] == "states" and path[2] == "deadline":
        return _deadline_uses(wf, path, name, where)
    if path[0] == "states" and path[2] == "recurring":
        state, rec = path[1], wf.states[path[1]].recurring[path[3]]
        return [NoticeUse(0, name, "recurring", where, f"状态 {state}（{wf.states[state].label}）的定期提醒"
                          f"“{rec.label}”（每{rec.every.zh}）", f"the recurring notice of state {state}, every "
                          f"{rec.every}", state=state, index=path[3])]
    if path == ("spot_check", "notice") and wf.spot_check is not None:
        state = wf.spot_check.state
        return [NoticeUse(0, name, "spot_check", where, f"县委组织部抽查抽中的整顿对象（状态 {state}）的抽查通知",
                          f"the notice to a case drawn for the spot check (state {state})", state=state)]
    if path == ("bulletin", "notice") and wf.bulletin is not None:
        return [NoticeUse(0, name, "bulletin", where, f"定期通报（每{wf.bulletin.every.zh}一期）",
                          f"the periodic bulletin (every {wf.bulletin.every})")]
    if path[0] == "duties" and path[1] in wf.duties:
        return _duty_uses(wf, path, name, where)
    from engine.ops.problem_preview import problem_uses  # it builds on this module

    found = problem_uses(wf, path, name, where)
    if found is not None:
        return found
    raise BadInput(f"通知预览不认识 {where} 处的用途 / notice preview does not know the use at {where}")


def _duty_uses(wf: Workflow, path: tuple, name: str, where: str) -> list[NoticeUse]:
    duty = wf.duties[path[1]]
    if path[2] == "returned_notice":
        return [NoticeUse(0, name, "duty_returned", where, f"退回“{duty.label}”时给报送单位的通知",
                          f"the notice to a unit whose '{path[1]}' filing is returned", duty=path[1])]
    kind = "reminder" if path[2] == "reminders" else "escalation"
    offsets = duty.reminders if kind == "reminder" else duty.escalations
    return [NoticeUse(0, name, f"duty_{kind}", f"{where}[{j}]",
                      f"“{duty.label}”期限{'前' if kind == 'reminder' else '后'}{offset.zh}的{'报送提醒' if kind == 'reminder' else '督办'}",
                      f"the {kind} {offset} {'before' if kind == 'reminder' else 'after'} the date of duty {path[1]}",
                      offset=offset, index=j, duty=path[1]) for j, offset in enumerate(offsets)]


def _deadline_uses(wf: Workflow, path: tuple, name: str, where: str) -> list[NoticeUse]:
    state = path[1]
    deadline = wf.states[state].deadline
    for _ in path[3:-1]:  # "later_rounds", as deep as the path goes
        assert deadline is not None
        deadline = deadline.later_rounds
    assert deadline is not None
    first = len(path) == 4
    rounds_zh, rounds_en = ("", "") if first else ("，重新整顿轮次", ", re-rectification rounds")
    label = wf.states[state].label
    uses = []
    if path[-1] == "reminders":
        for j, offset in enumerate(deadline.reminders):
            uses.append(NoticeUse(0, name, "reminder", f"{where}[{j}]",
                                  f"状态 {state}（{label}）的期限催办（期限前{offset.zh}{rounds_zh}）",
                                  f"the reminder {offset} before the deadline of state {state}{rounds_en}",
                                  state=state, deadline=deadline, offset=offset, first_round=first))
    else:
        for j, offset in enumerate(deadline.escalations):
            uses.append(NoticeUse(0, name, "escalation", f"{where}[{j}]",
                                  f"状态 {state}（{label}）的逾期督办（期限后{offset.zh}{rounds_zh}）",
                                  f"the escalation {offset} after the deadline of state {state}{rounds_en}",
                                  state=state, deadline=deadline, offset=offset, first_round=first))
    return uses


# --- who the preview is about ---------------------------------------------------------------

@dataclass(frozen=True)
class Subject:
    """A real case at the caller's clock, or the sample case (``case`` None); both have the
    sample timeline, which dates what a real case is already past."""

    card: CaseCard
    actor: str
    timeline: Timeline
    case: Case | None = None
    campaign: Campaign | None = None
    now: datetime | None = None  # the caller's clock (a real case)
    timers: tuple[Timer, ...] = ()  # the case's pending timers
    facts: dict[str, Any] | None = None  # a real case's facts; None: the sample's


def case_subject(session: Session, compiled: CompiledWorkflow, case: Case, now: datetime, actor: str) -> Subject:
    return Subject(card_of(case), actor, sample_timeline(compiled), case, case.campaign, now,
                   tuple(pending_timers(session, case.id)), case_facts(session, case.id))


def sample_subject(compiled: CompiledWorkflow) -> Subject:
    """The workflow check's sample case (notifiers.render.SAMPLE_CONTEXT), as a case card so
    that it goes through ``notice_context`` like a real one."""
    case = SAMPLE_CONTEXT["case"]
    card = CaseCard(0, case["ref"], compiled.definition.initial_state, 1, case["key_target"], case["weak_and_lax"],
                    list(case["problems"]), list(case["flags"]), case["organization"], case["org_code"], "",
                    case["superior"], case["township"], case["secretary"], case["secretary_phone"])
    return Subject(card, SAMPLE_CONTEXT["actor"], sample_timeline(compiled))


@dataclass(frozen=True)
class Timeline:
    """When the sample case enters each state (``entered``; ``reentered`` for a state a new round
    starts in) and leaves it (``left``: at 10:00 on a dated deadline's last day; two days after
    entering, within a relative deadline; after an automatic transition's delay, or a day, in a
    state without a deadline)."""

    entered: dict[str, datetime]
    left: dict[str, datetime]
    reentered: dict[str, datetime]


def sample_timeline(compiled: CompiledWorkflow) -> Timeline:
    """The sample case's walk through the workflow: it enters the initial state two weeks before
    the campaign's first date, leaves each state as ``Timeline`` says, and enters a state when
    the first transition leading there fires (the transitions in their order: the happy path)."""
    wf = compiled.definition
    dates = wf.resolved_dates()
    first = min(dates.values()) - timedelta(days=14) if dates else date(wf.year, 3, 1)  # no dates: spring
    entered = {wf.initial_state: start_of(first, wf.timezone).replace(hour=9)}
    left: dict[str, datetime] = {}
    order = [wf.initial_state]
    for state in order:  # grows as states are reached
        left[state] = _sample_leaving(compiled, state, entered[state])
        for t in wf.transitions:
            if state in t.sources and t.dest not in entered:
                entered[t.dest] = left[state]
                order.append(t.dest)
    reentered = {t.dest: left[s] for t in wf.transitions if t.new_round for s in t.sources if s in left}
    return Timeline(entered, left, reentered)


def _sample_leaving(compiled: CompiledWorkflow, state: str, entered: datetime) -> datetime:
    wf = compiled.definition
    spec = wf.states[state]
    deadline = deadline_for(spec, 1)
    if deadline is None:
        after = spec.auto[0].after if spec.auto else Duration(amount=1, unit="days")
        return shift(entered, after, 1, compiled.loaded.calendar, wf.timezone).at
    due = due_moment(deadline, entered, wf.resolved_dates(), wf.timezone, compiled.loaded.calendar).at
    if deadline.date is not None:  # done on the last day: 10:00 of the day the deadline closes
        return max(local(due, wf.timezone) - timedelta(hours=14), entered + timedelta(hours=1))
    return min(entered + timedelta(days=2), due - timedelta(hours=1))


# --- the notice of one use ----------------------------------------------------------------------

def preview_use(session: Session, compiled: CompiledWorkflow, use: NoticeUse, subject: Subject,
                note: str | None = None) -> PreviewedUse:
    """The notice ``use`` gives ``subject``, rendered as the real render does; nothing is written."""
    try:
        if use.kind == "transition":
            return _transition(compiled, use, subject, note)
        if use.kind == "spot_check":
            return _spot_check(compiled, use, subject)
        if use.kind == "bulletin":
            return _bulletin(session, compiled, use, subject)
        if use.kind in ("problem_reminder", "problem_escalation", "look_back"):
            from engine.ops.problem_preview import preview_problem_use  # it builds on this module

            previewed = preview_problem_use(session, compiled, use, subject)
            assert previewed is not None
            return previewed
        if use.duty is not None:
            return _duty(compiled, use, subject)
        return _timer(compiled, use, subject)
    except NoticeTemplateError as exc:
        raise BadInput(f"{exc}（{use.zh} / {use.en}）") from exc


def _transition(compiled: CompiledWorkflow, use: NoticeUse, subject: Subject, note: str | None) -> PreviewedUse:
    wf = compiled.definition
    t = wf.transitions[use.index]
    card, remark = subject.card, ""
    if subject.case is not None:  # a real case: fired now, from its state if the transition leaves it
        assert subject.now is not None
        source, at = (card.state if card.state in t.sources else t.sources[0]), subject.now
        if source != card.state:
            remark = (f"案件目前处于“{wf.states[card.state].label}”，按自“{wf.states[source].label}”转换预览 / the case "
                      f"is in state {card.state}: previewed as fired from {source}")
    else:
        source = next((s for s in t.sources if s in subject.timeline.left), t.sources[0])
        at = subject.timeline.left.get(source, subject.timeline.entered[wf.initial_state])
    # As engine.ops.cases._apply: the case is in its new state (and round) when its notice is written.
    moved = replace(card, state=t.dest, round=card.round + (1 if t.new_round else 0))
    grounds, checks = sample_grounds(compiled, t, subject.facts)
    context = notice_context(compiled, moved, at, subject.actor, t, note, source, facts=subject.facts,
                             grounds=grounds, checks=checks)
    return PreviewedUse(use, at, _render(compiled, use, context), remark)


def sample_grounds(compiled: CompiledWorkflow, t: Transition,
                   facts: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """What a preview shows of why ``t`` fired and of the checks passed: each guard decided as
    the transition needs it (a satisfaction rule on 50 respondents, ten points above or below
    its threshold), the text facts its guards read as recorded (or 样例), every check state. A
    preview of a possible firing: the real notice states the real verdicts and checks."""
    wf, loaded = compiled.definition, compiled.loaded
    verdicts: dict[str, dict[str, Any]] = {}
    for guard in t.guards:
        name, negated = split_guard(guard)
        rule, outcome = loaded.rules[name], "fail" if negated else "pass"
        figures: dict[str, Any] = {}
        if isinstance(rule, SatisfactionAtLeast):
            threshold = rule.params.threshold
            satisfied = max(0, min(50, round(50 * (threshold + (-0.1 if negated else 0.1)))))
            figures = {"respondents": 50, "satisfied": satisfied, "ratio": satisfied / 50, "threshold": threshold}
        verdicts[name] = {"outcome": outcome, "reason_zh": "（样例）", "figures": figures}
    shown = dict(facts or {})
    for guard in t.guards:
        for fact in loaded.rules[split_guard(guard)[0]].facts_used():
            if fact in wf.facts and wf.facts[fact].type == "text" and not shown.get(fact):
                shown[fact] = "（样例）"
    checks = [state.label for state in wf.states.values() if state.check]
    return transition_grounds(compiled, t, verdicts, shown), checks


def _spot_check(compiled: CompiledWorkflow, use: NoticeUse, subject: Subject) -> PreviewedUse:
    assert use.state is not None
    at = subject.now if subject.now is not None else subject.timeline.left.get(use.state)
    if at is None:
        return PreviewedUse(use, None, None, _unreached(use.state))
    remark = ""
    if subject.case is not None and subject.card.state != use.state:
        remark = (f"案件目前不在状态 {use.state}，按现在抽中预览 / the case is not in state {use.state}: "
                  f"previewed as if drawn now")
    # As engine.ops.spotcheck.draw: the drawn case, waiting in the spot-check state.
    context = notice_context(compiled, replace(subject.card, state=use.state), at, subject.actor, facts=subject.facts)
    return PreviewedUse(use, at, _render(compiled, use, context), remark)


def _bulletin(session: Session, compiled: CompiledWorkflow, use: NoticeUse, subject: Subject) -> PreviewedUse:
    if subject.campaign is not None:  # the county's figures now, as `rectify bulletin` shows them
        assert subject.now is not None
        return PreviewedUse(use, subject.now, render_bulletin(session, subject.campaign, subject.now))
    moments = schedule(compiled)
    if not moments:
        return PreviewedUse(use, None, None, "通报日程为空 / the bulletin's schedule has no date")
    number = min(3, len(moments))  # the third bulletin: a few months into the campaign
    context = bulletin_notice_context(compiled, moments[number - 1], number, SAMPLE_BULLETIN_FIGURES)
    return PreviewedUse(use, moments[number - 1], _render(compiled, use, context))


def _duty(compiled: CompiledWorkflow, use: NoticeUse, subject: Subject) -> PreviewedUse:
    """A unit's reminder, escalation or return, for the subject's township and the duty's first
    date, written at the moment it falls due (a return: the day before the date)."""
    from types import SimpleNamespace

    from engine.ops.duties import duty_notice_context
    from engine.spec.duty_plan import due_boundary, duty_steps

    wf = compiled.definition
    assert use.duty is not None
    duty = wf.duties[use.duty]
    due_at = due_boundary(duty.days(wf.year, wf.resolved_dates())[0], wf.timezone)
    unit = subject.card.township if subject.card.township is not None else subject.card.superior
    row = SimpleNamespace(duty=use.duty, due_at=due_at, occurrence=1, unit=SimpleNamespace(name=unit))
    if use.kind == "duty_returned":
        at, audience, kind, reason = due_at - timedelta(days=1), duty.remind, "reminder", SAMPLE_RETURN_REASON
    else:
        kind = use.kind.removeprefix("duty_")
        steps = [s for s in duty_steps(duty, due_at, compiled.loaded.calendar, wf.timezone) if s.kind == kind]
        at, audience, reason = steps[use.index].at, (duty.remind if kind == "reminder" else duty.escalate_to), ""
    context = duty_notice_context(compiled, row, duty, use.template, audience, kind, at,  # type: ignore[arg-type]
                                  str(use.offset or ""), reason)
    return PreviewedUse(use, at, compiled.renderer.render(use.template, context))


SAMPLE_RETURN_REASON = "汇总表未加盖党委印章，缺少软弱涣散党组织的具体问题"


def _audience(compiled: CompiledWorkflow, use: NoticeUse) -> tuple[str, ...]:
    """The roles ``use``'s notice is for, as the engine addresses it (its 抄送 line)."""
    wf = compiled.definition
    if use.kind == "transition":
        return tuple(wf.transitions[use.index].notify)
    if use.kind in ("reminder", "escalation") and use.deadline is not None:
        return tuple(use.deadline.remind if use.kind == "reminder" else use.deadline.escalate_to)
    if use.kind == "recurring" and use.state is not None:
        return tuple(wf.states[use.state].recurring[use.index].notify)
    if use.kind == "spot_check" and wf.spot_check is not None:
        return tuple(wf.spot_check.notify)
    from engine.ops.problem_preview import problem_audience  # it builds on this module

    return problem_audience(compiled, use) or ()


def _render(compiled: CompiledWorkflow, use: NoticeUse, context: dict[str, Any]) -> RenderedNotice:
    """The notice as the engine renders it (its ``document`` part included); the number's mark
    stays: a preview takes no number from the register."""
    if context.get("case") is not None:
        context = {**context, "document": document_context(compiled, use.template, _audience(compiled, use),
                                                            context["case"]["superior"])}
    return compiled.renderer.render(use.template, context)


render_use = _render  # for engine.ops.problem_preview, which previews the problem list's uses


def _unreached(state: str) -> str:
    return f"样例案件到不了状态 {state} / the sample case never reaches state {state}"


# --- reminders, escalations and recurring requests: the daemon's plan -----------------------------

ON_TIMELINE = "此案件已过该时点，按样例时间线推算日期 / the case is past this moment: dated on the sample timeline"


def _timer(compiled: CompiledWorkflow, use: NoticeUse, subject: Subject) -> PreviewedUse:
    wf = compiled.definition
    assert use.state is not None
    round_ = _round(compiled, use, subject)
    if use.kind != "recurring" and deadline_for(wf.states[use.state], round_) is not use.deadline:
        return PreviewedUse(use, None, None, "这一期限规则从不使用（later_rounds 只用一层） / this deadline is never "
                                             "used (only one level of later_rounds applies)")
    pending = next((t for t in subject.timers if _is_use(compiled, use, t.state, t.round, t.kind, t.payload)), None)
    if pending is not None and subject.case is not None and subject.now is not None:  # what the daemon will fire
        at = max(pending.due_at, subject.now)
        plan = plan_due_notice(compiled, subject.card, subject.case.due_at, pending.id, pending.kind, pending.payload,
                               at, SYSTEM.name, timer_due_at=pending.due_at, facts=subject.facts)
        return PreviewedUse(use, at, _render(compiled, use, plan.context))
    entries = _entries(use, subject, round_)
    for entered, remark in entries:
        planned = plan_timers(wf.states[use.state], round_, entered, wf.resolved_dates(), wf.timezone,
                              compiled.loaded.calendar, {n: d.label for n, d in wf.dates.items()})
        timer = next((p for p in planned if _is_use(compiled, use, use.state, round_, p.kind, p.payload)), None)
        if timer is not None:
            notice = _render_planned(compiled, use, subject, round_, planned, timer)
            return PreviewedUse(use, timer.due_at, notice, remark)
    if not entries:
        return PreviewedUse(use, None, None, _unreached(use.state))
    return PreviewedUse(use, None, None, f"进入状态 {use.state} 时此提醒已过期，不会发出 / due before the case "
                                         f"enters state {use.state}: never sent")


def _render_planned(compiled: CompiledWorkflow, use: NoticeUse, subject: Subject, round_: int,
                    planned: list[PlannedTimer], timer: PlannedTimer) -> RenderedNotice:
    """A planned timer's notice as the daemon writes it when the timer falls due."""
    assert use.state is not None
    due = next((p.due_at for p in planned if p.kind == "deadline"), None)
    card = replace(subject.card, state=use.state, round=round_)
    plan = plan_due_notice(compiled, card, due, 0, timer.kind, timer.payload, timer.due_at, SYSTEM.name,
                           timer_due_at=timer.due_at, facts=subject.facts)
    return _render(compiled, use, plan.context)


def _round(compiled: CompiledWorkflow, use: NoticeUse, subject: Subject) -> int:
    """The round the use applies to: the case's own when its deadline is the one of that round."""
    assert use.state is not None
    own = subject.card.round
    if use.kind == "recurring" or deadline_for(compiled.definition.states[use.state], own) is use.deadline:
        return own
    return 1 if use.first_round else max(own + 1, 2)


def _entries(use: NoticeUse, subject: Subject, round_: int) -> list[tuple[datetime, str]]:
    """When the case entered (or may enter) the use's state, best first, with how the notice is
    then dated: a real case's own entry if it is there in that round, else now; last, the
    sample timeline's entry (a reminder due before the case entered is never sent to it)."""
    assert use.state is not None
    line = subject.timeline
    sample = (line.reentered.get(use.state) if round_ > 1 else None) or line.entered.get(use.state)
    found: list[tuple[datetime, str]] = []
    if subject.case is not None and subject.now is not None:
        if subject.card.state == use.state and subject.card.round == round_:
            found.append((subject.case.entered_at, ""))
        else:
            found.append((subject.now, f"按案件现在进入状态 {use.state}（第{round_}轮）推算 / as if the case "
                                       f"entered state {use.state} (round {round_}) now"))
        if sample is not None:
            found.append((sample, ON_TIMELINE))
    elif sample is not None:
        found.append((sample, ""))
    return found


def _is_use(compiled: CompiledWorkflow, use: NoticeUse, state: str, round_: int, kind: str,
            payload: dict[str, Any]) -> bool:
    """Whether a timer (pending or planned) is the one of ``use``."""
    if state != use.state or kind != use.kind:
        return False
    if kind == "recurring":
        return bool(payload.get("index") == use.index)
    return (payload.get("offset") == str(use.offset) and payload.get("notice") == use.template
            and deadline_for(compiled.definition.states[state], round_) is use.deadline)
