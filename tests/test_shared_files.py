"""A SQLite database shared by a group of OS users, and a read-only copy (issue 13, item 8).

Findings reproduced here: with the database 0660 in a group, the first official's process
created -wal/-shm with his own group and every other official then failed with "cannot open
database"; a read-only archived copy could not be read or verified at all.

The other officials are real OS users: a forked copy of this process drops to ``nobody`` or
``daemon`` with the ``users`` group beside its own (root only: elsewhere these tests skip).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from cli import main
from engine.store.db import Store
from engine.store.models import Organization
from tests.polling import wait_for_file
from tests.runner import ORGS, Rectify

GROUP, GID = "users", 100
NOBODY, DAEMON = (65534, 65534), (1, 1)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as other OS users")


def forked_as(user: tuple[int, int], work: Callable[[], int]) -> int:
    """Start ``work`` in a forked process as another OS user in the ``users`` group; its pid."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 99
        try:
            os.setgroups([GID])
            os.setgid(user[1])
            os.setuid(user[0])
            code = work()
        finally:
            os._exit(code)
    return pid


def as_user(user: tuple[int, int], work: Callable[[], int]) -> int:
    """Run ``work`` as another OS user (see ``forked_as``); its result (0-255)."""
    _, status = os.waitpid(forked_as(user, work), 0)
    return os.waitstatus_to_exitcode(status)


@contextmanager
def kept_open(user: tuple[int, int], url: str, gate: Path) -> Iterator[None]:
    """Another official's process with the database open (as the daemon keeps it) meanwhile."""
    def hold() -> int:
        store = Store(url)
        store.write(lambda s: s.execute(text("UPDATE organizations SET name = name WHERE code = 'X'")))
        with store.reading() as session:  # a connection stays open: the -wal/-shm files stay
            session.execute(text("SELECT 1"))
            (gate / "open").touch()
            wait_for_file(gate / "close")
        store.dispose()
        return 0

    pid = forked_as(user, hold)
    try:
        wait_for_file(gate / "open")
        yield
    finally:
        (gate / "close").touch()
        os.waitpid(pid, 0)


def reads_and_writes(url: str) -> Callable[[], int]:
    def work() -> int:
        try:
            store = Store(url)
            store.read(lambda s: s.scalar(select(func.count()).select_from(Organization)))
            store.write(lambda s: s.execute(text("UPDATE organizations SET name = name WHERE code = 'X'")))
            store.dispose()
            return 0
        except Exception:  # the finding: "cannot open database" / "unable to open database file"
            return 1
    return work


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder other users can reach (pytest's own tmp folders are private to root)."""
    top = Path(tempfile.mkdtemp(prefix="rectify-shared-", dir="/tmp"))
    top.chmod(0o755)
    yield top
    shutil.rmtree(top, ignore_errors=True)


def gate(folder: Path, name: str) -> Path:
    made = folder / f"gate-{name}"
    made.mkdir()
    made.chmod(0o777)
    return made


def county_at(path: Path) -> str:
    url = f"sqlite:///{path}"
    run = Rectify(url)
    run("init")
    run("workflow", "deploy", now="2014-03-01")
    (path.parent / "orgs.csv").write_text(ORGS, encoding="utf-8")
    run("org", "import", str(path.parent / "orgs.csv"))
    for suffix in ("-wal", "-shm"):  # as after the last process closed it
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return url


def test_without_the_setup_the_second_official_is_locked_out_and_init_says_so(shared_folder):
    folder = shared_folder / "db"
    folder.mkdir()
    url = county_at(folder / "rectify.db")
    os.chown(folder / "rectify.db", -1, GID)
    folder.chmod(0o777)  # writable by all, but not setgid: the -wal/-shm files get their creator's group
    with kept_open(NOBODY, url, gate(shared_folder, "1")):  # the first official creates -wal and -shm
        assert Path(f"{folder / 'rectify.db'}-shm").stat().st_gid == NOBODY[1]
        assert as_user(DAEMON, reads_and_writes(url)) == 1  # the finding: the second one cannot open it
        warned = CliRunner().invoke(main, ["--db", url, "init"])
        assert "must belong to the group" in warned.output  # init names what locks the others out
    done = CliRunner().invoke(main, ["--db", url, "init", "--group", GROUP])
    assert done.exit_code == 0, done.output
    with kept_open(NOBODY, url, gate(shared_folder, "2")):
        assert as_user(DAEMON, reads_and_writes(url)) == 0  # after 'init --group' every member can


def test_init_group_sets_up_the_folder_so_every_member_shares_the_database(shared_folder):
    folder = shared_folder / "db"
    folder.mkdir()
    url = county_at(folder / "rectify.db")
    done = CliRunner().invoke(main, ["--db", url, "init", "--group", GROUP])
    assert done.exit_code == 0, done.output
    assert "must belong to the group" not in done.output  # nothing left to fix
    mode = folder.stat().st_mode
    assert mode & stat.S_ISGID
    assert folder.stat().st_gid == GID
    assert stat.S_IMODE((folder / "rectify.db").stat().st_mode) == 0o660
    with kept_open(DAEMON, url, gate(shared_folder, "1")):
        assert as_user(NOBODY, reads_and_writes(url)) == 0
    with kept_open(NOBODY, url, gate(shared_folder, "2")):
        assert as_user(DAEMON, reads_and_writes(url)) == 0


def test_a_read_only_copy_reads_and_verifies_and_refuses_writes_with_the_reason(shared_folder):
    folder = shared_folder / "archive"
    folder.mkdir()
    url = county_at(folder / "rectify.db")
    Rectify(url)("official", "add", "王强", "--role", "township_committee", "--jurisdiction", "T1")
    Rectify(url)("official", "add", "李明", "--role", "county_department", "--jurisdiction", "X")
    Rectify(url)("case", "open", "T1-01", who="王强", now="2014-03-05")
    for args in (["case", "list"], ["audit", "verify"], ["case", "show", "T1-01"]):
        Rectify(url)(*args, who="李明")  # imports what the commands need: /root is closed to nobody
    (folder / "rectify.db").chmod(0o644)
    folder.chmod(0o755)  # nobody may neither write the file nor create -wal/-shm beside it
    results = shared_folder / "results"
    results.mkdir()
    results.chmod(0o777)

    def reader() -> int:
        runner = CliRunner()
        codes = []
        for args in (["case", "list", "--json"], ["audit", "verify"], ["case", "show", "T1-01"],
                     ["case", "open", "T1-02"]):
            result = runner.invoke(main, ["--db", url, "--as", "李明", *args])
            codes.append(result.exit_code)
            (results / f"{args[0]}-{args[1]}.txt").write_text(result.output, encoding="utf-8")
        return 10 * codes.count(0) + codes[-1]

    assert as_user(NOBODY, reader) == 31  # three reads succeed; the write is refused: exit 1
    refused = (results / "case-open.txt").read_text(encoding="utf-8")
    assert "read-only for you" in refused
    assert "nothing was written" in refused
    assert "Traceback" not in refused
    assert "T1-01" in (results / "case-list.txt").read_text(encoding="utf-8")
