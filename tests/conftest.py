"""Shared fixtures: a real SQLite file and a real PostgreSQL server for every store test."""

from __future__ import annotations

import itertools
import os
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from engine.store.db import Store
from engine.store.migrate import upgrade
from tests.pgserver import PgServer, find_bin

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "workflows" / "backward_orgs.yaml"
TZ = ZoneInfo("Asia/Shanghai")


def at(text_: str) -> datetime:
    """A campaign-local time from 'YYYY-MM-DD[THH:MM]'."""
    return datetime.fromisoformat(text_).replace(tzinfo=TZ)


@pytest.fixture(scope="session", autouse=True)
def own_cache(tmp_path_factory):
    """The suite's checked-workflow cache (engine.ops.deploy) in a folder of its own, inherited by
    the rectify processes the tests start, so a run neither reads nor leaves ~/.cache."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture(scope="session")
def pg_server():
    bindir = find_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI but initdb was not found")
        pytest.skip("PostgreSQL server binaries not installed")
    server = PgServer(bindir)
    server.start()
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE rectify_template"))
    template = Store(server.url("rectify_template"))
    upgrade(template)
    template.dispose()
    server.admin = admin  # type: ignore[attr-defined]
    yield server
    admin.dispose()
    server.stop()


_counter = itertools.count()


def pg_database(server: PgServer) -> str:
    """A new, migrated database on the test server (a copy of the template)."""
    name = f"rectify_t{next(_counter)}"
    with server.admin.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE rectify_template"))
    return server.url(name)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> str:
    """A migrated, empty database URL on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rectify.db'}"
        store = Store(url)
        upgrade(store)
        store.dispose()
        return url
    return pg_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.dispose()


@pytest.fixture
def workflow_copy(tmp_path) -> Path:
    """A private copy of the shipped workflow folder an administrator may edit."""
    folder = tmp_path / "wf"
    shutil.copytree(ROOT / "workflows", folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return folder / "backward_orgs.yaml"
