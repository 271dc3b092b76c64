"""Every command README.md and docs/*.md show runs as written.

The ```bash blocks of README.md, then of each docs/*.md, run in order, in one scratch folder
(one database, as the README's county), each line in a process of its own running as the
operating-system user the text names: a comment saying ``(login NAME)`` switches to that
login for the lines after it; before any, the commands are the administrator's (张敏, login
zhangmin, who sets the county up in the README). The logins are throwaway users created for
the test in the group the README shares the database with (``rectify init --group rectify``),
so the test needs root (CI runs as root) and is skipped otherwise. Each line runs in bash as
that user (``runuser``): the identity is the real effective user, nothing is mapped.

A line fails the test when it exits non-zero, unless its comment starts with "refused" (then
it must exit 1: the README shows a rule refusing). Lines that are not rectify's to run here
(installing, the test suite itself, the benchmarks, a service that runs until stopped) are
listed in ``NOT_RUN`` with the reason; any other line is run, so a new command in the docs is
tested the day it is written.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.county import ROOT

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="creates throwaway OS users: needs root (CI runs as root)")]

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ADMIN = "zhangmin"  # the README's administrator, who sets the county up
GROUP = "rectify"  # the OS group the README's `rectify init --group` shares the database with
NOT_RUN = {  # a line's start → why the test does not run it
    "pip install": "installs rectify (the test runs the installed one)",
    "python -m pytest": "the test suite itself",
    "RECTIFY_UPDATE_DOCS=1 python -m pytest": "the test suite itself",
    "ruff check": "lint, run by .ci/run",
    "bash .ci/run": "CI itself",
    "python -m benchmarks.run": "the benchmarks take minutes (their smoke run is tests/test_benchmarks_smoke.py)",
}
SERVICE = re.compile(r"^rectify daemon(\s+--interval\s+\S+)?\s*(#.*)?$")  # runs until stopped
WEB_SERVICE = re.compile(r"^rectify( --\S+ \S+)* serve\b")  # runs until stopped
LOGIN = re.compile(r"\(login (\w+)\)")
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"  # util-linux, in every Debian base
COMMAND_SECONDS = 600  # the longest, a simulated year of the daemon, takes seconds


@dataclass(frozen=True)
class Line:
    doc: str
    number: int
    text: str
    login: str

    @property
    def comment(self) -> str:
        return self.text.split(" #", 1)[1].strip() if " #" in self.text else ""

    @property
    def expects_refusal(self) -> bool:
        return self.comment.lower().startswith("refused")


def shell_lines() -> Iterator[Line]:
    """The command lines of every ```bash block, in order, each with the login that runs it."""
    for doc in DOCS:
        login = ADMIN
        inside = False
        for number, raw in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1):
            if raw.startswith("```"):
                inside = raw.strip() in ("```bash", "```sh", "```shell") and not inside
                continue
            if not inside or not raw.strip():
                continue
            text = raw.strip()
            switch = LOGIN.search(text) if text.startswith("#") else None
            if switch:
                login = switch.group(1)
            if text.startswith("#"):
                continue
            yield Line(doc.relative_to(ROOT).as_posix(), number, text, login)


def why_not_run(line: Line) -> str | None:
    for start, reason in NOT_RUN.items():
        if line.text.startswith(start):
            return reason
    if SERVICE.match(line.text):
        return "a service that runs until stopped (its loop is tested in tests/test_daemon.py)"
    if WEB_SERVICE.match(line.text):
        return "the web service runs until stopped (tests/test_web.py drives it over HTTP)"
    return None


def test_the_docs_name_only_logins_the_test_can_create():
    logins = {line.login for line in shell_lines()}
    assert ADMIN in logins
    assert all(re.fullmatch(r"[a-z][a-z0-9]{1,15}", login) for login in logins), logins


@pytest.fixture
def scratch() -> Iterator[tuple[Path, dict[str, dict[str, str]]]]:
    """The county's folder, owned by the administrator who sets it up (``rectify init --group
    rectify`` shares it with the group), and each login's own environment: a home of its own
    (the workflow cache lives there), nothing inherited from root but PATH."""
    logins = sorted({line.login for line in shell_lines()})
    made_users: list[str] = []
    made_group = _ensure_group(GROUP)
    top = Path(tempfile.mkdtemp(prefix="rectify-docs-", dir="/tmp"))
    try:
        top.chmod(0o755)
        envs = {}
        for login in logins:
            if _ensure_user(login):
                made_users.append(login)
            home = top / f"home-{login}"
            home.mkdir(mode=0o700)
            user = pwd.getpwnam(login)
            os.chown(home, user.pw_uid, user.pw_gid)
            envs[login] = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home),
                           "LANG": "C.UTF-8", "CI": "true"}
        county = top / "county"
        county.mkdir(mode=0o750)
        admin = pwd.getpwnam(ADMIN)
        os.chown(county, admin.pw_uid, admin.pw_gid)
        yield county, envs
    finally:
        for login in made_users:
            subprocess.run(["userdel", login], check=False, capture_output=True)
        if made_group:
            subprocess.run(["groupdel", GROUP], check=False, capture_output=True)
        shutil.rmtree(top, ignore_errors=True)


def _ensure_group(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return False
    except KeyError:
        subprocess.run(["groupadd", name], check=True, capture_output=True)
        return True


def _ensure_user(login: str) -> bool:
    try:
        pwd.getpwnam(login)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/bash", "--gid", GROUP, login],
                       check=True, capture_output=True)
        return True
    subprocess.run(["usermod", "--append", "--groups", GROUP, login], check=True, capture_output=True)
    return False


@contextmanager
def python_reachable() -> Iterator[None]:
    """Let the throwaway users reach the Python that runs rectify while the test runs: a folder
    above it that others may not pass through (``/root``, when pyenv lives there) gets ``o+x``
    (passing through, not listing) and its mode back afterwards."""
    changed: list[tuple[Path, int]] = []
    try:
        for place in {Path(sys.prefix), Path(sys.base_prefix), ROOT}:
            for folder in reversed(place.resolve().parents):
                mode = stat.S_IMODE(folder.stat().st_mode)
                if not mode & stat.S_IXOTH:
                    changed.append((folder, mode))
                    folder.chmod(mode | stat.S_IXOTH)
        yield
    finally:
        for folder, mode in reversed(changed):
            folder.chmod(mode)


def run_as(login: str, line: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``line`` in bash as ``login`` (a real process of that user) in ``folder``."""
    return subprocess.run([RUNUSER, "-u", login, "--", "bash", "-c", f"umask 007; {line}"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=COMMAND_SECONDS, check=False)


def test_every_command_the_readme_and_docs_show_runs_as_written(scratch):
    folder, envs = scratch
    exports: dict[str, str] = {}
    ran, skipped, took = 0, [], []
    with python_reachable():
        for line in shell_lines():
            reason = why_not_run(line)
            if reason:
                skipped.append((line, reason))
                continue
            if line.text.startswith("export "):
                name, _, value = shlex.split(line.text, comments=True)[1].partition("=")
                exports[name] = value
                continue
            started = time.monotonic()
            done = run_as(line.login, line.text, folder, {**envs[line.login], **exports})
            took.append((time.monotonic() - started, f"{line.doc}:{line.number}"))
            wanted = 1 if line.expects_refusal else 0
            assert done.returncode == wanted, (f"{line.doc}:{line.number} as {line.login}: {line.text}\n"
                                               f"exit {done.returncode}, wanted {wanted}\n{done.stdout[-3000:]}\n"
                                               f"{done.stderr[-3000:]}")
            assert "Traceback" not in done.stderr, f"{line.doc}:{line.number}: {done.stderr[-3000:]}"
            ran += 1
    print("slowest:", sorted(took, reverse=True)[:5])  # shown with -s: what to look at when it slows down
    assert ran >= 40, f"only {ran} commands ran: the docs lost their session?"
    assert len(skipped) <= 12, [f"{line.doc}:{line.number} {line.text}" for line, _ in skipped]
