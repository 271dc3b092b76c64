"""Recording the satisfaction survey (群众满意度测评) and concluding it in one step."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from engine.base.errors import InvalidValue, TransitionRefused
from engine.ops.cases import FireResult, fire, set_fact
from engine.ops.deploy import compiled_version
from engine.ops.officials import Actor
from engine.spec.machine import split_guard
from engine.store.models import Case
from rules.survey import SatisfactionAtLeast, ThresholdParams

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def check_figures(respondents: int, satisfied: int) -> None:
    if respondents <= 0:
        raise InvalidValue(f"参评人数必须大于 0（收到 {respondents}）/ respondents must be more than 0 (got {respondents})")
    if satisfied < 0:
        raise InvalidValue(f"满意人数不能为负数（收到 {satisfied}）/ satisfied cannot be negative (got {satisfied})")
    if satisfied > respondents:
        raise InvalidValue(f"满意人数 {satisfied} 不能超过参评人数 {respondents} / "
                           f"satisfied ({satisfied}) cannot exceed respondents ({respondents})")


def parse_scores(items: tuple[str, ...]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for item in items:
        question, sep, value = item.partition("=")
        try:
            score = float(value)
        except ValueError:
            score = -1.0
        if not sep or not question.strip() or not 0 <= score <= 100:
            raise InvalidValue(f"分项得分格式应为 题目=0到100的分数 / a score must be QUESTION=0..100, got '{item}'")
        scores[question.strip()] = score
    return scores


def record_survey(session: Session, case: Case, respondents: int, satisfied: int, actor: Actor, now: datetime,
                  scores: dict[str, float] | None = None, note: str | None = None) -> FireResult:
    """Record the figures and fire the survey's concluding trigger: accepted or re-rectify.

    The trigger is the one whose guards use the workflow's satisfaction rule from the
    case's current state; its facts are the ones that rule reads.
    """
    check_figures(respondents, satisfied)
    compiled = compiled_version(case.workflow_version)
    wf = compiled.definition
    for t in wf.transitions:
        if case.state not in t.sources:
            continue
        for guard in t.guards:
            rule = compiled.loaded.rules[split_guard(guard)[0]]
            if isinstance(rule, SatisfactionAtLeast):
                params: ThresholdParams = rule.params  # type: ignore[assignment]
                set_fact(session, case, params.respondents_fact, str(respondents), actor, now)
                set_fact(session, case, params.satisfied_fact, str(satisfied), actor, now)
                if scores and "survey_scores" in wf.facts:
                    text = "；".join(f"{q}={v:g}" for q, v in scores.items())
                    set_fact(session, case, "survey_scores", text, actor, now)
                return fire(session, case, t.trigger, actor, now, note)
    raise TransitionRefused(case.ref, "survey", f"{case.ref} 当前处于“{wf.states[case.state].label}”，不能登记测评结果 / "
                            f"no transition from '{case.state}' concludes a satisfaction survey")
