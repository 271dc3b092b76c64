"""Rules about the county's random spot check (县委组织部抽查)."""

from __future__ import annotations

from pydantic import Field

from rules.base import Params, Rule, RuleContext, Verdict, failed, passed


class SpotParams(Params):
    drawn_fact: str = Field("spot_drawn", description="抽签结果（是否抽中）/ the draw's result")
    opinion_fact: str = Field("spot_check_opinion", description="抽查意见 / the spot check's opinion")


class SpotCheckCleared(Rule[SpotParams]):
    """The case was not drawn in the spot-check draw, or it was drawn and its check is recorded."""

    name = "spot_check_cleared"
    summary = "未被抽中，或抽查意见已登记 / not drawn, or the spot check is recorded"

    def facts_used(self) -> tuple[str, ...]:
        return (self.params.drawn_fact, self.params.opinion_fact)

    def evaluate(self, ctx: RuleContext) -> Verdict:
        p = self.params
        drawn = ctx.facts.get(p.drawn_fact)
        if drawn is None:
            return failed("尚未进行抽查抽签（rectify spot-check draw）", "the spot-check draw has not been made yet")
        if drawn is False:
            return passed("未被抽中", "not drawn")
        if ctx.facts.get(p.opinion_fact):
            return passed("已抽中，抽查意见已登记", "drawn; the spot check is recorded")
        return failed("已被抽中，尚未登记抽查意见", "drawn: record the spot check's opinion first")
