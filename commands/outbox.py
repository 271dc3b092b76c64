"""The notice outbox: what was written, to whom, and whether it was delivered."""

from __future__ import annotations

from pathlib import Path

import click

from cli import (
    AS_JSON,
    ROW_ID,
    Settings,
    console,
    emit_json,
    esc,
    pass_settings,
    say,
    shown,
    table,
    write_output,
)
from engine.base.text import visible
from engine.services import outbox


@click.group()
def notices() -> None:
    """The notice outbox: what was written, to whom, and whether it was delivered."""


@notices.command("list")
@click.option("--status", type=click.Choice(["pending", "delivered", "dead"]), help="Only notices in this status.")
@click.option("--case", "case_ref", help="Only this case's notices.")
@click.option("--limit", default=50, show_default=True, type=ROW_ID)
@AS_JSON
@pass_settings
def notices_list(settings: Settings, status: str | None, case_ref: str | None, limit: int, as_json: bool) -> None:
    """List the notices of your jurisdiction, newest first."""
    rows = shown(outbox.list_notices(settings.store, settings.caller, status=status, case_ref=case_ref, limit=limit))
    if as_json:
        emit_json(rows)
        return
    console().print(table(f"通知 / notices ({len(rows)})", ["#", "时间", "标题", "致", "状态", "尝试", "错误"], [
        [r["id"], r["created"], r["title"], "、".join(r["recipients"]), r["status"], r["attempts"], r["last_error"]]
        for r in rows]))


@notices.command("show")
@click.argument("notice_id", type=ROW_ID)
@AS_JSON
@pass_settings
def notices_show(settings: Settings, notice_id: int, as_json: bool) -> None:
    """Show a notice: its text, template hash, recipients and each delivery's status."""
    data = shown(outbox.show_notice(settings.store, settings.caller, notice_id))
    if as_json:
        emit_json(data)
        return
    out = console()
    out.print(f"[bold]#{data['id']} {esc(data['title'])}[/bold]  ({data['status']}, {esc(data['template'])} "
              f"{data['template_hash'][:12]}, {data['created']})")
    out.print(visible(data["body"]), markup=False)
    out.print(table("投递 / deliveries", ["渠道", "地址", "收件人", "状态", "尝试", "下次", "错误"], [
        [d["channel"], d["address"], d["recipient"], d["status"], d["attempts"],
         d["next_attempt"] if d["status"] == "pending" else d["delivered"], d["last_error"]]
        for d in data["deliveries"]]))


@notices.command("docx")
@click.argument("notice_id", type=ROW_ID)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="File to write (default: 通知-<ID>.docx).")
@pass_settings
def notices_docx(settings: Settings, notice_id: int, output: str | None) -> None:
    """Export notice NOTICE_ID as an official document (.docx): title, recipient, body, issuing
    unit and date, laid out for printing or editing in WPS."""
    from notifiers.officialdoc import write_notice_docx

    text = shown(outbox.notice_text(settings.store, settings.caller, notice_id))
    path = Path(output or f"通知-{notice_id}.docx")
    write_output(path, lambda target: write_notice_docx(text.title, text.body, target, text.key), atomic=False)
    say(f"已导出 / exported: {path}（{text.title}）")


@notices.command("retry")
@click.argument("notice_id", type=ROW_ID)
@pass_settings
def notices_retry(settings: Settings, notice_id: int) -> None:
    """Put a notice's undelivered deliveries back in the queue (after fixing the cause)."""
    count = shown(outbox.retry_notice(settings.store, settings.caller, notice_id))
    say(f"通知 #{notice_id}：{count} 个投递重新排队 / {count} deliveries queued again")


@notices.command("deliver")
@pass_settings
def notices_deliver(settings: Settings) -> None:
    """Deliver what is due in the outbox now, through the configured channels."""
    from engine.daemon.delivery import deliver

    config = settings.notifier_config()
    now = shown(outbox.may_deliver(settings.store, settings.caller))
    report = deliver(settings.store, config, now)
    say(f"投递 / delivery: {dict(report.outcomes) or 'nothing due'}")
    for error in report.errors:
        say(f"  {error}", err=True)


@notices.command("preview")
@click.argument("template")
@click.argument("ref")
@pass_settings
def notices_preview(settings: Settings, template: str, ref: str) -> None:
    """Render TEMPLATE for case REF without sending anything."""
    rendered = shown(outbox.preview(settings.store, settings.caller, template, ref))
    say(rendered.title)
    say("")
    say(rendered.body)
