"""The backward ratio: about 5 % of the organizations under each jurisdiction."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from rules.base import Params, Rule, RuleContext, Verdict, failed, passed, warned


class QuotaParams(Params):
    target: float = Field(gt=0, lt=1, description="目标比例，如 0.05 / target ratio, e.g. 0.05")
    tolerance: float = Field(ge=0, lt=1, description="允许偏差，如 0.02 / tolerance above the target")
    per: Literal["township", "county"] = Field("township", description="按乡镇或全县计算 / jurisdiction")
    mode: Literal["warn", "block"] = Field("warn", description="超出时提醒或阻止 / warn or block when over")


def judge_ratio(cases: int, orgs: int, p: QuotaParams) -> Verdict:
    """The verdict for ``cases`` confirmed out of ``orgs`` (shared with ``rectify quota``)."""
    ratio = cases / orgs if orgs else 1.0
    where = "本乡镇" if p.per == "township" else "全县"
    figures = {"organizations": orgs, "cases": cases, "ratio": round(ratio, 4),
               "target": p.target, "tolerance": p.tolerance, "per": p.per}
    zh = f"{where}后进比例 {ratio:.1%}（{cases}/{orgs}），目标 {p.target:.0%}±{p.tolerance:.0%}"
    en = f"backward ratio per {p.per} {ratio:.1%} ({cases}/{orgs}), target {p.target:.0%}±{p.tolerance:.0%}"
    if ratio <= p.target + p.tolerance:
        return passed(zh, en, **figures)
    return warned(zh, en, **figures) if p.mode == "warn" else failed(zh, en, **figures)


class BackwardRatio(Rule[QuotaParams]):
    """Confirmed cases in the jurisdiction, counting this one, stay within target + tolerance.

    The engine gathers the jurisdiction's grassroots organizations and the cases already
    confirmed there (past the first state). Example: ``{target: 0.05, tolerance: 0.02}``
    warns when a township of 17 organizations confirms its second case (11.8 %).
    """

    name = "backward_ratio"
    summary = "后进比例掌握在所辖党组织总数的目标比例左右 / backward ratio near the target"
    needs = frozenset({"jurisdiction_counts"})

    def evaluate(self, ctx: RuleContext) -> Verdict:
        p = self.params
        key = "county" if p.per == "county" else "township"
        return judge_ratio(ctx.figures[f"{key}_cases"] + 1, ctx.figures[f"{key}_organizations"], p)
