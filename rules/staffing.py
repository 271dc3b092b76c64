"""Rules about people and reports that must stay in place: 不转化不撤离, progress reports."""

from __future__ import annotations

from pydantic import Field

from rules.base import Params, Rule, RuleContext, Verdict, failed, passed


class KeptParams(Params):
    fact: str = Field(description="须保持登记的事实 / the fact that must stay recorded")
    until: tuple[str, ...] = Field(min_length=1, description="允许撤离的状态 / states from which it may be withdrawn")


class KeptUntil(Rule[KeptParams]):
    """A recorded fact (e.g. the stationed cadre) may not be cleared before the case reaches ``until``.

    Used as a guard on the fact itself (``facts: {stationed_cadre: {guards: [cadre_kept]}}``),
    it enforces 不转化不撤离: the work team stays until the case is accepted.
    """

    name = "kept_until"
    summary = "验收通过前不得撤离（不转化不撤离）/ may not be withdrawn before the given state"

    def facts_used(self) -> tuple[str, ...]:
        return (self.params.fact,)

    def states_used(self) -> tuple[str, ...]:
        return self.params.until

    def evaluate(self, ctx: RuleContext) -> Verdict:
        p = self.params
        value = ctx.facts.get(p.fact)
        if value not in (None, "", False):
            return passed(f"{ctx.label(p.fact)}在岗", f"{p.fact} in place")
        if ctx.case.state in p.until:
            return passed(f"已{'、'.join(p.until)}，可以撤离", f"case is {ctx.case.state}: may be withdrawn")
        return failed(f"{ctx.label(p.fact)}在整顿对象转化（{'、'.join(p.until)}）前不得撤离（不转化不撤离）",
                      f"{p.fact} may not be withdrawn before the case is {' or '.join(p.until)}",
                      state=ctx.case.state)


class ReportsParams(Params):
    fact: str = Field(description="已报送次数的事实 / the fact counting reports submitted")


class ReportsSubmitted(Rule[ReportsParams]):
    """Every progress report requested so far in this round has been submitted.

    The engine counts the recurring report requests the daemon has sent the case in its
    current round (``recurring_sent``); the officials record how many reports they sent in
    the given fact (e.g. ``progress_reports``).
    """

    name = "reports_submitted"
    summary = "每两个月的整顿建设情况均已报送 / every requested progress report submitted"
    needs = frozenset({"recurring_sent"})

    def facts_used(self) -> tuple[str, ...]:
        return (self.params.fact,)

    def evaluate(self, ctx: RuleContext) -> Verdict:
        p = self.params
        requested = ctx.figures["recurring_sent"]
        submitted = ctx.facts.get(p.fact) or 0
        figures = {"requested": requested, "submitted": submitted}
        if submitted >= requested:
            return passed(f"应报 {requested} 次，已报 {submitted} 次", f"{submitted} of {requested} submitted", **figures)
        return failed(f"应报送整顿建设情况 {requested} 次，仅报送 {submitted} 次",
                      f"only {submitted} of {requested} progress reports submitted", **figures)


class DutyParams(Params):
    duty: str = Field(description="单位报送事项（工作流 duties 中的名称）/ a duty of the workflow's 'duties'")


class DutyFiled(Rule[DutyParams]):
    """Every occurrence of a duty the case's township owed by now stands filed (e.g. its
    bimonthly progress reports): the township's duty, filed with ``rectify duty submit``, not a
    number typed on the case.

    The engine counts, for the case's township, the occurrences of ``duty`` due by now and those
    filed and not returned (``duty_counts``)."""

    name = "duty_filed"
    summary = "所在乡镇应报的该事项均已报送 / every occurrence due so far filed by the township"
    needs = frozenset({"duty_counts"})

    def evaluate(self, ctx: RuleContext) -> Verdict:
        counts = ctx.figures["duty_counts"].get(self.params.duty, {"due": 0, "filed": 0})
        due, filed = counts["due"], counts["filed"]
        figures = {"due": due, "filed": filed}
        if filed >= due:
            return passed(f"应报 {due} 次，已报 {filed} 次", f"{filed} of {due} filed", **figures)
        return failed(f"所在乡镇应报送 {due} 次，仅报送 {filed} 次（rectify duty list 查看）",
                      f"the township filed only {filed} of the {due} due (see rectify duty list)", **figures)
