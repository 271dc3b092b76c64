"""Mainland China's working-day calendar, behind an adapter with an administrators' override file.

The data comes from the ``chinesecalendar`` package (statutory holidays and adjusted
working days, 调休), which only knows the years up to its release. An override file
(``calendar.yaml`` beside the workflow) adds or corrects days and declares further years
as covered. For a year nobody covers, weekends are taken as rest days and every answer is
flagged ``guessed`` so that callers can warn: a deadline is never silently guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


@dataclass(frozen=True)
class DayInfo:
    day: date
    working: bool
    name: str  # the holiday (or the holiday an adjusted working day belongs to), "" for an ordinary day
    guessed: bool  # the year is covered by no data: weekends assumed


@dataclass(frozen=True)
class WorkCalendar:
    """Whether a day is a working day; overrides win over the library."""

    overrides: Mapping[date, tuple[bool, str]] = field(default_factory=dict)  # day → (working, name)
    extra_years: frozenset[int] = frozenset()

    @cached_property
    def library_years(self) -> frozenset[int]:
        import chinese_calendar

        days = list(chinese_calendar.constants.holidays) + list(chinese_calendar.constants.workdays)
        return frozenset(range(min(days).year, max(days).year + 1))

    def __getstate__(self) -> dict[str, object]:
        # A pickled calendar (engine.ops.deploy's cache) must not carry the library's years with it.
        return {k: v for k, v in self.__dict__.items() if k != "library_years"}

    def covers(self, year: int) -> bool:
        return year in self.library_years or year in self.extra_years

    def info(self, day: date) -> DayInfo:
        if day in self.overrides:
            working, name = self.overrides[day]
            return DayInfo(day, working, name, False)
        if day.year in self.library_years:
            import chinese_calendar

            holiday, english = chinese_calendar.get_holiday_detail(day)
            name = HOLIDAY_NAMES_ZH.get(english or "", english or "")
            return DayInfo(day, not holiday, name, False)
        return DayInfo(day, day.weekday() < 5, "", not self.covers(day.year))

    def is_workday(self, day: date) -> bool:
        return self.info(day).working

    def add_workdays(self, start: date, count: int) -> tuple[date, list[DayInfo]]:
        """The ``count``-th working day after ``start`` (before it, if ``count`` < 0).

        ``start`` itself is not counted. Returns the day and the non-working days skipped
        on the way (for explanations).
        """
        step = timedelta(days=1 if count >= 0 else -1)
        day, skipped, left = start, [], abs(count)
        while left > 0:
            day += step
            info = self.info(day)
            if info.working:
                left -= 1
            else:
                skipped.append(info)
        return day, skipped

    def next_workday(self, day: date) -> tuple[date, list[DayInfo]]:
        """``day`` if it is a working day, else the first working day after it."""
        skipped = []
        info = self.info(day)
        while not info.working:
            skipped.append(info)
            day += timedelta(days=1)
            info = self.info(day)
        return day, skipped


DEFAULT_CALENDAR = WorkCalendar()


def parse_overrides(data: object, problem) -> WorkCalendar:
    """Build a calendar from an override file's data; report problems via ``problem(path, msg)``.

    Format::

        years: [2027]                  # years this file fully describes
        holidays: {2027-01-01: 元旦}    # rest days (statutory holidays)
        workdays: {2027-02-20: 春节调休} # adjusted working days on a weekend
    """
    if not isinstance(data, dict):
        problem((), "节假日文件顶层必须是映射 / the calendar file must be a mapping (years, holidays, workdays)")
        return WorkCalendar()
    for key in data:
        if key not in ("years", "holidays", "workdays"):
            problem((key,), f"未知的键 / unknown key '{key}'; allowed keys: years, holidays, workdays")
    years = data.get("years") or ()
    if not isinstance(years, tuple) or not all(isinstance(y, int) and 2000 <= y <= 2100 for y in years):
        problem(("years",), "years 应为年份列表，如 [2027] / years must be a list of years, e.g. [2027]")
        years = ()
    overrides: dict[date, tuple[bool, str]] = {}
    for key, working in (("holidays", False), ("workdays", True)):
        days = data.get(key) or {}
        if not isinstance(days, dict):
            problem((key,), f"{key} 应为“日期: 名称”映射 / {key} must map YYYY-MM-DD to a name")
            continue
        for text, name in days.items():
            try:
                day = date.fromisoformat(str(text))
            except ValueError:
                problem((key, text), f"'{text}' 不是日期 / is not a date (YYYY-MM-DD)")
                continue
            if day in overrides:
                problem((key, text), f"{day} 同时列为节假日和工作日 / listed both as holiday and working day")
            overrides[day] = (working, "" if name is None else str(name))
    return WorkCalendar(overrides, frozenset(years))
