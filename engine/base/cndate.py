"""Dates as official documents write them (公文): 2014年3月16日 in the date line, and in a body
the short form 3月16日 when the year is the document's own (3月16日前, 截至3月18日).

Every day a notice states is a calendar day in the campaign's zone. A deadline is stored as
the moment it closes (midnight after its last day), so the day it names is the day before
(``closing_day``); the same rule tells on which day "now" stands when a notice is issued at
midnight: 00:00 on 3月18日 closes 3月17日, and nothing of 3月18日 has passed yet.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from engine.base.clock import local


def cn_date(day: date) -> str:
    """``2014年3月16日``: the form of a document's date line."""
    return f"{day.year}年{day.month}月{day.day}日"


def cn_day(day: date, year: int) -> str:
    """``3月16日`` within ``year`` (the document's own), ``2015年2月10日`` outside it."""
    return f"{day.month}月{day.day}日" if day.year == year else cn_date(day)


def closing_day(moment: datetime, tz: str) -> date:
    """The last calendar day that ``moment`` closes: midnight ends the day before."""
    return (local(moment, tz) - timedelta(microseconds=1)).date()


def days_between(earlier: date, later: date) -> int:
    """Whole calendar days from ``earlier`` to ``later`` (3月16日 → 3月18日 is 2)."""
    return (later - earlier).days
