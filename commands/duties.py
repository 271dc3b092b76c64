"""What units owe (报送事项): how each stands, file an occurrence, return a filing."""

from __future__ import annotations

import click

from cli import AS_JSON, CAMPAIGN, Settings, console, emit_json, pass_settings, say, shown, table
from commands.valid_values import Group
from engine.services import duties as services

STANDINGS = {"done": "按时报送", "late": "逾期报送", "missing": "逾期未报", "open": "待报送"}


@click.group(cls=Group)
def duty() -> None:
    """单位报送事项：汇总表、整顿建设情况、测评结果 / What units owe: list, file, return."""


@duty.command("list")
@click.option("--unit", "unit_code", metavar="CODE", help="只看一个单位（乡镇）/ one unit (township) only.")
@click.option("--standing", type=click.Choice(list(STANDINGS)),
              help="只看某种状态：done 按时报送、late 逾期报送、missing 逾期未报、open 待报送 / only occurrences that stand so.")
@CAMPAIGN
@AS_JSON
@pass_settings
def duty_list(settings: Settings, unit_code: str | None, standing: str | None, campaign_ref: str | None,
              as_json: bool) -> None:
    """各单位报送情况 / How each unit stands on what it owes.

    列出各乡镇（街道）每项报送事项每一次的期限和状态：按时报送、逾期报送、逾期未报、待报送（被退回的注明“曾退回”）。

    Lists each occurrence of each duty of each unit with its date and how it stands: filed on
    time, filed late, overdue (nothing filed), or not yet due; a returned filing is marked."""
    data = shown(services.duty_table(settings.store, settings.caller, campaign_ref, unit_code, standing))
    if as_json:
        emit_json(data)
        return
    if not data["rows"]:
        say("没有报送事项 / no duties" + ("" if data["duties"] else "（工作流未定义 duties / the workflow declares none）"))
        return
    rows = [[r["unit"], r["label"], f"{r['occurrence']}/{r['occurrences']}", r["due"],
             STANDINGS[r["standing"]] + ("（曾退回）" if r["returned"] else ""), r["submitted_at"] or "—"]
            for r in data["rows"]]
    console().print(table(f"报送情况 / duties — {data['campaign']}",
                          ["单位 unit", "事项 duty", "次 no.", "期限 due", "状态 standing", "报送时间 filed"], rows))
    for unit in data["units"]:
        if unit["missing"]:
            say(f"逾期未报 overdue: {unit['unit']}：{'、'.join(unit['missing_items'])}")


@duty.command("submit")
@click.argument("duty_name", metavar="DUTY")
@click.option("--unit", "unit_code", required=True, metavar="CODE", help="报送单位的编码 / the filing unit's code.")
@click.option("--occurrence", type=click.IntRange(min=1), metavar="N",
              help="第几次（默认最早一次未报的）/ which occurrence (default: the earliest not filed).")
@click.option("--file", "files", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="附件（PDF、图片、Office 文档），可重复 / a file to attach, repeatable.")
@click.option("--note", default="", help="报送说明 / a note.")
@CAMPAIGN
@pass_settings
def duty_submit(settings: Settings, duty_name: str, unit_code: str, occurrence: int | None, files: tuple[str, ...],
                note: str, campaign_ref: str | None) -> None:
    """报送 / File an occurrence of a duty.

    以单位 --unit 的名义报送事项 DUTY（如 screening_report 排查汇总表、progress_report 整顿建设情况），
    可附文件；记录报送人、时间和文件的哈希。

    Files DUTY for the unit --unit, with files and a note; who, when and the files' hashes are
    recorded in the hash-chained log."""
    filed = shown(services.submit(settings.store, settings.caller, duty_name, unit_code, occurrence, note, files,
                                  campaign_ref))
    say(f"{filed.unit}“{filed.label}”第 {filed.occurrence} 次已报送（期限 {filed.due}，{STANDINGS[filed.standing]}）/ "
        f"{filed.unit_code} {filed.duty} #{filed.occurrence} filed ({filed.standing}), record {filed.seq}")


@duty.command("return")
@click.argument("duty_name", metavar="DUTY")
@click.option("--unit", "unit_code", required=True, metavar="CODE", help="报送单位的编码 / the filing unit's code.")
@click.option("--occurrence", type=click.IntRange(min=1), metavar="N",
              help="第几次（默认最近一次已报的）/ which occurrence (default: the latest filed).")
@click.option("--reason", required=True, help="退回理由 / why it is returned.")
@CAMPAIGN
@pass_settings
def duty_return(settings: Settings, duty_name: str, unit_code: str, occurrence: int | None, reason: str,
                campaign_ref: str | None) -> None:
    """退回 / Return a filing with the reason.

    县委组织部退回单位的报送（如汇总表不完整），写明理由；该单位收到退回通知，重新报送前继续催办。

    The county returns a unit's filing with the reason; the unit is told, and chased again until
    it files anew."""
    filed = shown(services.give_back(settings.store, settings.caller, duty_name, unit_code, occurrence, reason,
                                     campaign_ref))
    say(f"已退回 {filed.unit}“{filed.label}”第 {filed.occurrence} 次 / returned {filed.unit_code} {filed.duty} "
        f"#{filed.occurrence}, record {filed.seq}")


@duty.command("history")
@click.argument("duty_name", metavar="[DUTY]", required=False)
@click.option("--unit", "unit_code", required=True, metavar="CODE", help="单位的编码 / the unit's code.")
@CAMPAIGN
@AS_JSON
@pass_settings
def duty_history(settings: Settings, duty_name: str | None, unit_code: str, campaign_ref: str | None,
                 as_json: bool) -> None:
    """报送和退回记录 / A unit's filings and returns.

    列出单位 --unit 的每次报送和退回（可只看事项 DUTY）：时间、经办人、说明或退回理由、附件的哈希。

    Lists every filing and return of the unit (of DUTY only, if given): when, by whom, the note
    or the reason, and the attached files' hashes."""
    rows = shown(services.history(settings.store, settings.caller, unit_code, duty_name, campaign_ref))
    if as_json:
        emit_json(rows)
        return
    if not rows:
        say("没有报送记录 / nothing filed yet")
        return
    console().print(table(f"报送记录 / filings — {unit_code}",
                          ["#", "时间 at", "事项 duty", "次 no.", "操作 action", "经办人 by", "说明 note", "附件 files"],
                          [[r["seq"], r["at"], r["label"], r["occurrence"], "报送" if r["kind"] == "submit" else "退回",
                            r["actor"], r["note"] or "—",
                            "、".join(f"{f['name']}（{f['sha256'][:12]}）" for f in r["files"]) or "—"] for r in rows]))
