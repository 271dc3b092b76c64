"""Is the real clock inside the deployed campaign? Told once per command when it is far off.

A county that deploys the shipped 2014 campaign today, or one that forgot ``--now`` while
simulating, would otherwise see cases overdue at once ("截至2026-12-01已逾期…") with nothing to
say why. Only the real clock is judged: with ``--now`` the caller chose the time.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from engine.ops.deploy import compiled_version
from engine.store.admin_queries import newest_campaign

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# Half a year either side of the campaign's own dates: preparing next year's campaign in
# December, or finishing a re-rectification in the spring, is normal; twelve years is not.
FAR = timedelta(days=183)


def far_from_campaign(session: Session, now: datetime) -> str | None:
    """A warning when ``now`` (the real clock) lies more than ``FAR`` outside the newest
    deployed campaign's dates; None when it is near or nothing is deployed."""
    campaign = newest_campaign(session)
    if campaign is None:
        return None
    wf = compiled_version(campaign.current_version).definition
    dates = sorted(wf.resolved_dates().values()) or [date(wf.year, 1, 1), date(wf.year, 12, 31)]
    today = now.astimezone(ZoneInfo(wf.timezone)).date()
    first, last = dates[0], dates[-1]
    if first - FAR <= today <= last + FAR:
        return None
    return (f"提醒：已部署的“{wf.title}”（{wf.year}年度）日期为{_cn(first)}至{_cn(last)}，与今天（{_cn(today)}）相差半年以上："
            f"模拟或补录请加 --now 日期；开展新一年度的工作请用 'rectify workflow new 目录 --year 年度 --issuer 发文单位' "
            f"生成并部署本年度工作流 / note: the deployed campaign '{wf.title}' ({wf.year}) runs from {first} to "
            f"{last}, more than six months from today ({today}): add --now DATE to simulate or record late facts, "
            f"or make this year's campaign with 'rectify workflow new DIR --year YEAR --issuer UNIT' and deploy it")


def _cn(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
