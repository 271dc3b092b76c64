"""The notice outbox: what was written, to whom, and whether it was delivered."""

from __future__ import annotations

from pathlib import Path

import click

from cli import (
    AS_JSON,
    CAMPAIGN,
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
from commands.valid_values import Group
from engine.base.text import visible
from engine.services import outbox


@click.group(cls=Group)
def notices() -> None:
    """通知 / The notice outbox.

    写了什么通知、发给谁、是否送达。

    What was written, to whom, and whether it was delivered."""


@notices.command("list")
@click.option("--status", type=click.Choice(["pending", "delivered", "dead", "held"]),
              help="只列此状态的：待投递、已投递、投递失败、暂缓发出（缺少事实）/ only notices in this status "
                   "(held: the record lacks a fact the notice needs).")
@click.option("--case", "case_ref", metavar="REF", help="只列此整顿对象的 / only this case's notices.")
@click.option("--limit", default=50, show_default=True, type=ROW_ID, help="最多列出行数 / at most this many rows.")
@click.option("--unreached", is_flag=True, help="只列有对象无人可送达的（如无人被指派的联系领导）/ only notices with an "
                                                "audience nobody could be found for (a contact leader nobody assigned).")
@AS_JSON
@pass_settings
def notices_list(settings: Settings, status: str | None, case_ref: str | None, limit: int, unreached: bool,
                 as_json: bool) -> None:
    """列出通知 / List the notices of your jurisdiction, newest first.

    “未送达”一栏列出找不到任何人的通知对象（无人担任的角色、无人被指派的联系领导等）。

    The 未送达 (unreached) column names each audience the notice found nobody for: a role no
    official holds in the case's jurisdiction, a person role nobody is assigned to."""
    rows = shown(outbox.list_notices(settings.store, settings.caller, status=status, case_ref=case_ref, limit=limit,
                                     unreached=unreached))
    if as_json:
        emit_json(rows)
        return
    console().print(table(f"通知 / notices ({len(rows)})", ["#", "时间", "发文字号", "标题", "致", "未送达", "状态", "尝试",
                                                          "错误"], [
        [r["id"], r["created"], r["number"], r["title"], "、".join(r["recipients"]), unreached_text(r["unreached"]),
         r["status"], r["attempts"], r["last_error"]] for r in rows]))
    missed = sum(1 for r in rows if r["unreached"])
    if missed:
        say(f"注意 attention: {missed} 份通知有对象无人可送达（未送达栏）/ {missed} notice(s) reached nobody for some "
            "audience (column 未送达): register the officials, or assign the people (rectify person assign)", err=True)


def unreached_text(unreached: list[dict[str, str]]) -> str:
    """The audiences a notice found nobody for, as the 未送达 column shows them."""
    return "⚠ " + "、".join(u.get("label") or u.get("role", "") for u in unreached) if unreached else ""


@notices.command("show")
@click.argument("notice_id", type=ROW_ID)
@AS_JSON
@pass_settings
def notices_show(settings: Settings, notice_id: int, as_json: bool) -> None:
    """查看通知 / Show a notice.

    通知的正文、模板哈希、收件人及每次投递的状态。

    Its text, template hash, recipients and each delivery's status."""
    data = shown(outbox.show_notice(settings.store, settings.caller, notice_id))
    if as_json:
        emit_json(data)
        return
    out = console()
    out.print(f"[bold]#{data['id']} {esc(data['title'])}[/bold]  ({data['status']}, {esc(data['template'])} "
              f"{data['template_hash'][:12]}, {data['created']})")
    if data["number"]:
        out.print(f"发文字号 / number: {esc(data['number'])}")
    if data["status"] == "held":
        out.print(f"[yellow]{esc(data['last_error'] or '')}[/yellow]")
    if data["unreached"]:
        out.print(f"[red]未送达 / reached nobody: {esc(unreached_text(data['unreached']))}[/red]")
    out.print(visible(data["body"]), markup=False)
    out.print(table("投递 / deliveries", ["渠道", "地址", "收件人", "状态", "尝试", "下次", "错误"], [
        [d["channel"], d["address"], d["recipient"], d["status"], d["attempts"],
         d["next_attempt"] if d["status"] == "pending" else d["delivered"], d["last_error"]]
        for d in data["deliveries"]]))


@notices.command("docx")
@click.argument("notice_id", type=ROW_ID)
@click.option("--output", "-o", type=click.Path(dir_okay=False),
              help="写入的文件 / file to write (default: 通知-<ID>.docx).")
@pass_settings
def notices_docx(settings: Settings, notice_id: int, output: str | None) -> None:
    """把通知导出为公文 / Export a notice as an official document (.docx).

    把第 NOTICE_ID 号通知导出为公文：标题、主送、正文、落款和日期，便于打印或在 WPS 中编辑。

    Exports notice NOTICE_ID with its title, recipient, body, issuing unit and date, laid out
    for printing or editing in WPS."""
    from notifiers.officialdoc import write_notice_docx

    text = shown(outbox.notice_text(settings.store, settings.caller, notice_id))
    path = Path(output or f"通知-{notice_id}.docx")
    write_output(path, lambda target: write_notice_docx(text.title, text.body, target, text.key), atomic=False)
    say(f"已导出 / exported: {path}（{text.title}）")


@notices.command("retry")
@click.argument("notice_id", type=ROW_ID)
@pass_settings
def notices_retry(settings: Settings, notice_id: int) -> None:
    """重新投递通知 / Put a notice's undelivered deliveries back in the queue.

    排除失败原因后，把第 NOTICE_ID 号通知未送达的投递重新排队。

    Once the cause is fixed, puts the undelivered deliveries of notice NOTICE_ID back in the queue."""
    count = shown(outbox.retry_notice(settings.store, settings.caller, notice_id))
    say(f"通知 #{notice_id}：{count} 个投递重新排队 / {count} deliveries queued again")


@notices.command("deliver")
@pass_settings
def notices_deliver(settings: Settings) -> None:
    """投递通知 / Deliver what is due in the outbox now.

    通过配置的渠道（--config）投递到期的通知。

    Delivers what is due through the configured channels (--config)."""
    from engine.daemon.delivery import deliver
    from engine.daemon.summary import attention, delivery_words, error_lines

    config = settings.notifier_config()
    now = shown(outbox.may_deliver(settings.store, settings.caller))
    report = deliver(settings.store, config, now)
    say(f"投递 deliveries: {delivery_words(report)}")
    for line in error_lines(report):  # the first few failed attempts; every one is in 'notices list'
        say(f"  {line}", err=True)
    for line in attention(delivery=report):  # a dead delivery is never only a number
        say(line, err=True)


@notices.command("preview")
@click.argument("template")
@click.argument("ref", required=False)
@click.option("--use", "use", type=ROW_ID, help="只预览模板的第 N 种用途 / only the template's use number N (as listed).")
@click.option("--note", help="转换通知中的说明 / the note of a transition's notice (as 'fire --note' gives it).")
@CAMPAIGN
@AS_JSON
@pass_settings
def notices_preview(settings: Settings, template: str, ref: str | None, use: int | None, note: str | None,
                    campaign_ref: str | None, as_json: bool) -> None:
    """预览通知模板 / Preview a notice template.

    按已部署工作流对模板 TEMPLATE 的每种用途（转换通知、催办和督办、定期报送提醒、定期通报…）为整顿对象 REF（不写则用样例）生成通知；不写入、不发送。

    Renders TEMPLATE for each use the deployed workflow makes of it (a transition's notice, a
    state's reminders and escalations, a recurring request, the bulletin…), for case REF or,
    without it, for a sample case. Nothing is written or sent."""
    from engine.base.clock import fmt

    found = shown(outbox.preview(settings.store, settings.caller, template, ref, use=use, note=note,
                                 campaign_ref=campaign_ref))
    shown_uses = [{"use": p.use.number, "kind": p.use.kind, "where": p.use.where, "used_by": p.use.zh,
                   "used_by_en": p.use.en, "at": fmt(p.at, found.zone) if p.at else None, "remark": p.remark,
                   "title": p.notice.title if p.notice else None, "body": p.notice.body if p.notice else None}
                  for p in found.uses]
    if as_json:
        emit_json({"template": found.template, "workflow": found.workflow, "case": found.case,
                   "sample": found.case is None, "uses": shown_uses})
        return
    who = f"整顿对象 case {found.case}" if found.case else "样例案件 sample case"
    for n, item in enumerate(shown_uses):
        if n:
            say("")
        say(f"[{item['use']}] 用于 used by: {item['used_by']} / {item['used_by_en']}  ({item['where']})")
        say(f"    {who}" + (f"，发出时间 written {item['at']}" if item["at"] else ""))
        if item["remark"]:
            say(f"    {item['remark']}")
        if item["title"] is not None:
            say("")
            say(item["title"])
            say("")
            say(item["body"], nl=False)
