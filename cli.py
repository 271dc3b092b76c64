"""The ``rectify`` command line: the only module that knows about click.

Exit codes: 0 success, 1 refused by a rule, a permission or a concurrent change, 2 bad
input. Project errors become one clear message on stderr, never a traceback, and the
command's transaction is rolled back so nothing is written.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from engine.errors import CheckFailed, DatabaseError, InvalidDefinition, RectifyError, Refused


class RectifyGroup(click.Group):
    """Turns project errors into clean messages and exit codes for every sub-command, and
    records every refused attempt (who, what, why) in the refusals log."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for arg in args:
            try:
                arg.encode("utf-8")
            except UnicodeEncodeError:  # bytes the terminal could not decode reach us as surrogates
                raise click.UsageError(f"参数不是有效的 UTF-8 文本 / an argument is not valid UTF-8 text: "
                                       f"{arg.encode('utf-8', 'backslashreplace').decode()}") from None
        ctx.meta["rectify.argv"] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RectifyError as exc:
            if isinstance(exc, Refused) and not isinstance(exc, CheckFailed) and isinstance(ctx.obj, Settings):
                _record_refusal(ctx.obj, ctx.meta.get("rectify.argv", []), exc)
            error = click.ClickException(str(exc))
            error.exit_code = exc.exit_code
            raise error from exc


def _without_locations(argv: list[str]) -> list[str]:
    """The command as typed, less --db and --config: a database URL may carry a password."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--db", "--config"):
            skip = True
        elif not arg.startswith(("--db=", "--config=")):
            kept.append(arg)
    return kept


def _record_refusal(settings: Settings, argv: list[str], exc: RectifyError) -> None:
    """In its own transaction, after the refused one rolled back; never hides the refusal."""
    from sqlalchemy.exc import SQLAlchemyError

    from engine.identity import record_refusal, whoami

    try:
        with settings.transaction() as session:
            me = whoami(session)
            actor = settings.actor or (me.official.name if me.official else None)
            record_refusal(session, me.login, actor, " ".join(["rectify", *_without_locations(argv)]), str(exc))
    except (RectifyError, SQLAlchemyError, OSError):
        pass  # no database to record in (or it is unusable): the refusal is still reported


@dataclass
class Settings:
    db: str | None
    now_text: str | None
    actor: str | None
    config_path: str | None = None
    _store: Any = None

    def notifier_config(self):
        from notifiers.config import load_config

        return load_config(self.config_path)

    @property
    def store(self):
        from engine.db import Store, database_url

        if self._store is None:
            self._store = Store(database_url(self.db))
        return self._store

    def now(self, tz: str = "Asia/Shanghai") -> datetime:
        from engine.clock import parse_when, utcnow

        return parse_when(self.now_text, tz) if self.now_text else utcnow()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A transaction on an initialised database (never creates a stray SQLite file)."""
        self._check_database()
        with self.store.transaction() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """A read-only snapshot, for commands that write nothing: a long report or export never
        holds up the daemon or another official's command."""
        self._check_database()
        with self.store.reading() as session:
            yield session

    def _check_database(self) -> None:
        from sqlalchemy.engine import make_url

        from engine.db import database_url

        url = make_url(database_url(self.db))
        if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:") \
                and not Path(url.database).exists():
            raise DatabaseError(f"数据库文件不存在 / database file not found: {url.database}. "
                                "Create it with 'rectify init' (or point --db / RECTIFY_DB at yours)")
        if not self.store.is_initialised():
            raise DatabaseError(f"数据库尚未初始化 / the database {url.render_as_string(hide_password=True)} "
                                "is not initialised: run 'rectify init'")

    def close(self) -> None:
        """Close the database connections when the command ends (in-process callers reuse the interpreter)."""
        if self._store is not None:
            self._store.dispose()
            self._store = None

    def require_admin(self, session, what_zh: str, what_en: str) -> None:
        """Administrative commands: only an administrator (or anyone, before the first one exists)."""
        from engine.identity import require_admin, whoami

        identity = whoami(session)
        require_admin(identity, what_zh, what_en)
        warn_if_bootstrap(identity)

    def actor_name(self, session) -> str:
        """Who is recorded as having done an administrative action."""
        from engine.identity import whoami

        me = whoami(session)
        return self.actor or (me.official.name if me.official else me.login)


pass_settings = click.make_pass_decorator(Settings)
ROW_ID = click.IntRange(1, 2**63 - 1)  # what a database integer holds: larger is bad input, not an overflow


def write_output(path: Path, write) -> None:
    """Write an output file; a folder that does not exist or cannot be written is bad input."""
    from engine.errors import BadInput

    try:
        write(path)
    except OSError as exc:
        raise BadInput(f"无法写入 / cannot write {path}: {exc.strerror or exc}") from exc


def emit_text(text: str, output: str | None, written: str) -> None:
    """``text`` to standard output, or to the file ``output`` (atomically) and then ``written``."""
    if output is None:
        click.echo(text, nl=False)
        return
    write_output(Path(output), lambda target: target.write_text(text, encoding="utf-8"))
    click.echo(written)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 120)


def table(title: str | None, columns: list[str], rows: list[list[Any]]):
    from rich.table import Table

    t = Table(title=title, show_lines=False, title_justify="left")
    for column in columns:
        t.add_column(column, overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    return t


@click.group(cls=RectifyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="RECTIFY_DB", metavar="URL",
              help="Database URL or SQLite path (default ./rectify.db; env RECTIFY_DB).")
@click.option("--now", "now_text", envvar="RECTIFY_NOW", metavar="WHEN",
              help="Act as if it were this time (YYYY-MM-DD[THH:MM]); env RECTIFY_NOW.")
@click.option("--as", "actor", envvar="RECTIFY_USER", metavar="NAME",
              help="The acting official (env RECTIFY_USER).")
@click.option("--config", "config_path", envvar="RECTIFY_CONFIG", metavar="FILE",
              help="Notifier config (channels, retries); env RECTIFY_CONFIG, default ./rectify-notifiers.yaml.")
@click.version_option(package_name="rectify")
@click.pass_context
def main(ctx: click.Context, db: str | None, now_text: str | None, actor: str | None,
         config_path: str | None) -> None:
    """rectify — 整顿后进基层党组织工作流 / workflow engine for rectifying backward grassroots party organizations."""
    if now_text:  # a bad clock is bad input for every command, found before any work starts
        from engine.clock import parse_when

        parse_when(now_text)
    ctx.obj = Settings(db, now_text, actor, config_path)
    ctx.call_on_close(ctx.obj.close)


# --- init ------------------------------------------------------------------------------

@main.command()
@pass_settings
def init(settings: Settings) -> None:
    """Create the database, or upgrade its schema to this version of rectify.

    A new SQLite file is readable and writable by its owner and group only (0660)."""
    from engine.db import create_private_sqlite_file
    from engine.migrate import upgrade

    create_private_sqlite_file(settings.store.url)
    if settings.store.is_initialised():
        with settings.transaction() as session:
            settings.require_admin(session, "升级数据库", "upgrade the database")
    before, after = upgrade(settings.store)
    where = settings.store.shown
    if before == after:
        click.echo(f"数据库已是最新 / database is up to date ({after}): {where}")
    else:
        click.echo(f"数据库已{'创建' if before is None else '升级'} / database {'created' if before is None else 'upgraded'} "
                   f"({before or '-'} → {after}): {where}")


# --- workflow --------------------------------------------------------------------------

@main.group()
def workflow() -> None:
    """Check, deploy and show workflow definitions (YAML)."""


def _default_workflow() -> str:
    from workflows import DEFAULT_WORKFLOW

    return str(DEFAULT_WORKFLOW)


@workflow.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
def workflow_check(files: tuple[str, ...]) -> None:
    """Check workflow FILES (default: the shipped one); print FILE:LINE:COL: message for each problem."""
    from engine.loader import load_workflow_file

    failed = False
    for file in files or (_default_workflow(),):
        try:
            loaded = load_workflow_file(file)
        except InvalidDefinition as exc:
            failed = True
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            continue
        wf = loaded.definition
        for warning in loaded.warnings:
            click.echo(str(warning), err=True)
        click.echo(f"{file}: OK — {wf.title}（{len(wf.states)} 个状态 states, {len(wf.transitions)} 个转换 "
                   f"transitions, {len(wf.rules)} 条规则 rules, {len(loaded.templates)} 个模板 templates）")
    if failed:
        sys.exit(2)


@workflow.command("deploy")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@pass_settings
def workflow_deploy(settings: Settings, file: str | None) -> None:
    """Deploy FILE (default: the shipped workflow) as a new version; new cases follow it."""
    from engine.deploy import deploy
    from engine.loader import load_workflow_file

    loaded = load_workflow_file(file or _default_workflow())
    for warning in loaded.warnings:
        click.echo(str(warning), err=True)
    with settings.transaction() as session:
        settings.require_admin(session, "部署工作流", "deploy a workflow")
        version, created = deploy(session, loaded, settings.actor_name(session),
                                  settings.now(loaded.definition.timezone))
        wf = loaded.definition
        if created:
            click.echo(f"已部署 / deployed {wf.name} v{version.version} ({version.digest[:12]}) — {wf.title} {wf.year}")
        else:
            click.echo(f"内容未变，沿用 / unchanged, still {wf.name} v{version.version} ({version.digest[:12]})")


@workflow.command("show")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--deployed", is_flag=True, help="Show the version deployed in the database instead of a file.")
@click.option("--campaign", "campaign_ref", help="name[:year] when several campaigns exist (with --deployed).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def workflow_show(settings: Settings, file: str | None, deployed: bool, campaign_ref: str | None,
                  as_json: bool) -> None:
    """Show the states, transitions and dates of FILE (default: the shipped workflow)."""
    from engine.loader import load_workflow_file

    if deployed:
        from engine.deploy import compiled_version, resolve_campaign

        with settings.reading() as session:
            version = resolve_campaign(session, campaign_ref).current_version
            wf = compiled_version(version).definition
            click.echo(f"已部署版本 / deployed version v{version.version} ({version.digest[:12]}), "
                       f"from {version.source_file}")
    else:
        wf = load_workflow_file(file or _default_workflow()).definition
    if as_json:
        emit_json(wf.model_dump(mode="json"))
        return
    out = console()
    out.print(f"[bold]{wf.title}[/bold]  {wf.name} · {wf.year} · {wf.timezone}")
    out.print(table("工作日期 / campaign dates", ["名称", "日期", "说明"],
                    [[n, d.isoformat(), wf.dates[n].label] for n, d in wf.resolved_dates().items()]))
    out.print(table("状态 / states", ["状态", "名称", "期限 deadline", "定时"], [
        [n, s.label + (" (初始)" if s.initial else "") + (" (终止)" if s.final else ""),
         _deadline_text(s.deadline), "; ".join([f"每 {r.every} {r.notice}" for r in s.recurring]
                                               + [f"{a.after} 后自动 {a.trigger}" for a in s.auto])]
        for n, s in wf.states.items()]))
    out.print(table("转换 / transitions", ["触发器", "名称", "从 → 到", "角色", "条件 guards", "通知"], [
        [t.trigger, t.label, f"{'/'.join(t.sources)} → {t.dest}", ", ".join(t.roles), ", ".join(t.guards),
         t.notice or ""] for t in wf.transitions]))


@workflow.command("graph")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg", "png"]), default="mermaid",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
def workflow_graph(file: str | None, fmt: str, output: str | None) -> None:
    """Draw FILE's workflow (default: the shipped one) with Chinese labels, guards and deadlines."""
    from engine.graph import dot, mermaid, render_image
    from engine.loader import load_workflow_file

    wf = load_workflow_file(file or _default_workflow()).definition
    data: bytes = (mermaid(wf) if fmt == "mermaid" else dot(wf)).encode("utf-8")
    if fmt in ("svg", "png"):
        data = render_image(data.decode("utf-8"), fmt)
    if output:
        write_output(Path(output), lambda path: path.write_bytes(data))
        click.echo(f"已写入 / written: {output}")
    elif fmt == "png":
        raise click.UsageError("--format png needs --output FILE")
    else:
        click.echo(data.decode("utf-8"), nl=False)


def _deadline_text(deadline) -> str:
    if deadline is None:
        return ""
    text = f"日期 {deadline.date}" if deadline.date else f"进入后 {deadline.after}"
    if deadline.later_rounds:
        text += f"；重新整顿轮次 {_deadline_text(deadline.later_rounds)}"
    return text


# --- rules -----------------------------------------------------------------------------

@main.group()
def rules() -> None:
    """The rules workflows can use as guards (built-in and plug-ins)."""


@rules.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def rules_list(as_json: bool) -> None:
    """List every registered rule with its parameters."""
    import rules as _builtin  # noqa: F401  (registers the built-in rules)
    from rules.docs import all_rule_docs

    docs = all_rule_docs()
    if as_json:
        emit_json(docs)
        return
    console().print(table(f"规则 / rules ({len(docs)})", ["规则", "说明", "参数"], [
        [d["name"], d["summary"], ", ".join(p["name"] + ("" if p["required"] else f"={p['default']}")
                                            for p in d["params"])] for d in docs]))


@rules.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def rules_show(name: str, as_json: bool) -> None:
    """Explain rule NAME: what it checks and its parameters."""
    import rules as _builtin  # noqa: F401
    from engine.errors import NotFound
    from rules.docs import rule_doc
    from rules.registry import UnknownRule

    try:
        doc = rule_doc(name)
    except UnknownRule as exc:
        raise NotFound("rule 规则", name, str(exc)) from exc
    if as_json:
        emit_json(doc)
        return
    out = console()
    out.print(f"[bold]{doc['name']}[/bold] — {doc['summary']}  ({doc['module']})")
    out.print(doc["doc"])
    out.print(table("参数 / parameters", ["参数", "类型", "必填", "默认", "约束", "说明"], [
        [p["name"], p["type"], "是" if p["required"] else "", "" if p["required"] else p["default"],
         ", ".join(p["constraints"]), p["description"]] for p in doc["params"]]))


# --- organizations and officials -------------------------------------------------------

@main.group()
def org() -> None:
    """Organizations (基层党组织) and their hierarchy."""


@org.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_settings
def org_import(settings: Settings, file: str) -> None:
    """Import organizations from a CSV or XLSX FILE (编码, 名称, 类型, 上级编码, 书记姓名, 书记电话)."""
    from engine.orgs import import_organizations, parse_org_table
    from engine.tabular import read_table

    rows = parse_org_table(read_table(file))
    with settings.transaction() as session:
        settings.require_admin(session, "导入基层党组织", "import organizations")
        added, updated = import_organizations(session, rows, file)
    click.echo(f"已导入 / imported {file}: 新增 added {added}, 更新 updated {updated}")


@org.command("list")
@click.option("--township", help="Only this township's organizations (code).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def org_list(settings: Settings, township: str | None, as_json: bool) -> None:
    """List organizations."""
    from sqlalchemy import select

    from engine.models import Organization
    from engine.orgs import KIND_LABELS, get_org

    with settings.reading() as session:
        query = select(Organization).order_by(Organization.path)
        if township:
            query = query.where(Organization.township_id == get_org(session, township).id)
        rows = [{"code": o.code, "name": o.name, "kind": o.kind, "parent": o.parent.code if o.parent else None,
                 "secretary": o.secretary_name, "phone": o.secretary_phone} for o in session.scalars(query)]
    if as_json:
        emit_json(rows)
        return
    labels = {k.value: v for k, v in KIND_LABELS.items()}
    console().print(table(f"基层党组织 / organizations ({len(rows)})", ["编码", "名称", "类型", "上级", "书记", "电话"],
                          [[r["code"], r["name"], labels.get(r["kind"], r["kind"]), r["parent"], r["secretary"],
                            r["phone"]] for r in rows]))


@main.group()
def official() -> None:
    """Officials who act on cases (role, jurisdiction, contacts)."""


@official.command("add")
@click.argument("name")
@click.option("--role", required=True, help="Role code of the workflow, e.g. township_committee.")
@click.option("--jurisdiction", required=True, help="Code of the organization they act for.")
@click.option("--phone")
@click.option("--email")
@click.option("--login", help="Operating-system login that acts as this official.")
@click.option("--admin", is_flag=True, help="An administrator (deploys, imports, manages officials, may use --as).")
@pass_settings
def official_add(settings: Settings, name: str, role: str, jurisdiction: str, phone: str | None,
                 email: str | None, login: str | None, admin: bool) -> None:
    """Register an official."""
    from engine.deploy import campaigns, compiled_version
    from engine.identity import set_login
    from engine.officials import add_official

    with settings.transaction() as session:
        settings.require_admin(session, "登记官员", "register officials")
        roles: dict[str, str] = {}
        for campaign in campaigns(session):
            roles.update(compiled_version(campaign.current_version).definition.roles)
        person = add_official(session, name, role, jurisdiction, roles, phone, email)
        set_login(session, person, login)
        person.admin = admin
        extra = "".join([f"，登录名 login {login}" if login else "", "，管理员 administrator" if admin else ""])
        click.echo(f"已登记 / added {person.name}（{roles.get(role, role)}，{person.jurisdiction.name}{extra}）")


@official.command("update")
@click.argument("name")
@click.option("--login", help="Map this operating-system login to the official.")
@click.option("--no-login", is_flag=True, help="Remove the official's login mapping.")
@click.option("--admin/--no-admin", default=None, help="Grant or revoke the administrator role.")
@click.option("--active/--inactive", default=None, help="An inactive official can no longer act.")
@pass_settings
def official_update(settings: Settings, name: str, login: str | None, no_login: bool, admin: bool | None,
                    active: bool | None) -> None:
    """Change an official's login mapping, administrator role or activity."""
    from sqlalchemy import select

    from engine.errors import BadInput
    from engine.identity import set_login
    from engine.models import Official

    if login and no_login:
        raise BadInput("--login 与 --no-login 不能同时使用 / use either --login or --no-login")
    with settings.transaction() as session:
        settings.require_admin(session, "修改官员", "change officials")
        person = session.scalar(select(Official).where(Official.name == name))
        if person is None:
            from engine.errors import NotFound

            raise NotFound("official 官员", name, "list them with 'rectify official list'")
        if login or no_login:
            set_login(session, person, None if no_login else login)
        if admin is not None:
            person.admin = admin
        if active is not None:
            person.active = active
        click.echo(f"已更新 / updated {person.name}: login {person.login or '—'}, "
                   f"{'管理员 administrator' if person.admin else '非管理员 not an administrator'}, "
                   f"{'在职 active' if person.active else '停用 inactive'}")


@main.command()
@pass_settings
def whoami(settings: Settings) -> None:
    """Who you act as: your login, the official it maps to, and whether you are an administrator."""
    from engine.identity import whoami as identify

    with settings.transaction() as session:
        me = identify(session)
        official = f"{me.official.name}（{me.official.role}，{me.official.jurisdiction.name}）" if me.official else "—"
        click.echo(f"登录名 login: {me.login}\n官员 official: {official}\n"
                   f"管理员 administrator: {'是 yes' if me.admin else '否 no'}"
                   + ("（尚未登记管理员，所有登录名均视为管理员 / bootstrap: no administrator registered yet, "
                      "everyone is trusted as one）" if me.bootstrap else ""))


@official.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def official_list(settings: Settings, as_json: bool) -> None:
    """List officials."""
    from engine.officials import list_officials

    with settings.reading() as session:
        rows = [{"name": o.name, "role": o.role, "jurisdiction": o.jurisdiction.name, "phone": o.phone,
                 "email": o.email, "login": o.login, "admin": o.admin, "active": o.active}
                for o in list_officials(session)]
    if as_json:
        emit_json(rows)
        return
    console().print(table(f"官员 / officials ({len(rows)})", ["姓名", "角色", "管辖", "电话", "邮箱", "登录名", "管理员", "在职"],
                          [[*list(r.values())[:6], "是" if r["admin"] else "", "" if r["active"] else "停用"]
                           for r in rows]))


# --- cases -----------------------------------------------------------------------------

@main.group()
def case() -> None:
    """Cases (整顿对象): open, list, show."""


def _actor(settings: Settings, session):
    """The official a writing command acts as (the login's own; --as and --now for administrators)."""
    from engine.identity import acting_actor, whoami

    identity = whoami(session)
    actor = acting_actor(session, identity, settings.actor, settings.now_text is not None)
    if settings.actor or settings.now_text:
        warn_if_bootstrap(identity)
    return actor


def warn_if_bootstrap(identity) -> None:
    """Say so whenever an administrator's power was granted only because none is registered:
    a county that never registers one would otherwise stay open without anyone noticing."""
    if identity.bootstrap:
        click.echo("提醒：尚未登记管理员，任何能运行 rectify 的登录名都可办理管理事项，请尽快用 "
                   "'rectify official add 姓名 --role … --jurisdiction … --login 登录名 --admin' 登记 / "
                   "warning: no administrator is registered, so anyone who can run rectify may do an "
                   "administrator's work; register one with 'rectify official add NAME --role … "
                   "--jurisdiction … --login LOGIN --admin'", err=True)


@case.command("open")
@click.argument("org_code")
@click.option("--problem", "problems", multiple=True, type=int,
              help="Problem category 1-4 (主要问题), repeatable.")
@click.option("--flag", "flags", multiple=True,
              help="Key-target circumstance: canvassing, interference, disclosure, petitions.")
@click.option("--key-target", is_flag=True, help="Priority rectification (重点整顿对象).")
@click.option("--weak-and-lax", is_flag=True, help="Weak and lax (软弱涣散): rectify first.")
@click.option("--measures", help="Rectification measures (整改措施).")
@click.option("--campaign", "campaign_ref", help="name[:year] when several campaigns exist.")
@pass_settings
def case_open(settings: Settings, org_code: str, problems: tuple[int, ...], flags: tuple[str, ...],
              key_target: bool, weak_and_lax: bool, measures: str | None, campaign_ref: str | None) -> None:
    """Register organization ORG_CODE as a case (in the workflow's first state)."""
    from engine.cases import open_case
    from engine.deploy import compiled_version, resolve_campaign

    with settings.transaction() as session:
        campaign = resolve_campaign(session, campaign_ref)
        tz = compiled_version(campaign.current_version).definition.timezone
        opened = open_case(session, campaign, org_code, _actor(settings, session), settings.now(tz),
                           problems=problems, flags=flags, key_target=key_target,
                           weak_and_lax=weak_and_lax, measures=measures)
        click.echo(f"已登记整顿对象 / opened case {opened.ref}: {opened.organization.name}（{opened.state}）")


@case.command("list")
@click.option("--state", help="Only cases in this state.")
@click.option("--township", help="Only cases under this township (code).")
@click.option("--overdue", is_flag=True, help="Only cases past their current deadline.")
@click.option("--campaign", "campaign_ref", help="name[:year] when several campaigns exist.")
@click.option("--limit", type=ROW_ID, help="At most this many rows.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def case_list(settings: Settings, state: str | None, township: str | None, overdue: bool,
              campaign_ref: str | None, limit: int | None, as_json: bool) -> None:
    """List cases, filtered by state, township or overdue."""
    from engine.cases import list_cases
    from engine.deploy import resolve_campaign
    from engine.orgs import get_org
    from engine.views import case_row

    with settings.reading() as session:
        campaign = resolve_campaign(session, campaign_ref)
        now = settings.now()
        town = get_org(session, township) if township else None
        rows = [case_row(c, now) for c in list_cases(session, campaign, state, town, now if overdue else None, limit)]
    if as_json:
        emit_json(rows)
        return
    console().print(table(f"整顿对象 / cases ({len(rows)})", ["编号", "党组织", "乡镇", "状态", "轮次", "重点", "期限"], [
        [r["ref"], r["organization"], r["township"], r["state_label"], r["round"], "是" if r["key_target"] else "",
         r["due"] + (" 逾期" if r["overdue"] else "")] for r in rows]))


@case.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def case_show(settings: Settings, ref: str, as_json: bool) -> None:
    """Show a case: state, facts, deadlines, what can be done now and what blocks the rest, history."""
    from engine.cases import get_case
    from engine.views import case_detail

    with settings.reading() as session:
        detail = case_detail(session, get_case(session, ref), settings.now())
    if as_json:
        emit_json(detail)
        return
    _print_case(detail)


def _print_case(d: dict[str, Any]) -> None:
    out = console()
    marks = [m for m, on in (("重点整顿对象", d["key_target"]), ("软弱涣散", d["weak_and_lax"])) if on]
    out.print(f"[bold]{d['ref']}  {d['organization']}[/bold]（{d['org_code']}）{' · '.join(marks)}")
    out.print(f"上级党组织：{d['superior']}    书记：{d['secretary'] or '—'}    工作流：{d['workflow']}")
    out.print(f"状态：[bold]{d['state_label']}[/bold]（{d['state']}）  第 {d['round']} 轮  "
              f"进入于 {d['entered']}  期限 {d['due'] or '—'}{'  [red]已逾期 overdue[/red]' if d['overdue'] else ''}")
    if d["problems"]:
        out.print("主要问题：" + "；".join(d["problems"]))
    if d["flags"]:
        out.print("重点整顿情形：" + "；".join(d["flags"]))
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


def fact_text(value: Any) -> str:
    return ("是" if value else "否") if isinstance(value, bool) else str(value)


def _print_history(events: list[dict[str, Any]]) -> None:
    console().print(table("经过 / history", ["#", "时间", "轮次", "操作人", "事件", "说明"], [
        [e["seq"], e["at"], e["round"], e["actor"], e["what"], "；".join(filter(None, [e["note"], *e["basis"], *e["warnings"]]))]
        for e in events]))


@main.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def history(settings: Settings, ref: str, as_json: bool) -> None:
    """The event log of a case: who did what, when, and why."""
    from engine.cases import get_case
    from engine.views import history as case_history

    with settings.reading() as session:
        events = case_history(session, get_case(session, ref))
    if as_json:
        emit_json(events)
    else:
        _print_history(events)


@main.group()
def fact() -> None:
    """Record facts on a case (plan published, secretary appointed, survey figures …)."""


@fact.command("set")
@click.argument("ref")
@click.argument("name")
@click.argument("value")
@pass_settings
def fact_set(settings: Settings, ref: str, name: str, value: str) -> None:
    """Set fact NAME of case REF to VALUE (是/否, a number, a date or text)."""
    from engine.cases import get_case, set_fact

    with settings.transaction() as session:
        target = get_case(session, ref)
        old, new = set_fact(session, target, name, value, _actor(settings, session), settings.now())
        click.echo(f"{target.ref} {name}: {'—' if old is None else old} → {new}")


@fact.command("clear")
@click.argument("ref")
@click.argument("name")
@pass_settings
def fact_clear(settings: Settings, ref: str, name: str) -> None:
    """Clear fact NAME of case REF (e.g. a cadre withdrawn), if the workflow's rules allow it."""
    from engine.cases import get_case, set_fact

    with settings.transaction() as session:
        target = get_case(session, ref)
        old, _ = set_fact(session, target, name, None, _actor(settings, session), settings.now())
        click.echo(f"{target.ref} {name}: {'—' if old is None else fact_text(old)} → —")


@main.command()
@click.argument("ref")
@click.argument("trigger")
@click.option("--note", help="Why (recorded in the history).")
@pass_settings
def fire(settings: Settings, ref: str, trigger: str, note: str | None) -> None:
    """Fire TRIGGER on case REF (e.g. confirm, submit_self_check, conclude_survey)."""
    from engine.cases import fire as fire_trigger
    from engine.cases import get_case
    from engine.deploy import compiled_version

    with settings.transaction() as session:
        target = get_case(session, ref)
        result = fire_trigger(session, target, trigger, _actor(settings, session), settings.now(), note)
        states = compiled_version(target.workflow_version).definition.states
        click.echo(f"{target.ref} {trigger}: {states[result.source].label} → {states[result.dest].label}"
                   + (f"（第 {target.round} 轮）" if target.round > 1 else ""))
        for warning in result.warnings:
            click.echo(f"提醒 warning: {warning.reason_zh} / {warning.reason_en}", err=True)
        for notice in result.notices:
            click.echo(f"已生成通知 / notice queued: {notice}")


# --- ledger ----------------------------------------------------------------------------

@main.group()
def ledger() -> None:
    """The ledger (台账): the attachment 后进基层党组织情况汇总表 as XLSX, CSV or HTML, both ways."""


@ledger.command("export")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "html"]), default="xlsx", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="File to write (default: 后进基层党组织情况汇总表.<format>).")
@click.option("--unit", help="填表单位 (default: the workflow's issuer).")
@click.option("--reporter", default="", help="填报人及联系方式.")
@click.option("--campaign", "campaign_ref", help="name[:year] when several campaigns exist.")
@pass_settings
def ledger_export(settings: Settings, fmt: str, output: str | None, unit: str | None, reporter: str,
                  campaign_ref: str | None) -> None:
    """Write the ledger of the campaign's cases in the attachment's layout."""
    from engine.deploy import compiled_version, resolve_campaign
    from engine.ledger import TITLE, build_ledger
    from engine.ledger_files import write_csv, write_html, write_xlsx

    path = Path(output or f"{TITLE}.{fmt}")
    writer = {"xlsx": write_xlsx, "csv": write_csv, "html": write_html}[fmt]
    with settings.reading() as session:
        campaign = resolve_campaign(session, campaign_ref)
        wf = compiled_version(campaign.current_version).definition
        book = build_ledger(session, campaign, unit or wf.issuer, reporter, settings.now(wf.timezone), wf.timezone)
        write_output(path, lambda target: writer(book, target))  # the rows stream from the database
    click.echo(f"已导出 / exported {book.written} 行 rows: {path}")


@ledger.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--skip-bad", is_flag=True, help="Import the good rows and list the bad ones (default: all or nothing).")
@click.option("--campaign", "campaign_ref", help="name[:year] when several campaigns exist.")
@pass_settings
def ledger_import(settings: Settings, file: str, skip_bad: bool, campaign_ref: str | None) -> None:
    """Register or update cases from a ledger in the attachment's format (XLSX, or CSV in UTF-8/GB18030)."""
    from engine.deploy import resolve_campaign
    from engine.ledger import import_ledger, parse_ledger
    from engine.tabular import read_table

    fields, rows, problems = parse_ledger(read_table(file))
    with settings.transaction() as session:
        settings.require_admin(session, "导入台账", "import a ledger")
        result = import_ledger(session, resolve_campaign(session, campaign_ref), file, rows, problems,
                               _actor(settings, session), settings.now(), skip_bad)
    click.echo(f"已导入 / imported {file}（{fields.get('填表单位', '')}）：新登记 opened {len(result.opened)}，"
               f"更新 updated {len(result.updated)}，未变 unchanged {len(result.unchanged)}")
    for line in result.skipped:
        click.echo(f"  跳过 skipped: {line}", err=True)


# --- quota -----------------------------------------------------------------------------

@main.command()
@click.option("--campaign", "campaign_ref", help="name[:year] when several campaigns exist.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def quota(settings: Settings, campaign_ref: str | None, as_json: bool) -> None:
    """The backward ratio (后进比例) of each township and of the county against the workflow's target."""
    from engine.deploy import resolve_campaign
    from engine.errors import BadInput
    from engine.quota import quota_params, quota_table

    with settings.reading() as session:
        campaign = resolve_campaign(session, campaign_ref)
        params = quota_params(campaign)
        if params is None:
            raise BadInput("工作流没有配置后进比例规则（backward_ratio）/ the workflow has no backward_ratio rule")
        rows, total = quota_table(session, campaign, params)
    data = [{"code": r.code, "name": r.name, "organizations": r.organizations, "screening": r.screening,
             "confirmed": r.confirmed, "ratio": r.verdict.figures["ratio"], "outcome": r.verdict.outcome.value}
            for r in [*rows, total]]
    if as_json:
        emit_json({"target": params.target, "tolerance": params.tolerance, "mode": params.mode, "rows": data})
        return
    marks = {"pass": "", "warn": "超出（提醒）", "fail": "超出"}
    console().print(table(f"后进比例 / backward ratio — 目标 {params.target:.0%}±{params.tolerance:.0%}",
                          ["编码", "乡镇（街道）", "基层党组织", "排查中", "已确定", "比例", ""],
                          [[d["code"], d["name"], d["organizations"], d["screening"], d["confirmed"],
                            f"{d['ratio']:.1%}", marks[d["outcome"]]] for d in data]))


# --- report ----------------------------------------------------------------------------

@main.command()
@click.option("--html", "html_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the dashboard as one self-contained HTML page (charts in SVG) to FILE.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--campaign", "campaign_ref", help="name[:year] when several campaigns exist.")
@pass_settings
def report(settings: Settings, html_path: str | None, as_json: bool, campaign_ref: str | None) -> None:
    """The county's picture: cases by state and township, quota, overdue and upcoming, surveys,
    spot checks and progress over time (terminal tables, --json, or --html FILE)."""
    from engine.dashboard import dashboard
    from engine.deploy import compiled_version, resolve_campaign

    with settings.reading() as session:
        campaign = resolve_campaign(session, campaign_ref)
        tz = compiled_version(campaign.current_version).definition.timezone
        d = dashboard(session, campaign, settings.now(tz))
    if html_path:
        from engine.report_html import write_dashboard

        write_output(Path(html_path), lambda target: write_dashboard(d, target))
        click.echo(f"已生成工作看板 / dashboard written: {html_path}（{d['total']} 个整顿对象，截至 {d['now']}）")
        return
    if as_json:
        emit_json(d)
        return
    _print_report(d)


def _more(out, rows: int, what_zh: str, what_en: str) -> None:
    from engine.dashboard import LISTED

    if rows > LISTED:
        out.print(f"（另有 {rows - LISTED} 个{what_zh}未列出，全部见 --json 或 --html / "
                  f"{rows - LISTED} more {what_en}: see --json or --html）")


def _print_report(d: dict[str, Any]) -> None:
    from engine.dashboard import LISTED

    out = console()
    out.print(f"[bold]{d['campaign']['title']}工作情况[/bold]  {d['campaign']['issuer']}，截至 {d['now']}")
    out.print(f"整顿对象 {d['total']} 个，重点 {d['key_targets']} 个，逾期 {d['overdue']['count']} 个，"
              f"{d['upcoming']['window']} 天内到期 {d['upcoming']['count']} 个，重新整顿 {d['re_rectified']} 个")
    out.print(table("各阶段 / by state", ["阶段", "数量"], [[s["label"], s["count"]] for s in d["states"]]))
    states = [s for s in d["states"] if s["count"]] or d["states"]
    # A province's database has thousands of townships: the terminal lists the first LISTED
    # (a county has a few dozen), --json and --html have them all.
    towns = [t for t in d["townships"] if t["total"]]
    out.print(table("各乡镇（街道）/ by township", ["乡镇（街道）", *[s["label"] for s in states], "合计"],
                    [[t["name"], *[t["counts"][s["state"]] or "" for s in states], t["total"]]
                     for t in towns[:LISTED]]))
    _more(out, len(towns), "乡镇（街道）", "townships")
    if d["quota"]:
        q = d["quota"]
        out.print(table(f"后进比例 / quota — 目标 {q['target']:.0%}±{q['tolerance']:.0%}",
                        ["乡镇（街道）", "基层党组织", "已确定", "比例", ""],
                        [[r["name"], r["organizations"], r["confirmed"], f"{r['ratio']:.1%}",
                          "" if r["outcome"] == "pass" else "超出"] for r in [*q["rows"][:-1][:LISTED], q["rows"][-1]]]))
        _more(out, len(q["rows"]) - 1, "乡镇（街道）", "townships")
    for key, title, days in (("overdue", "逾期未完成 / overdue", "逾期天数"),
                             ("upcoming", f"{d['upcoming']['window']}天内到期 / due soon", "剩余天数")):
        listed = d[key]
        out.print(table(f"{title} ({listed['count']})", ["编号", "后进基层党组织", "阶段", "应完成", days, "责任人"],
                        [[r["ref"], r["organization"], r["state_label"], r["due"], r["days"],
                          "、".join(r["responsible"])] for r in listed["rows"]]))
    sv = d["surveys"]
    if sv["rows"]:
        out.print(table(f"群众满意度测评 / surveys — 阈值 {sv['threshold']:.0%}，达标 {sv['passed']}，未达标 {sv['failed']}",
                        ["编号", "后进基层党组织", "轮次", "日期", "参评", "满意", "满意度", "结果"],
                        [[r["ref"], r["organization"], r["round"], r["at"], r["respondents"], r["satisfied"],
                          f"{r['ratio']:.1%}", "达标" if r["passed"] else "未达标"] for r in sv["rows"]]))
    if d["spot_checks"]:
        out.print(table("抽查抽签 / spot checks", ["#", "时间", "比例", "等待抽查", "抽中", "种子"],
                        [[s["id"], s["at"], f"{s['rate']:.0%}", s["population"],
                          "、".join(f"{c['ref']}（{c['state_label']}）" for c in s["selected"]) or "—", s["seed"]]
                         for s in d["spot_checks"]]))
    p = d["progress"]
    if p["dates"]:
        series = [s for s in p["series"] if any(s["values"])]
        step = max(1, len(p["dates"]) // 12)
        picks = sorted({*range(0, len(p["dates"]), step), len(p["dates"]) - 1})
        out.print(table("整顿进度 / progress", ["日期", *[s["label"] for s in series]],
                        [[p["dates"][i], *[s["values"][i] for s in series]] for i in picks]))


@main.command()
@click.option("--docx", "docx_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write it as an official document (.docx) to FILE, for printing or editing in WPS.")
@click.option("--campaign", "campaign_ref", help="name[:year] when several campaigns exist.")
@pass_settings
def bulletin(settings: Settings, docx_path: str | None, campaign_ref: str | None) -> None:
    """The periodic bulletin (定期通报) as it reads now, from the workflow's template; nothing is sent
    (the daemon issues the scheduled ones)."""
    from engine.bulletin import render_bulletin
    from engine.deploy import resolve_campaign

    with settings.reading() as session:
        rendered = render_bulletin(session, resolve_campaign(session, campaign_ref), settings.now())
    click.echo(rendered.title)
    click.echo("")
    click.echo(rendered.body, nl=False)
    if docx_path:
        from notifiers.officialdoc import write_notice_docx

        write_output(Path(docx_path), lambda target: write_notice_docx(rendered.title, rendered.body, target))
        click.echo(f"已生成公文 / document written: {docx_path}", err=True)


# --- spot check ------------------------------------------------------------------------

@main.group("spot-check")
def spot_check() -> None:
    """The county's random spot check (县委组织部抽查): a reproducible, verifiable draw."""


@spot_check.command("draw")
@click.option("--seed", help="Published seed value (default: a fresh random one, printed).")
@click.option("--campaign", "campaign_ref", help="name[:year] when several campaigns exist.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def spot_check_draw(settings: Settings, seed: str | None, campaign_ref: str | None, as_json: bool) -> None:
    """Draw the sample among cases waiting for the spot check; the others move on to the survey."""
    from engine.deploy import resolve_campaign
    from engine.spotcheck import draw

    with settings.transaction() as session:
        result = draw(session, resolve_campaign(session, campaign_ref), _actor(settings, session),
                      settings.now(), seed)
        record = result.draw
        data = {"draw": record.id, "seed": record.seed, "method": record.method, "rate": record.rate,
                "include_key_targets": record.include_key_targets, "population": len(record.population),
                "selected": list(record.selected), "moved_on": result.moved_on}
    if as_json:
        emit_json(data)
        return
    click.echo(f"抽查抽签 #{data['draw']}：在 {data['population']} 个等待抽查的整顿对象中按 {data['rate']:.0%} 抽取"
               f"{'（重点整顿对象必查）' if data['include_key_targets'] else ''}，抽中 {len(data['selected'])} 个")
    click.echo(f"  抽中 / drawn: {'、'.join(data['selected'])}")
    click.echo(f"  未抽中，进入测评 / moved on: {'、'.join(data['moved_on']) or '—'}")
    click.echo(f"  公布种子 / published seed: {data['seed']}  方法 method: {data['method']}  "
               f"(rectify spot-check verify {data['draw']})")


@spot_check.command("verify")
@click.argument("draw_id", type=ROW_ID)
@pass_settings
def spot_check_verify(settings: Settings, draw_id: int) -> None:
    """Recompute draw DRAW_ID from its record (population, seed, rate) and compare."""
    from engine.spotcheck import verify

    with settings.reading() as session:
        check = verify(session, draw_id)
        recorded = list(check.draw.selected)
    if not check.ok:
        raise CheckFailed(f"抽签 #{draw_id} 核验不一致 / draw #{draw_id} does NOT verify: recorded {recorded}, "
                      f"recomputed {check.recomputed}")
    click.echo(f"抽签 #{draw_id} 核验一致 / draw #{draw_id} verifies: seed {check.draw.seed}, "
               f"{len(check.draw.population)} cases, selected {'、'.join(recorded)}")


@spot_check.command("list")
@pass_settings
def spot_check_list(settings: Settings) -> None:
    """List the spot-check draws."""
    from engine.clock import fmt
    from engine.spotcheck import list_draws

    with settings.reading() as session:
        rows = [[d.id, fmt(d.at, "Asia/Shanghai"), d.actor, d.seed, len(d.population), "、".join(d.selected)]
                for d in list_draws(session)]
    console().print(table("抽查抽签 / spot-check draws", ["#", "时间", "操作人", "种子", "总数", "抽中"], rows))


# --- survey ----------------------------------------------------------------------------

@main.group()
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
    from engine.cases import get_case
    from engine.deploy import compiled_version
    from engine.survey import check_figures, parse_scores, record_survey

    check_figures(respondents, satisfied)
    parsed = parse_scores(scores)
    with settings.transaction() as session:
        target = get_case(session, ref)
        result = record_survey(session, target, respondents, satisfied, _actor(settings, session),
                               settings.now(), parsed, note)
        states = compiled_version(target.workflow_version).definition.states
        basis = "；".join(v["reason_zh"] for v in result.event.data["guards"].values() if "满意度" in v["reason_zh"])
        click.echo(f"{target.ref} 测评 {satisfied}/{respondents}：{basis} → {states[result.dest].label}")


# --- notices ---------------------------------------------------------------------------

@main.group()
def notices() -> None:
    """The notice outbox: what was written, to whom, and whether it was delivered."""


@notices.command("list")
@click.option("--status", type=click.Choice(["pending", "delivered", "dead"]), help="Only notices in this status.")
@click.option("--case", "case_ref", help="Only this case's notices.")
@click.option("--limit", default=50, show_default=True, type=ROW_ID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def notices_list(settings: Settings, status: str | None, case_ref: str | None, limit: int, as_json: bool) -> None:
    """List notices, newest first."""
    from sqlalchemy import select

    from engine.cases import get_case
    from engine.clock import fmt
    from engine.models import Notice

    with settings.reading() as session:
        query = select(Notice).order_by(Notice.id.desc()).limit(limit)
        if status:
            query = query.where(Notice.status == status)
        if case_ref:
            query = query.where(Notice.case_id == get_case(session, case_ref).id)
        rows = [{"id": n.id, "created": fmt(n.created_at, "Asia/Shanghai"), "template": n.template, "title": n.title,
                 "status": n.status, "attempts": n.attempts, "recipients": [p["name"] for p in n.recipients],
                 "last_error": n.last_error} for n in session.scalars(query)]
    if as_json:
        emit_json(rows)
        return
    console().print(table(f"通知 / notices ({len(rows)})", ["#", "时间", "标题", "致", "状态", "尝试", "错误"], [
        [r["id"], r["created"], r["title"], "、".join(r["recipients"]), r["status"], r["attempts"], r["last_error"]]
        for r in rows]))


@notices.command("show")
@click.argument("notice_id", type=ROW_ID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def notices_show(settings: Settings, notice_id: int, as_json: bool) -> None:
    """Show a notice: its text, template hash, recipients and each delivery's status."""
    from sqlalchemy import select

    from engine.clock import fmt
    from engine.errors import NotFound
    from engine.models import Delivery, Notice

    with settings.reading() as session:
        notice = session.get(Notice, notice_id)
        if notice is None:
            raise NotFound("notice 通知", notice_id, "list notices with 'rectify notices list'")
        data = {"id": notice.id, "key": notice.idempotency_key, "template": notice.template,
                "template_hash": notice.template_hash, "title": notice.title, "body": notice.body,
                "status": notice.status, "created": fmt(notice.created_at, "Asia/Shanghai"),
                "recipients": notice.recipients,
                "deliveries": [{"channel": d.channel, "address": d.address, "recipient": d.recipient,
                                "status": d.status, "attempts": d.attempts, "last_error": d.last_error,
                                "next_attempt": fmt(d.next_attempt_at, "Asia/Shanghai"),
                                "delivered": fmt(d.delivered_at, "Asia/Shanghai"), "key": d.idempotency_key}
                               for d in session.scalars(select(Delivery).where(Delivery.notice_id == notice.id)
                                                        .order_by(Delivery.id))]}
    if as_json:
        emit_json(data)
        return
    out = console()
    out.print(f"[bold]#{data['id']} {data['title']}[/bold]  ({data['status']}, {data['template']} "
              f"{data['template_hash'][:12]}, {data['created']})")
    out.print(data["body"])
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
    from engine.errors import NotFound
    from engine.models import Notice
    from notifiers.officialdoc import write_notice_docx

    with settings.reading() as session:
        notice = session.get(Notice, notice_id)
        if notice is None:
            raise NotFound("notice 通知", notice_id, "list notices with 'rectify notices list'")
        title, body, key = notice.title, notice.body, notice.idempotency_key
    path = Path(output or f"通知-{notice_id}.docx")
    write_output(path, lambda target: write_notice_docx(title, body, target, key))
    click.echo(f"已导出 / exported: {path}（{title}）")


@notices.command("retry")
@click.argument("notice_id", type=ROW_ID)
@pass_settings
def notices_retry(settings: Settings, notice_id: int) -> None:
    """Put a notice's undelivered deliveries back in the queue (after fixing the cause)."""
    from engine.delivery import retry

    with settings.transaction() as session:
        settings.require_admin(session, "重新投递通知", "put notices back in the queue")
        count = retry(session, notice_id, settings.now())
    click.echo(f"通知 #{notice_id}：{count} 个投递重新排队 / {count} deliveries queued again")


@notices.command("deliver")
@pass_settings
def notices_deliver(settings: Settings) -> None:
    """Deliver what is due in the outbox now, through the configured channels."""
    from engine.delivery import deliver

    config = settings.notifier_config()
    with settings.transaction() as session:  # a missing or uninitialised database is reported first
        if settings.now_text:
            settings.require_admin(session, "以其他时间（--now）投递通知", "deliver at another time (--now)")
    report = deliver(settings.store, config, settings.now())
    click.echo(f"投递 / delivery: {dict(report.outcomes) or 'nothing due'}")
    for error in report.errors:
        click.echo(f"  {error}", err=True)


@notices.command("preview")
@click.argument("template")
@click.argument("ref")
@pass_settings
def notices_preview(settings: Settings, template: str, ref: str) -> None:
    """Render TEMPLATE for case REF without sending anything."""
    from engine.cases import get_case
    from engine.deploy import compiled_version
    from engine.errors import BadInput
    from engine.notices import notice_context
    from notifiers.render import NoticeTemplateError

    with settings.reading() as session:
        target = get_case(session, ref)
        compiled = compiled_version(target.workflow_version)
        context = notice_context(compiled, target, settings.now(), settings.actor or "preview",
                                 deadline={"kind": "preview", "due": "", "label": compiled.definition.states[
                                     target.state].label, "offset": "", "days": 0, "notice_label": ""})
        try:
            rendered = compiled.renderer.render(template, context)
        except NoticeTemplateError as exc:
            raise BadInput(str(exc)) from exc
    click.echo(rendered.title)
    click.echo("")
    click.echo(rendered.body)


# --- audit -----------------------------------------------------------------------------

@main.group()
def audit() -> None:
    """The tamper-evident audit log: verify the hash chains, export a case's trail, list refusals."""


@audit.command("verify")
@click.option("--case", "case_ref", help="Only this case's chain.")
@click.option("--checkpoint", "checkpoint_file", type=click.Path(dir_okay=False, exists=True),
              help="A checkpoint written earlier by 'rectify audit checkpoint': its heads must still be in the chains.")
@pass_settings
def audit_verify(settings: Settings, case_ref: str | None, checkpoint_file: str | None) -> None:
    """Recompute every event's hash and link; name the first event that was altered, deleted,
    inserted or reordered behind the project's back (exit 1)."""
    from engine.audit import verify
    from engine.cases import get_case

    heads = _read_checkpoint(checkpoint_file) if checkpoint_file else None
    with settings.reading() as session:
        ids = [get_case(session, case_ref).id] if case_ref else None
        result = verify(session, ids, heads)
    if not result.ok:
        raise CheckFailed(f"审计日志核验失败 / the audit log does NOT verify ({result.cases} cases, {result.events} events "
                      f"checked); first problem: {result.first_break}")
    click.echo(f"审计日志核验一致 / the audit log verifies: {result.cases} 个整顿对象 cases, {result.events} 条事件 events"
               + (f"，与检查点一致 / matches the checkpoint {checkpoint_file}" if checkpoint_file else ""))


def _read_checkpoint(path: str) -> dict[str, list[Any]]:
    from engine.errors import BadInput

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        heads = data["heads"]
        if not isinstance(heads, dict) or not all(isinstance(v, list) and len(v) == 2 for v in heads.values()):
            raise ValueError("heads must map case references to [seq, hash]")
        return heads
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{path}: 不是有效的检查点文件 / not a checkpoint written by 'rectify audit checkpoint': "
                       f"{exc}") from exc


@audit.command("checkpoint")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="File to write (default: stdout).")
@pass_settings
def audit_checkpoint(settings: Settings, output: str | None) -> None:
    """The head of every case's chain, to keep outside the database (print it, archive it,
    publish its digest); 'audit verify --checkpoint' later proves nothing before it was rewritten."""
    from engine.audit import checkpoint
    from engine.clock import fmt

    with settings.reading() as session:
        data = {"at": fmt(settings.now(), "Asia/Shanghai"), **checkpoint(session)}
    emit_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", output,
              f"已写入检查点 / checkpoint written: {output}（{data['cases']} cases, digest {data['digest'][:16]}…）")


@audit.command("export")
@click.argument("ref")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="File to write (default: stdout).")
@pass_settings
def audit_export(settings: Settings, ref: str, output: str | None) -> None:
    """A case's full trail as JSON: every event with who, when, what and why, and its hash links."""
    from engine.audit import METHOD, trail
    from engine.cases import get_case

    with settings.reading() as session:
        target = get_case(session, ref)
        data = {"case": target.ref, "organization": target.organization.name, "method": METHOD,
                "head": {"seq": target.event_seq, "hash": target.event_head}, "events": trail(session, target)}
    emit_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", output,
              f"已导出 / exported {len(data['events'])} events of {data['case']}: {output}")


@audit.command("refusals")
@click.option("--limit", default=50, show_default=True, type=ROW_ID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def audit_refusals(settings: Settings, limit: int, as_json: bool) -> None:
    """Refused attempts, newest first: who tried what, and why it was refused."""
    from sqlalchemy import select

    from engine.clock import fmt
    from engine.models import Refusal

    with settings.reading() as session:
        rows = [{"id": r.id, "at": fmt(r.at, "Asia/Shanghai"), "login": r.login, "actor": r.actor,
                 "command": r.command, "reason": r.reason}
                for r in session.scalars(select(Refusal).order_by(Refusal.id.desc()).limit(limit))]
    if as_json:
        emit_json(rows)
        return
    console().print(table(f"被拒绝的操作 / refused attempts ({len(rows)})", ["#", "时间", "登录名", "官员", "命令", "原因"],
                          [[r["id"], r["at"], r["login"], r["actor"], r["command"], r["reason"]] for r in rows]))


# --- daemon ----------------------------------------------------------------------------

@main.command()
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

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with settings.transaction() as session:  # fails early if the database is missing or not initialised
        if settings.now_text:  # a simulated clock fires what is not due yet: the administrator's call
            settings.require_admin(session, "以模拟时间（--now）运行守护进程", "run the daemon on another clock (--now)")
    store = settings.store
    config = settings.notifier_config()
    if until_text:
        if not settings.now_text:
            raise click.UsageError("--until needs --now (the simulated start time)")
        for day, report in run_until(store, settings.now(), parse_when(until_text), config=config):
            for line in report.messages:
                click.echo(f"{day:%Y-%m-%d} {line}")
        return
    if once:
        from engine.delivery import deliver
        from engine.ticker import tick

        now = settings.now()
        report = tick(store, now)
        click.echo(f"tick: fired {report.total} ({dict(report.fired)}), skipped {report.skipped}")
        for line in report.messages:
            click.echo(line)
        sent = deliver(store, config, now)
        click.echo(f"delivery: {dict(sent.outcomes) or 'nothing due'}")
        return
    run_forever(store, interval, settings.now if settings.now_text else None, config)


# --- demo ------------------------------------------------------------------------------

@main.command()
@click.option("--dir", "folder", default="rectify-demo", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the demo database (replaced if it exists).")
@click.option("--seed", default=2014, show_default=True, help="Random seed of the generated county.")
def demo(folder: str, seed: int) -> None:
    """Generate a county, run its campaign end to end, and print what happened."""
    from engine.demo import run_demo

    summary = run_demo(Path(folder), seed, progress=lambda msg: click.echo(msg))
    click.echo(summary)


if __name__ == "__main__":
    main()
