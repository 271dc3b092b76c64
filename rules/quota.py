"""The backward ratio: about 5 % of the organizations under each jurisdiction."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from rules.base import Params, Rule, RuleContext, Verdict, failed, passed, warned
from rules.registry import registry


class QuotaParams(Params):
    target: float = Field(gt=0, lt=1)
    tolerance: float = Field(ge=0, lt=1)
    mode: Literal["warn", "block"] = "warn"


@registry.register("backward_ratio")
class BackwardRatio(Rule):
    """Cases confirmed in the township, counting this one, stay within target + tolerance.

    The engine gathers ``jurisdiction_counts``: the township's organizations and the
    cases already past screening there.
    """

    summary = "后进比例控制在所辖党组织总数的目标比例左右 / backward ratio near the target"
    Params = QuotaParams
    needs = frozenset({"jurisdiction_counts"})

    def evaluate(self, ctx: RuleContext) -> Verdict:
        p: QuotaParams = self.params  # type: ignore[assignment]
        orgs = ctx.figures["jurisdiction_organizations"]
        cases = ctx.figures["jurisdiction_cases"] + 1
        ratio = cases / orgs if orgs else 1.0
        figures = {"organizations": orgs, "cases": cases, "ratio": round(ratio, 4),
                   "target": p.target, "tolerance": p.tolerance}
        zh = f"本辖区后进比例 {ratio:.1%}（{cases}/{orgs}），目标 {p.target:.0%}±{p.tolerance:.0%}"
        en = f"backward ratio {ratio:.1%} ({cases}/{orgs}), target {p.target:.0%}±{p.tolerance:.0%}"
        if ratio <= p.target + p.tolerance:
            return passed(zh, en, **figures)
        return warned(zh, en, **figures) if p.mode == "warn" else failed(zh, en, **figures)
