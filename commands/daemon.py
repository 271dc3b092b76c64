"""The daemon (fires what time makes due, delivers notices) and the timers it keeps."""

from __future__ import annotations

import click

from cli import AS_JSON, ROW_ID, Settings, console, emit_json, pass_settings, say, shown, table
from engine.base.errors import DatabaseUnavailable
from engine.services import daemon as services


@click.command()
@click.option("--once", is_flag=True, help="Run one tick (at --now, or the real time) and exit.")
@click.option("--until", "until_text", metavar="DATE",
              help="Simulate: tick day by day from --now up to DATE, then exit.")
@click.option("--interval", default=60.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between ticks when running as a service.")
@pass_settings
def daemon(settings: Settings, once: bool, until_text: str | None, interval: float) -> None:
    """Fire due timers: reminders, escalations, recurring notices, automatic transitions."""
    import logging

    from engine.base.clock import parse_when
    from engine.daemon.loop import run_forever, run_until

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    store = settings.store
    zone = shown(services.may_run(store, settings.caller))  # a simulated clock is an administrator's call
    config = settings.notifier_config()
    if until_text:
        if not settings.now_text:
            raise click.UsageError("--until needs --now (the simulated start time)")
        for day, report in run_until(store, settings.now(zone), parse_when(until_text, zone), config=config):
            for line in report.messages:
                say(f"{day:%Y-%m-%d} {line}")
        return
    if once:
        from engine.daemon.delivery import deliver
        from engine.daemon.ticker import tick

        now = settings.now(zone)
        report = tick(store, now)
        say(f"tick: fired {report.total} ({dict(report.fired)}), skipped {report.skipped}")
        for line in report.messages:
            say(line)
        if report.unavailable:  # the database is in trouble: delivery waits for the next run too
            raise DatabaseUnavailable(f"数据库暂时不可用，到期的定时任务留待下次 / the database is unavailable; due "
                                      f"timers stay pending for the next run: {report.unavailable}")
        sent = deliver(store, config, now)
        say(f"delivery: {dict(sent.outcomes) or 'nothing due'}")
        return
    run_forever(store, interval, (lambda: settings.now(zone)) if settings.now_text else None, config)


@click.group()
def timers() -> None:
    """The daemon's timers: which are due, which failed, and putting failed ones back."""


@timers.command("list")
@click.option("--failed", is_flag=True, help="The timers set aside after an error (newest first).")
@click.option("--due", is_flag=True, help="Only pending timers already due (at --now, or the real time).")
@click.option("--limit", default=50, show_default=True, type=ROW_ID)
@AS_JSON
@pass_settings
def timers_list(settings: Settings, failed: bool, due: bool, limit: int, as_json: bool) -> None:
    """List pending timers, earliest first, or the failed ones (--failed) with their errors."""
    rows = shown(services.list_timers(settings.store, settings.caller, failed=failed, due=due, limit=limit))
    if as_json:
        emit_json(rows)
        return
    title = "失败的定时任务 / failed timers" if failed else "待执行的定时任务 / pending timers"
    console().print(table(f"{title} ({len(rows)})", ["#", "整顿对象", "党组织", "类型", "阶段", "轮次", "应执行", "通知", "错误"],
                          [[r["id"], r["case"], r["organization"], r["kind"], r["state"], r["round"], r["due_at"],
                            r["notice"], r["error"]] for r in rows]))


@timers.command("retry")
@click.argument("timer_ids", nargs=-1, required=True, type=ROW_ID)
@pass_settings
def timers_retry(settings: Settings, timer_ids: tuple[int, ...]) -> None:
    """Put failed timers TIMER_IDS back in the queue, after fixing the cause of their failure."""
    for outcome in shown(services.retry_timers(settings.store, settings.caller, list(timer_ids))):
        say(outcome.message)
