"""A short command loads only what it needs, and a deployed workflow is checked once, not per process.

Issue 7 gives ``rectify case show`` and the like a start-up budget (2× ``import sqlalchemy``).
Timings on a shared machine are flaky, so these tests pin down the causes instead: which
libraries a real process imports, and what the per-user cache of checked workflows
(``engine.ops.deploy``) does with good, damaged, stale and untrusted entries.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from engine.ops import deploy
from engine.spec.loader import load_workflow_file
from engine.store.models import WorkflowVersion
from tests.conftest import ROOT, WORKFLOW
from tests.runner import Rectify, build_county

# Libraries only some commands need: documents, spreadsheets, the browser, the YAML reader
# and the holiday data (checking or deploying a workflow), migrations (init).
NEVER_FOR_SHORT_COMMANDS = {"yaml", "openpyxl", "docx", "playwright", "chinese_calendar", "alembic", "lxml", "PIL"}
CHECKING = {"engine.spec.validate", "engine.base.yamlsafe"}  # re-checking a deployed workflow

PROBE = """
import json, os, sys
import cli
try:
    cli.main(sys.argv[1:], standalone_mode=False)
finally:
    with open(os.environ["RECTIFY_TEST_MODULES"], "w") as out:
        json.dump(sorted(sys.modules), out)
"""


def loaded_by(tmp_path: Path, *args: str, cache: Path) -> set[str]:
    """The modules a real ``rectify ARGS`` process has imported when it ends."""
    listing = tmp_path / "modules.json"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "RECTIFY_TEST_MODULES": str(listing)}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return set(json.loads(listing.read_text()))


def packages(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_importing_the_cli_loads_no_engine_library(tmp_path):
    code = "import cli, json, sys; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    heavy = {"sqlalchemy", "pydantic", "jinja2", "rich", "transitions", "dateutil"} | NEVER_FOR_SHORT_COMMANDS
    assert packages(set(json.loads(done.stdout))) & heavy == set()


@pytest.fixture
def opened_county(tmp_path, monkeypatch) -> Rectify:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "in-process-cache"))
    run = Rectify(f"sqlite:///{tmp_path / 'county.db'}")
    build_county(run, tmp_path)
    run("case", "open", "T1-01", who="王强", now="2014-03-05")
    run("case", "open", "T1-02", who="王强", now="2014-03-05")
    return run


@pytest.mark.slow
def test_short_commands_load_only_what_they_need(opened_county, tmp_path):
    cache = tmp_path / "cache"
    db = ["--db", opened_county.db]
    cold = loaded_by(tmp_path, *db, "case", "show", "T1-01", cache=cache)
    assert cold >= CHECKING  # the first process checks the deployed workflow and keeps it
    entries = list((cache / "rectify").glob("workflow-*.pickle"))
    assert len(entries) == 1

    for args in (["case", "show", "T1-01"], ["case", "list", "--state", "screening", "--limit", "20"]):
        warm = loaded_by(tmp_path, *db, *args, cache=cache)
        assert warm & CHECKING == set(), args
        assert packages(warm) & (NEVER_FOR_SHORT_COMMANDS | {"jinja2", "dateutil"}) == set(), args

    fired = loaded_by(tmp_path, *db, "--as", "李明", "--now", "2014-03-12", "fire", "T1-02", "confirm", cache=cache)
    assert fired & CHECKING == set()
    assert packages(fired) & NEVER_FOR_SHORT_COMMANDS == set()
    assert "jinja2" in packages(fired)  # the notice it queues is rendered
    assert opened_county.json("case", "show", "T1-02")["state"] == "rectifying"
    assert list((cache / "rectify").glob("workflow-*.pickle")) == entries


# --- the cache, in one process ---------------------------------------------------------------

@pytest.fixture
def version() -> WorkflowVersion:
    loaded = load_workflow_file(WORKFLOW)
    return WorkflowVersion(name=loaded.definition.name, version=1, digest=loaded.digest, text=loaded.text,
                           templates=loaded.templates, calendar=loaded.calendar_text)


@pytest.fixture
def checks(monkeypatch, tmp_path) -> list[str]:
    """Each full check of a deployed workflow, as if every call were a new process."""
    import engine.spec.loader

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls: list[str] = []
    real = engine.spec.loader.load_workflow_text

    def counted(text, file, *args, **kw):
        calls.append(file)
        return real(text, file, *args, **kw)

    monkeypatch.setattr(engine.spec.loader, "load_workflow_text", counted)
    monkeypatch.setattr(deploy, "_by_digest", {})
    return calls


def fresh_process(monkeypatch) -> None:
    monkeypatch.setattr(deploy, "_by_digest", {})


def entry(tmp_path: Path) -> Path:
    (found,) = (tmp_path / "cache" / "rectify").glob("workflow-*.pickle")
    return found


def test_a_checked_workflow_is_kept_privately_and_reused(version, checks, monkeypatch, tmp_path):
    first = deploy.compiled_version(version)
    path = entry(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    fresh_process(monkeypatch)
    again = deploy.compiled_version(version)
    assert checks == ["backward_orgs@v1"]
    assert again.definition == first.definition
    assert again.loaded.digest == version.digest
    assert {n: type(r) for n, r in again.loaded.rules.items()} == {n: type(r) for n, r in first.loaded.rules.items()}


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_entry_is_rebuilt(version, checks, monkeypatch, tmp_path, damage):
    deploy.compiled_version(version)
    path = entry(tmp_path)
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"not a pickle", "empty": b""}[damage])
    fresh_process(monkeypatch)
    assert deploy.compiled_version(version).definition.name == "backward_orgs"
    assert len(checks) == 2
    fresh_process(monkeypatch)
    deploy.compiled_version(version)  # the rebuilt entry is whole again
    assert len(checks) == 2


def test_an_entry_from_other_code_is_rebuilt(version, checks, monkeypatch, tmp_path):
    deploy.compiled_version(version)
    path = entry(tmp_path)
    with path.open("rb") as f:
        fmt, fingerprint = pickle.load(f)
        payload = f.read()
    file, mtime, size = fingerprint["engine.spec.definition"]
    fingerprint["engine.spec.definition"] = (file, mtime - 1, size)  # as if the module had been upgraded since
    path.write_bytes(pickle.dumps((fmt, fingerprint)) + payload)
    fresh_process(monkeypatch)
    deploy.compiled_version(version)
    assert len(checks) == 2


def test_an_entry_others_could_have_written_is_not_trusted(version, checks, monkeypatch, tmp_path):
    deploy.compiled_version(version)
    entry(tmp_path).chmod(0o666)
    fresh_process(monkeypatch)
    deploy.compiled_version(version)
    assert len(checks) == 2
    assert entry(tmp_path).stat().st_mode & 0o777 == 0o600  # replaced by a private one


def test_no_usable_cache_directory_is_no_error(version, checks, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    for _ in range(2):
        fresh_process(monkeypatch)
        assert deploy.compiled_version(version).definition.name == "backward_orgs"
    assert len(checks) == 2
    assert blocker.read_text() == ""
