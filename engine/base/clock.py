"""The clock: real time, or the time given by ``--now`` / ``RECTIFY_NOW`` for simulation."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from engine.base.errors import InvalidValue

DEFAULT_TZ = "Asia/Shanghai"
MIN_YEAR, MAX_YEAR = 1900, 2999


def parse_when(text: str, tz: str = DEFAULT_TZ) -> datetime:
    """A date or datetime as an official types it; no zone means the campaign's zone.

    ``2014-03-20`` means the start of that day (00:00) in the campaign's zone.
    """
    value = text.strip().replace("/", "-")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidValue(
            f"无法识别的时间 / cannot read the time '{text}': write YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:  # the store keeps UTC: year 1 or 9999 overflows
        raise InvalidValue(f"时间超出范围 / the time '{text}' is out of range: use a year from {MIN_YEAR} to {MAX_YEAR}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed


def start_of(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(tz))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def local(moment: datetime, tz: str) -> datetime:
    return moment.astimezone(ZoneInfo(tz))


def fmt(moment: datetime | None, tz: str, with_time: bool = True, end_of_day: bool = False) -> str:
    """Local time for people. With ``end_of_day`` (deadlines), midnight shows as 24:00 of the
    day before: a deadline "by 11-30" reads 2014-11-30 24:00, not 2014-12-01 00:00."""
    if moment is None:
        return ""
    shown = local(moment, tz)
    if with_time and end_of_day and (shown.hour, shown.minute, shown.second) == (0, 0, 0):
        return (shown - timedelta(days=1)).strftime("%Y-%m-%d") + " 24:00"
    return shown.strftime("%Y-%m-%d %H:%M") if with_time else shown.strftime("%Y-%m-%d")


def due_day(moment: datetime, tz: str) -> str:
    """The calendar day a deadline belongs to: a midnight deadline ends the day before."""
    return fmt(moment, tz, end_of_day=True)[:10]
