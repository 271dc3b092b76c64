"""What the CLI in client mode may have the service carry out, and which of its arguments are files.

Both ends of client mode read this module: the client (commands/client.py) refuses anything else
before sending, uploads the input files and fetches the outputs; the ``rectify`` process the
service runs for it (``served_check``, under the service's signed assertion, web/cli_assertion.py)
checks the command again and refuses any path argument that is not one of the files the service
staged in its private temporary folder, before the command runs. The check belongs in that
process: it is the one that would open the files, and it has the commands' own click parameters
(the route, web/api/cli.py, cannot import commands/: it sits below them in the layers).

The command line is read with each command's own click parser, strictly, and without converting
values: a ``click.Path`` is never looked at on the disk of the side that reads it, and an unknown
option stops the reading instead of leaving the arguments after it unseen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from engine.base.errors import Refused

if TYPE_CHECKING:
    from cli import Settings
    from engine.services import Caller

IN, OUT = "in", "out"


@dataclass(frozen=True)
class Remote:
    """A command the service carries out for a client, and what its path parameters are."""

    paths: dict[str, str] = field(default_factory=dict)  # path parameter → IN (uploaded) or OUT (sent back)
    default_output: bool = False  # with no output named, it writes into the current folder
    overwrite_flag: str | None = None  # the flag without which an existing file is left alone


PLAIN = Remote()
# What officials do. Administrative and local commands (init, demo, serve, daemon, workflow,
# rules, org import/template, ledger import, official add/update/invite/reset/disable/accounts,
# timers, notices deliver/retry) run on the server under the service account, not from a client.
ALLOWED: dict[tuple[str, ...], Remote] = {
    ("whoami",): PLAIN,
    ("case", "list"): PLAIN, ("case", "show"): PLAIN, ("case", "open"): PLAIN,
    ("history",): PLAIN, ("fact", "set"): PLAIN, ("fact", "clear"): PLAIN, ("fire",): PLAIN,
    ("survey", "record"): PLAIN,
    ("evidence", "add"): Remote({"files": IN}),
    ("evidence", "list"): PLAIN,
    ("evidence", "get"): Remote({"output": OUT}, default_output=True, overwrite_flag="force"),
    ("duty", "list"): PLAIN, ("duty", "submit"): Remote({"files": IN}), ("duty", "return"): PLAIN,
    ("duty", "history"): PLAIN,
    ("problem", "add"): PLAIN, ("problem", "update"): PLAIN, ("problem", "close"): PLAIN,
    ("problem", "reopen"): PLAIN, ("problem", "list"): PLAIN,
    ("notices", "list"): PLAIN, ("notices", "show"): PLAIN, ("notices", "preview"): PLAIN,
    ("notices", "docx"): Remote({"output": OUT}, default_output=True),
    ("report",): Remote({"html_path": OUT}), ("quota",): PLAIN, ("bulletin",): Remote({"docx_path": OUT}),
    ("ledger", "export"): Remote({"output": OUT, "package": OUT}, default_output=True),
    ("person", "list"): PLAIN, ("person", "show"): PLAIN, ("person", "add"): PLAIN, ("person", "update"): PLAIN,
    ("person", "deactivate"): PLAIN, ("person", "assign"): PLAIN, ("person", "unassign"): PLAIN,
    ("org", "list"): PLAIN, ("org", "secretary"): PLAIN, ("org", "secretaries"): PLAIN,
    ("official", "list"): PLAIN,
    ("spot-check", "announce"): PLAIN, ("spot-check", "draw"): PLAIN, ("spot-check", "list"): PLAIN,
    ("spot-check", "verify"): PLAIN,
    ("audit", "verify"): Remote({"checkpoint_file": IN}), ("audit", "checkpoint"): Remote({"output": OUT}),
    ("audit", "export"): Remote({"output": OUT}), ("audit", "refusals"): PLAIN,
    ("token", "list"): PLAIN, ("token", "issue"): PLAIN, ("token", "revoke"): PLAIN,
}
# Run by the client itself, never sent.
LOCAL = ("login", "logout")


@dataclass(frozen=True)
class PathArgument:
    index: int  # its place in the (normalised) arguments after the command's name
    label: str  # how the command names it: --output, FILES
    role: str  # IN or OUT
    value: str  # as typed


@dataclass(frozen=True)
class Parsed:
    names: tuple[str, ...]  # the command: ("evidence", "add")
    remote: Remote
    args: list[str]  # what follows the names, with "--opt=value" written as two arguments
    paths: list[PathArgument]
    flags: frozenset[str]  # the flags given, by parameter name (``overwrite_flag``)


def resolve(ctx: click.Context, args: list[str]) -> tuple[tuple[str, ...], click.Command, list[str]]:
    """The (sub-)command ``args`` name from the root group of ``ctx``, and what follows it."""
    command: click.Command = ctx.command
    names: list[str] = []
    rest = list(args)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(ctx, rest[0])
        if sub is None:
            raise click.UsageError(f"没有这个命令 / no such command: '{' '.join([*names, rest[0]])}'")
        names.append(rest.pop(0))
        command = sub
    return tuple(names), command, rest


def allowed(names: tuple[str, ...]) -> Remote | None:
    """How the service carries ``names`` out for a client; None when it does not. A group named
    alone (its help) is allowed when one of its commands is."""
    if names in ALLOWED:
        return ALLOWED[names]
    if names and any(key[:len(names)] == names for key in ALLOWED):
        return PLAIN
    return None


def not_remote(names: tuple[str, ...]) -> Refused:
    command = " ".join(["rectify", *names])
    return Refused(f"“{command}”是管理或本机命令，须在服务器上以服务账户运行（或用 --db 直接访问数据库），不能通过客户端办理 / "
                   f"'{command}' is administrative or local: it runs on the server under the service account (or "
                   "with --db, directly on the database), not through the CLI client")


def parse(ctx: click.Context, args: list[str]) -> Parsed:
    """``args`` (what follows the global options) read as the client mode reads them: the command
    must be one the service carries out (``Refused`` otherwise), every path argument must be a
    classified one written as an argument of its own (``click.UsageError`` otherwise)."""
    names, command, rest = resolve(ctx, args)
    remote = allowed(names)
    if remote is None:
        raise not_remote(names)
    rest = normalised(command, rest)
    opts = _parsed_options(command, rest)
    paths = []
    for param in command.params:
        if not isinstance(param.type, click.Path | click.File):
            continue
        label = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
        for value in _values(opts.get(param.name or "")):
            role = remote.paths.get(param.name or "")
            if role is None:
                raise click.UsageError(f"{label} 指向文件，客户端模式下不能使用 / {label} names a file, which "
                                       "the CLI client cannot pass to the service")
            if not isinstance(value, _Token):
                raise click.UsageError(f"请把 {label} 的路径作为单独的参数写出 / give the path of {label} as an "
                                       f"argument of its own: {label} PATH")
            paths.append(PathArgument(value.place, label, role, str(value)))
    flags = frozenset(name for name, value in opts.items() if value is True)
    return Parsed(names, remote, rest, paths, flags)


class _Token(str):
    """An argument that remembers its place, so a value the parser hands back can be traced to it."""

    place: int


def _tokens(args: list[str]) -> list[str]:
    tokens: list[str] = []
    for place, arg in enumerate(args):
        token = _Token(arg)
        token.place = place
        tokens.append(token)
    return tokens


def _parsed_options(command: click.Command, args: list[str]) -> dict[str, Any]:
    ctx = click.Context(command, info_name=command.name)
    opts, _, _ = command.make_parser(ctx).parse_args(args=_tokens(args))
    return opts


def _values(raw: Any) -> list[Any]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list | tuple):
        return [v for v in raw if isinstance(v, str)]
    return []  # not given (click's UNSET)


def _value_options(command: click.Command) -> dict[str, int]:
    """Every spelling of an option that takes a value, with how many it takes."""
    taking: dict[str, int] = {}
    for param in command.params:
        if isinstance(param, click.Option) and not param.is_flag and not param.count:
            for spelling in (*param.opts, *param.secondary_opts):
                taking[spelling] = param.nargs
    return taking


def normalised(command: click.Command, args: list[str]) -> list[str]:
    """``args`` with an option's attached value (``--output=x``, ``-ox``) made an argument of its
    own, as click reads it anyway: then each value is an argument with a place."""
    taking = _value_options(command)
    out: list[str] = []
    pending, literal = 0, False
    for arg in args:
        if pending or literal:
            pending = max(pending - 1, 0)
            out.append(arg)
            continue
        if arg == "--":
            literal = True
            out.append(arg)
            continue
        name, value = _attached(arg, taking)
        if name is not None and value is not None:
            out += [name, value]
            continue
        out.append(arg)
        pending = taking.get(arg, 0)
    return out


def _attached(arg: str, taking: dict[str, int]) -> tuple[str | None, str | None]:
    if arg.startswith("--") and "=" in arg:
        name, _, value = arg.partition("=")
        if taking.get(name) == 1:
            return name, value
    elif arg.startswith("-") and not arg.startswith("--") and len(arg) > 2 and taking.get(arg[:2]) == 1:
        return arg[:2], arg[2:]
    return None, None


# --- the rectify process the service runs for a client --------------------------------------------

def served_check(ctx: click.Context, settings: Settings, args: list[str]) -> None:
    """Run by the ``rectify`` process the service started for a client, before the command: the
    assertion must be the service's (``PermissionDenied``), the command one it carries out
    (``Refused``), and every path argument one the service staged (exit ``REQUEST_REFUSED``)."""
    from web.cli_assertion import ENV, REQUEST_REFUSED, verify

    asserted = verify(settings.store, os.environ.get(ENV, ""))
    try:
        parsed = parse(ctx, args)
    except click.UsageError as exc:
        raise _request_refused(exc.format_message(), REQUEST_REFUSED) from None
    for path in parsed.paths:
        if path.value not in asserted.paths:
            raise _request_refused(f"{path.label} 只能指向客户端上传的文件或发回客户端的输出，不能是服务器上的路径 / "
                                   f"{path.label} may only name a file the client uploaded or an output sent back to "
                                   f"it, never a path on the server: '{path.value}'", REQUEST_REFUSED)


def _request_refused(message: str, code: int) -> click.ClickException:
    error = click.ClickException(message)
    error.exit_code = code
    return error


def asserted_caller(settings: Settings, command: str) -> Caller:
    """The caller of a run the service started for a client: the official its assertion names,
    acting via the CLI client, on the service's clock unless the client asked for another (which
    is an administrator's, as ``--now`` always is)."""
    from engine.services import Caller
    from web.cli_assertion import ENV, verify

    asserted = verify(settings.store, os.environ.get(ENV, ""))
    asked = settings.now_text
    return Caller(login=f"{asserted.via}:{asserted.official}", as_name=settings.actor,
                  now_text=asked or asserted.now, command=command, official=asserted.official, via=asserted.via,
                  service_clock=asked is None and asserted.now is not None)
