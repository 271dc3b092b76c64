"""Rules about the satisfaction survey (群众满意度测评)."""

from __future__ import annotations

from pydantic import Field

from rules.base import Params, Rule, RuleContext, Verdict, failed, passed


class SurveyFacts(Params):
    respondents_fact: str = "survey_respondents"
    satisfied_fact: str = "survey_satisfied"


class CompleteParams(SurveyFacts):
    min_respondents: int = Field(ge=1)


def _figures(ctx: RuleContext, p: SurveyFacts) -> tuple[int | None, int | None]:
    return ctx.facts.get(p.respondents_fact), ctx.facts.get(p.satisfied_fact)


class SurveyComplete(Rule[CompleteParams]):
    """The survey figures are recorded, consistent and from enough respondents."""

    name = "survey_complete"
    summary = "测评数据完整有效 / survey figures recorded, consistent, enough respondents"

    def facts_used(self) -> tuple[str, ...]:
        return (self.params.respondents_fact, self.params.satisfied_fact)

    def evaluate(self, ctx: RuleContext) -> Verdict:
        p = self.params
        total, satisfied = _figures(ctx, p)
        if total is None or satisfied is None:
            return failed("尚未登记测评人数和满意人数", "respondents and satisfied counts not recorded")
        if satisfied > total or satisfied < 0:
            return failed(f"满意人数 {satisfied} 不能超过参评人数 {total}",
                          f"satisfied ({satisfied}) cannot exceed respondents ({total})")
        if total < p.min_respondents:
            return failed(f"参评人数 {total} 少于最低要求 {p.min_respondents}",
                          f"{total} respondents, fewer than the minimum {p.min_respondents}",
                          respondents=total, min_respondents=p.min_respondents)
        return passed(f"参评 {total} 人", f"{total} respondents", respondents=total)


class ThresholdParams(SurveyFacts):
    threshold: float = Field(gt=0, le=1)


class SatisfactionAtLeast(Rule[ThresholdParams]):
    """Satisfied / respondents is at or above the threshold (70 % exactly passes)."""

    name = "satisfaction_at_least"
    summary = "群众满意度达到阈值 / satisfaction at or above the threshold"

    def facts_used(self) -> tuple[str, ...]:
        return (self.params.respondents_fact, self.params.satisfied_fact)

    def evaluate(self, ctx: RuleContext) -> Verdict:
        p = self.params
        total, satisfied = _figures(ctx, p)
        if not total or satisfied is None:
            return failed("尚无测评结果", "no survey result yet")
        # Compare in integers so that 7/10 against 0.70 is not lost to float rounding.
        passes = satisfied * 10_000 >= round(p.threshold * 10_000) * total
        ratio = satisfied / total
        figures = {"satisfied": satisfied, "respondents": total, "ratio": round(ratio, 4), "threshold": p.threshold}
        zh = f"满意度 {ratio:.1%}（{satisfied}/{total}），阈值 {p.threshold:.0%}"
        en = f"satisfaction {ratio:.1%} ({satisfied}/{total}), threshold {p.threshold:.0%}"
        return passed(zh, en, **figures) if passes else failed(zh, en, **figures)
