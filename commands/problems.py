"""A case's problem list (问题清单，一支一策): add, update, close (销号), reopen and list problems."""

from __future__ import annotations

from typing import Any

import click

from cli import AS_JSON, ROW_ID, Settings, console, emit_json, pass_settings, say, shown, table
from commands.valid_values import Group
from engine.services import problems as services

FIELD_WORDS = {"category": "类别", "description": "描述", "measures": "整改措施", "responsible": "责任人",
               "deadline": "期限", "responsible_person": "登记人员"}


@click.group(cls=Group)
def problem() -> None:
    """问题清单（一支一策）/ A case's problem list: measures, responsible, deadlines, 销号.

    每个问题有类别、描述、整改措施、责任人和期限；整改完成后附佐证材料销号（rectify evidence add … --problem N）。

    Each problem has a category, a description, its measures, the person responsible and a
    deadline; once fixed it is closed (销号), with evidence when the workflow asks for it."""


def _text_options(command):
    for option in reversed([
        click.option("--measures", help="整改措施 / the measures taken against it."),
        click.option("--responsible", metavar="NAME",
                     help="责任人（已登记的人员自动关联）/ the person responsible (linked when registered with "
                          "'rectify person add')."),
        click.option("--deadline", metavar="YYYY-MM-DD",
                     help="整改期限（到期前催办、逾期督办）/ the deadline (reminders before, escalations after)."),
    ]):
        command = option(command)
    return command


@problem.command("add", valid={"--category": "problems"})
@click.argument("ref")
@click.option("--category", required=True, type=int, metavar="N", help="问题类别 / the problem category (see below).")
@click.option("--description", required=True, help="问题描述 / what the problem is.")
@_text_options
@pass_settings
def problem_add(settings: Settings, ref: str, category: int, description: str, measures: str | None,
                responsible: str | None, deadline: str | None) -> None:
    """登记问题 / Add a problem to a case's list.

    把一个问题加入整顿对象 REF 的问题清单，编号依次为 1、2、……

    Adds a problem to the list of case REF; problems are numbered 1, 2, … within the case."""
    fields = services.ProblemFields(category, description, measures, responsible, deadline)
    done = shown(services.add(settings.store, settings.caller, ref, fields))
    say(f"已登记问题 / problem added: {done.ref} 第{done.number}项 (#{done.number})")


@problem.command("update", valid={"--category": "problems"})
@click.argument("ref")
@click.argument("number", type=ROW_ID)
@click.option("--category", type=int, metavar="N", help="问题类别 / the problem category (see below).")
@click.option("--description", help="问题描述 / what the problem is.")
@_text_options
@pass_settings
def problem_update(settings: Settings, ref: str, number: int, category: int | None, description: str | None,
                   measures: str | None, responsible: str | None, deadline: str | None) -> None:
    """修改问题 / Change a problem of a case's list.

    只修改给出的项；--measures ""、--responsible ""、--deadline "" 清空该项。已销号的问题须先重新打开。

    Changes only what is given; an empty --measures, --responsible or --deadline clears it. A
    closed problem must be reopened first."""
    fields = services.ProblemFields(category, description, measures, responsible, deadline)
    done = shown(services.update(settings.store, settings.caller, ref, number, fields))
    if not done.changed:
        say(f"{done.ref} 第{number}项：无变化 / problem {number}: unchanged")
        return
    for name, (old, new) in done.changed.items():
        say(f"{done.ref} 第{number}项 {FIELD_WORDS.get(name, name)} {name}: {_shown(old)} → {_shown(new)}")


@problem.command("close")
@click.argument("ref")
@click.argument("number", type=ROW_ID)
@click.option("--note", help="销号说明，记入经过 / why it can be closed: recorded in the history.")
@pass_settings
def problem_close(settings: Settings, ref: str, number: int, note: str | None) -> None:
    """问题销号 / Close a problem (销号).

    工作流要求时，须先附佐证材料：rectify evidence add REF 文件 --problem NUMBER。

    When the workflow asks for it, attach evidence first: rectify evidence add REF FILE
    --problem NUMBER."""
    done = shown(services.close(settings.store, settings.caller, ref, number, note))
    say(f"已销号 / closed: {done.ref} 第{done.number}项")


@problem.command("reopen")
@click.argument("ref")
@click.argument("number", type=ROW_ID)
@click.option("--reason", required=True, help="重新打开的理由，记入经过 / why: recorded in the history.")
@pass_settings
def problem_reopen(settings: Settings, ref: str, number: int, reason: str) -> None:
    """重新打开已销号的问题 / Reopen a closed problem.

    问题重新整改：期限的催办、督办重新生效，再次销号须附新的佐证材料。

    The problem is open again, with its deadline's reminders and escalations; closing it again
    needs fresh evidence."""
    done = shown(services.reopen(settings.store, settings.caller, ref, number, reason))
    say(f"已重新打开 / reopened: {done.ref} 第{done.number}项")


@problem.command("list")
@click.argument("ref")
@AS_JSON
@pass_settings
def problem_list(settings: Settings, ref: str, as_json: bool) -> None:
    """整顿对象的问题清单 / A case's problem list."""
    data = shown(services.list_problems(settings.store, settings.caller, ref))
    if as_json:
        emit_json(data)
        return
    print_problems(data["problems"], f"问题清单 / problems — {data['ref']} {data['organization']}")


def print_problems(rows: list[dict[str, Any]], title: str) -> None:
    """The problem list as a table (``case show`` prints it too)."""
    if not rows:
        say(f"{title}：尚未登记问题 / no problem listed yet")
        return
    console().print(table(f"{title} ({len(rows)})", ["#", "类别", "问题", "整改措施", "责任人", "期限", "状态", "佐证"], [
        [r["number"], r["category_label"] or r["category"], r["description"], r["measures"], r["responsible"],
         (r["deadline"] or "—") + (" 逾期" if r["overdue"] else ""), r["status_label"], r["evidence"] or ""]
        for r in rows]))


def _shown(value: Any) -> str:
    return "—" if value in (None, "") else str(value)
