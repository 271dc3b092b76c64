"""``rectify serve`` as the officials meet it: a real uvicorn process on a free loopback port,
and a client that keeps its cookies and sends each form's CSRF token like a browser does."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape

import httpx

from tests.runner import rectify_command
from tests.servers import free_port

RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
CSRF = re.compile(r'name="csrftoken" value="([^"]+)"')


@contextmanager
def served(db_url: str, now: str | None = None, env: dict[str, str] | None = None,
           workers: int = 1, user: str | None = None, port: int | None = None) -> Iterator[str]:
    """Start ``rectify serve`` on ``db_url`` (as the OS ``user``, when given: root only); yield its
    base URL once it answers; stop it after."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [*rectify_command(), "--db", db_url, *(["--now", now] if now else []), "serve", "--port", str(port),
            "--workers", str(workers), "--base-url", base]
    if user is not None:
        argv = [RUNUSER, "-u", user, "--", *argv]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env={**os.environ, **(env or {})}, text=True)
    try:
        _wait_until_up(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _wait_until_up(base: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout is not None else ""
            raise AssertionError(f"rectify serve exited {process.returncode}: {output}")
        try:
            if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling for the server to answer, not waiting for an outcome
    raise AssertionError(f"rectify serve did not answer within {timeout} s")


class Browser:
    """A browser's worth of behaviour: cookies kept, each form's CSRF token sent back. Every
    one made is closed by ``close_all`` (the tests' fixture calls it)."""

    made: list[Browser] = []

    @classmethod
    def close_all(cls) -> None:
        while cls.made:
            cls.made.pop().close()

    def __init__(self, base: str):
        Browser.made.append(self)
        self.base = base
        self.http = httpx.Client(base_url=base, follow_redirects=True, timeout=30)
        self.token = ""

    def get(self, path: str) -> httpx.Response:
        response = self.http.get(path)
        self._remember(response)
        return response

    def post(self, path: str, data: dict | None = None, files=None, csrf: bool = True) -> httpx.Response:
        fields = {**({"csrftoken": self.token} if csrf else {}), **(data or {})}
        response = self.http.post(path, data=fields, files=files)
        self._remember(response)
        return response

    def _remember(self, response: httpx.Response) -> None:
        found = CSRF.search(response.text)
        if found:
            self.token = unescape(found.group(1))

    def log_in(self, name: str, password: str) -> httpx.Response:
        self.get("/login")
        return self.post("/login", {"name": name, "password": password, "next": "/"})

    def accept(self, link: str, password: str) -> httpx.Response:
        path = link[len(self.base):] if link.startswith(self.base) else link
        self.get(path)
        return self.post(path, {"password": password, "repeat": password})

    def close(self) -> None:
        self.http.close()


def invitation_link(output: str) -> str:
    found = re.search(r"https?://\S+/invite/\S+", output)
    assert found, output
    return found.group(0)
