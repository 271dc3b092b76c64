"""The daemon (fires what time makes due, delivers notices) and the timers it keeps."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli import AS_JSON, ROW_ID, Settings, console, emit_json, pass_settings, say, shown, table
from commands.valid_values import Command, Group
from engine.base.errors import DatabaseUnavailable
from engine.services import daemon as services

if TYPE_CHECKING:
    from engine.daemon.delivery import DeliveryReport
    from engine.daemon.ticker import TickReport
    from engine.store.db import Store
    from notifiers.config import NotifierConfig


@click.command(cls=Command)
@click.option("--once", is_flag=True, help="执行一次后退出 / run one tick (at --now, or the real time) and exit.")
@click.option("--until", "until_text", metavar="DATE",
              help="模拟：从 --now 起逐日执行到 DATE / simulate: tick day by day from --now up to DATE, then exit.")
@click.option("--now", "now_text", metavar="WHEN",
              help="即全局的 --now，写在 daemon 之后 / the global --now, given after 'daemon': the simulated start "
                   "of --until, the clock of --once.")
@click.option("--interval", default=60.0, show_default=True, type=click.FloatRange(min=0.1),
              help="作为服务运行时每次执行的间隔秒数 / seconds between ticks when running as a service.")
@pass_settings
def daemon(settings: Settings, once: bool, until_text: str | None, now_text: str | None, interval: float) -> None:
    """定时任务和通知投递 / Fire due timers and deliver notices.

    执行到期的定时任务（催办提醒、逾期督办、定期报送提醒、自动转换）并投递通知；可作为服务运行。

    Fires what time makes due (reminders, escalations, recurring notices, automatic
    transitions) and delivers the notices; runs as a service without --once or --until."""
    from engine.daemon.loop import log_to_stderr, run_forever

    _take_clock(settings, now_text)
    log_to_stderr()  # its own lines at INFO, the libraries' only from WARNING
    store = settings.store
    zone = shown(services.may_run(store, settings.caller))  # a simulated clock is an administrator's call
    config = settings.notifier_config()
    if until_text:
        if not settings.now_text:
            raise click.UsageError("--until 需要 --now（模拟的起始时间）/ --until needs --now (the simulated start time)")
        _simulate(settings, store, zone, until_text, config)
        return
    if once:
        _once(settings, store, zone, config)
        return
    run_forever(store, interval, (lambda: settings.now(zone)) if settings.now_text else None, config)


def _take_clock(settings: Settings, now_text: str | None) -> None:
    """``rectify daemon --now WHEN`` means ``rectify --now WHEN daemon``: the daemon is the one
    command whose clock is its main setting, and the README's form puts it there."""
    if now_text is None:
        return
    from click.core import ParameterSource

    from engine.base.clock import parse_when

    parse_when(now_text)  # bad input before any work, as the global option
    parent = click.get_current_context().parent
    if parent is not None and parent.get_parameter_source("now_text") == ParameterSource.COMMANDLINE \
            and settings.now_text != now_text:
        raise click.UsageError(f"--now 给了两个不同的时间（{settings.now_text}、{now_text}）/ --now was given twice "
                               f"with different times ({settings.now_text}, {now_text}): give it once")
    settings.now_text = now_text


def _once(settings: Settings, store: Store, zone: str, config: NotifierConfig) -> None:
    """One tick, then one delivery pass, each said in words; what failed for good goes to stderr."""
    from engine.daemon.delivery import deliver
    from engine.daemon.summary import delivery_words, tick_words
    from engine.daemon.ticker import tick

    now = settings.now(zone)
    report = tick(store, now)
    for line in report.messages:
        say(line)
    say(f"定时任务 timers: {tick_words(report)}")
    if report.unavailable:  # the database is in trouble: delivery waits for the next run too
        raise DatabaseUnavailable(f"数据库暂时不可用，到期的定时任务留待下次 / the database is unavailable; due "
                                  f"timers stay pending for the next run: {report.unavailable}")
    sent = deliver(store, config, now)
    say(f"投递 deliveries: {delivery_words(sent)}")
    _tell_trouble(report, sent)


def _simulate(settings: Settings, store: Store, zone: str, until_text: str, config: NotifierConfig) -> None:
    """Day by day from --now to --until: each day that did something, then the totals."""
    from engine.base.clock import parse_when
    from engine.daemon.loop import run_until
    from engine.daemon.summary import Totals, delivery_words, tick_words

    start, end = settings.now(zone), parse_when(until_text, zone)
    totals = Totals()
    for day in run_until(store, start, end, config=config):
        when = f"{day.moment:%Y-%m-%d}"
        for line in day.tick.messages:
            say(f"{when} {line}")
        if day.tick.total or day.tick.skipped or day.tick.failed:
            say(f"{when} 定时任务 timers: {tick_words(day.tick)}")
        if day.delivery is not None and (day.delivery.outcomes or day.delivery.released):
            say(f"{when} 投递 deliveries: {delivery_words(day.delivery)}")
        totals.add(day.tick, day.delivery)
        if day.tick.unavailable:
            _tell_trouble(totals.tick, totals.delivery)
            raise DatabaseUnavailable(f"数据库暂时不可用，模拟停在 {when}，可从该日再运行 / the database is unavailable: "
                                      f"the simulation stopped at {when}; run it again with --now {when}: "
                                      f"{day.tick.unavailable}")
    say(f"合计 total {start:%Y-%m-%d} → {end:%Y-%m-%d}")
    say(f"  定时任务 timers: {tick_words(totals.tick)}")
    say(f"  投递 deliveries: {delivery_words(totals.delivery)}")
    _tell_trouble(totals.tick, totals.delivery)


def _tell_trouble(report: TickReport, sent: DeliveryReport) -> None:
    """The failed attempts (the first few) and what failed for good, on stderr."""
    from engine.daemon.summary import attention, error_lines

    for line in error_lines(sent):
        say(f"  {line}", err=True)
    for line in attention(report, sent):
        say(line, err=True)


@click.group(cls=Group)
def timers() -> None:
    """定时任务 / The daemon's timers.

    哪些到期、哪些失败，排除原因后重新排队。

    Which are due, which failed, and putting failed ones back in the queue."""


@timers.command("list")
@click.option("--failed", is_flag=True, help="出错后搁置的定时任务（最新的在前）/ the timers set aside after an error (newest first).")
@click.option("--due", is_flag=True, help="只列已到期的 / only pending timers already due (at --now, or the real time).")
@click.option("--limit", default=50, show_default=True, type=ROW_ID, help="最多列出行数 / at most this many rows.")
@AS_JSON
@pass_settings
def timers_list(settings: Settings, failed: bool, due: bool, limit: int, as_json: bool) -> None:
    """列出定时任务 / List the timers.

    待执行的定时任务按时间先后列出；--failed 列出失败的及其错误。

    Pending timers, earliest first, or the failed ones (--failed) with their errors."""
    rows = shown(services.list_timers(settings.store, settings.caller, failed=failed, due=due, limit=limit))
    if as_json:
        emit_json(rows)
        return
    from engine.reports.views import TIMER_LABELS

    title = "失败的定时任务 / failed timers" if failed else "待执行的定时任务 / pending timers"
    console().print(table(f"{title} ({len(rows)})", ["#", "整顿对象", "党组织", "类型", "阶段", "轮次", "应执行", "通知", "错误"],
                          [[r["id"], r["case"], r["organization"], TIMER_LABELS.get(r["kind"], r["kind"]), r["state"],
                            r["round"], r["due_at"],
                            r["notice"], r["error"]] for r in rows]))


@timers.command("retry")
@click.argument("timer_ids", nargs=-1, required=True, type=ROW_ID)
@pass_settings
def timers_retry(settings: Settings, timer_ids: tuple[int, ...]) -> None:
    """重新排队失败的定时任务 / Put failed timers back in the queue.

    排除失败原因后，把定时任务 TIMER_IDS 重新排队（管理员办理）。

    Puts the failed timers TIMER_IDS back in the queue, once the cause of their failure is fixed."""
    for outcome in shown(services.retry_timers(settings.store, settings.caller, list(timer_ids))):
        say(outcome.message)
