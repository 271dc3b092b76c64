"""``rectify notices preview`` of the problem list's reminders and escalations and of the 回头看
request: each use, and the notice it gives, planned by the code the daemon runs
(``engine.ops.problem_timers.plan_problem_notice``, ``engine.ops.look_back.look_back_context``).

A real case's problem use previews its first open problem with a deadline, as the notice
written at that use's moment before or after it; a case without one, and the sample case, get
the sample problem (``notifiers.render.SAMPLE_CONTEXT``) due three months on.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.base.clock import local, start_of
from engine.ops.look_back import look_back_context
from engine.ops.notice_preview import NoticeUse, PreviewedUse, Subject, render_use
from engine.ops.problem_timers import plan_problem_notice, planned_times, problem_view
from engine.spec.deadlines import shift
from engine.store import problem_queries
from notifiers.render import SAMPLE_CONTEXT

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.spec.definition import Workflow
    from engine.spec.machine import CompiledWorkflow

SAMPLE_DUE_AFTER = timedelta(days=91)  # the sample problem falls due three months after the preview's moment


def problem_uses(wf: Workflow, path: tuple, name: str, where: str) -> list[NoticeUse] | None:
    """The uses at ``path`` when it is the problem list's or a look-back's; None otherwise."""
    if path[0] == "problem_list":
        spec = wf.problem_list
        reminder = path[1] == "reminders"
        offsets = spec.reminders if reminder else spec.escalations
        kind = "problem_reminder" if reminder else "problem_escalation"
        side_zh, side_en = ("前", "before") if reminder else ("后", "after")
        word = "整改提醒" if reminder else "逾期督办"
        return [NoticeUse(0, name, kind, f"{where}[{j}]", f"问题清单中问题期限{side_zh}{offset.zh}的{word}",
                          f"the {'reminder' if reminder else 'escalation'} {offset} {side_en} a listed problem's "
                          "deadline", offset=offset, index=j) for j, offset in enumerate(offsets)]
    if path[0] == "states" and len(path) > 2 and path[2] == "look_back":
        state = wf.states[path[1]]
        assert state.look_back is not None
        return [NoticeUse(0, name, "look_back", where, f"进入“{state.label}”{state.look_back.after.zh}后的回头看",
                          f"the look-back {state.look_back.after} after entering state {path[1]}", state=path[1])]
    return None


def preview_problem_use(session: Session, compiled: CompiledWorkflow, use: NoticeUse,
                        subject: Subject) -> PreviewedUse | None:
    """The notice of a problem list's or a look-back's use; None for any other use."""
    if use.kind == "look_back":
        return _look_back(compiled, use, subject)
    if use.kind not in ("problem_reminder", "problem_escalation"):
        return None
    wf = compiled.definition
    moment = subject.now or subject.timeline.entered[wf.initial_state]
    problem, due_at, remark = _sample_problem(compiled, moment)
    if subject.case is not None:
        found = next((p for p in problem_queries.problems_of(session, subject.case.id)
                      if p.status != "closed" and p.due_at is not None), None)
        if found is not None and found.due_at is not None:
            problem, due_at, remark = problem_view(found, wf), found.due_at, ""
    every = due_at - timedelta(days=3650)  # seen from long before, every offset is still ahead
    planned = [t for t in planned_times(compiled, due_at, every)
               if t[0] == use.kind and t[2] == str(use.offset)]
    if not planned:
        return PreviewedUse(use, None, None, "没有这一时点 / no such moment")
    kind, at, offset, days = planned[0]
    payload = {"problem": problem["number"], "offset": offset, "days": days, "notice": use.template,
               "notify": list(_audience(wf, kind))}
    plan = plan_problem_notice(compiled, subject.card, problem, due_at, 0, kind, payload, at, subject.facts)
    return PreviewedUse(use, at, render_use(compiled, use, plan.context), remark)


def _sample_problem(compiled: CompiledWorkflow, moment: datetime) -> tuple[dict[str, Any], datetime, str]:
    wf = compiled.definition
    day = local(moment + SAMPLE_DUE_AFTER, wf.timezone).date()
    sample = dict(SAMPLE_CONTEXT["problem"], deadline=f"{day.year}年{day.month}月{day.day}日")
    remark = "按样例问题预览（期限为三个月后）/ previewed with the sample problem, due in three months"
    return sample, start_of(day + timedelta(days=1), wf.timezone), remark


def _audience(wf: Workflow, kind: str) -> tuple[str, ...]:
    spec = wf.problem_list
    return tuple(spec.remind if kind == "problem_reminder" else spec.escalate_to)


def _look_back(compiled: CompiledWorkflow, use: NoticeUse, subject: Subject) -> PreviewedUse:
    wf = compiled.definition
    assert use.state is not None
    look = wf.states[use.state].look_back
    assert look is not None
    remark = ""
    if subject.case is not None and subject.card.state == use.state:
        entered = subject.case.entered_at
    elif subject.now is not None:
        entered = subject.now
        remark = (f"按案件现在进入状态 {use.state} 推算 / as if the case entered state {use.state} now")
    elif use.state in subject.timeline.entered:
        entered = subject.timeline.entered[use.state]
    else:
        return PreviewedUse(use, None, None, f"样例案件到不了状态 {use.state} / the sample case never reaches "
                                             f"state {use.state}")
    at = shift(entered, look.after, 1, compiled.loaded.calendar, wf.timezone).at
    payload = {"notice": look.notice, "notify": list(look.notify), "fact": look.fact, "after": str(look.after)}
    card = replace(subject.card, state=use.state)
    facts = None if subject.facts is None else {k: v for k, v in subject.facts.items() if k != look.fact}
    context = look_back_context(compiled, card, entered, payload, at, facts)
    return PreviewedUse(use, at, render_use(compiled, use, context), remark)


def problem_audience(compiled: CompiledWorkflow, use: NoticeUse) -> tuple[str, ...] | None:
    """The roles a problem list's or a look-back's use is for (its 抄送 line); None for others."""
    wf = compiled.definition
    if use.kind in ("problem_reminder", "problem_escalation"):
        return _audience(wf, use.kind)
    if use.kind == "look_back" and use.state is not None and wf.states[use.state].look_back is not None:
        return tuple(wf.states[use.state].look_back.notify)  # type: ignore[union-attr]
    return None
