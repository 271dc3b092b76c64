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
from commands.valid_values import (
    Command,
    Group,
    complete_facts,
    complete_flags,
    complete_states,
    complete_triggers,
)
from engine.base.errors import BadInput, NotFound
from engine.services import cases as services


@click.group(cls=Group)
def case() -> None:
    """整顿对象：登记、列出、查看 / Cases: open, list, show."""


@case.command("open", valid={"--problem": "problems", "--flag": "flags"})
@click.argument("org_code")
@click.option("--problem", "problems", multiple=True, type=int, metavar="N",
              help="主要问题类别，可重复 / problem category, repeatable (see below).")
@click.option("--flag", "flags", multiple=True, shell_complete=complete_flags,
              help="重点整顿情形，可重复 / key-target circumstance, repeatable (see below).")
@click.option("--key-target", is_flag=True, help="重点整顿对象 / a key target of the rectification.")
@click.option("--weak-and-lax", is_flag=True, help="软弱涣散，优先整顿 / weak and lax: rectified first.")
@click.option("--measures", help="整改措施 / the rectification measures.")
@CAMPAIGN
@pass_settings
def case_open(settings: Settings, org_code: str, problems: tuple[int, ...], flags: tuple[str, ...],
              key_target: bool, weak_and_lax: bool, measures: str | None, campaign_ref: str | None) -> None:
    """把党组织登记为整顿对象 / Register an organization as a case.

    把编码为 ORG_CODE 的党组织列入排查，进入工作流的初始状态。

    Registers the organization ORG_CODE as a case, in the workflow's first state."""
    opened = shown(services.open_case(settings.store, settings.caller, org_code, campaign_ref, problems=problems,
                                      flags=flags, key_target=key_target, weak_and_lax=weak_and_lax,
                                      measures=measures))
    say(f"已登记整顿对象 / opened case {opened.ref}: {opened.organization}（{opened.state}）")


@case.command("list", valid={"--state": "states"})
@click.option("--state", shell_complete=complete_states,
              help="只列此状态的整顿对象 / only cases in this state (see below).")
@click.option("--township", metavar="CODE", help="只列此乡镇（街道）的 / only cases under this township (its code).")
@click.option("--overdue", is_flag=True, help="只列已逾期的 / only cases past their current deadline.")
@CAMPAIGN
@click.option("--limit", type=ROW_ID, help="最多列出行数 / at most this many rows.")
@AS_JSON
@pass_settings
def case_list(settings: Settings, state: str | None, township: str | None, overdue: bool,
              campaign_ref: str | None, limit: int | None, as_json: bool) -> None:
    """列出整顿对象 / List the cases inside your jurisdiction.

    列出管辖范围内的整顿对象，可按状态、乡镇（街道）或是否逾期筛选。

    Lists the cases inside your jurisdiction, filtered by state, township or overdue."""
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
    """查看整顿对象 / Show a case.

    状态、事实、期限及其依据、当前可执行的操作和受阻原因、经过。

    Its state, facts, deadlines and why, what can be done now and what blocks the rest, and
    its history."""
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
    assigned = [p for p in d.get("people", []) if p["current"]]  # the ended ones: --json, person show
    if assigned:
        out.print(table("指派人员 / people assigned", ["角色", "姓名", "派出单位", "职务", "电话", "自", "至"],
                        [[f"{p['label']}（{p['role']}）", p["name"], p["unit"], p["title"], p["phone"] or "—",
                          p["first"], p["last"] or "—"] for p in assigned]))
    if d.get("problem_list"):
        from commands.problems import print_problems  # only a case with a list needs it

        print_problems(d["problem_list"], "问题清单 / problems")
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


@click.command(cls=Command)
@click.argument("ref")
@AS_JSON
@pass_settings
def history(settings: Settings, ref: str, as_json: bool) -> None:
    """整顿对象的经过 / The event log of a case.

    谁在何时做了什么、依据是什么。

    Who did what, when, and why."""
    events = shown(services.history(settings.store, settings.caller, ref))
    if as_json:
        emit_json(events)
    else:
        _print_history(events)


@click.group(cls=Group)
def fact() -> None:
    """登记整顿事实 / Record the facts of a case.

    如整改方案已公布、书记已选配、测评数据等。

    Plan published, secretary appointed, survey figures and the like."""


@fact.command("set", valid={"NAME": "facts"})
@click.argument("ref")
@click.argument("name", shell_complete=complete_facts)
@click.argument("value")
@pass_settings
def fact_set(settings: Settings, ref: str, name: str, value: str) -> None:
    """登记整顿事实 / Record a fact of a case.

    把整顿对象 REF 的事实 NAME 登记为 VALUE：依事实的类型，写 是/否、整数、日期（YYYY-MM-DD）或文本。

    Sets fact NAME of case REF to VALUE: yes/no (是/否), a number, a date (YYYY-MM-DD) or
    text, as the fact's type says."""
    changed = shown(services.set_fact(settings.store, settings.caller, ref, name, value))
    say(f"{changed.ref} {name}: {'—' if changed.old is None else fact_text(changed.old)} → {fact_text(changed.new)}")


@fact.command("clear", valid={"NAME": "facts"})
@click.argument("ref")
@click.argument("name", shell_complete=complete_facts)
@pass_settings
def fact_clear(settings: Settings, ref: str, name: str) -> None:
    """撤销整顿事实 / Clear a fact of a case.

    撤销整顿对象 REF 的事实 NAME（如驻村干部撤离），须工作流的规则允许。

    Clears fact NAME of case REF (a cadre withdrawn, say), if the workflow's rules allow it."""
    changed = shown(services.set_fact(settings.store, settings.caller, ref, name, None))
    say(f"{changed.ref} {name}: {'—' if changed.old is None else fact_text(changed.old)} → —")


def _print_fired(fired: services.Fired) -> None:
    say(f"{fired.ref} {fired.trigger}: {fired.source_label} → {fired.dest_label}"
               + (f"（第 {fired.round} 轮）" if fired.round > 1 else ""))
    for zh, en in fired.warnings:
        say(f"提醒 warning: {zh} / {en}", err=True)
    for notice in fired.notices:
        say(f"已生成通知 / notice queued: {notice}")


@click.command(cls=Command, valid={"TRIGGER": "triggers"})
@click.argument("ref")
@click.argument("trigger", required=False, shell_complete=complete_triggers)
@click.option("--note", help="说明，记入经过 / why: recorded in the history.")
@pass_settings
def fire(settings: Settings, ref: str, trigger: str | None, note: str | None) -> None:
    """对整顿对象执行操作 / Fire a trigger on a case.

    对整顿对象 REF 执行操作 TRIGGER（如 confirm、submit_self_check）；不写 TRIGGER 则列出它当前可执行的操作。

    Fires TRIGGER on case REF (confirm, submit_self_check…); without TRIGGER, lists the
    triggers from the case's current state and what blocks each."""
    if trigger is None:
        raise click.UsageError(f"请指定操作 / give a trigger.\n{_triggers_now(settings, ref)}")
    try:
        fired = shown(services.fire(settings.store, settings.caller, ref, trigger, note))
    except NotFound as exc:
        if not exc.kind.startswith("trigger"):
            raise
        raise BadInput(f"未找到操作“{trigger}” / trigger not found: {trigger}\n{_triggers_now(settings, ref)}") from exc
    _print_fired(fired)


def _triggers_now(settings: Settings, ref: str) -> str:
    """The triggers from the case's current state, with their labels, where each leads or what blocks it."""
    d = shown(services.show_case(settings.store, settings.caller, ref))
    lines = [f"{d['ref']} 当前处于“{d['state_label']}”，可执行的操作 / triggers from its state ({d['state']}) now:"]
    for t in d["triggers"]:
        if t["available"]:
            lines.append(f"  ✓ {t['trigger']}  {t['label']} → {t['dest_label']}")
        else:
            guards = "、".join(dict.fromkeys(b["guard"] for b in t["blocked_by"]))
            lines.append(f"  ✗ {t['trigger']}  {t['label']}（尚不满足 / blocked by: {guards}）")
    if not d["triggers"]:
        lines.append("  （无：已是终止状态 / none: the case is in a final state）")
    if any(not t["available"] for t in d["triggers"]):
        lines.append(f"受阻原因见 / what blocks each: rectify case show {d['ref']}")
    return "\n".join(lines)


@click.group(cls=Group)
def survey() -> None:
    """群众满意度测评 / The satisfaction survey."""


@survey.command("record")
@click.argument("ref")
@click.option("--respondents", required=True, type=int, help="参评人数 / number of people surveyed.")
@click.option("--satisfied", required=True, type=int, help="满意人数 / number satisfied.")
@click.option("--score", "scores", multiple=True, metavar="Q=V",
              help="分项得分 0-100，可重复 / a per-question score 0-100, repeatable.")
@click.option("--note", help="说明，记入经过 / recorded in the history.")
@pass_settings
def survey_record(settings: Settings, ref: str, respondents: int, satisfied: int, scores: tuple[str, ...],
                  note: str | None) -> None:
    """登记测评结果并作出结论 / Record a case's survey and conclude it.

    登记整顿对象 REF 的群众满意度测评：满意度达到阈值即验收通过，否则重新整顿。

    Records the survey of case REF: accepted at or above the threshold, else re-rectification."""
    fired = shown(services.record_survey(settings.store, settings.caller, ref, respondents, satisfied, scores, note))
    say(f"{fired.ref} 测评 {satisfied}/{respondents}：{fired.basis} → {fired.dest_label}")
    for notice in fired.notices:
        say(f"已生成通知 / notice queued: {notice}")
