"""The daemon (fires what time makes due, delivers notices) and the timers it keeps."""

from __future__ import annotations

import click

from cli import Settings, pass_settings, shown


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

    from engine.clock import parse_when
    from engine.daemon import run_forever, run_until
    from engine.services.daemon import may_run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    store = settings.store
    zone = shown(may_run(store, settings.caller))  # a simulated clock is an administrator's call
    config = settings.notifier_config()
    if until_text:
        if not settings.now_text:
            raise click.UsageError("--until needs --now (the simulated start time)")
        for day, report in run_until(store, settings.now(zone), parse_when(until_text, zone), config=config):
            for line in report.messages:
                click.echo(f"{day:%Y-%m-%d} {line}")
        return
    if once:
        from engine.delivery import deliver
        from engine.ticker import tick

        now = settings.now(zone)
        report = tick(store, now)
        click.echo(f"tick: fired {report.total} ({dict(report.fired)}), skipped {report.skipped}")
        for line in report.messages:
            click.echo(line)
        sent = deliver(store, config, now)
        click.echo(f"delivery: {dict(sent.outcomes) or 'nothing due'}")
        return
    run_forever(store, interval, (lambda: settings.now(zone)) if settings.now_text else None, config)


@click.group()
def timers() -> None:
    """The daemon's timers: which are due, which failed, and putting failed ones back."""
