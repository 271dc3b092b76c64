"""Workflow definitions (check, deploy, show, draw) and the rules they can use."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli import (
    AS_JSON,
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


@click.group(cls=Group)
def workflow() -> None:
    """工作流 / Workflow definitions: write, check, deploy, show, draw.

    工作流定义（YAML）及其通知模板：生成、检查、部署、查看、画图。

    The workflow definition (YAML) and its notice templates."""


def _default_workflow() -> str:
    from workflows import DEFAULT_WORKFLOW

    return str(DEFAULT_WORKFLOW)


@workflow.command("new")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--year", type=int, required=True, help="活动年度 / the campaign year: every MM-DD date falls in it.")
@click.option("--issuer", required=True, help="发文单位（通知落款）/ the issuing unit that signs the notices, "
                                              "e.g. 中共某某县委组织部.")
@click.option("--doc-prefix", "document_prefix", help="发文字号前缀 / the document-number prefix, e.g. 某组通 "
                                                       "(某组通〔2015〕12号).")
@click.option("--name", help="工作流名称 / the workflow's name (default: that of the shipped one).")
def workflow_new(folder: str, year: int, issuer: str, document_prefix: str | None, name: str | None) -> None:
    """生成本县的工作流 / Write this county's workflow.

    在目录 FOLDER 中生成随附工作流及其通知模板的可编辑副本，填好年度、发文单位和发文字号前缀；再用 'rectify workflow check FOLDER' 检查、'rectify workflow deploy FOLDER' 部署。

    Writes FOLDER: an editable copy of the shipped workflow and its notice templates, with
    the year, issuer and document-number prefix filled in; then check and deploy it with
    'rectify workflow check FOLDER' and 'rectify workflow deploy FOLDER'."""
    from engine.spec.scaffold import Scaffold, write_scaffold
    from workflows import DEFAULT_WORKFLOW

    written = write_scaffold(DEFAULT_WORKFLOW, Path(folder), Scaffold(year, issuer, document_prefix, name))
    for warning in written.loaded.warnings:
        say(str(warning), err=True)
    wf = written.loaded.definition
    say(f"已生成 / written {written.folder}/: {written.workflow_file.name} 和 and {len(written.templates)} 个通知模板 "
        f"notice templates in templates/ — {wf.title} {wf.year}，{wf.issuer}，{wf.document_prefix}〔{wf.year}〕N号")
    say(f"下一步 / next: 修改日期、规则和模板（见 docs/workflow-format.md）/ edit the dates, rules and templates, then: "
        f"rectify workflow check {folder} && rectify workflow deploy {folder}")


@workflow.command("check")
@click.argument("files", nargs=-1, type=click.Path())
def workflow_check(files: tuple[str, ...]) -> None:
    """检查工作流 / Check workflow files.

    检查工作流文件 FILES（默认随附的工作流），每个问题输出一行 FILE:LINE:COL: 说明，有问题时退出码 2。

    Checks FILES (default: the shipped workflow) and prints FILE:LINE:COL: message for each
    problem (exit 2 if there is one)."""
    from engine.base.errors import InvalidDefinition
    from engine.spec.loader import load_workflow_file

    failed = False
    for file in files or (_default_workflow(),):
        try:
            loaded = load_workflow_file(file)
        except InvalidDefinition as exc:
            failed = True
            for problem in exc.problems:
                say(str(problem), err=True)
            continue
        wf = loaded.definition
        for warning in loaded.warnings:
            say(str(warning), err=True)
        say(f"{file}: OK — {wf.title}（{len(wf.states)} 个状态 states, {len(wf.transitions)} 个转换 "
                   f"transitions, {len(wf.rules)} 条规则 rules, {len(loaded.templates)} 个模板 templates）")
    if failed:
        sys.exit(2)


@workflow.command("deploy")
@click.argument("file", required=False, type=click.Path())
@pass_settings
def workflow_deploy(settings: Settings, file: str | None) -> None:
    """部署工作流 / Deploy a workflow.

    把工作流文件 FILE（默认随附的工作流）部署为新版本，此后新登记的整顿对象按它办理（管理员办理）。

    Deploys FILE (default: the shipped workflow) as a new version; new cases follow it (an
    administrator's act)."""
    from engine.services.admin import deploy_workflow
    from engine.spec.loader import load_workflow_file

    loaded = load_workflow_file(file or _default_workflow())
    for warning in loaded.warnings:
        say(str(warning), err=True)
    done = shown(deploy_workflow(settings.store, settings.caller, loaded))
    if done.created:
        say(f"已部署 / deployed {done.name} v{done.version} ({done.digest[:12]}) — {done.title} {done.year}")
    else:
        say(f"内容未变，沿用 / unchanged, still {done.name} v{done.version} ({done.digest[:12]})")


@workflow.command("show")
@click.argument("file", required=False, type=click.Path())
@click.option("--deployed", is_flag=True,
              help="查看数据库中已部署的版本 / show the version deployed in the database instead of a file.")
@click.option("--campaign", "campaign_ref", metavar="NAME[:YEAR]",
              help="有多个专项整治时指定其一（与 --deployed 同用）/ the campaign, when several exist (with --deployed).")
@AS_JSON
@pass_settings
def workflow_show(settings: Settings, file: str | None, deployed: bool, campaign_ref: str | None,
                  as_json: bool) -> None:
    """查看工作流 / Show a workflow: its dates, states and transitions.

    查看工作流文件 FILE（默认随附的工作流）或数据库中已部署的版本（--deployed）。

    Shows FILE (default: the shipped workflow), or the version deployed in the database
    (--deployed)."""
    from engine.spec.loader import load_workflow_file

    if deployed:
        from engine.services.admin import deployed_workflow

        wf, which = shown(deployed_workflow(settings.store, settings.caller, campaign_ref))
        say(which, err=as_json)  # with --json, standard output holds the JSON document alone
    else:
        wf = load_workflow_file(file or _default_workflow()).definition
    if as_json:
        emit_json(wf.model_dump(mode="json"))
        return
    out = console()
    out.print(f"[bold]{esc(wf.title)}[/bold]  {esc(wf.name)} · {wf.year} · {esc(wf.timezone)}", markup=True)
    out.print(table("工作日期 / campaign dates", ["名称", "日期", "说明"],
                    [[n, d.isoformat(), wf.dates[n].label] for n, d in wf.resolved_dates().items()]))
    out.print(table("状态 / states", ["状态", "名称", "期限 deadline", "定时"], [
        [n, s.label + (" (初始)" if s.initial else "") + (" (终止)" if s.final else ""),
         _deadline_text(s.deadline), "；".join([f"每{r.every.zh}发出 {r.notice}" for r in s.recurring]
                                               + [_auto_text(a) for a in s.auto])]
        for n, s in wf.states.items()]))
    out.print(table("转换 / transitions", ["触发器", "名称", "从 → 到", "角色", "条件 guards", "通知"], [
        [t.trigger, t.label, f"{'/'.join(t.sources)} → {t.dest}", ", ".join(t.roles), ", ".join(t.guards),
         t.notice or ""] for t in wf.transitions]))


@workflow.command("graph")
@click.argument("file", required=False, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg", "png"]), default="mermaid",
              show_default=True, help="图的格式 / the drawing's format (svg and png need Graphviz).")
@click.option("--output", "-o", type=click.Path(dir_okay=False),
              help="写入的文件（默认标准输出）/ file to write (default: standard output).")
def workflow_graph(file: str | None, fmt: str, output: str | None) -> None:
    """画出工作流 / Draw a workflow.

    画出工作流文件 FILE（默认随附的工作流）的状态和转换，标注中文名称、条件和期限。

    Draws FILE (default: the shipped workflow) with its Chinese labels, guards and deadlines."""
    from engine.spec.graph import dot, mermaid, render_image
    from engine.spec.loader import load_workflow_file

    wf = load_workflow_file(file or _default_workflow()).definition
    data: bytes = (mermaid(wf) if fmt == "mermaid" else dot(wf)).encode("utf-8")
    if fmt in ("svg", "png"):
        data = render_image(data.decode("utf-8"), fmt)
    if output:
        write_output(Path(output), lambda path: path.write_bytes(data))
        say(f"已写入 / written: {output}")
    elif fmt == "png":
        raise click.UsageError("--format png 须与 --output FILE 同用 / --format png needs --output FILE")
    else:
        say(data.decode("utf-8"), nl=False)


def _deadline_text(deadline) -> str:
    if deadline is None:
        return ""
    text = f"日期 {deadline.date}" if deadline.date else f"进入后{deadline.after.zh}"
    if deadline.later_rounds:
        text += f"；重新整顿轮次 {_deadline_text(deadline.later_rounds)}"
    return text


def _auto_text(auto) -> str:
    if auto.after.amount == 0:
        return f"进入后立即自动执行 {auto.trigger}"
    return f"进入{auto.after.zh}后自动执行 {auto.trigger}"


def _param_value(value: object) -> str:
    """A rule parameter's default as the workflow's YAML writes it (false, not Python's False)."""
    import json

    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@click.group(cls=Group)
def rules() -> None:
    """规则 / The rules a workflow can use as guards.

    内置规则和插件规则，可在工作流中作为条件使用。

    Built-in and plug-in rules, used as guards in a workflow."""


@rules.command("list")
@AS_JSON
def rules_list(as_json: bool) -> None:
    """列出规则 / List every registered rule with its parameters."""
    from engine.spec.rule_docs import all_rule_docs

    docs = all_rule_docs()
    if as_json:
        emit_json(docs)
        return
    console().print(table(f"规则 / rules ({len(docs)})", ["规则", "说明", "参数"], [
        [d["name"], d["summary"], ", ".join(p["name"] + ("" if p["required"] else f"={_param_value(p['default'])}")
                                            for p in d["params"])] for d in docs]))


@rules.command("show")
@click.argument("name")
@AS_JSON
def rules_show(name: str, as_json: bool) -> None:
    """说明规则 / Explain a rule.

    规则 NAME 检查什么，有哪些参数。

    What rule NAME checks, and its parameters."""
    from engine.spec.rule_docs import rule_doc

    doc = rule_doc(name)  # an unknown one: UnknownPlugin (exit 2), which lists the known rules
    if as_json:
        emit_json(doc)
        return
    out = console()
    out.print(f"{doc['name']} — {doc['summary']}  ({doc['module']})", markup=False)
    out.print(doc["doc"], markup=False)
    out.print(table("参数 / parameters", ["参数", "类型", "必填", "默认", "约束", "说明"], [
        [p["name"], p["type"], "是" if p["required"] else "", "" if p["required"] else _param_value(p["default"]),
         ", ".join(p["constraints"]), p["description"]] for p in doc["params"]]))

