"""People (联系领导, 蹲点干部, 第一书记, 驻村干部, 工作队) and their assignments to cases."""

from __future__ import annotations

from dataclasses import asdict

import click

from cli import AS_JSON, Settings, console, emit_json, pass_settings, say, shown, table
from commands.valid_values import Group, complete_facts
from engine.ops.people import Contacts
from engine.services import people

UNIT = click.option("--unit", metavar="UNIT", help="派出单位（同名人员须写）/ the sending unit (needed when several "
                                                   "people share the name).")
CONTACTS = [
    click.option("--title", help="职务 / the title (e.g. 县委副书记)."),
    click.option("--phone", help="手机号码，用于通知 / mobile phone, for notices."),
    click.option("--email", help="电子邮箱，用于通知 / e-mail address, for notices."),
    click.option("--channel", "channels", multiple=True, metavar="KEY=VALUE",
                 help="其他联系渠道，可重复；值为空则删除 / another channel's address, repeatable; KEY= removes it."),
]


def contact_options(command):
    for option in reversed(CONTACTS):
        command = option(command)
    return command


@click.group(cls=Group)
def person() -> None:
    """人员：联系领导、蹲点干部、第一书记、驻村干部 / People assigned to cases.

    登记人员（派出单位、职务、联系方式），把人员指派到整顿对象（如联系领导），通知送达被指派的人员。

    Registers people (sending unit, title, contacts) and assigns them to cases in the
    workflow's person facts (contact_leader…): notices for the role reach them."""


@person.command("add")
@click.argument("name")
@click.option("--unit", required=True, metavar="UNIT", help="派出单位 / the sending unit (派出单位).")
@contact_options
@pass_settings
def person_add(settings: Settings, name: str, unit: str, title: str | None, phone: str | None, email: str | None,
               channels: tuple[str, ...]) -> None:
    """登记人员 / Register a person.

    登记派出单位 UNIT 的 NAME（同一单位内姓名唯一），由管理员或县委组织部办理。

    Registers NAME of UNIT (a name is unique within its unit): an administrator's or the
    county department's act."""
    done = shown(people.add(settings.store, settings.caller, name, unit, Contacts(title, phone, email, channels)))
    say(f"已登记人员 / added {done.name}（{done.unit}{'，' + done.title if done.title else ''}）")


@person.command("update")
@click.argument("name")
@UNIT
@contact_options
@click.option("--active/--inactive", default=None, help="停用的人员不再接收通知 / an inactive person gets no notices.")
@pass_settings
def person_update(settings: Settings, name: str, unit: str | None, title: str | None, phone: str | None,
                  email: str | None, channels: tuple[str, ...], active: bool | None) -> None:
    """修改人员 / Change a person's title, contacts or activity."""
    done = shown(people.update(settings.store, settings.caller, name, unit, Contacts(title, phone, email, channels),
                               active))
    say(f"已更新 / updated {done.name}（{done.unit}）: {done.phone or '—'}, {done.email or '—'}, "
        f"{'在职 active' if done.active else '停用 inactive'}")


@person.command("deactivate")
@click.argument("name")
@UNIT
@pass_settings
def person_deactivate(settings: Settings, name: str, unit: str | None) -> None:
    """停用人员 / Deactivate a person (once no case has them assigned)."""
    done = shown(people.deactivate(settings.store, settings.caller, name, unit))
    say(f"已停用 / deactivated {done.name}（{done.unit}）")


@person.command("list")
@AS_JSON
@pass_settings
def person_list(settings: Settings, as_json: bool) -> None:
    """列出人员 / List the people: name, unit, title, contacts."""
    rows = shown(people.listed(settings.store, settings.caller))
    if as_json:
        emit_json(rows)
        return
    console().print(table(f"人员 / people ({len(rows)})", ["姓名", "派出单位", "职务", "电话", "邮箱", "其他渠道", "在职"],
                          [[r["name"], r["unit"], r["title"], r["phone"], r["email"],
                            "，".join(f"{k}={v}" for k, v in r["channels"].items()), "" if r["active"] else "停用"]
                           for r in rows]))


@person.command("show")
@click.argument("name")
@UNIT
@AS_JSON
@pass_settings
def person_show(settings: Settings, name: str, unit: str | None, as_json: bool) -> None:
    """查看人员 / Show a person and their assignments (on the cases you may read)."""
    done = shown(people.show(settings.store, settings.caller, name, unit))
    if as_json:
        emit_json(asdict(done))
        return
    say(f"{done.name}（{done.unit}）{done.title}  电话 {done.phone or '—'}  邮箱 {done.email or '—'}"
        f"{'' if done.active else '  停用 inactive'}")
    console().print(table("指派 / assignments", ["整顿对象", "党组织", "角色", "自", "至"],
                          [[a["case"], a["organization"], f"{a['label']}（{a['role']}）", a["from"], a["to"] or "—"]
                           for a in done.assignments]))


@person.command("assign", valid={"ROLE": "facts"})
@click.argument("ref")
@click.argument("role", shell_complete=complete_facts)
@click.argument("name")
@UNIT
@click.option("--from", "first", metavar="DATE", help="开始日期，默认今天 / first day (YYYY-MM-DD), default today.")
@click.option("--to", "last", metavar="DATE", help="结束日期（含），默认不限 / last day (YYYY-MM-DD), default open.")
@pass_settings
def person_assign(settings: Settings, ref: str, role: str, name: str, unit: str | None, first: str | None,
                  last: str | None) -> None:
    """指派人员 / Assign a person to a case.

    把人员 NAME 指派为整顿对象 REF 的 ROLE（工作流中类型为 person 的事实，如 contact_leader）。单人角色再次指派时，前任的指派于新指派开始前一日结束。

    Assigns NAME to case REF as ROLE (a person fact of the workflow, e.g. contact_leader). A
    one-person role assigned again ends the previous holder's assignment the day before."""
    done = shown(people.assign(settings.store, settings.caller, ref, role, name, unit, first, last))
    say(f"{done.ref} {done.role}（{done.label}）: {done.old or '—'} → {done.new or '—'}")


@person.command("unassign", valid={"ROLE": "facts"})
@click.argument("ref")
@click.argument("role", shell_complete=complete_facts)
@click.argument("name")
@UNIT
@click.option("--on", "on", metavar="DATE", help="自该日起不再担任，默认今天 / no longer assigned from this day "
                                                 "(YYYY-MM-DD), default today.")
@pass_settings
def person_unassign(settings: Settings, ref: str, role: str, name: str, unit: str | None, on: str | None) -> None:
    """解除指派 / End a person's assignment to a case (the role's rules judge it)."""
    done = shown(people.unassign(settings.store, settings.caller, ref, role, name, unit, on))
    say(f"{done.ref} {done.role}（{done.label}）: {done.old or '—'} → {done.new or '—'}")
