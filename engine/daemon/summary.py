"""What a tick and a delivery pass did, in words a person reads (Chinese and English).

The daemon's log, ``rectify daemon --once``, ``--until`` and ``rectify notices deliver`` all
say it the same way::

    定时任务 timers: 触发 fired 12（催办提醒 reminder 8、逾期督办 escalation 4）· 跳过 skipped 3 · 出错 failed 0
    投递 deliveries: 送达 delivered 6 · 待重试 retrying 2 · 失败 dead 15

The failure counts (timers set aside, dead deliveries) are always printed, zero included, so
that a line without them never reads as "all went well"; when one is not zero, ``attention``
says what to run, and the daemon logs the line at WARNING.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from engine.daemon.delivery import DeliveryReport
from engine.daemon.ticker import TickReport

# The timer kinds (engine.store.models.Timer.kind) and the bulletins a tick writes.
KIND_WORDS = {
    "reminder": "催办提醒 reminder",
    "escalation": "逾期督办 escalation",
    "recurring": "进度报送提醒 progress request",
    "deadline": "期限到达 deadline",
    "auto": "自动转换 automatic transition",
    "bulletin": "定期通报 bulletin",
    "duty_reminder": "报送提醒 duty reminder",
    "duty_escalation": "报送督办 duty escalation",
    "problem_reminder": "问题整改提醒 problem reminder",
    "problem_escalation": "问题逾期督办 problem escalation",
    "look_back": "回头看 look-back",
}
MAX_ERROR_LINES = 10  # a command prints this many failed attempts, then says how many more


@dataclass
class Totals:
    """Several rounds added up (``rectify daemon --until``)."""

    tick: TickReport = field(default_factory=TickReport)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)

    def add(self, tick: TickReport, delivery: DeliveryReport | None) -> None:
        self.tick.fired.update(tick.fired)
        self.tick.skipped += tick.skipped
        self.tick.failed += tick.failed
        if delivery is not None:
            self.delivery.outcomes.update(delivery.outcomes)
            self.delivery.errors += delivery.errors
            self.delivery.released += delivery.released


def tick_words(report: TickReport) -> str:
    """``触发 fired 12（催办提醒 reminder 8、…）· 跳过 skipped 3 · 出错 failed 0``."""
    kinds = "、".join(f"{KIND_WORDS.get(kind, kind)} {count}" for kind, count in _largest_first(report.fired))
    fired = f"触发 fired {report.total}" + (f"（{kinds}）" if kinds else "")
    return f"{fired} · 跳过 skipped {report.skipped} · 出错 failed {report.failed}"


def delivery_words(report: DeliveryReport) -> str:
    """``送达 delivered 6 · 待重试 retrying 2 · 失败 dead 15`` (and what was taken over by another
    daemon or given back by a stopping one, when any was); ``无到期投递 / nothing due``."""
    outcomes = report.outcomes
    if not +outcomes and not report.released:
        return "无到期投递 / nothing due"
    parts = [f"送达 delivered {outcomes['delivered']}", f"待重试 retrying {outcomes['retry']}",
             f"失败 dead {outcomes['dead']}"]
    if outcomes["taken over"]:
        parts.append(f"由其他守护进程接手 taken over {outcomes['taken over']}")
    if report.released:
        parts.append(f"交还下次发送 released {report.released}")
    return " · ".join(parts)


def is_troubled(tick: TickReport | None = None, delivery: DeliveryReport | None = None) -> bool:
    """Whether something failed for good: a timer set aside, a dead delivery (WARNING)."""
    return bool((tick is not None and tick.failed) or (delivery is not None and delivery.outcomes["dead"]))


def attention(tick: TickReport | None = None, delivery: DeliveryReport | None = None) -> list[str]:
    """What needs a person, and the command to look at it: one line per kind of failure."""
    lines = []
    if tick is not None and tick.failed:
        lines.append(f"警告：{tick.failed} 个定时任务出错，已搁置，查看：rectify timers list --failed / "
                     f"warning: {tick.failed} timer(s) failed and were set aside: rectify timers list --failed")
    if delivery is not None and delivery.outcomes["dead"]:
        dead = delivery.outcomes["dead"]
        lines.append(f"警告：{dead} 个投递失败，不再重试，查看：rectify notices list --status dead，处理后 rectify "
                     f"notices retry ID / warning: {dead} deliveries are dead (no more attempts): rectify notices "
                     f"list --status dead, then rectify notices retry ID once the cause is fixed")
    return lines


def error_lines(report: DeliveryReport, limit: int = MAX_ERROR_LINES) -> list[str]:
    """The first ``limit`` failed attempts, and how many more there were."""
    lines = report.errors[:limit]
    if len(report.errors) > limit:
        more = len(report.errors) - limit
        lines.append(f"……另有 {more} 次投递失败，见 rectify notices list / … and {more} more: rectify notices list")
    return lines


def _largest_first(counts: Counter) -> list[tuple[str, int]]:
    return sorted(((kind, count) for kind, count in counts.items() if count), key=lambda kc: (-kc[1], kc[0]))
