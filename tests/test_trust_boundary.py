"""The service is the trust boundary, shown with real operating-system users: the database and
the evidence files belong to the service account (rectsvc, a 0700 folder); an official (the OS
user rectoff) logs in with the CLI client and fires a transition through the service; the
``sitecustomize`` that patches ``pwd.getpwuid`` and a direct ``sqlite3`` edit, which made an
official the administrator when officials shared the database file, get nothing; a token revoked
by the administrator stops at once. Needs root (CI runs as root) to make the users."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.runner import Rectify, build_county
from tests.servers import free_port
from tests.test_docs_run import GROUP, _ensure_group, _ensure_user, python_reachable
from tests.webserver import RUNUSER, invitation_link, served

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="creates throwaway OS users: needs root (CI runs as root)")]

SERVICE, OFFICIAL = "rectsvc", "rectoff"
PASSWORD = "zhengdun-2014"
NOW = "2014-03-12"
SPOOF = """\
import pwd, os
_real = pwd.getpwuid
def _spoofed(uid):  # every process of this user now claims to be the service account
    return _real(pwd.getpwnam("rectsvc").pw_uid)
pwd.getpwuid = _spoofed
os.geteuid = lambda: pwd.getpwnam("rectsvc").pw_uid
"""


@pytest.fixture
def place() -> Iterator[Path]:
    made_group = _ensure_group(GROUP)  # the docs test's group: _ensure_user puts new users in it
    made = [u for u in (SERVICE, OFFICIAL) if _ensure_user(u)]
    top = Path(tempfile.mkdtemp(prefix="rectify-trust-", dir="/tmp"))
    top.chmod(0o755)
    try:
        with python_reachable():
            yield top
    finally:
        for login in made:
            subprocess.run(["userdel", login], check=False, capture_output=True)
        if made_group:
            subprocess.run(["groupdel", GROUP], check=False, capture_output=True)
        shutil.rmtree(top, ignore_errors=True)


def as_user(login: str, argv: list[str], env: dict[str, str], stdin: str | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RUNUSER, "-u", login, "--", *argv], env=env, input=stdin, capture_output=True, text=True,
                          timeout=300, check=False, cwd=cwd)


def home_of(top: Path, login: str) -> dict[str, str]:
    home = top / f"home-{login}"
    home.mkdir(mode=0o700)
    user = pwd.getpwnam(login)
    os.chown(home, user.pw_uid, user.pw_gid)
    return {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"), "LANG": "C.UTF-8"}


def the_service_owns(folder: Path) -> None:
    """Everything under ``folder`` to the service account, readable by it alone."""
    user = pwd.getpwnam(SERVICE)
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)
        path.chmod(0o700 if path.is_dir() else 0o600)


def test_the_service_is_the_boundary(place: Path):
    service = place / "service"
    service.mkdir()
    db = service / "rectify.db"
    run = Rectify(f"sqlite:///{db}")
    build_county(run, service)
    run("case", "open", "T1-01", "--problem", "2", who="王强", now="2014-03-05")
    run("official", "add", "管理员", "--role", "county_department", "--jurisdiction", "X", "--login", SERVICE,
        "--admin")
    the_service_owns(service)
    svc_env, official_env = home_of(place, SERVICE), home_of(place, OFFICIAL)
    rectify = shutil.which("rectify", path=svc_env["PATH"]) or "rectify"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    invited = as_user(SERVICE, [rectify, "--db", str(db), "official", "invite", "李明", "--url", base], svc_env)
    assert invited.returncode == 0, invited.stderr
    link = invitation_link(invited.stdout)
    with served(str(db), now=NOW, user=SERVICE, port=port, env=svc_env):
        form = httpx.Client(base_url=base)  # 李明 accepts the invitation in a browser
        page = form.get(link.removeprefix(base))
        token = page.text.split('name="csrftoken" value="')[1].split('"')[0]
        done = form.post(link.removeprefix(base), data={"csrftoken": token, "password": PASSWORD, "repeat": PASSWORD})
        assert done.status_code == 200, done.text
        form.close()

        # the official cannot even open the database: the folder is the service account's
        direct = as_user(OFFICIAL, [rectify, "--db", str(db), "case", "list"], official_env)
        assert direct.returncode != 0
        assert "Traceback" not in direct.stderr

        logged = as_user(OFFICIAL, [rectify, "login", base, "--name", "李明", "--password-stdin"], official_env,
                         stdin=PASSWORD + "\n")
        assert logged.returncode == 0, logged.stderr
        fired = as_user(OFFICIAL, [rectify, "fire", "2014-1-0001", "confirm", "--note", "县委组织部确认"], official_env)
        assert fired.returncode == 0, fired.stdout + fired.stderr

        # the spoof of the shared-database days: rectoff's processes all claim to be rectsvc
        spoof = place / "spoof"
        spoof.mkdir()
        (spoof / "sitecustomize.py").write_text(SPOOF, encoding="utf-8")
        spoof.chmod(0o755)
        spoofed = {**official_env, "PYTHONPATH": str(spoof)}
        whoami = as_user(OFFICIAL, [sys.executable, "-c", "import pwd, os; print(pwd.getpwuid(os.geteuid()).pw_name)"],
                         spoofed)
        assert whoami.stdout.strip() == SERVICE  # the spoof works on the process itself
        promoted = as_user(OFFICIAL, [rectify, "--db", str(db), "official", "update", "李明", "--admin"], spoofed)
        assert promoted.returncode != 0
        edited = as_user(OFFICIAL, [sys.executable, "-c",
                                    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                                    "c.execute(\"update officials set admin = 1 where name = '李明'\"); c.commit()",
                                    str(db)], official_env)
        assert edited.returncode != 0
        assert "unable to open database file" in edited.stderr
        if shutil.which("sqlite3"):
            cli_edit = as_user(OFFICIAL, ["sqlite3", str(db), "update officials set admin = 1"], official_env)
            assert cli_edit.returncode != 0

        # through the service, 李明 is still himself: an administrator's act is refused
        refused = as_user(OFFICIAL, [rectify, "official", "invite", "王强"], official_env)
        assert refused.returncode == 1

        # the administrator revokes the token: the next command of the client fails at once
        listed = as_user(SERVICE, [rectify, "--db", str(db), "token", "list", "--for", "李明", "--json"], svc_env)
        assert listed.returncode == 0, listed.stderr
        tokens = json.loads(listed.stdout)
        rows = tokens["rows"] if isinstance(tokens, dict) else tokens
        assert rows
        for token_id in [t["id"] for t in rows]:
            revoked = as_user(SERVICE, [rectify, "--db", str(db), "token", "revoke", str(token_id)], svc_env)
            assert revoked.returncode == 0, revoked.stderr
        after = as_user(OFFICIAL, [rectify, "case", "list"], official_env)
        assert after.returncode == 1, after.stdout + after.stderr
        assert "rectify login" in after.stderr

    history = as_user(SERVICE, [rectify, "--db", str(db), "--now", NOW, "history", "2014-1-0001", "--json"], svc_env)
    events = json.loads(history.stdout)
    confirm = [e for e in events if e["trigger"] == "confirm"]
    assert confirm
    assert confirm[0]["actor"] == "李明"
    assert confirm[0]["data"]["via"] == "cli"
    officials = as_user(SERVICE, [rectify, "--db", str(db), "official", "list", "--json"], svc_env)
    assert officials.returncode == 0, officials.stderr
    listed_officials = json.loads(officials.stdout)
    rows = listed_officials["rows"] if isinstance(listed_officials, dict) else listed_officials
    assert next(o for o in rows if o["name"] == "李明")["admin"] is False  # neither spoof nor edit made him one
    verified = as_user(SERVICE, [rectify, "--db", str(db), "audit", "verify"], svc_env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
