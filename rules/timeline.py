"""Rules about the campaign calendar."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from rules.base import Params, Rule, RuleContext, Verdict, failed, passed, warned


class DateParams(Params):
    date: str


class DateReached(Rule[DateParams]):
    """The clock has reached a named campaign date (e.g. acceptance starts on 12-01)."""

    name = "date_reached"
    summary = "已到达指定的工作日期 / the named campaign date has been reached"

    def dates_used(self) -> tuple[str, ...]:
        return (self.params.date,)

    def evaluate(self, ctx: RuleContext) -> Verdict:
        name = self.params.date
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


class DoneByDate(Rule[DatedFactParams]):
    """A dated fact is recorded, on or before a campaign date (e.g. the secretary trained by 03-31).

    Missing: refused. Recorded but later than the date: a warning (or refused with ``mode: block``).
    """

    name = "done_by_date"
    summary = "事项已完成且不晚于规定日期 / done, and by the campaign date"

    def facts_used(self) -> tuple[str, ...]:
        return (self.params.fact,)

    def dates_used(self) -> tuple[str, ...]:
        return (self.params.date,)

    def evaluate(self, ctx: RuleContext) -> Verdict:
        p = self.params
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
