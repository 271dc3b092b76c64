"""The backward ratio: about 5 % of the organizations under each jurisdiction."""

from __future__ import annotations

from fractions import Fraction
from typing import Literal

from pydantic import Field

from rules.base import Params, Rule, RuleContext, Verdict, failed, passed, warned


class QuotaParams(Params):
    target: float = Field(gt=0, lt=1, description="目标比例，如 0.05 / target ratio, e.g. 0.05")
    tolerance: float = Field(ge=0, lt=1, description="允许偏差（上下），如 0.02 / tolerance either side, e.g. 0.02")
    per: Literal["township", "county"] = Field("township", description="按乡镇或全县计算 / jurisdiction")
    mode: Literal["warn", "block"] = Field("warn", description="超出时提醒或阻止 / warn or block when over")
    below: Literal["ignore", "warn"] = Field(
        "ignore", description="低于“目标−偏差”时：ignore 不查，warn 在后进比例表和工作看板中提醒（确定整顿对象时"
                              "从不因此提醒或阻止）/ below target − tolerance: ignore, or warn in rectify quota and the"
                              " dashboard (never at a confirm, which only raises the ratio)")


Breach = Literal["above", "below"]


def breach(cases: int, orgs: int, p: QuotaParams) -> Breach | None:
    """Which side of target ± tolerance ``cases`` out of ``orgs`` lies on, if it is outside.

    Compared as exact fractions of the decimals the workflow wrote, so that 7 of 100 against
    5 %±2 % is within. "below" only when ``p.below`` asks for it, and only when one case more
    would still be within target + tolerance: a township whose size lets no count land inside
    the band (10 organizations: 0 % or 10 %) is then never told both "too many" and "too few"."""
    high = Fraction(str(p.target)) + Fraction(str(p.tolerance))
    low = Fraction(str(p.target)) - Fraction(str(p.tolerance))
    if cases > high * orgs:
        return "above"
    if p.below == "warn" and cases < low * orgs and cases + 1 <= high * orgs:
        return "below"
    return None


def judge_ratio(cases: int, orgs: int, p: QuotaParams, *, confirming: bool = False) -> Verdict:
    """The verdict for ``cases`` confirmed out of ``orgs`` (shared with ``rectify quota``):
    above the band warns or blocks as ``p.mode`` says, below it warns if ``p.below`` is "warn".

    ``confirming``: ``cases`` counts the case being confirmed. Still below then passes, its reason
    saying so: the confirm moved toward the target, so a warning on it would be noise pinned to
    the wrong act (the shortfall is the township's, shown by ``rectify quota``)."""
    ratio = cases / orgs if orgs else (1.0 if cases else 0.0)
    where = "本乡镇" if p.per == "township" else "全县"
    figures = {"organizations": orgs, "cases": cases, "ratio": round(ratio, 4),
               "target": p.target, "tolerance": p.tolerance, "per": p.per}
    side = breach(cases, orgs, p)
    zh_side, en_side = {"above": ("高于", "above the "), None: ("", ""),
                        "below": ("仍低于", "still below the ") if confirming else ("低于", "below the ")}[side]
    zh = f"{where}后进比例 {ratio:.1%}（{cases}/{orgs}），{zh_side}目标 {p.target:.0%}±{p.tolerance:.0%}"
    en = f"backward ratio per {p.per} {ratio:.1%} ({cases}/{orgs}), {en_side}target {p.target:.0%}±{p.tolerance:.0%}"
    if side == "below" and confirming:
        return passed(f"{zh}（确定整顿对象只会提高比例，不因此提醒）", f"{en} (a confirm only raises the ratio: no warning)",
                      **figures)
    if side is None:
        return passed(zh, en, **figures)
    return failed(zh, en, **figures) if side == "above" and p.mode == "block" else warned(zh, en, **figures)


class BackwardRatio(Rule[QuotaParams]):
    """Confirmed cases in the jurisdiction, counting this one, stay within target + tolerance.

    The engine gathers the jurisdiction's grassroots organizations and the cases already
    confirmed there (past the first state). Example: ``{target: 0.05, tolerance: 0.02}``
    warns when a township of 17 organizations confirms its second case (11.8 %).

    "5 %左右" is breached below too: with ``below: warn``, ``rectify quota`` and the dashboard
    warn of a township (or the county) under target − tolerance, zero cases included, as long
    as one case more would not take it above the band (0 of 23 warns; 0 of 10 does not, as
    1 of 10 is already 10 %). A confirm is never warned or blocked for it: it only raises the
    ratio, so its verdict passes and its reason says the jurisdiction is still below.
    """

    name = "backward_ratio"
    summary = "后进比例掌握在所辖党组织总数的目标比例左右 / backward ratio near the target"
    needs = frozenset({"jurisdiction_counts"})

    def evaluate(self, ctx: RuleContext) -> Verdict:
        p = self.params
        key = "county" if p.per == "county" else "township"
        return judge_ratio(ctx.figures[f"{key}_cases"] + 1, ctx.figures[f"{key}_organizations"], p, confirming=True)
