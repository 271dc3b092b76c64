"""Organizations (their hierarchy) and officials (roles, jurisdictions, logins)."""

from __future__ import annotations

import click

from cli import AS_JSON, Settings, console, emit_json, pass_settings, say, shown, table
from engine.services import admin


@click.group()
def org() -> None:
    """Organizations (基层党组织) and their hierarchy."""


@org.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_settings
def org_import(settings: Settings, file: str) -> None:
    """Import organizations from a CSV or XLSX FILE (编码, 名称, 类型, 上级编码, 书记姓名, 书记电话)."""
    from engine.ops.orgs import parse_org_table
    from engine.ops.tabular import read_table

    admin.may_import(settings.store, settings.caller, "导入基层党组织", "import organizations")  # before reading it
    rows = parse_org_table(read_table(file))
    added, updated = shown(admin.import_orgs(settings.store, settings.caller, rows, file))
    say(f"已导入 / imported {file}: 新增 added {added}, 更新 updated {updated}")


@org.command("list")
@click.option("--township", help="Only this township's organizations (code).")
@AS_JSON
@pass_settings
def org_list(settings: Settings, township: str | None, as_json: bool) -> None:
    """List the organizations inside your jurisdiction."""
    from engine.ops.orgs import KIND_LABELS

    rows = shown(admin.list_orgs(settings.store, settings.caller, township))
    if as_json:
        emit_json(rows)
        return
    labels = {k.value: v for k, v in KIND_LABELS.items()}
    console().print(table(f"基层党组织 / organizations ({len(rows)})", ["编码", "名称", "类型", "上级", "书记", "电话"],
                          [[r["code"], r["name"], labels.get(r["kind"], r["kind"]), r["parent"], r["secretary"],
                            r["phone"]] for r in rows]))


@click.group()
def official() -> None:
    """Officials who act on cases (role, jurisdiction, contacts)."""


@official.command("add")
@click.argument("name")
@click.option("--role", required=True, help="Role code of the workflow, e.g. township_committee.")
@click.option("--jurisdiction", required=True, help="Code of the organization they act for.")
@click.option("--phone")
@click.option("--email")
@click.option("--login", help="Operating-system login that acts as this official.")
@click.option("--admin", "is_admin", is_flag=True,
              help="An administrator (deploys, imports, manages officials, may use --as).")
@pass_settings
def official_add(settings: Settings, name: str, role: str, jurisdiction: str, phone: str | None,
                 email: str | None, login: str | None, is_admin: bool) -> None:
    """Register an official."""
    person = shown(admin.add(settings.store, settings.caller, name, role, jurisdiction, phone=phone, email=email,
                             login=login, admin=is_admin))
    extra = "".join([f"，登录名 login {login}" if login else "", "，管理员 administrator" if is_admin else ""])
    say(f"已登记 / added {person.name}（{person.role_label}，{person.jurisdiction}{extra}）")


@official.command("update")
@click.argument("name")
@click.option("--login", help="Map this operating-system login to the official.")
@click.option("--no-login", is_flag=True, help="Remove the official's login mapping.")
@click.option("--admin/--no-admin", "is_admin", default=None, help="Grant or revoke the administrator role.")
@click.option("--active/--inactive", default=None, help="An inactive official can no longer act.")
@pass_settings
def official_update(settings: Settings, name: str, login: str | None, no_login: bool, is_admin: bool | None,
                    active: bool | None) -> None:
    """Change an official's login mapping, administrator role or activity."""
    person = shown(admin.update(settings.store, settings.caller, name, login=login, no_login=no_login,
                                admin=is_admin, active=active))
    say(f"已更新 / updated {person.name}: login {person.login or '—'}, "
               f"{'管理员 administrator' if person.admin else '非管理员 not an administrator'}, "
               f"{'在职 active' if person.active else '停用 inactive'}")


@official.command("list")
@AS_JSON
@pass_settings
def official_list(settings: Settings, as_json: bool) -> None:
    """List officials."""
    rows = shown(admin.officials(settings.store, settings.caller))
    if as_json:
        emit_json(rows)
        return
    console().print(table(f"官员 / officials ({len(rows)})", ["姓名", "角色", "管辖", "电话", "邮箱", "登录名", "管理员", "在职"],
                          [[*list(r.values())[:6], "是" if r["admin"] else "", "" if r["active"] else "停用"]
                           for r in rows]))
