"""What a command accepts, in its help and its shell completion: the roles, facts, triggers,
states, problem categories and key-target circumstances of the workflow in use, and the kinds of
organization.

The workflow in use is the one deployed in the database named by --db / RECTIFY_DB (the default
./rectify.db otherwise), else the shipped workflows/backward_orgs.yaml. The values are read only
when a help screen or a completion asks for them, and help must never fail or hang because of the
database: it is read with a time budget, and a missing, uninitialised, busy, unreachable or
unreadable database — or one with nothing deployed — gives the shipped workflow's values instead,
saying which workflow they come from and why.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

if TYPE_CHECKING:
    from engine.spec.definition import Workflow

HELP_OPTION_TEXT = "显示本帮助并退出 / Show this message and exit."
SHIPPED = "workflows/backward_orgs.yaml"
# Seconds the database may take to name its workflows; past that the help uses the shipped one.
DB_BUDGET = 3.0

TITLES = {"roles": "角色 / roles", "facts": "事实 / facts", "triggers": "操作 / triggers",
          "states": "状态 / states", "kinds": "组织类型 / organization kinds",
          "problems": "主要问题类别 / problem categories", "flags": "重点整顿情形 / key-target circumstances"}
FIXED = ("kinds",)  # the project's words, the same whatever workflow is deployed
FACT_TYPES = {"bool": "是/否 yes/no", "int": "整数 number", "date": "日期 date (YYYY-MM-DD)",
              "text": "文本 text", "person": "人员 person (rectify person add)", "secretary": "书记姓名 secretary"}
SYSTEM_FACT = "（系统登记，不能手工设置 / recorded by the system）"


@dataclass
class Values:
    """The words a command may be given, each with what it means (code → text)."""

    source: str  # which workflow they come from, and why that one
    roles: dict[str, str] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)
    triggers: dict[str, str] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # problem_categories: number → label
    flags: dict[str, str] = field(default_factory=dict)  # key_target_circumstances: name → label
    system_facts: set[str] = field(default_factory=set)  # shown in help, never offered for completion

    @property
    def kinds(self) -> dict[str, str]:
        from engine.ops.orgs import KIND_LABELS

        return {kind.value: label for kind, label in KIND_LABELS.items()}


def values_of(workflows: list[Workflow], source: str) -> Values:
    values = Values(source)
    for wf in workflows:
        values.roles.update(wf.roles)
        values.states.update({name: s.label for name, s in wf.states.items()})
        _merge(values.problems, wf.problem_categories)
        _merge(values.flags, wf.key_target_circumstances)
        for name, f in wf.facts.items():
            values.facts[name] = f"{FACT_TYPES[f.type]} · {f.label}" + (SYSTEM_FACT if f.system_only else "")
            if f.system_only:
                values.system_facts.add(name)
        for t in wf.transitions:
            route = f"{t.label}（{'/'.join(wf.states[s].label for s in t.sources)} → {wf.states[t.dest].label}）"
            known = values.triggers.get(t.trigger)
            values.triggers[t.trigger] = route if not known or route in known else f"{known}；{route}"
    return values


def _merge(words: dict[str, str], more: dict[str, str]) -> None:
    """Add ``more``; a word two campaigns' workflows mean differently shows both meanings."""
    for word, text in more.items():
        known = words.get(word)
        words[word] = text if not known or text in known.split("；") else f"{known}；{text}"


def values_for(ctx: click.Context) -> Values:
    """The values of the workflow in use for the database this command line names, read once
    per command line (kept in its root context, so a later command line reads afresh)."""
    root = ctx.find_root()
    if "rectify.values" not in root.meta:
        root.meta["rectify.values"] = _deployed(root.params.get("db"))
    return root.meta["rectify.values"]


def _deployed(db: str | None) -> Values:
    try:
        from engine.services.vocabulary import deployed_definitions  # before the clock starts
        from engine.store.db import Store, database_url, safe_url, sqlite_path

        url = database_url(db)
        shown = safe_url(url)
        path = sqlite_path(url)
    except Exception as exc:  # help never fails: an unusable --db only means the shipped workflow
        return _shipped(f"无法使用 --db / cannot use --db: {exc}")
    if path is not None and not path.is_file():
        return _shipped(f"没有数据库文件 {path} / no database file {path}")
    box: dict[str, Any] = {}

    def read() -> None:
        store = None
        try:
            store = Store(url)
            box["found"] = deployed_definitions(store) if store.is_initialised() else []
        except Exception as exc:  # whatever the database did, the help goes on with the shipped workflow
            box["error"] = exc
        finally:
            if store is not None:
                store.dispose()

    # A daemon thread: a server that never answers is left behind, not waited for.
    reader = threading.Thread(target=read, name="rectify-help-values", daemon=True)
    reader.start()
    reader.join(DB_BUDGET)
    if reader.is_alive():
        return _shipped(f"数据库 {shown} 忙或无法连接 / the database {shown} is busy or unreachable")
    if "error" in box:
        return _shipped(f"无法读取数据库 {shown} / cannot read the database {shown}")
    if not box["found"]:
        return _shipped(f"数据库 {shown} 中尚未部署工作流 / no workflow deployed in {shown}")
    names = "、".join(name for _, name in box["found"])
    return values_of([wf for wf, _ in box["found"]],
                     f"取自数据库中部署的工作流 {names} / from the workflow deployed in {shown}: {names}")


def _shipped(reason: str) -> Values:
    source = f"取自随附的工作流 / from the shipped workflow {SHIPPED}" + (f"（{reason}）" if reason else "")
    try:
        from engine.base.yamlsafe import read_text_file, read_yaml
        from engine.spec.definition import Workflow
        from workflows import DEFAULT_WORKFLOW

        # The shipped file was checked when it was shipped: its schema is enough to name its words.
        located = read_yaml(read_text_file(DEFAULT_WORKFLOW), str(DEFAULT_WORKFLOW))
        return values_of([Workflow.model_validate(located.data)], source)
    except Exception as exc:  # an installation without its workflow file: help says so and goes on
        return Values(f"{source}：无法读取 / cannot be read: {exc}")


def format_values(ctx: click.Context, formatter: click.HelpFormatter, wanted: dict[str, str]) -> None:
    """The "可用值 / valid values" section: for each argument or option, what it accepts."""
    values = values_for(ctx)
    with formatter.section("可用值 / valid values"):
        if any(kind not in FIXED for kind in wanted.values()):
            formatter.write_text(values.source)
        for target, kind in wanted.items():
            formatter.write_paragraph()
            formatter.write_text(f"{target} — {TITLES[kind]}:")
            words = getattr(values, kind)
            with formatter.indentation():
                formatter.write_dl(list(words.items()) or [("—", "（无 / none）")])


def bilingual_help(option: click.Option | None) -> click.Option | None:
    """The -h/--help option, its help text in both languages like every other option's."""
    if option is not None:
        option.help = HELP_OPTION_TEXT
    return option


class Command(click.Command):
    """A command whose help ends with the values its arguments and options accept:
    ``valid={"TRIGGER": "triggers"}`` (kinds: roles, facts, triggers, states, kinds, problems, flags)."""

    def __init__(self, *args: Any, valid: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.valid = dict(valid or {})

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        return bilingual_help(super().get_help_option(ctx))

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        if self.valid:
            format_values(ctx, formatter, self.valid)


class Group(click.Group):
    """A group whose commands (and sub-groups) are ``Command``s (and ``Group``s)."""

    command_class = Command
    group_class = type

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        return bilingual_help(super().get_help_option(ctx))


def _completer(kind: str):
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        values = values_for(ctx)
        words = getattr(values, kind)
        return [CompletionItem(name, help=text) for name, text in words.items()
                if name.startswith(incomplete) and name not in values.system_facts]
    return complete


complete_roles = _completer("roles")
complete_facts = _completer("facts")
complete_triggers = _completer("triggers")
complete_states = _completer("states")
complete_flags = _completer("flags")
