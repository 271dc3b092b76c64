"""Cases (整顿对象): open, list, show and trace them; record facts and surveys; fire triggers."""

from __future__ import annotations

from typing import Any

import click

from cli import (
    AS_JSON,
    CAMPAIGN,
    ROW_ID,
    Settings,
    console,
    emit_json,
    esc,
    fact_text,
    pass_settings,
    say,
    shown,
    table,
)
from engine.services import cases as services


@click.group()
def case() -> None:
    """Cases (整顿对象): open, list, show."""


@case.command("open")
@click.argument("org_code")
@click.option("--problem", "problems", multiple=True, type=int,
              help="Problem category 1-4 (主要问题), repeatable.")
@click.option("--flag", "flags", multiple=True,
              help="Key-target circumstance: canvassing, interference, disclosure, petitions.")
@click.option("--key-target", is_flag=True, help="Priority rectification (重点整顿对象).")
@click.option("--weak-and-lax", is_flag=True, help="Weak and lax (软弱涣散): rectify first.")
@click.option("--measures", help="Rectification measures (整改措施).")
@CAMPAIGN
@pass_settings
def case_open(settings: Settings, org_code: str, problems: tuple[int, ...], flags: tuple[str, ...],
              key_target: bool, weak_and_lax: bool, measures: str | None, campaign_ref: str | None) -> None:
    """Register organization ORG_CODE as a case (in the workflow's first state)."""
    opened = shown(services.open_case(settings.store, settings.caller, org_code, campaign_ref, problems=problems,
                                      flags=flags, key_target=key_target, weak_and_lax=weak_and_lax,
                                      measures=measures))
    say(f"已登记整顿对象 / opened case {opened.ref}: {opened.organization}（{opened.state}）")


@case.command("list")
@click.option("--state", help="Only cases in this state.")
@click.option("--township", help="Only cases under this township (code).")
@click.option("--overdue", is_flag=True, help="Only cases past their current deadline.")
@CAMPAIGN
@click.option("--limit", type=ROW_ID, help="At most this many rows.")
@AS_JSON
@pass_settings
def case_list(settings: Settings, state: str | None, township: str | None, overdue: bool,
              campaign_ref: str | None, limit: int | None, as_json: bool) -> None:
    """List the cases inside your jurisdiction, filtered by state, township or overdue."""
    rows = shown(services.list_cases(settings.store, settings.caller, campaign_ref, state=state, township=township,
                                     overdue=overdue, limit=limit))
    if as_json:
        emit_json(rows)
        return
    console().print(table(f"整顿对象 / cases ({len(rows)})", ["编号", "党组织", "乡镇", "状态", "轮次", "重点", "期限"], [
        [r["ref"], r["organization"], r["township"], r["state_label"], r["round"], "是" if r["key_target"] else "",
         r["due"] + (" 逾期" if r["overdue"] else "")] for r in rows]))


@case.command("show")
@click.argument("ref")
@AS_JSON
@pass_settings
def case_show(settings: Settings, ref: str, as_json: bool) -> None:
    """Show a case: state, facts, deadlines, what can be done now and what blocks the rest, history."""
    detail = shown(services.show_case(settings.store, settings.caller, ref))
    if as_json:
        emit_json(detail)
        return
    _print_case(detail)


def _print_case(d: dict[str, Any]) -> None:
    out = console()
    marks = [m for m, on in (("重点整顿对象", d["key_target"]), ("软弱涣散", d["weak_and_lax"])) if on]
    out.print(f"[bold]{esc(d['ref'])}  {esc(d['organization'])}[/bold]（{esc(d['org_code'])}）{' · '.join(marks)}")
    out.print(f"上级党组织：{esc(d['superior'])}    书记：{esc(d['secretary'] or '—')}    工作流：{esc(d['workflow'])}")
    out.print(f"状态：[bold]{esc(d['state_label'])}[/bold]（{esc(d['state'])}）  第 {d['round']} 轮  "
              f"进入于 {d['entered']}  期限 {d['due'] or '—'}{'  [red]已逾期 overdue[/red]' if d['overdue'] else ''}")
    if d["problems"]:
        out.print("主要问题：" + "；".join(d["problems"]), markup=False)
    if d["flags"]:
        out.print("重点整顿情形：" + "；".join(d["flags"]), markup=False)
    out.print(table("整顿事实 / facts", ["事实", "说明", "值"],
                    [[f["name"], f["label"], "—" if f["value"] is None else fact_text(f["value"])]
                     for f in d["facts"]]))
    out.print(table("期限与定时 / deadlines and timers", ["类型", "时间", "依据"],
                    [[t["kind_label"], t["due"], t["detail"]] for t in d["timers"]]))
    rows = []
    for t in d["triggers"]:
        if t["available"]:
            rows.append(["✓ " + t["trigger"], t["label"], f"→ {t['dest_label']}", ", ".join(t["roles"]), ""])
        else:
            why = "\n".join(f"{b['guard']}: {b['reason_zh']}" for b in t["blocked_by"])
            rows.append(["✗ " + t["trigger"], t["label"], "", ", ".join(t["roles"]), why])
    out.print(table("可执行操作 / triggers now", ["操作", "名称", "去向", "角色", "受阻原因"], rows))
    _print_history(d["history"])


def _print_history(events: list[dict[str, Any]]) -> None:
    console().print(table("经过 / history", ["#", "时间", "轮次", "操作人", "事件", "说明"], [
        [e["seq"], e["at"], e["round"], e["actor"], e["what"],
         "；".join(filter(None, [e["note"], *e["basis"], *e["warnings"]]))]
        for e in events]))


@click.command()
@click.argument("ref")
@AS_JSON
@pass_settings
def history(settings: Settings, ref: str, as_json: bool) -> None:
    """The event log of a case: who did what, when, and why."""
    events = shown(services.history(settings.store, settings.caller, ref))
    if as_json:
        emit_json(events)
    else:
        _print_history(events)


@click.group()
def fact() -> None:
    """Record facts on a case (plan published, secretary appointed, survey figures …)."""


@fact.command("set")
@click.argument("ref")
@click.argument("name")
@click.argument("value")
@pass_settings
def fact_set(settings: Settings, ref: str, name: str, value: str) -> None:
    """Set fact NAME of case REF to VALUE (是/否, a number, a date or text)."""
    changed = shown(services.set_fact(settings.store, settings.caller, ref, name, value))
    say(f"{changed.ref} {name}: {'—' if changed.old is None else changed.old} → {changed.new}")


@fact.command("clear")
@click.argument("ref")
@click.argument("name")
@pass_settings
def fact_clear(settings: Settings, ref: str, name: str) -> None:
    """Clear fact NAME of case REF (e.g. a cadre withdrawn), if the workflow's rules allow it."""
    changed = shown(services.set_fact(settings.store, settings.caller, ref, name, None))
    say(f"{changed.ref} {name}: {'—' if changed.old is None else fact_text(changed.old)} → —")


def _print_fired(fired: services.Fired) -> None:
    say(f"{fired.ref} {fired.trigger}: {fired.source_label} → {fired.dest_label}"
               + (f"（第 {fired.round} 轮）" if fired.round > 1 else ""))
    for zh, en in fired.warnings:
        say(f"提醒 warning: {zh} / {en}", err=True)
    for notice in fired.notices:
        say(f"已生成通知 / notice queued: {notice}")


@click.command()
@click.argument("ref")
@click.argument("trigger")
@click.option("--note", help="Why (recorded in the history).")
@pass_settings
def fire(settings: Settings, ref: str, trigger: str, note: str | None) -> None:
    """Fire TRIGGER on case REF (e.g. confirm, submit_self_check, conclude_survey)."""
    _print_fired(shown(services.fire(settings.store, settings.caller, ref, trigger, note)))


@click.group()
def survey() -> None:
    """The satisfaction survey (群众满意度测评)."""


@survey.command("record")
@click.argument("ref")
@click.option("--respondents", required=True, type=int, help="Number of people surveyed (参评人数).")
@click.option("--satisfied", required=True, type=int, help="Number satisfied (满意人数).")
@click.option("--score", "scores", multiple=True, metavar="Q=V", help="A per-question score 0-100, repeatable.")
@click.option("--note", help="Recorded in the history.")
@pass_settings
def survey_record(settings: Settings, ref: str, respondents: int, satisfied: int, scores: tuple[str, ...],
                  note: str | None) -> None:
    """Record the survey of case REF and conclude it: accepted at or above the threshold, else re-rectify."""
    fired = shown(services.record_survey(settings.store, settings.caller, ref, respondents, satisfied, scores, note))
    say(f"{fired.ref} 测评 {satisfied}/{respondents}：{fired.basis} → {fired.dest_label}")
    for notice in fired.notices:
        say(f"已生成通知 / notice queued: {notice}")
