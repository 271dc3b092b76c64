"""The suite's shared fixtures, one name per meaning.

Databases
    ``db_url`` / ``store``   an empty, migrated database, on SQLite and on PostgreSQL
    ``county``               ``store`` with the small county of tests/county.py seeded (engine level)
    ``rectify``              the county of the CLI tests (tests/runner.py), driven through the CLI,
                             on both databases
    ``surveyed_county``      ``rectify`` with four cases: accepted, re-rectified, rectifying, screening
    ``county_with_logins``   ``rectify`` past its bootstrap: 管理员 (login admin1) administers,
                             李明, 王强 and 赵刚 have the logins liming, wangq and zhaog
    ``login``                ``login("wangq")`` runs the in-process CLI as that OS login
    ``ready_county``         a folder with a SQLite county whose cases wait for their next step,
                             and the files the writing commands read (ledger, changed workflow)
Servers
    ``pg_server``            a throwaway PostgreSQL cluster, started once per session
    ``http_server``          a webhook endpoint (tests/servers.py ``Hook``)
    ``smtp_server``          an SMTP server (aiosmtpd) and its inbox

The CLI counties are built once per session and backend and copied for each test (a SQLite file
by the backup API, a PostgreSQL database by ``CREATE DATABASE … TEMPLATE``): building one takes
seven commands, copying it a few milliseconds. A county that several tests start from belongs in
``built_counties`` too (``built_counties.copy(name, build, backend, tmp_path)``), not in a
fixture that runs its commands again for every test; so does the empty database (``db_url``).

The default run spreads the tests over one pytest-xdist worker per CPU: every worker is its own
session, with its own PostgreSQL cluster, built counties, temporary folders and workflow cache.
A test may therefore share nothing with another through fixed ports, fixed names in /tmp or
the current folder.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from hypothesis import settings
from sqlalchemy import create_engine, text

import engine.ops.identity
from engine.store.db import Store
from engine.store.migrate import upgrade
from tests.county import ROOT, TZ, WORKFLOW, at, seed_county
from tests.pgserver import PgServer, find_bin, ram_folder
from tests.runner import Rectify, build_county, build_ready_county, build_surveyed_county
from tests.servers import Hook, Inbox, free_port, smtp_authenticator

__all__ = ["ROOT", "TZ", "WORKFLOW", "at", "pg_database"]
BACKENDS = ["sqlite", "postgres"]


# No per-example deadline anywhere: on a busy 2-core machine one example of a property that takes
# 5 ms can take 300 ms, and a test must not fail for the machine's load (speed is the benchmarks').
settings.register_profile("rectify", deadline=None)
settings.load_profile("rectify")


def pytest_configure(config: pytest.Config) -> None:
    """The tests' temporary folders (their SQLite databases, the files they write) in RAM when
    there is room (tests/pgserver.py ``ram_folder``: on disk, the commits' fsyncs cost a quarter
    of the run), unless the user chose a place: --basetemp (as pytest-xdist gives each
    worker), TMPDIR or PYTEST_DEBUG_TEMPROOT (pytest's own setting, set here)."""
    chosen = config.option.basetemp or os.environ.get("TMPDIR") or os.environ.get("PYTEST_DEBUG_TEMPROOT")
    fast = ram_folder()
    if fast is not None and not chosen:
        os.environ["PYTEST_DEBUG_TEMPROOT"] = str(fast)


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


# --- databases -----------------------------------------------------------------------------

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
_created: list[tuple[PgServer, str]] = []  # the databases pg_database made, in order


def pg_database(server: PgServer, template: str = "rectify_template") -> str:
    """A new database on the test server, a copy of ``template`` (by default: migrated, empty).
    Made during a test (by it or its function-scoped fixtures), it is dropped when the test ends."""
    name = f"rectify_t{next(_counter)}"
    with server.admin.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {template}"))
    _created.append((server, name))
    return server.url(name)


@pytest.fixture(autouse=True)
def _drop_the_tests_databases() -> Iterator[None]:
    """Drops the PostgreSQL databases made during the test (~12 MB each, ~450 in a run: kept, they
    filled /tmp with gigabytes and made removing the cluster at the end take minutes). Set up
    before the test's other function-scoped fixtures, so a wider fixture's database is left alone."""
    first = len(_created)
    yield
    made, _created[first:] = _created[first:], []
    for server, name in made:
        with server.admin.connect() as conn:  # type: ignore[attr-defined]
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated, empty SQLite database, made once per session: migrating takes ~0.2 s of CPU,
    copying a few milliseconds (PostgreSQL's counterpart is the rectify_template database)."""
    path = tmp_path_factory.mktemp("template") / "rectify.db"
    store = Store(f"sqlite:///{path}")
    upgrade(store)
    store.dispose()
    return path


@pytest.fixture(scope="session")
def seeded_sqlite_template(sqlite_template, tmp_path_factory) -> Path:
    """``sqlite_template`` with the county of tests/county.py seeded, once per session."""
    path = tmp_path_factory.mktemp("seeded") / "rectify.db"
    copy_sqlite(sqlite_template, path)
    store = Store(f"sqlite:///{path}")
    seed_county(store)
    store.dispose()
    return path


@pytest.fixture(scope="session")
def seeded_pg_template(pg_server) -> str:
    """The name of a database: ``rectify_template`` with the county of tests/county.py seeded."""
    name = "rectify_seeded"
    with pg_server.admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE rectify_template"))
    store = Store(pg_server.url(name))
    seed_county(store)
    store.dispose()
    return name


def _seeds_the_county(request: pytest.FixtureRequest) -> bool:
    """The test uses ``county`` below (not a test module's own fixture of that name)."""
    return "county" in request.fixturenames and not hasattr(request.module, "county")


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """A migrated, empty database URL on each backend; for a test that uses ``county``, a copy
    of a database seeded once per session (seeding takes ~0.25 s of CPU, copying milliseconds)."""
    seeded = _seeds_the_county(request)
    if request.param == "sqlite":
        target = tmp_path / "rectify.db"
        copy_sqlite(request.getfixturevalue("seeded_sqlite_template" if seeded else "sqlite_template"), target)
        return f"sqlite:///{target}"
    server = request.getfixturevalue("pg_server")
    return pg_database(server, request.getfixturevalue("seeded_pg_template") if seeded else "rectify_template")


@pytest.fixture
def store(db_url) -> Iterator[Store]:
    s = Store(db_url)
    yield s
    s.dispose()


@pytest.fixture
def county(store) -> Store:
    """The small county of tests/county.py, seeded through the engine (``seed_county``): 2
    townships, 12 villages. ``db_url`` already copied it from a database seeded that way."""
    return store


# --- counties built through the CLI once, copied per test ------------------------------------

Build = Callable[[Rectify, Path], None]


class BuiltCounties:
    """Each county built once per backend on first use; every test gets its own copy."""

    def __init__(self, folder: Path, request: pytest.FixtureRequest):
        self.folder = folder
        self.request = request
        self.built: dict[tuple[str, str], str] = {}

    def copy(self, name: str, build: Build, backend: str, tmp_path: Path) -> Rectify:
        if backend == "sqlite":
            target = tmp_path / "county.db"
            copy_sqlite(Path(self._built(name, build, backend)), target)
            return Rectify(f"sqlite:///{target}")
        server = self.request.getfixturevalue("pg_server")
        return Rectify(pg_database(server, template=self._built(name, build, backend)))

    def _built(self, name: str, build: Build, backend: str) -> str:
        if (name, backend) not in self.built:
            folder = self.folder / f"{name}-{backend}"
            folder.mkdir()
            if backend == "sqlite":
                where = str(folder / "county.db")
                build(Rectify(f"sqlite:///{where}"), folder)
            else:
                server = self.request.getfixturevalue("pg_server")
                where = f"built_{name}"
                with server.admin.connect() as conn:
                    conn.execute(text(f"CREATE DATABASE {where}"))
                build(Rectify(server.url(where)), folder)
                with server.admin.connect() as conn:  # a template must have no session open
                    conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": where})
            self.built[name, backend] = where
        return self.built[name, backend]


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database, whatever its WAL holds (the backup API)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


@pytest.fixture(scope="session")
def built_counties(tmp_path_factory, request) -> BuiltCounties:
    return BuiltCounties(tmp_path_factory.mktemp("counties"), request)


@pytest.fixture(params=BACKENDS)
def rectify(request, tmp_path, built_counties) -> Rectify:
    """The CLI tests' county, on SQLite and on PostgreSQL (the whole CLI contract runs on both)."""
    return built_counties.copy("county", build_county, request.param, tmp_path)


@pytest.fixture(params=BACKENDS)
def surveyed_county(request, tmp_path, built_counties) -> Rectify:
    """Two cases through the survey (70 % exactly: accepted; 60 %: re-rectify), one left in
    rectification, one never confirmed — both overdue in December."""
    return built_counties.copy("surveyed", build_surveyed_county, request.param, tmp_path)


@pytest.fixture
def login(monkeypatch):
    """Run the in-process CLI as another operating-system login."""
    def become(name: str) -> None:
        monkeypatch.setattr(engine.ops.identity, "os_login", lambda: name)
    return become


@pytest.fixture
def county_with_logins(rectify, login) -> Rectify:
    """Logins mapped by the administrator; bootstrap ends with the first administrator."""
    rectify("official", "add", "管理员", "--role", "county_department", "--jurisdiction", "X",
            "--login", "admin1", "--admin")
    login("admin1")
    for name, user in (("李明", "liming"), ("王强", "wangq"), ("赵刚", "zhaog")):
        rectify("official", "update", name, "--login", user)
    return rectify


@pytest.fixture(scope="session")
def ready_county(tmp_path_factory) -> Path:
    """A folder: county.db on SQLite (T1-01 waits for its survey, T1-02 for confirmation, its
    notices dead at their first attempt), and the files writing commands read. Tests copy it."""
    folder = tmp_path_factory.mktemp("ready")
    build_ready_county(folder)
    return folder


# --- servers -------------------------------------------------------------------------------

@pytest.fixture
def http_server() -> Iterator[str]:
    """A webhook endpoint on loopback; the URL without a path (tests/servers.py ``Hook``)."""
    Hook.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """An SMTP server on loopback that accepts login zzb / s3cret: its inbox and its port."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=smtp_authenticator,
                            auth_require_tls=False)
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def workflow_copy(tmp_path) -> Path:
    """A private copy of the shipped workflow folder an administrator may edit."""
    folder = tmp_path / "wf"
    shutil.copytree(ROOT / "workflows", folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return folder / "backward_orgs.yaml"
