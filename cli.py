"""The ``rectify`` command line: the group, its settings and the output helpers.

The commands themselves live in ``commands/`` and are imported only when they run (click's
lazy-group pattern), so a short command loads only what it needs. A command parses its
arguments, calls an engine service (``engine.services``: the policy, the transaction and the
audit live there) and prints what the service returns, which it returns only after its
transaction committed.

Exit codes: 0 success; 1 refused by a rule, a permission or a concurrent change; 2 bad input;
3 the database is busy or unavailable (nothing was written: run it again). Project errors
become one clear message on stderr, never a traceback.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from commands.valid_values import bilingual_help

if TYPE_CHECKING:
    from engine.services import Caller, Done
    from engine.store.db import Store
    from engine.store.evidence_files import EvidenceFiles

T = TypeVar("T")

# name → "module:attribute" of each sub-command; the module is imported when the command runs.
COMMANDS = {
    "init": "commands.setup:init",
    "whoami": "commands.setup:whoami",
    "demo": "commands.setup:demo",
    "workflow": "commands.workflow:workflow",
    "rules": "commands.workflow:rules",
    "org": "commands.people:org",
    "official": "commands.people:official",
    "token": "commands.accounts:token",
    "case": "commands.cases:case",
    "history": "commands.cases:history",
    "fact": "commands.cases:fact",
    "fire": "commands.cases:fire",
    "survey": "commands.cases:survey",
    "ledger": "commands.reports:ledger",
    "quota": "commands.reports:quota",
    "report": "commands.reports:report",
    "bulletin": "commands.reports:bulletin",
    "spot-check": "commands.records:spot_check",
    "audit": "commands.records:audit",
    "notices": "commands.outbox:notices",
    "timers": "commands.daemon:timers",
    "daemon": "commands.daemon:daemon",
    "duty": "commands.duties:duty",
    "person": "commands.persons:person",
    "evidence": "commands.evidence:evidence",
    "problem": "commands.problems:problem",
    "serve": "commands.serve:serve",
    "login": "commands.client:login",
    "logout": "commands.client:logout",
}


class RectifyGroup(click.Group):
    """Loads sub-commands lazily and turns project errors into clean messages and exit codes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *COMMANDS])

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        return bilingual_help(super().get_help_option(ctx))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = COMMANDS[cmd_name].partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), f"{COMMANDS[cmd_name]} is not a click command"
        return command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for arg in args:
            try:
                arg.encode("utf-8")
            except UnicodeEncodeError:  # bytes the terminal could not decode reach us as surrogates
                raise click.UsageError(f"参数不是有效的 UTF-8 文本 / an argument is not valid UTF-8 text: "
                                       f"{arg.encode('utf-8', 'backslashreplace').decode()}") from None
        ctx.meta["rectify.argv"] = list(args)
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        # What follows the global options, kept for client mode (``_route``), which sends it on.
        ctx.meta["rectify.command_args"] = list(args)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        from engine.base.errors import RectifyError

        try:
            return super().invoke(ctx)
        except RectifyError as exc:
            from engine.base.text import visible

            error = click.ClickException(visible(str(exc)))
            error.exit_code = exc.exit_code
            raise error from exc


def without_locations(argv: list[str]) -> list[str]:
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


@dataclass
class Settings:
    """The global options of one command, and the store and caller built from them."""

    db: str | None
    now_text: str | None
    actor: str | None
    config_path: str | None = None
    argv: tuple[str, ...] = ()
    evidence_dir: str | None = None
    _store: Any = None

    def notifier_config(self):
        from notifiers.config import load_config

        return load_config(self.config_path)

    @property
    def raw_store(self) -> Store:
        """The store, whether or not its database exists yet (``init`` creates it)."""
        from engine.store.db import Store, database_url

        if self._store is None:
            self._store = Store(database_url(self.db), evidence_dir=self.evidence_dir)
        return self._store

    @property
    def store(self) -> Store:
        """The store of an initialised database (never creates a stray SQLite file)."""
        store = self.raw_store
        self._check_database(store)
        return store

    @property
    def evidence(self) -> EvidenceFiles:
        """The evidence store: --evidence-dir, RECTIFY_EVIDENCE_DIR, or beside the SQLite file."""
        return self.raw_store.evidence_files

    @property
    def caller(self) -> Caller:
        """Who runs this command: the operating-system login, with the --as and --now asked for;
        in a run ``rectify serve`` started for a CLI client, the official its signed assertion
        names (an invalid or expired one is refused, never ignored)."""
        from engine.ops import identity
        from engine.services import Caller
        from web.cli_assertion import ENV

        command = " ".join(["rectify", *without_locations(list(self.argv))])
        if ENV in os.environ:
            from commands.remote import asserted_caller

            return asserted_caller(self, command)
        return Caller(identity.os_login(), self.actor, self.now_text, command)

    def now(self, tz: str) -> datetime:
        """The clock in ``tz`` (the campaign's, as a service says): ``--now``, or the real time."""
        from engine.base.clock import parse_when, utcnow

        return parse_when(self.now_text, tz) if self.now_text else utcnow()

    @staticmethod
    def _check_database(store: Store) -> None:
        from sqlalchemy.engine import make_url

        from engine.base.errors import DatabaseError

        url = make_url(store.url)
        if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:") \
                and not Path(url.database).exists():
            raise DatabaseError(f"数据库文件不存在 / database file not found: {url.database}. "
                                "Create it with 'rectify init' (or point --db / RECTIFY_DB at yours)")
        if not store.is_initialised():
            raise DatabaseError(f"数据库尚未初始化 / the database {store.shown} is not initialised: run 'rectify init'")

    def close(self) -> None:
        """Close the database connections when the command ends (in-process callers reuse the interpreter)."""
        if self._store is not None:
            self._store.dispose()
            self._store = None


pass_settings = click.make_pass_decorator(Settings)
ROW_ID = click.IntRange(1, 2**63 - 1)  # what a database integer holds: larger is bad input, not an overflow
CAMPAIGN = click.option("--campaign", "campaign_ref", metavar="NAME[:YEAR]",
                        help="有多个专项整治时指定其一 / the campaign, when several exist: name[:year].")
AS_JSON = click.option("--json", "as_json", is_flag=True,
                       help="以 JSON 输出（标准输出只有这一个 JSON 文档）/ Print one JSON document on standard output.")


def say(message: Any = "", err: bool = False, nl: bool = True) -> None:
    """``click.echo`` for text that may hold what officials typed: control characters (but tab
    and line break) are shown as escapes, never sent to the terminal as commands."""
    from engine.base.text import visible

    click.echo(visible(str(message)), err=err, nl=nl)


def shown(done: Done[T]) -> T:
    """A committed result's value, after its warnings went to stderr (each once per command:
    a command that calls several services is told about the campaign's clock once)."""
    for warning in done.warnings:
        if warning not in _WARNED:
            _WARNED.add(warning)
            say(warning, err=True)
    return done.value


_WARNED: set[str] = set()


def write_output(path: Path, write, atomic: bool = True) -> None:
    """Write an output file, atomically unless ``write`` already is (the ledger, dashboard and
    .docx writers are); a folder that does not exist or cannot be written is bad input."""
    from engine.base.atomic import atomic_write
    from engine.base.errors import BadInput

    try:
        if atomic:
            atomic_write(path, write)
        else:
            write(path)
    except OSError as exc:
        raise BadInput(f"无法写入 / cannot write {path}: {exc.strerror or exc}") from exc


def emit_text(text: str, output: str | None, written: str) -> None:
    """``text`` to standard output, or to the file ``output`` (atomically) and then ``written``."""
    if output is None:
        say(text, nl=False)
        return
    write_output(Path(output), lambda target: target.write_text(text, encoding="utf-8"))
    say(written)


# Characters json.dumps(ensure_ascii=False) leaves raw that a terminal may obey or hide behind:
# written as JSON escapes, the same data.
_JSON_RAW = re.compile("[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def emit_json(data: Any) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    click.echo(_JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 120)


def table(title: str | None, columns: list[str], rows: list[list[Any]]):
    """A rich table whose cells are text, never markup: what officials typed is shown as typed."""
    from rich.table import Table
    from rich.text import Text

    from engine.base.text import visible

    t = Table(title=title, show_lines=False, title_justify="left")
    for column in columns:
        t.add_column(column, overflow="fold")
    for row in rows:
        t.add_row(*(Text("" if v is None else visible(str(v))) for v in row))
    return t


def esc(value: Any) -> str:
    """Text officials typed, made safe to place inside a rich markup string."""
    from rich.markup import escape

    from engine.base.text import visible

    return escape(visible(str(value)))


def fact_text(value: Any) -> str:
    return ("是" if value else "否") if isinstance(value, bool) else str(value)


@click.group(cls=RectifyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="RECTIFY_DB", metavar="URL",
              help="数据库地址或 SQLite 文件路径 / database URL or SQLite path (default ./rectify.db; env RECTIFY_DB).")
@click.option("--now", "now_text", envvar="RECTIFY_NOW", metavar="WHEN",
              help="按此时间办理（写操作仅限管理员）/ act as if it were this time, YYYY-MM-DD[THH:MM] "
                   "(on a command that writes: administrators only; env RECTIFY_NOW).")
@click.option("--as", "actor", envvar="RECTIFY_USER", metavar="NAME",
              help="以此官员身份办理（写操作仅限管理员）/ act as this official "
                   "(on a command that writes: administrators only; env RECTIFY_USER).")
@click.option("--config", "config_path", envvar="RECTIFY_CONFIG", metavar="FILE",
              help="通知渠道配置文件 / notifier config: channels, retries (env RECTIFY_CONFIG, default ./rectify-notifiers.yaml).")
@click.option("--evidence-dir", envvar="RECTIFY_EVIDENCE_DIR", metavar="DIR",
              help="证据文件夹 / folder of the evidence files (default: beside the SQLite file, <db>.evidence; "
                   "required for PostgreSQL; env RECTIFY_EVIDENCE_DIR).")
@click.version_option(package_name="rectify", help="显示版本并退出 / Show the version and exit.")
@click.pass_context
def main(ctx: click.Context, db: str | None, now_text: str | None, actor: str | None,
         config_path: str | None, evidence_dir: str | None) -> None:
    """rectify — 整顿后进基层党组织工作流 / workflow engine for rectifying backward grassroots party organizations."""
    if now_text:  # a bad clock is bad input for every command, found before any work starts
        from engine.base.clock import parse_when

        parse_when(now_text)
    ctx.obj = Settings(db, now_text, actor, config_path, tuple(ctx.meta.get("rectify.argv", ())),
                       evidence_dir=evidence_dir)
    ctx.call_on_close(ctx.obj.close)
    _WARNED.clear()  # once per command (several run in one process under tests and scripts)
    _route(ctx, ctx.obj, db_given=db is not None)


def _route(ctx: click.Context, settings: Settings, db_given: bool) -> None:
    """Before the command runs: in a run the service started for a CLI client, check it
    (commands/remote.py); in client mode (logged in, no --db nor RECTIFY_DB), have the service
    carry it out instead, and end with its exit code (commands/client.py)."""
    from web.cli_assertion import ENV

    args = ctx.meta.get("rectify.command_args", [])
    if ENV in os.environ:
        from commands.remote import served_check

        served_check(ctx, settings, args)
        return
    if db_given:
        return
    from commands import client, remote

    if ctx.invoked_subcommand not in remote.LOCAL and client.client_mode(db_given):
        ctx.exit(client.run_remote(ctx, settings, args))


if __name__ == "__main__":
    main()
