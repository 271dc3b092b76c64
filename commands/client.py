"""The CLI in client mode: ``rectify login URL``, then the same commands carried out by the service.

``rectify login`` keeps the service's address and a CLI-client token in
``$XDG_CONFIG_HOME/rectify/client.json`` (``~/.config/rectify/client.json``; the file 0600, its
folder 0700). While that file exists and neither ``--db`` nor ``RECTIFY_DB`` is given, ``cli.main``
opens no database: ``run_remote`` sends the command line to ``POST /api/v1/cli`` with the token,
uploads the input files it names and writes the outputs the service sends back where the official
named them, prints what the command printed and exits with its code. ``--db`` always means direct
database access. The service carries out only what ``commands/remote.py`` allows.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import sys
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli import say, write_output
from commands import remote
from commands.valid_values import Command
from engine.base.errors import BadInput, DatabaseUnavailable, LoginRefused, RectifyError, Refused

if TYPE_CHECKING:
    import httpx

    from cli import Settings

LOGIN_SECONDS = 30.0
# The service gives a command two minutes (web/api/cli.py); the answer may take a little longer.
COMMAND_SECONDS = 150.0


@dataclass(frozen=True)
class Login:
    url: str
    official: str
    token: str


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    if not os.path.isabs(base):  # the XDG rule: a relative value is ignored
        base = os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "rectify" / "client.json"


def client_mode(db_given: bool) -> bool:
    """Whether a command is carried out by the service: logged in, and no database named."""
    return not db_given and config_path().exists()


def load() -> Login:
    path = config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Login(str(data["url"]), str(data["official"]), str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"客户端配置 {path} 无法读取，请重新运行 'rectify login URL'（或删除该文件）/ the client configuration "
                       f"{path} cannot be read ({exc}): run 'rectify login URL' again, or delete it") from exc


def save(login: Login) -> Path:
    """Keep ``login`` for this user alone: the folder 0700, the file 0600, written whole."""
    from engine.base.atomic import atomic_write

    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    with suppress(FileExistsError):  # atomic_write keeps an existing file's mode: create it private
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    os.chmod(path, 0o600)  # a file left looser by hand is made private before the token goes in
    text = json.dumps({"url": login.url, "official": login.official, "token": login.token}, ensure_ascii=False)
    atomic_write(path, lambda target: target.write_text(text + "\n", encoding="utf-8"))
    return path


# --- talking to the service -------------------------------------------------------------------------

def _base(url: str) -> str:
    base = url.strip().rstrip("/")
    if not base.startswith(("http://", "https://")) or any(c.isspace() for c in base):
        raise BadInput(f"服务地址须以 http:// 或 https:// 开头 / the service's address must start with http:// or "
                       f"https://: '{url}'")
    return base


def _request(base: str, method: str, path: str, seconds: float, token: str | None = None,
             **kwargs: Any) -> httpx.Response:
    """One request to the service; a service that cannot be reached is ``DatabaseUnavailable`` (exit 3)."""
    import httpx

    headers = {"authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx.Client(timeout=httpx.Timeout(seconds, connect=10.0)) as http:
            return http.request(method, f"{base}{path}", headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        raise DatabaseUnavailable(f"无法连接服务 {base}，未办理任何事项，请稍后重试 / cannot reach the service at {base} "
                                  f"({exc or type(exc).__name__}): nothing was done; try again in a moment") from exc


def _failed(response: httpx.Response) -> RectifyError:
    """The error a refused request stands for, with the service's message and exit code."""
    if response.status_code == 401:
        return LoginRefused("服务拒绝了令牌（已被撤销、过期或账户已停用），请重新登录：rectify login URL / the service "
                            "refused the token (revoked, expired, or the account disabled): log in again with "
                            "'rectify login URL'")
    try:
        body = response.json()
        message, code = str(body["error"]), int(body["exit_code"])
    except (ValueError, KeyError, TypeError):  # not the service's own answer (a proxy's error page)
        return DatabaseUnavailable(f"服务返回了意外的应答（HTTP {response.status_code}），请稍后重试 / the service "
                                   f"answered HTTP {response.status_code}, which was not expected: try again later")
    kind: type[RectifyError] = {2: BadInput, 3: DatabaseUnavailable}.get(code, Refused)
    return kind(message)


def _message(response: httpx.Response, default: str) -> str:
    try:
        return str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return default


# --- login, logout --------------------------------------------------------------------------------

@click.command("login", cls=Command)
@click.argument("url")
@click.option("--name", help="官员姓名（默认询问）/ your name as registered (asked if not given).")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码 / read the password from standard input.")
def login(url: str, name: str | None, password_stdin: bool) -> None:
    """登录服务，此后的命令由服务办理 / Log in to the service; commands are then carried out by it.

    用网页工作台的姓名和密码登录 URL 处的 rectify 服务，令牌保存在 ~/.config/rectify/client.json（仅本人可读）。此后 rectify 命令（不带 --db）交由服务以你的身份办理；'rectify logout' 退出。

    Logs in to the rectify service at URL with your web workspace name and password and keeps
    the token in ~/.config/rectify/client.json (readable by you alone). From then on rectify
    commands without --db are carried out by the service, as you; 'rectify logout' ends it."""
    base = _base(url)
    name = name or click.prompt("姓名 / name")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("密码 / password", hide_input=True)
    from engine.ops.identity import os_login

    client = f"rectify CLI {os_login()}@{socket.gethostname()}"[:100]
    response = _request(base, "POST", "/api/v1/login", LOGIN_SECONDS,
                        json={"name": name, "password": password, "client": client})
    if response.status_code == 401:  # a wrong name or password, or a locked account: the service says which
        raise LoginRefused(_message(response, "登录被拒绝 / the login was refused"))
    if response.status_code != 200:
        raise _failed(response)
    issued = response.json()
    previous = load() if config_path().exists() else None
    path = save(Login(base, str(issued["official"]), str(issued["token"])))
    if previous is not None:  # the token this one replaces is revoked, not left valid for a month
        with suppress(RectifyError):
            _request(previous.url, "POST", "/api/v1/logout", LOGIN_SECONDS, token=previous.token)
    say(f"已登录 / logged in: {issued['official']} at {base}（令牌保存在 / token kept in {path}）")
    say("此后不带 --db 的 rectify 命令由服务以你的身份办理；退出用 'rectify logout' / rectify commands without --db are now "
        "carried out by the service, as you; 'rectify logout' ends it")


@click.command("logout", cls=Command)
def logout() -> None:
    """退出客户端模式 / Log out: revoke the token and forget it.

    吊销本机保存的令牌并删除 ~/.config/rectify/client.json。

    Revokes the token kept here and deletes ~/.config/rectify/client.json."""
    path = config_path()
    if not path.exists():
        say("未登录，无需退出 / not logged in: nothing to do")
        return
    saved = load()
    try:
        response = _request(saved.url, "POST", "/api/v1/logout", LOGIN_SECONDS, token=saved.token)
    except DatabaseUnavailable as exc:
        path.unlink()  # this machine keeps no token after logout, even when the service could not be told
        raise DatabaseUnavailable(f"本机已删除令牌，但无法连接服务吊销它：到期前仍然有效，可请管理员用 'rectify token revoke' "
                                  f"吊销 / the token was deleted here, but the service could not be reached to revoke "
                                  f"it: it stays valid until it expires, or an administrator revokes it ('rectify token "
                                  f"revoke'). {exc}") from exc
    path.unlink()
    if response.status_code not in (204, 401):  # 401: the token was already revoked or expired
        raise _failed(response)
    say(f"已退出 / logged out: {saved.official} at {saved.url}")


# --- a command carried out by the service ----------------------------------------------------------

@dataclass(frozen=True)
class _Output:
    index: int
    local: str  # as the official named it
    kind: str  # "file", or "folder" (an existing folder to put the file in)


def run_remote(ctx: click.Context, settings: Settings, args: list[str]) -> int:
    """Have the service carry out ``args`` (what follows the global options); returns its exit code."""
    saved = load()
    parsed = remote.parse(ctx, args)  # refused here, before anything is sent, unless the service does it
    for option, name in (("--config", "config_path"), ("--evidence-dir", "evidence_dir")):
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
            say(f"提醒：{option} 只用于直接访问数据库，客户端模式下不发送给服务 / note: {option} is for direct database "
                "access: it is not sent to the service in client mode", err=True)
    offset = len(parsed.names)
    outputs = [_Output(p.index + offset, p.value, "folder" if os.path.isdir(p.value) else "file")
               for p in parsed.paths if p.role == remote.OUT]
    forced = parsed.remote.overwrite_flag in parsed.flags
    for output in outputs:
        _may_write(Path(output.local), parsed.remote.overwrite_flag if output.kind == "file" and not forced else None)
    body = {"argv": [*parsed.names, *parsed.args], "as": settings.actor, "now": settings.now_text,
            "inputs": [p.index + offset for p in parsed.paths if p.role == remote.IN],
            "outputs": [{"index": o.index, "kind": o.kind} for o in outputs]}
    with ExitStack() as files:
        uploads = [(f"in{p.index + offset}", (os.path.basename(p.value), files.enter_context(_opened(p.value)),
                                              "application/octet-stream"))
                   for p in parsed.paths if p.role == remote.IN]
        response = _request(saved.url, "POST", "/api/v1/cli", COMMAND_SECONDS, token=saved.token,
                            data={"request": json.dumps(body, ensure_ascii=False)}, files=uploads or None)
    if response.status_code != 200:
        raise _failed(response)
    result = response.json()
    if parsed.names == ("whoami",):
        say(f"客户端模式 / client mode: {saved.official} at {saved.url}")
    stderr = str(result.get("stderr", ""))
    if stderr:
        say(stderr, err=True, nl=False)
    _write_files(result.get("files") or [], outputs, parsed, forced)
    say(str(result.get("stdout", "")), nl=False)
    return int(result["exit_code"])


def _opened(path: str):
    if not os.path.isfile(path):
        raise BadInput(f"文件不存在或不是普通文件 / no such file, or not a regular file: {path}")
    try:
        return open(path, "rb")  # closed by the caller's ExitStack, after the upload
    except OSError as exc:
        raise BadInput(f"无法读取 / cannot read {path}: {exc.strerror or exc}") from exc


def _may_write(target: Path, overwrite_flag: str | None) -> None:
    """Refuse, before anything is sent, an output that could not be written here."""
    if overwrite_flag and (target.exists() or target.is_symlink()):
        raise BadInput(f"{target} 已存在，未覆盖 / {target} already exists: give --{overwrite_flag} to overwrite it, "
                       "or another -o PATH")
    folder = target if target.is_dir() else target.parent
    if not folder.is_dir():
        raise BadInput(f"无法写入 / cannot write {target}: 文件夹不存在 / no such folder {folder}")


def _write_files(files: list[dict[str, Any]], outputs: list[_Output], parsed: remote.Parsed, forced: bool) -> None:
    """Write what the service sent back, each where the official named it (or, for a command that
    writes into the current folder by default, here): never anywhere else, whatever it says."""
    exact = {o.local for o in outputs if o.kind == "file"}
    folders = [o.local for o in outputs if o.kind == "folder"]
    if parsed.remote.default_output and not outputs:
        folders.append("")
    for item in files:
        path = str(item.get("path", ""))
        if path not in exact and not any(_inside(path, folder) for folder in folders):
            raise BadInput(f"服务发回的文件不在所指定的位置，未写入 / the service sent back a file for a place that was "
                           f"not named ({path!r}): nothing was written there")
        if path not in exact and parsed.remote.overwrite_flag and not forced and os.path.lexists(path):
            raise BadInput(f"{path} 已存在，未覆盖 / {path} already exists: give --{parsed.remote.overwrite_flag} to "
                           "overwrite it, or another -o PATH")
        data = base64.b64decode(str(item.get("content_base64", "")), validate=True)
        write_output(Path(path), lambda target, data=data: target.write_bytes(data))


def _inside(path: str, folder: str) -> bool:
    """``path`` is one plain, visible file name directly in ``folder`` ("" for the current one)."""
    name = path
    if folder:
        prefix = folder if folder.endswith("/") else f"{folder}/"
        if not path.startswith(prefix):
            return False
        name = path[len(prefix):]
    return bool(name) and not name.startswith(".") and not any(c in name for c in "/\\\x00")
