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


@click.group()
def workflow() -> None:
    """Check, deploy and show workflow definitions (YAML)."""


def _default_workflow() -> str:
    from workflows import DEFAULT_WORKFLOW

    return str(DEFAULT_WORKFLOW)


@workflow.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
def workflow_check(files: tuple[str, ...]) -> None:
    """Check workflow FILES (default: the shipped one); print FILE:LINE:COL: message for each problem."""
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
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@pass_settings
def workflow_deploy(settings: Settings, file: str | None) -> None:
    """Deploy FILE (default: the shipped workflow) as a new version; new cases follow it."""
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
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--deployed", is_flag=True, help="Show the version deployed in the database instead of a file.")
@click.option("--campaign", "campaign_ref", help="name[:year] when several campaigns exist (with --deployed).")
@AS_JSON
@pass_settings
def workflow_show(settings: Settings, file: str | None, deployed: bool, campaign_ref: str | None,
                  as_json: bool) -> None:
    """Show the states, transitions and dates of FILE (default: the shipped workflow)."""
    from engine.spec.loader import load_workflow_file

    if deployed:
        from engine.services.admin import deployed_workflow

        wf, which = shown(deployed_workflow(settings.store, settings.caller, campaign_ref))
        say(which)
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
        raise click.UsageError("--format png needs --output FILE")
    else:
        say(data.decode("utf-8"), nl=False)


def _deadline_text(deadline) -> str:
    if deadline is None:
        return ""
    text = f"日期 {deadline.date}" if deadline.date else f"进入后 {deadline.after}"
    if deadline.later_rounds:
        text += f"；重新整顿轮次 {_deadline_text(deadline.later_rounds)}"
    return text


@click.group()
def rules() -> None:
    """The rules workflows can use as guards (built-in and plug-ins)."""


@rules.command("list")
@AS_JSON
def rules_list(as_json: bool) -> None:
    """List every registered rule with its parameters."""
    from engine.spec.rule_docs import all_rule_docs

    docs = all_rule_docs()
    if as_json:
        emit_json(docs)
        return
    console().print(table(f"规则 / rules ({len(docs)})", ["规则", "说明", "参数"], [
        [d["name"], d["summary"], ", ".join(p["name"] + ("" if p["required"] else f"={p['default']}")
                                            for p in d["params"])] for d in docs]))


@rules.command("show")
@click.argument("name")
@AS_JSON
def rules_show(name: str, as_json: bool) -> None:
    """Explain rule NAME: what it checks and its parameters."""
    from engine.spec.rule_docs import rule_doc

    doc = rule_doc(name)  # an unknown one: UnknownPlugin (exit 2), which lists the known rules
    if as_json:
        emit_json(doc)
        return
    out = console()
    out.print(f"{doc['name']} — {doc['summary']}  ({doc['module']})", markup=False)
    out.print(doc["doc"], markup=False)
    out.print(table("参数 / parameters", ["参数", "类型", "必填", "默认", "约束", "说明"], [
        [p["name"], p["type"], "是" if p["required"] else "", "" if p["required"] else p["default"],
         ", ".join(p["constraints"]), p["description"]] for p in doc["params"]]))

