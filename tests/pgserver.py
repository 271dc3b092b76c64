"""A throwaway PostgreSQL 15 cluster for the tests (real server, loopback only).

``initdb`` refuses to run as root, so as root the cluster runs as the ``postgres`` user.
Each test gets its own database, copied from a migrated template (fast: no DDL per test).
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PORT_TRIES = 5  # starts on a fresh port when another process took ours (see PgServer.start)
BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


def find_bin() -> Path | None:
    for folder in BIN_DIRS:
        if Path(folder, "initdb").exists():
            return Path(folder)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


RAM_FOLDER, RAM_NEEDED = Path("/dev/shm"), 2 << 30  # 2 GiB free: Docker's 64 MB default does not qualify


def ram_folder() -> Path | None:
    """A folder in memory (tmpfs) with room, for the suite's throwaway databases, or None.

    On a virtual disk the databases' writes dominate: CREATE DATABASE took 0.15-0.5 s on this
    project's machine and 0.02-0.03 s in RAM, and a SQLite commit waits for its fsync. The data
    is thrown away after the run, so it need not survive anything."""
    try:
        stat = os.statvfs(RAM_FOLDER)
    except OSError:
        return None
    writable = os.access(RAM_FOLDER, os.W_OK | os.X_OK)
    return RAM_FOLDER if writable and stat.f_bavail * stat.f_frsize >= RAM_NEEDED else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="rectify-pg-", dir=ram_folder()))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self.watchdog: subprocess.Popen[bytes] | None = None

    def _command(self, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if self.as_root else list(args)

    def _run(self, *args: str) -> None:
        subprocess.run(self._command(*args), check=True, capture_output=True, text=True)

    def start(self) -> None:
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C.UTF-8")
        for attempt in range(PORT_TRIES):
            opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off " \
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 " \
                   "-c max_wal_size=96MB -c min_wal_size=32MB"  # the WAL may be in RAM: keep it small
            try:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                          str(self.root / "log"), "-w", "start")
                break
            except subprocess.CalledProcessError:
                # Test processes starting together (pytest-xdist's workers, a colleague's run) each
                # pick a free port: another may bind ours between our pick and our start.
                log = (self.root / "log").read_text(encoding="utf-8", errors="replace")
                if attempt == PORT_TRIES - 1 or "Address already in use" not in log:
                    raise
                self.port = _free_port()
        self._watch()
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not start")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _watch(self) -> None:
        """The cluster must not outlive the test process that started it: a pytest-xdist worker
        killed (Ctrl-C, a CI timeout) never reaches ``stop``. A detached shell waits for this
        process to end, then stops the cluster and removes its folder."""
        stop = shlex.join(self._command(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                                        "stop"))
        script = f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; " \
                 f"{stop} >/dev/null 2>&1; rm -rf {shlex.quote(str(self.root))}"
        self.watchdog = subprocess.Popen(["sh", "-c", script], start_new_session=True, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.watchdog is not None:  # stopped here: the watchdog has nothing left to do
            self.watchdog.kill()
            self.watchdog.wait()
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
