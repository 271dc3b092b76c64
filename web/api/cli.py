"""``POST /api/v1/cli``: a command of the CLI in client mode, carried out by the service.

The official's token says who calls. The service runs the real ``rectify`` on its own database
and evidence store, in a private temporary folder, with a short-lived signed assertion of who the
official is (web/cli_assertion.py) in its environment, stdin closed and a time limit. The files
the command line names never reach the server's disk under their own names: each input the client
uploaded is put in ``in/N/``, each output is written in ``out/N/`` and sent back, N being the
argument's place, and the argument rewritten to that path. The ``rectify`` process refuses any
other path argument before doing anything (commands/remote.py ``served_check``), which this
route answers with 400; the client never names a path on the server.

The request is a form: ``request``, a JSON document (``argv``: the command and its arguments,
without global options; ``as`` and ``now``: the global ``--as`` and ``--now``; ``inputs``: the
places of the uploaded files, each sent as the file field ``in<N>``; ``outputs``: the places of
the outputs, each a ``file`` or a ``folder``).
"""

from __future__ import annotations

import base64
import logging
import os
import posixpath
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import FormData, UploadFile

from engine.base.errors import BadInput
from engine.services.accounts import Authenticated
from engine.store.db import Store, sqlite_path
from engine.store.evidence_files import safe_file_name
from web import cli_assertion
from web.api.models import Strict
from web.auth import current_user
from web.uploads import CHUNK, UploadTooLarge, parse_form

router = APIRouter(prefix="/api/v1", tags=["命令行客户端 / CLI client"])
log = logging.getLogger("rectify.web")

TIMEOUT = 120  # seconds a command may run
# What one command's outputs may come to, sent back as base64 in the JSON answer (held in memory
# on both sides): RECTIFY_CLIENT_MAX_OUTPUT_MIB, 100 by default.
ENV_MAX_SENT = "RECTIFY_CLIENT_MAX_OUTPUT_MIB"


def max_sent() -> int:
    text = os.environ.get(ENV_MAX_SENT, "").strip()
    return int(text) * 2**20 if text.isdigit() else 100 * 2**20
COMMAND_WORD = re.compile(r"[a-z][a-z-]{0,30}")
# The service's own settings the run must not take from its environment: who acts, when, and on
# which database and evidence store are set here, from the service's configuration.
NOT_INHERITED = ("RECTIFY_DB", "RECTIFY_NOW", "RECTIFY_USER", "RECTIFY_EVIDENCE_DIR", cli_assertion.ENV)


class Output(Strict):
    index: int = Field(ge=1, le=1000)
    kind: Literal["file", "folder"]


class CliRequest(Strict):
    argv: list[Annotated[str, Field(max_length=8000)]] = Field(min_length=1, max_length=500)
    as_name: str | None = Field(default=None, alias="as", max_length=100)
    now: str | None = Field(default=None, max_length=50)
    inputs: list[Annotated[int, Field(ge=1, le=1000)]] = Field(default_factory=list, max_length=10)
    outputs: list[Output] = Field(default_factory=list, max_length=10)


class CliFile(BaseModel):
    path: str = Field(description="客户端所指定的位置 / where the client named it")
    content_base64: str


class CliResult(BaseModel):
    exit_code: int
    stdout: str
    stderr: str
    files: list[CliFile]


class Staged:
    """The run's temporary folder: the command line rewritten to it, and what to send back."""

    def __init__(self, folder: Path, argv: list[str]):
        self.folder = folder
        self.argv = list(argv)
        self.shown: dict[str, str] = {}  # a staged path → the client's own words for it
        self.outputs: list[tuple[str, str, str]] = []  # (staged path, the client's path, kind)

    def put(self, index: int, staged: str) -> None:
        self.shown[staged] = self.argv[index]
        self.argv[index] = staged

    def text(self, raw: bytes) -> str:
        """The command's output, with the staged paths given back their client's names."""
        text = raw.decode("utf-8", "replace")
        for staged, client in sorted(self.shown.items(), key=lambda item: -len(item[0])):
            text = text.replace(str(self.folder / staged), client).replace(staged, client)
        return text


async def _received(request: Request) -> tuple[Authenticated, FormData]:
    """Who calls (before anything of the body is read), then the form within the upload limits."""
    user = current_user(request)
    return user, await parse_form(request)


@router.post("/cli", response_model=CliResult,
             summary="命令行客户端：由服务办理一条 rectify 命令 / the CLI client: a rectify command carried out by the service")
def run_cli(request: Request, received: Annotated[tuple[Authenticated, FormData], Depends(_received)]) -> CliResult:
    user, form = received
    store = request.app.state.store
    asked = _asked(form)
    with tempfile.TemporaryDirectory(prefix="rectify-cli-") as folder:
        staged = _stage(Path(folder), asked, form, store.evidence_files.max_bytes)
        assertion = cli_assertion.sign(store, cli_assertion.Assertion(
            user.official, user.via, request.app.state.config.now_text, tuple(staged.shown)))
        argv = [*_rectify(), *([f"--as={asked.as_name}"] if asked.as_name else []),
                *([f"--now={asked.now}"] if asked.now else []), *staged.argv]
        try:
            done = subprocess.run(argv, cwd=folder, env=_environment(store, assertion), stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            return CliResult(exit_code=3, stdout="", files=[], stderr=(
                f"服务办理超过 {TIMEOUT} 秒，已中止；操作是否已生效请先查看再重试 / the command ran longer than {TIMEOUT} s "
                "on the service and was stopped: look whether it took effect before running it again\n"))
        log.info("CLI client %s (%s): rectify %s → exit %s", user.official, user.via, asked.argv[0], done.returncode)
        if done.returncode == cli_assertion.REQUEST_REFUSED:
            raise BadInput(staged.text(done.stderr).removeprefix("Error: ").strip())
        files = _sent_back(staged) if done.returncode == 0 else []
        size, limit = sum(f.stat().st_size for _, f in files), max_sent()
        if size > limit:  # held in memory as base64 JSON: a county's whole archive is not sent this way
            return CliResult(exit_code=2, stdout=staged.text(done.stdout), files=[], stderr=staged.text(done.stderr) + (
                f"命令已办理，但输出文件共 {size / 2**20:,.1f} MiB，超过客户端模式可取回的上限 {limit / 2**20:,.1f} MiB，未取回；"
                "请缩小范围（如 --unit）或请管理员在服务器上导出 / the command was carried out, but its outputs come to "
                f"{size / 2**20:,.1f} MiB, more than the client mode brings back ({limit / 2**20:,.1f} MiB): nothing was "
                "brought back; narrow it (e.g. --unit) or ask an administrator to export it on the server\n"))
        return CliResult(exit_code=done.returncode, stdout=staged.text(done.stdout), stderr=staged.text(done.stderr),
                         files=_encoded(files))


def _asked(form: FormData) -> CliRequest:
    raw = form.get("request")
    if not isinstance(raw, str):
        raise BadInput("请求缺少字段 request / the form has no 'request' field")
    try:
        asked = CliRequest.model_validate_json(raw)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise BadInput(f"请求缺少或填错了字段：{fields} / missing or malformed fields: {fields}") from None
    if not COMMAND_WORD.fullmatch(asked.argv[0]):  # global options are the service's to give, never the client's
        raise BadInput(f"命令须以命令名开头 / the command line must start with a command's name, not '{asked.argv[0]}'")
    places = [*asked.inputs, *(o.index for o in asked.outputs)]
    if len(set(places)) != len(places) or any(p >= len(asked.argv) for p in places):
        raise BadInput("输入、输出的位置重复或超出命令行 / an input's or output's place is repeated or beyond the "
                       "command line")
    return asked


def _stage(folder: Path, asked: CliRequest, form: FormData, max_bytes: int) -> Staged:
    """The uploads copied in, the outputs' folders made, the command line rewritten to them."""
    staged = Staged(folder, asked.argv)
    uploads = {key: value for key, value in form.multi_items() if key != "request"}
    if set(uploads) != {f"in{index}" for index in asked.inputs} or len(uploads) != len(form.multi_items()) - 1:
        raise BadInput("上传的文件与请求所列的输入不符 / the uploaded files do not match the inputs the request lists")
    for index in asked.inputs:
        upload = uploads[f"in{index}"]
        if not isinstance(upload, UploadFile):
            raise BadInput(f"输入 in{index} 不是文件 / the input in{index} is not a file")
        name = safe_file_name(Path(upload.filename or "file").name)
        (folder / "in" / str(index)).mkdir(parents=True)
        _copy(upload, folder / "in" / str(index) / name, max_bytes)
        staged.put(index, f"in/{index}/{name}")
    for output in asked.outputs:
        (folder / "out" / str(output.index)).mkdir(parents=True)
        client = asked.argv[output.index]
        path = f"out/{output.index}" if output.kind == "folder" else \
            f"out/{output.index}/{safe_file_name(posixpath.basename(client.rstrip('/')) or 'output')}"
        staged.put(output.index, path)
        staged.outputs.append((path, client, output.kind))
    return staged


def _copy(upload: UploadFile, target: Path, max_bytes: int) -> None:
    size = 0
    with open(target, "xb") as out:
        while chunk := upload.file.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise UploadTooLarge(f"“{upload.filename}”超过 {max_bytes >> 20} MiB，未办理 / '{upload.filename}' is "
                                     f"larger than {max_bytes >> 20} MiB: nothing was done")
            out.write(chunk)


def _sent_back(staged: Staged) -> list[tuple[str, Path]]:
    """Each output the command wrote, under the client's name for it; with no output named, what
    it wrote into its current folder (``evidence get``, ``ledger export`` write there by default)."""
    found: list[tuple[str, Path]] = []
    for path, client, kind in staged.outputs:
        where = staged.folder / path
        if kind == "file":
            found.append((client, where))
        else:
            found += [(posixpath.join(client, f.name), f) for f in sorted(where.iterdir())]
    if not staged.outputs:
        found += [(f.name, f) for f in sorted(staged.folder.iterdir())]
    return [(client, f) for client, f in found if f.is_file() and not f.is_symlink() and not f.name.startswith(".")]


def _encoded(files: list[tuple[str, Path]]) -> list[CliFile]:
    return [CliFile(path=client, content_base64=base64.b64encode(f.read_bytes()).decode("ascii")) for client, f in files]


def _rectify() -> list[str]:
    """The installed ``rectify`` beside this Python, or this Python running it (never importing
    from the temporary folder it runs in)."""
    script = Path(sys.executable).with_name("rectify")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; sys.path.pop(0); import cli; cli.main(prog_name='rectify')"]


def _environment(store: Store, assertion: str) -> dict[str, str]:
    """The service's environment for the run, with its database and evidence store (in the
    environment, not the command line: a database URL may carry a password) and the assertion."""
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env.update({"RECTIFY_DB": _absolute(store.url), cli_assertion.ENV: assertion, "PYTHONIOENCODING": "utf-8"})
    if store.evidence_files.configured:
        env["RECTIFY_EVIDENCE_DIR"] = str(store.evidence_files.root.resolve())
    return env


def _absolute(url: str) -> str:
    """The database's URL, a SQLite file's made absolute: the run's current folder is another."""
    from sqlalchemy.engine import make_url

    path = sqlite_path(url)
    if path is None or path.is_absolute():
        return url
    return make_url(url).set(database=str(path.resolve())).render_as_string(hide_password=False)
