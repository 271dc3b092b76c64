"""Rules about a case's problem list (一支一策 at the level of problems)."""

from __future__ import annotations

from pydantic import Field

from rules.base import Params, Rule, RuleContext, Verdict, failed, passed


class ProblemsParams(Params):
    at_least_one: bool = Field(
        False, description="须至少登记一个问题（只登记了问题类别的整顿对象也受阻）/ the case must have at least one "
                           "problem on its list (a case with only problem categories is blocked too)")


class ProblemsClosed(Rule[ProblemsParams]):
    """Every problem on the case's list is closed (销号): none is open or reopened.

    The engine gives the list's numbers (``problem_list``: ``total`` and the ``open`` numbers,
    from ``rectify problem``). A case with no list passes, its reason saying so, unless
    ``at_least_one`` asks for a list. Example: a guard on ``submit_self_check`` keeps a case
    out of self-check while problem 2 is still open.
    """

    name = "problems_closed"
    summary = "问题清单的问题均已销号 / every problem on the case's list is closed"
    needs = frozenset({"problem_list"})

    def evaluate(self, ctx: RuleContext) -> Verdict:
        listed = ctx.figures["problem_list"]
        total, still_open = int(listed["total"]), [int(n) for n in listed["open"]]
        figures = {"total": total, "open": still_open}
        if total == 0:
            if self.params.at_least_one:
                return failed("尚未登记问题清单（rectify problem add）", "no problem is listed yet (rectify problem add)",
                              **figures)
            return passed("未登记问题清单，不要求销号", "no problem list: nothing to close", **figures)
        if still_open:
            numbers = "、".join(f"第{n}项" for n in still_open)
            return failed(f"问题清单共 {total} 项，{numbers}尚未销号", f"{len(still_open)} of {total} problems not closed: "
                          f"{', '.join(map(str, still_open))}", **figures)
        return passed(f"问题清单 {total} 项均已销号", f"all {total} problems closed", **figures)
