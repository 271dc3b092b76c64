"""Rules about the campaign calendar."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from rules.base import Params, Rule, RuleContext, Verdict, failed, passed, warned
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


class DatedFactParams(Params):
    fact: str = Field(description="记录日期的事实 / the fact holding a date")
    date: str = Field(description="应不晚于的工作日期 / the campaign date it should not be later than")
    mode: Literal["warn", "block"] = Field("warn", description="晚于该日期时提醒或阻止 / warn or block when late")


@registry.register("done_by_date")
class DoneByDate(Rule):
    """A dated fact is recorded, on or before a campaign date (e.g. the secretary trained by 03-31).

    Missing: refused. Recorded but later than the date: a warning (or refused with ``mode: block``).
    """

    summary = "事项已完成且不晚于规定日期 / done, and by the campaign date"
    Params = DatedFactParams

    def facts_used(self) -> tuple[str, ...]:
        return (self.params.fact,)  # type: ignore[attr-defined]

    def dates_used(self) -> tuple[str, ...]:
        return (self.params.date,)  # type: ignore[attr-defined]

    def evaluate(self, ctx: RuleContext) -> Verdict:
        p: DatedFactParams = self.params  # type: ignore[assignment]
        limit = ctx.dates[p.date]
        done = ctx.facts.get(p.fact)
        if not done:
            return failed(f"尚未登记“{ctx.label(p.fact)}”", f"{p.fact} not recorded yet", limit=limit.isoformat())
        figures = {"done": done, "limit": limit.isoformat()}
        if date.fromisoformat(done) <= limit:
            return passed(f"{ctx.label(p.fact)}于 {done} 完成", f"done on {done}", **figures)
        zh = f"{ctx.label(p.fact)}于 {done} 完成，晚于规定的 {limit}"
        en = f"done on {done}, later than {limit}"
        return warned(zh, en, **figures) if p.mode == "warn" else failed(zh, en, **figures)
