"""What a person reads: help in Chinese then English that names the values each command accepts
(from the deployed workflow, else the shipped one), shell completion of the workflow's words,
Chinese output without English words inside it, and ``--json`` that is one JSON document."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import click
import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner
from sqlalchemy import create_engine, text

import commands.valid_values
from cli import main
from tests.runner import Rectify

CJK = re.compile(r"[\u3400-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def command_tree(command: click.Command = main, ctx: click.Context | None = None,
                 path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command, click.Context]]:
    """Every command under ``rectify`` (the group itself first), with its path and a context."""
    ctx = ctx or click.Context(main, info_name="rectify")
    yield path, command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            yield from command_tree(sub, click.Context(sub, parent=ctx, info_name=name), (*path, name))


def chinese_then_english(words: str) -> bool:
    """``中文 / English``: Chinese before the first "/ ", an English word after it."""
    zh, slash, en = words.partition("/ ")
    return bool(slash and CJK.search(zh) and LATIN_WORD.search(en))


# --- help -------------------------------------------------------------------------------------

def test_every_command_and_option_explains_itself_in_chinese_then_english():
    unclear = []
    for path, command, ctx in command_tree():
        first_line = (command.help or "").strip().splitlines()[0] if command.help else ""
        if not chinese_then_english(first_line):
            unclear.append(f"rectify {' '.join(path)}: {first_line!r}")
        options = [p for p in command.params if isinstance(p, click.Option)]
        for option in [*options, command.get_help_option(ctx)]:
            if option is not None and not chinese_then_english(option.help or ""):
                unclear.append(f"rectify {' '.join(path)} {option.opts[0]}: {option.help!r}")
    assert unclear == []


def test_help_never_needs_a_database(tmp_path):
    """With no database file, every help screen still shows, from the shipped workflow, and no
    file is created on the way."""
    missing = tmp_path / "none.db"
    runner = CliRunner()
    for path, _, _ in command_tree():
        result = runner.invoke(main, ["--db", str(missing), *path, "--help"], catch_exceptions=False)
        assert result.exit_code == 0, (path, result.output)
        assert CJK.search(result.stdout)
        assert "Usage:" in result.stdout
    fire = _flat(runner.invoke(main, ["--db", str(missing), "fire", "--help"]).stdout)
    assert "可用值 / valid values" in fire
    assert "取自随附的工作流 / from the shipped workflow workflows/backward_orgs.yaml" in fire
    assert "no database file" in fire
    assert "confirm" in fire
    assert "确认列为整顿对象" in fire
    assert not missing.exists()


def add_fact_and_role(workflow_file: Path) -> None:
    """A county's own workflow: one fact and one role more than the shipped one."""
    source = workflow_file.read_text(encoding="utf-8")
    changed = source.replace("  org_secretary: 党组织书记\n", "  org_secretary: 党组织书记\n  village_mentor: 驻村指导员\n", 1)
    changed = changed.replace("facts:\n", "facts:\n  mentor_visits: {label: 驻村指导员走访次数, type: int}\n", 1)
    assert changed.count("village_mentor") == 1
    assert changed.count("mentor_visits") == 1
    workflow_file.write_text(changed, encoding="utf-8")


def _flat(help_text: str) -> str:
    return re.sub(r"\s+", " ", help_text)  # click wraps long lines


def test_help_lists_the_values_of_the_deployed_workflow(rectify, workflow_copy):
    before = _flat(rectify("fact", "set", "--help").stdout)
    assert "from the workflow deployed in" in before
    assert "backward_orgs v1" in before
    assert "plan_made" in before
    assert "mentor_visits" not in before

    add_fact_and_role(workflow_copy)
    rectify("workflow", "deploy", str(workflow_copy), now="2014-03-02")

    for command in (("fact", "set"), ("fact", "clear")):
        shown = _flat(rectify(*command, "--help").stdout)
        assert "backward_orgs v2" in shown
        assert "mentor_visits 整数 number · 驻村指导员走访次数" in shown
        assert "plan_made 是/否 yes/no · 已制定整改方案（一支一策）" in shown
        assert "spot_drawn" in shown
        assert "recorded by the system" in shown
    official = _flat(rectify("official", "add", "--help").stdout)
    assert "--role — 角色 / roles:" in official
    assert "village_mentor 驻村指导员" in official
    assert "township_committee 乡镇（街道）党委" in official
    fire = _flat(rectify("fire", "--help").stdout)
    assert "TRIGGER — 操作 / triggers:" in fire
    assert "confirm 确认列为整顿对象（排查建账 → 整顿转化）" in fire
    cases = _flat(rectify("case", "list", "--help").stdout)
    assert "--state — 状态 / states:" in cases
    assert "rectifying 整顿转化" in cases
    assert "accepted 验收通过" in cases
    for command in (("org", "import"), ("org", "list")):
        kinds = _flat(rectify(*command, "--help").stdout)
        assert "组织类型 / organization kinds" in kinds
        assert "village 村" in kinds
        assert "township 乡镇（街道）" in kinds


@contextmanager
def database_held(url: str) -> Iterator[None]:
    """Another connection holding the lock a reader of the campaigns must wait for."""
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)) as conn:
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("UPDATE campaigns SET title = title")  # takes the WAL's exclusive lock
            yield
            conn.execute("ROLLBACK")
        return
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execute(text("LOCK TABLE campaigns IN ACCESS EXCLUSIVE MODE"))
        yield
        conn.rollback()
    engine.dispose()


def test_help_does_not_wait_for_a_busy_database(rectify, monkeypatch):
    monkeypatch.setattr(commands.valid_values, "DB_BUDGET", 0.5)
    with database_held(rectify.db):
        started = time.monotonic()
        shown = _flat(rectify("fire", "--help").stdout)
        took = time.monotonic() - started
    assert "from the shipped workflow" in shown
    assert "is busy or unreachable" in shown
    assert "confirm 确认列为整顿对象" in shown
    assert took < 8, took  # the budget, not SQLite's 10 s busy timeout or a lock held for ever


# --- completion -------------------------------------------------------------------------------

def completions(rectify: Rectify, args: list[str], incomplete: str) -> list[str]:
    complete = ShellComplete(main, {}, "rectify", "_RECTIFY_COMPLETE")
    return [item.value for item in complete.get_completions(["--db", rectify.db, *args], incomplete)]


def test_completion_offers_the_workflows_words(rectify, workflow_copy):
    assert completions(rectify, ["fire", "2014-1-0001"], "con") == ["confirm", "conclude_survey"]
    assert "restart_rectification" in completions(rectify, ["fire", "2014-1-0001"], "")
    assert completions(rectify, ["case", "list", "--state"], "re") == ["rectifying", "re_rectify"]
    assert completions(rectify, ["case", "open", "T1-01", "--flag"], "pe") == ["petitions"]
    assert completions(rectify, ["fact", "set", "2014-1-0001"], "spot") == ["spot_check_opinion"]  # spot_drawn is the system's
    add_fact_and_role(workflow_copy)
    rectify("workflow", "deploy", str(workflow_copy), now="2014-03-02")
    assert completions(rectify, ["fact", "clear", "2014-1-0001"], "men") == ["mentor_visits"]
    assert completions(rectify, ["official", "add", "某人", "--role"], "vil") == ["village_mentor"]


# --- output people read -----------------------------------------------------------------------

# A number with an English unit right after Chinese ("期限后 1 days"), or Python's words for a
# yes/no or a nothing: none may stand in what an official reads.
ENGLISH_UNIT = re.compile(r"[\u3400-\u9fff]\s?\d+\s?(working )?(days?|weeks?|months?)\b")
PYTHON_WORDS = re.compile(r"\b(True|False|None)\b")


def test_no_english_words_inside_chinese_output(rectify):
    opened = rectify("case", "open", "T1-05", "--problem", "1", who="王强", now="2014-03-05").stdout
    ref = re.search(r"\d{4}-\d+-\d{4}", opened).group()
    rectify("fire", ref, "confirm", who="李明", now="2014-03-12")
    assert f"{ref} plan_made: — → 是" in rectify("fact", "set", ref, "plan_made", "是", who="王强", now="2014-03-13").stdout
    assert f"{ref} plan_made: 是 → 否" in rectify("fact", "set", ref, "plan_made", "否", who="王强", now="2014-03-13").stdout
    rectify("fact", "set", ref, "measures", "整改", who="王强", now="2014-03-13")
    rectify("fact", "clear", ref, "measures", who="王强", now="2014-03-13")

    show = rectify("case", "show", ref, who="李明", now="2014-03-14").stdout
    assert "期限后1天" in show
    assert "期限前30天" in show
    assert "1 day after the deadline" in show  # the English says it in English, after the Chinese
    for out in (show, rectify("history", ref, who="李明").stdout, rectify("timers", "list", who="李明").stdout):
        assert not ENGLISH_UNIT.search(out), ENGLISH_UNIT.search(out)
        assert not PYTHON_WORDS.search(out), PYTHON_WORDS.search(out)
    assert "逾期督办" in rectify("timers", "list", who="李明").stdout  # the timer's kind in Chinese

    detail = rectify.json("case", "show", ref, who="李明", now="2014-03-14")
    for timer in detail["timers"]:
        chinese, _, english = timer["detail"].partition(" / ")
        assert CJK.search(chinese), timer
        assert not re.search(r"\b(days?|weeks?|months?)\b", chinese), timer
        assert LATIN_WORD.search(english), timer
    for event in rectify.json("history", ref, who="李明"):
        assert not PYTHON_WORDS.search(event["what"]), event


def test_fire_without_a_known_trigger_lists_those_from_the_current_state(rectify):
    ref = re.search(r"\d{4}-\d+-\d{4}", rectify("case", "open", "T1-06", who="王强", now="2014-03-05").stdout).group()
    missing = rectify("fire", ref, who="李明", now="2014-03-06", code=2)
    assert "请指定操作 / give a trigger" in missing.output
    assert "当前处于“排查建账”" in missing.output
    assert "confirm  确认列为整顿对象 → 整顿转化" in missing.output
    unknown = rectify("fire", ref, "confrim", who="李明", now="2014-03-06", code=2)
    assert "未找到操作“confrim” / trigger not found: confrim" in unknown.output
    assert "confirm  确认列为整顿对象" in unknown.output


# --- --json -----------------------------------------------------------------------------------

def _to_spot_check(run: Rectify) -> None:
    """A fourth case of T1 up to the spot check, announced: 'spot-check draw' has one to draw."""
    run("case", "open", "T1-04", who="王强", now="2014-03-05")
    run("fire", "T1-04", "confirm", who="李明", now="2014-03-12")
    for name, value in [("plan_made", "是"), ("plan_published", "是"), ("contact_leader", "周建国"),
                        ("secretary_trained", "2014-03-28"), ("secretary_appointed", "张三"),
                        ("stationed_cadre", "驻村工作队")]:
        run("fact", "set", "T1-04", name, value, who="王强", now="2014-04-01")
    run("fire", "T1-04", "submit_self_check", who="王强", now="2014-11-20")
    run("fact", "set", "T1-04", "self_check_report", "已完成自查", who="王强", now="2014-11-21")
    run("fire", "T1-04", "request_superior_check", who="王强", now="2014-11-22")
    run("fact", "set", "T1-04", "superior_check_opinion", "同意", who="王强", now="2014-11-24")
    run("fire", "T1-04", "pass_superior_check", who="王强", now="2014-11-24")
    run("spot-check", "announce", who="李明", now="2014-11-25")


JSON_COMMANDS = [  # every command with --json (its path), with what it needs to show something
    (("case", "list"), ()), (("case", "show"), ("2014-1-0001",)), (("history",), ("2014-1-0002",)),
    (("org", "list"), ()), (("official", "list"), ()), (("quota",), ()), (("report",), ()),
    (("workflow", "show"), ()), (("workflow", "show"), ("--deployed",)), (("rules", "list"), ()),
    (("rules", "show"), ("facts_recorded",)), (("timers", "list"), ()), (("timers", "list"), ("--failed",)),
    (("notices", "list"), ()), (("notices", "show"), ("1",)), (("notices", "preview"), ("case_listed", "2014-1-0001")),
    (("audit", "refusals"), ()), (("spot-check", "draw"), ()), (("problem", "list"), ("2014-1-0001",)),
    (("evidence", "list"), ("2014-1-0001",)), (("person", "list"), ()), (("person", "show"), ("周建国",)),
    (("org", "secretaries"), ("T1-01",)), (("duty", "list"), ()), (("duty", "history"), ("--unit", "T1")),
    (("official", "accounts"), ()), (("token", "list"), ()),
]


def test_the_json_test_covers_every_command_that_has_json():
    with_json = {path for path, command, _ in command_tree() if any(p.name == "as_json" for p in command.params)}
    assert with_json == {path for path, _ in JSON_COMMANDS}


def test_every_json_is_one_document_on_standard_output(surveyed_county):
    _to_spot_check(surveyed_county)
    for path, args in JSON_COMMANDS:
        result = surveyed_county(*path, *args, "--json", who="李明", now="2014-12-05")
        try:
            json.loads(result.stdout)
        except ValueError as exc:
            pytest.fail(f"rectify {' '.join(path + args)} --json: {exc}\n{result.stdout[:500]}")
    # the line saying which version was shown is for people: on stderr, not in the document
    result = surveyed_county("workflow", "show", "--deployed", "--json", who="李明")
    assert "backward_orgs" in json.loads(result.stdout)["name"]
    assert "已部署版本 / deployed version v1" in result.stderr
