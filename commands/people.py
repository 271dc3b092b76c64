"""Organizations (their hierarchy) and officials (roles, jurisdictions, logins)."""

from __future__ import annotations

import click

from cli import (
    AS_JSON,
    Settings,
    console,
    emit_json,
    pass_settings,
    say,
    shown,
    table,
    write_output,
)
from commands.valid_values import Group, complete_roles
from engine.services import admin


@click.group(cls=Group)
def org() -> None:
    """基层党组织及其隶属关系 / Organizations and their hierarchy."""


@org.command("import", valid={"类型 kind": "kinds"})
@click.argument("file", type=click.Path(dir_okay=False))
@pass_settings
def org_import(settings: Settings, file: str) -> None:
    """导入基层党组织 / Import organizations from a CSV or XLSX file.

    FILE 的列：编码、名称、类型、上级编码、书记姓名、书记电话（前三列必填）；已有的编码更新，新的编码新增。类型写下列中文名称或英文代码之一（乡、镇、街道、机关、事业单位、非公企业 也可）。

    FILE's columns: 编码 code, 名称 name, 类型 kind, 上级编码 parent code, 书记姓名
    secretary, 书记电话 phone (the first three required); a known code is updated, a new one
    added. The kind is one of the Chinese names or English codes below."""
    from engine.ops.orgs import parse_org_table
    from engine.ops.tabular import read_table

    admin.may_import(settings.store, settings.caller, "导入基层党组织", "import organizations")  # before reading it
    rows = parse_org_table(read_table(file))
    added, updated = shown(admin.import_orgs(settings.store, settings.caller, rows, file))
    say(f"已导入 / imported {file}: 新增 added {added}, 更新 updated {updated}")


@org.command("template")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--seed", default=2014, show_default=True, help="示例县的随机种子 / the example county's random seed.")
def org_template(file: str, seed: int) -> None:
    """写出组织导入表样表 / Write FILE (.xlsx or .csv): the table 'rectify org import' reads,
    filled in with an example county (15 townships, about 270 organizations) to replace with
    your own. 'rectify org import FILE' accepts it as it is."""
    import random
    from pathlib import Path

    from engine.reports.org_table import write_org_table
    from engine.services.demo import generate_county

    rows = generate_county(random.Random(seed))
    write_output(Path(file), lambda path: write_org_table(rows, path), atomic=False)
    say(f"已写入 / written {file}: {len(rows)} 个组织 organizations（示例县 an example county：编码、名称、类型、上级编码、"
        f"书记姓名、书记电话）— 改成本县的组织后 / replace them with yours, then: rectify org import {file}")


@org.command("list", valid={"类型 kind": "kinds"})
@click.option("--township", metavar="CODE", help="只列此乡镇（街道）的 / only this township's organizations (its code).")
@AS_JSON
@pass_settings
def org_list(settings: Settings, township: str | None, as_json: bool) -> None:
    """列出基层党组织 / List the organizations inside your jurisdiction.

    按隶属关系列出管辖范围内的基层党组织及其类型、上级、书记。

    Lists the organizations inside your jurisdiction in hierarchy order, with their kind,
    parent and secretary (--json gives the kind's English code)."""
    from engine.ops.orgs import KIND_LABELS

    rows = shown(admin.list_orgs(settings.store, settings.caller, township))
    if as_json:
        emit_json(rows)
        return
    labels = {k.value: v for k, v in KIND_LABELS.items()}
    console().print(table(f"基层党组织 / organizations ({len(rows)})", ["编码", "名称", "类型", "上级", "书记", "电话"],
                          [[r["code"], r["name"], labels.get(r["kind"], r["kind"]), r["parent"], r["secretary"],
                            r["phone"]] for r in rows]))


@org.command("secretary")
@click.argument("org_code")
@click.argument("name")
@click.option("--phone", help="新任书记的手机号码 / the new secretary's mobile phone.")
@click.option("--from", "first", metavar="DATE", help="到任日期，默认今天 / first day in office (YYYY-MM-DD), "
                                                      "default today.")
@click.option("--reason", default="", help="更换原因，记入经过 / why: recorded in the history.")
@pass_settings
def org_secretary(settings: Settings, org_code: str, name: str, phone: str | None, first: str | None,
                  reason: str) -> None:
    """更换党组织书记 / Replace an organization's secretary, keeping the history.

    NAME 自到任日期起任 ORG_CODE 的书记，前任任期截至前一日；台账按其日期显示当时在任的书记。

    NAME is the secretary of ORG_CODE from --from on; the previous one's term ends the day
    before. The ledger shows the secretary in office on its date."""
    from engine.services import people

    done = shown(people.replace_secretary(settings.store, settings.caller, org_code, name, phone, first, reason))
    say(f"{done.organization}（{done.code}）书记 / secretary: {done.previous or '—'} → {done.name}"
        f"（自 from {done.starts_on}）" + (f"，已记入 recorded on {'、'.join(done.cases)}" if done.cases else ""))


@org.command("secretaries")
@click.argument("org_code")
@AS_JSON
@pass_settings
def org_secretaries(settings: Settings, org_code: str, as_json: bool) -> None:
    """历任书记 / The recorded secretaries of an organization and their terms."""
    from dataclasses import asdict

    from engine.services import people

    terms = shown(people.secretary_history(settings.store, settings.caller, org_code))
    if as_json:
        emit_json([asdict(t) for t in terms])
        return
    console().print(table(f"历任书记 / secretaries of {org_code}", ["姓名", "电话", "自", "至", "原因", "登记人"],
                          [[t.name, t.phone, t.first or "（记录前）", t.last or "在任", t.reason, t.recorded_by]
                           for t in terms]))


@click.group(cls=Group)
def official() -> None:
    """官员 / The officials who act on cases.

    办理整顿工作的官员：角色、管辖范围、联系方式、登录名。

    Their role, jurisdiction, contacts and login."""


@official.command("add", valid={"--role": "roles"})
@click.argument("name")
@click.option("--role", required=True, shell_complete=complete_roles,
              help="工作流中的角色代码 / the workflow's role code (see below).")
@click.option("--jurisdiction", required=True, metavar="CODE",
              help="代表的党组织编码（管辖范围）/ code of the organization they act for (their jurisdiction).")
@click.option("--phone", help="手机号码，用于通知 / mobile phone, for notices.")
@click.option("--email", help="电子邮箱，用于通知 / e-mail address, for notices.")
@click.option("--login", help="对应的操作系统登录名 / the operating-system login that acts as this official.")
@click.option("--admin", "is_admin", is_flag=True,
              help="管理员：部署、导入、管理官员、可用 --as / an administrator: deploys, imports, manages officials, may use --as.")
@pass_settings
def official_add(settings: Settings, name: str, role: str, jurisdiction: str, phone: str | None,
                 email: str | None, login: str | None, is_admin: bool) -> None:
    """登记官员 / Register an official.

    登记名为 NAME 的官员及其角色、管辖范围和联系方式（管理员办理）。

    Registers the official NAME with a role, a jurisdiction and contacts (an administrator's act)."""
    person = shown(admin.add(settings.store, settings.caller, name, role, jurisdiction, phone=phone, email=email,
                             login=login, admin=is_admin))
    extra = "".join([f"，登录名 login {login}" if login else "", "，管理员 administrator" if is_admin else ""])
    say(f"已登记 / added {person.name}（{person.role_label}，{person.jurisdiction}{extra}）")


@official.command("update")
@click.argument("name")
@click.option("--login", help="把此操作系统登录名对应到该官员 / map this operating-system login to the official.")
@click.option("--no-login", is_flag=True, help="取消登录名对应 / remove the official's login mapping.")
@click.option("--admin/--no-admin", "is_admin", default=None,
              help="授予或撤销管理员身份 / grant or revoke the administrator role.")
@click.option("--active/--inactive", default=None, help="停用的官员不能再办理 / an inactive official can no longer act.")
@pass_settings
def official_update(settings: Settings, name: str, login: str | None, no_login: bool, is_admin: bool | None,
                    active: bool | None) -> None:
    """修改官员 / Change an official.

    修改官员 NAME 的登录名对应、管理员身份或在职状态。

    Changes the login mapping, administrator role or activity of the official NAME."""
    person = shown(admin.update(settings.store, settings.caller, name, login=login, no_login=no_login,
                                admin=is_admin, active=active))
    say(f"已更新 / updated {person.name}: login {person.login or '—'}, "
               f"{'管理员 administrator' if person.admin else '非管理员 not an administrator'}, "
               f"{'在职 active' if person.active else '停用 inactive'}")


@official.command("list")
@AS_JSON
@pass_settings
def official_list(settings: Settings, as_json: bool) -> None:
    """列出官员 / List the officials.

    姓名、角色、管辖范围、联系方式、登录名、是否管理员、是否在职。

    Name, role, jurisdiction, contacts, login, administrator or not, active or not."""
    rows = shown(admin.officials(settings.store, settings.caller))
    if as_json:
        emit_json(rows)
        return
    console().print(table(f"官员 / officials ({len(rows)})", ["姓名", "角色", "管辖", "电话", "邮箱", "登录名", "管理员", "在职"],
                          [[*list(r.values())[:6], "是" if r["admin"] else "", "" if r["active"] else "停用"]
                           for r in rows]))


def _with_account_commands() -> None:
    """invite, reset, disable and accounts (commands/accounts.py: the web accounts) are the
    official group's commands too."""
    from commands.accounts import OFFICIAL_COMMANDS

    for command in OFFICIAL_COMMANDS:
        official.add_command(command)


_with_account_commands()
