"""Rules about the campaign calendar."""

from __future__ import annotations

from rules.base import Params, Rule, RuleContext, Verdict, failed, passed
from rules.registry import registry


class DateParams(Params):
    date: str


@registry.register("date_reached")
class DateReached(Rule):
    """The clock has reached a named campaign date (e.g. acceptance starts on 12-01)."""

    summary = "已到达指定的工作日期 / the named campaign date has been reached"
    Params = DateParams

    def dates_used(self) -> tuple[str, ...]:
        return (self.params.date,)  # type: ignore[attr-defined]

    def evaluate(self, ctx: RuleContext) -> Verdict:
        name = self.params.date  # type: ignore[attr-defined]
        day = ctx.dates[name]
        today = ctx.now.date()
        if today >= day:
            return passed(f"已到 {day.isoformat()}", f"{day.isoformat()} reached", date=day.isoformat())
        return failed(f"须于 {day.isoformat()} 起方可办理（今天 {today.isoformat()}）",
                      f"not before {day.isoformat()} (today is {today.isoformat()})",
                      date=day.isoformat(), today=today.isoformat())
