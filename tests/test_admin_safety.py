"""Administration is safe by default (issue 13, item 6).

Findings reproduced here: deactivating the last administrator silently re-opened bootstrap mode,
in which every login is an administrator; a township official performed the county's spot-check
draw; a notifier config in the current folder was read whoever owned it (a stranger's file
redirected every notice to his server).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from tests.county import ROOT
from tests.runner import Rectify, file_due, fingerprint


def test_the_last_active_administrator_cannot_be_deactivated_or_demoted(county_with_logins: Rectify, login):
    before = fingerprint(county_with_logins.db)
    for change in ("--inactive", "--no-admin"):
        out = county_with_logins("official", "update", "管理员", change, code=1).output
        assert "last active administrator" in out
    assert fingerprint(county_with_logins.db) == before
    county_with_logins("official", "update", "李明", "--admin")  # a second administrator first
    county_with_logins("official", "update", "管理员", "--inactive")
    login("liming")
    out = county_with_logins("official", "update", "李明", "--no-admin", code=1).output
    assert "last active administrator" in out


def test_bootstrap_never_comes_back_by_itself(county_with_logins: Rectify, login):
    """Even a database whose every administrator was deactivated by hand stays out of bootstrap:
    a stranger is refused, not trusted as an administrator."""
    engine = create_engine(county_with_logins.db)
    with engine.begin() as conn:
        conn.execute(text("UPDATE officials SET active = :no WHERE admin = :yes"), {"no": False, "yes": True})
    engine.dispose()
    login("stranger")
    out = county_with_logins("official", "add", "冒名", "--role", "county_department", "--jurisdiction", "X",
                             "--login", "stranger", "--admin", code=1).output
    assert "not mapped to an official" in out or "administrator" in out
    assert "no administrator is registered" not in out


def test_only_the_spot_check_role_draws(county_with_logins: Rectify, login):
    login("admin1")
    county_with_logins("case", "open", "T1-01", who="王强", now="2014-03-05")
    prepare_as_admin(county_with_logins)
    before = fingerprint(county_with_logins.db)
    login("wangq")
    out = county_with_logins("spot-check", "draw", "--seed", "mine", code=1).output
    assert "may draw the spot check" in out
    assert fingerprint(county_with_logins.db) == before
    login("liming")
    county_with_logins("spot-check", "announce")
    drawn = county_with_logins.json("spot-check", "draw")
    assert drawn["population"] == 1


def prepare_as_admin(run: Rectify) -> None:
    """tests/runner.py's ``prepare`` up to the spot check, which it draws too (the administrator
    may act for others)."""
    run("fire", "T1-01", "confirm", who="李明", now="2014-03-12")
    for name, value in [("plan_made", "是"), ("plan_published", "是"), ("contact_leader", "周建国"),
                        ("secretary_trained", "2014-03-28"), ("secretary_appointed", "张三"),
                        ("stationed_cadre", "驻村工作队")]:
        run("fact", "set", "T1-01", name, value, who="王强", now="2014-04-01")
    file_due(run, "T1", "王强", "2014-11-19")  # the township's progress reports
    run("fire", "T1-01", "submit_self_check", who="王强", now="2014-11-20")
    run("fact", "set", "T1-01", "self_check_report", "已完成自查", who="王强", now="2014-11-21")
    run("fire", "T1-01", "request_superior_check", who="王强", now="2014-11-22")
    run("fact", "set", "T1-01", "superior_check_opinion", "同意", who="王强", now="2014-11-24")
    run("fire", "T1-01", "pass_superior_check", who="王强", now="2014-11-24")


CONFIG = "channels:\n  hook: {type: webhook, url: 'http://127.0.0.1:9/stolen'}\n"


def notices_deliver(folder, db: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RECTIFY_CONFIG", "RECTIFY_NOW", "RECTIFY_USER")}
    return subprocess.run([sys.executable, "-c", "import cli; cli.main()", "--db", db, "--now", "2014-03-20",
                           "notices", "deliver"], cwd=folder, env={**env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_a_config_in_the_current_folder_is_read_only_if_it_is_the_users_own(rectify: Rectify, tmp_path):
    if not rectify.db.startswith("sqlite"):
        pytest.skip("the config's owner, not the database, is under test")
    config = tmp_path / "rectify-notifiers.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    config.chmod(0o664)  # the group may write to it
    done = notices_deliver(tmp_path, rectify.db)
    assert done.returncode == 2, done.stderr
    assert "others may write to it" in done.stderr
    assert "Traceback" not in done.stderr
    if os.geteuid() == 0:  # a file another user put there
        config.chmod(0o644)
        os.chown(config, 65534, 65534)
        done = notices_deliver(tmp_path, rectify.db)
        assert done.returncode == 2, done.stderr
        assert "is not yours" in done.stderr
        os.chown(config, 0, 0)
    config.chmod(0o644)
    done = notices_deliver(tmp_path, rectify.db)
    assert done.returncode == 0, done.stderr  # the user's own, nobody else may change it: read
