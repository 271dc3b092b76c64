"""Measure the web workspace (``rectify serve``) at scale and append the figures to benchmarks/RESULTS.md.

    python -m benchmarks.web --backend sqlite              # 250 000 cases
    python -m benchmarks.web --backend postgres
    python -m benchmarks.web --smoke                       # a tiny run (the test suite's smoke test)

The real ``rectify serve`` (a subprocess, with the backend's default number of workers unless
``--workers`` says, and ``--now`` at the generator's clock) on a durable database: SQLite with the Store's own
``synchronous=FULL`` on a disk, PostgreSQL restarted with fsync, synchronous_commit and
full_page_writes on after the bulk load. Officials log in through ``POST /login``; each
simulated user is an httpx client of its own, in a thread. Every latency stands beside the
framework's floor under the same load (a static file, no database), measured in the same run.

Two loads of 20 users: back to back (each asks again the moment a page arrives, 20 requests
always in flight: the service's throughput, a stress figure) and paced (``--every``: each user
opens a page every 2 s, as an official reads one before the next: still a heavier load than a
county office makes).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from html import unescape
from itertools import repeat
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from benchmarks.generate import insert_cases, insert_orgs, setup_campaign
from benchmarks.run import (
    CHILD_ENV,
    NOW,
    RESULTS,
    Report,
    machine,
    postgres_stores,
    record,
    rectify_cmd,
    settle,
    sqlite_stores,
    verdict,
)
from engine.ops.identity import os_login
from engine.services import Caller, accounts
from engine.store.db import Store
from engine.store.models import Case, Official, Organization, OrgKind
from tests.pgserver import PgServer, find_bin

NOW_TEXT = "2014-03-25T09:00"  # benchmarks.run.NOW in the campaign's time zone
PASSWORD = "benchmark-2014-web"
TOWNSHIP, COUNTY = "乡镇党委", "县委组织部"  # the officials benchmarks.generate.setup_campaign registers
FIRER = "县委组织部干部{:02d}"  # the county department's staff who fire at once
CSRF = re.compile(r'name="csrftoken" value="([^"]+)"')
TARGET_MS = 100
REPO = Path(__file__).resolve().parent.parent


# --- the database ------------------------------------------------------------------------

@dataclass(frozen=True)
class County:
    """What the measures work on: the township official's cases, the county's screening ones."""

    township_refs: list[str]
    county_cases: int
    counties: int  # in the database; the officials work in the last one
    screening_refs: list[str]  # in the county, for the county department to confirm


def build(store: Store, orgs: int, cases: int, firers: int) -> County:
    insert_orgs(store, orgs)
    setup_campaign(store, NOW - timedelta(days=40), os_login())  # this login is the county's administrator
    insert_cases(store, cases, NOW)
    with store.transaction() as s:
        county, town = (s.scalars(select(Official).where(Official.name == name)).one() for name in (COUNTY, TOWNSHIP))
        move_to_last_county(s, county, town)
        s.add_all([Official(name=FIRER.format(i + 1), role="county_department", jurisdiction_id=county.jurisdiction_id,
                            channels={}, active=True) for i in range(firers)])
        township_refs = list(s.scalars(select(Case.ref).where(Case.township_id == town.jurisdiction_id)
                                       .order_by(Case.id)))
        in_county = Organization.path.startswith(county.jurisdiction.path)
        county_cases = s.scalar(select(func.count()).select_from(Case).join(Case.organization).where(in_county))
        counties = s.scalar(select(func.count()).select_from(Organization)
                            .where(Organization.kind == OrgKind.COUNTY.value)) or 0
        screening = list(s.scalars(select(Case.ref).join(Case.organization).where(in_county, Case.state == "screening")
                                   .order_by(Case.id)))
    for name in [TOWNSHIP, COUNTY, *(FIRER.format(i + 1) for i in range(firers))]:
        give_password(store, name)
    return County(township_refs, county_cases or 0, counties, screening)


def move_to_last_county(s: Session, county: Official, town: Official) -> None:
    """The officials work in the county (and its first township) generated last: its cases come
    last in every index ordered by id, so a page that walks such an index and filters by the
    jurisdiction pays the most there (the first county, where setup_campaign puts them, the least)."""
    last = s.scalars(select(Organization).where(Organization.kind == OrgKind.COUNTY.value)
                     .order_by(Organization.id.desc()).limit(1)).one()
    county.jurisdiction_id = last.id
    town.jurisdiction_id = s.scalars(select(Organization.id).where(Organization.parent_id == last.id,
                                                                   Organization.kind == OrgKind.TOWNSHIP.value)
                                     .order_by(Organization.id).limit(1)).one()
    s.flush()
    s.refresh(county)


def give_password(store: Store, name: str) -> None:
    """An administrator's invitation accepted, through the same services the web calls."""
    invitation = accounts.invite(store, Caller(login=os_login(), command="benchmark invite"), name,
                                 "http://127.0.0.1").value
    accounts.accept_invitation(store, invitation.url.rsplit("/", 1)[1], PASSWORD, PASSWORD)


def filesystem_of(path: Path) -> str:
    """The type of the file system ``path`` lies on (tmpfs would make every fsync free)."""
    best, kind = "", "?"
    for line in Path("/proc/mounts").read_text().splitlines() if Path("/proc/mounts").exists() else []:
        _dev, mount, fstype, *_ = line.split()
        if str(path.resolve()).startswith(mount) and len(mount) > len(best):
            best, kind = mount, fstype
    return kind


@contextmanager
def durable_postgres() -> Iterator[DurableCluster]:
    bindir = find_bin()
    if bindir is None:
        raise SystemExit("PostgreSQL server binaries not found (apt-get install postgresql)")
    server = DurableCluster(bindir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class DurableCluster(PgServer):
    """The test suite's throwaway cluster, kept on disk (not in RAM, where an fsync costs nothing)
    and, once loaded, restarted durable: the bulk load may skip fsync, a published figure may not."""

    def __init__(self, bindir: Path):
        super().__init__(bindir)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = Path(tempfile.mkdtemp(prefix="rectify-bench-pg-"))  # the system's temporary folder: a disk
        self.data = self.root / "data"

    def make_durable(self) -> str:
        """Restart with fsync, synchronous_commit and full_page_writes on; returns them as the server says."""
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200 "
                "-c fsync=on -c synchronous_commit=on -c full_page_writes=on")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"),
                  "-w", "restart")
        from sqlalchemy import create_engine

        engine = create_engine(self.url())
        with engine.connect() as conn:
            shown = ", ".join(f"{name}={conn.exec_driver_sql(f'SHOW {name}').scalar()}"
                              for name in ("fsync", "synchronous_commit", "full_page_writes"))
        engine.dispose()
        return shown


# --- the server and its users ------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    base: str
    workers: int
    log: Path

    def log_counts(self) -> tuple[int, int]:
        """Tracebacks and "database is locked" in the server's output so far."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return text.count("Traceback"), text.count("database is locked")


@contextmanager
def serving(url: str, folder: Path, workers: int | None = None) -> Iterator[Served]:
    """``rectify serve`` on ``url`` (with its default workers unless told), until the block ends."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = folder / "serve.log"
    with log.open("w", encoding="utf-8") as out:
        argv = rectify_cmd(url, "--now", NOW_TEXT, "serve", "--port", str(port), "--base-url", base,
                           *(["--workers", str(workers)] if workers else []))
        process = subprocess.Popen(argv,
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=CHILD_ENV,
                                   cwd=REPO)
    try:
        wait_until_up(base, process, log)
        found = re.search(r"\((\d+) workers;", log.read_text(encoding="utf-8"))
        yield Served(base, int(found.group(1)) if found else 0, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_up(base: str, process: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rectify serve exited {process.returncode}: {log.read_text(encoding='utf-8')[-2000:]}")
        try:
            if httpx.get(f"{base}/login", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # polling for the server to answer
    raise RuntimeError(f"rectify serve did not answer within {timeout:.0f} s")


class User:
    """One simulated official at a browser: a client of its own, its cookies, its forms' CSRF token."""

    def __init__(self, base: str):
        self.http = httpx.Client(base_url=base, follow_redirects=False, timeout=120)
        self.token = ""

    def get(self, path: str) -> httpx.Response:
        response = self.http.get(path)
        found = CSRF.search(response.text)
        if found:
            self.token = unescape(found.group(1))
        return response

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return self.http.post(path, data={"csrftoken": self.token, **data})

    def log_in(self, name: str) -> float:
        """Logs in through the login form; returns the POST's seconds."""
        self.get("/login")
        start = time.perf_counter()
        response = self.post("/login", {"name": name, "password": PASSWORD, "next": "/"})
        took = time.perf_counter() - start
        if response.status_code != 303:
            raise RuntimeError(f"{name} could not log in ({response.status_code}): {response.text[:500]}")
        return took

    def close(self) -> None:
        self.http.close()


def logged_in(base: str, name: str, count: int, login_times: list[float]) -> list[User]:
    users = [User(base) for _ in range(count)]
    login_times.extend(u.log_in(name) for u in users)
    return users


# --- the measures ------------------------------------------------------------------------

@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)  # seconds
    failed: int = 0
    wall: float = 0.0

    def p(self, q: int) -> float:
        """The q-th percentile in ms."""
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]

    def text(self) -> str:
        rate = len(self.latencies) / self.wall if self.wall else 0
        failed = f", {self.failed} failed" if self.failed else ""
        return f"p50 {self.p(50):,.0f} ms, p95 {self.p(95):,.0f} ms ({len(self.latencies)} requests, {rate:,.0f}/s{failed})"


def load(users: list[User], path_of: Callable[[int], str], per_user: int, every: float = 0.0) -> Load:
    """Every user GETs ``per_user`` pages, all starting together: back to back (``every`` 0), or
    one each ``every`` seconds (an official reading what a page shows before the next), the users'
    starts spread over the first interval, an open load of ``len(users) / every`` pages a second
    whatever the answers take."""
    barrier = threading.Barrier(len(users))
    result, lock, spans = Load(), threading.Lock(), []

    def work(index: int, user: User) -> None:
        times, failed = [], 0
        barrier.wait()
        first = time.perf_counter() + every * index / len(users)
        for i in range(per_user):
            if every:
                time.sleep(max(0.0, first + i * every - time.perf_counter()))  # pacing, not waiting for an outcome
            start = time.perf_counter()
            response = user.http.get(path_of(index * per_user + i))
            times.append(time.perf_counter() - start)
            failed += response.status_code != 200
        with lock:
            result.latencies += times
            result.failed += failed
            spans.append((first, time.perf_counter()))

    with ThreadPoolExecutor(len(users)) as pool:
        list(pool.map(work, range(len(users)), users))
    result.wall = max(end for _, end in spans) - min(start for start, _ in spans)
    return result


def measured(users: list[User], path_of: Callable[[int], str], requests: int, every: float = 0.0) -> Load:
    load(users, path_of, 3)  # warm: each worker's compiled workflow, templates, connections
    return load(users, path_of, max(5, -(-requests // len(users))), every)


def bench_pages(report: Report, served: Served, county: County, users: int, requests: int, every: float) -> None:
    login_times: list[float] = []
    officials = {TOWNSHIP: logged_in(served.base, TOWNSHIP, users, login_times),
                 COUNTY: logged_in(served.base, COUNTY, users, login_times)}
    report.add(f"POST /login (argon2id), {len(login_times)} logins one after another",
               f"p50 {1000 * statistics.median(login_times):,.0f} ms")
    refs = county.township_refs
    pages: list[tuple[str, Callable[[int], str]]] = [
        ("GET / (我的待办)", lambda i: "/"),
        ("GET /cases/{ref} (a case page)", lambda i: f"/cases/{refs[i % len(refs)]}")]
    scope = {TOWNSHIP: f"{TOWNSHIP}, a township of {len(refs):,} cases",
             COUNTY: f"{COUNTY}, a county of {county.county_cases:,} cases (the last of {county.counties:,})"}
    # (label, how many users, seconds between one user's pages: 0 back to back)
    loads = [(f"{n} user" if n == 1 else f"{n} concurrent users", n, 0.0) for n in sorted({1, users})]
    if users > 1 and every > 0:  # the same users as officials use it: each reads a page before the next
        loads.append((f"{users} users, each a page every {every:g} s", users, every))
    for label, count, pause in loads:
        floor = measured(officials[TOWNSHIP][:count], lambda i: "/static/site.css", requests, pause)
        for name, group in officials.items():
            for what, path_of in pages:
                got = measured(group[:count], path_of, requests, pause)
                report.add(f"{what}, {scope[name]}, {label}", got.text(),
                           f"floor GET /static/site.css: p50 {floor.p(50):,.0f} ms, p95 {floor.p(95):,.0f} ms",
                           f"p95 ≤ {TARGET_MS} ms", verdict(got.p(95) <= TARGET_MS and not got.failed))
    for group in officials.values():
        for user in group:
            user.close()


@dataclass
class Fires:
    committed: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def note(self, response: httpx.Response | None, took: float, problem: str = "") -> None:
        self.latencies.append(took)
        status = response.status_code if response is not None else 0
        locked = response is not None and "database is locked" in response.text
        if status == 303 and not locked:
            self.committed += 1
        elif status == 409 and not locked:
            self.refused += 1
        else:
            self.errors.append(problem or f"HTTP {status}: {response.text[:200] if response is not None else ''}")


def fire_once(user: User, ref: str, fires: Fires, lock: threading.Lock, barrier: threading.Barrier | None) -> None:
    """The fire page read (its CSRF token), then, with everyone else, the confirmed POST."""
    page = user.get(f"/cases/{ref}/fire/confirm")
    if barrier is not None:
        barrier.wait()
    start = time.perf_counter()
    response: httpx.Response | None = None
    problem = "" if page.status_code == 200 else f"fire page HTTP {page.status_code}"
    try:
        response = user.post(f"/cases/{ref}/fire/confirm", {"confirm": "yes", "note": "基准测试 / benchmark"})
    except httpx.HTTPError as exc:
        problem = f"{type(exc).__name__}: {exc}"
    with lock:
        fires.note(response, time.perf_counter() - start, problem)


def bench_fires(report: Report, store: Store, served: Served, county: County, firers: int, rounds: int) -> None:
    needed = firers * (rounds + 1)
    if len(county.screening_refs) < needed:
        raise SystemExit(f"{needed} cases in screening are needed in the county, found {len(county.screening_refs)}")
    users = [User(served.base) for _ in range(firers)]
    for i, user in enumerate(users):
        user.log_in(FIRER.format(i + 1))
    lock, alone, together = threading.Lock(), Fires(), Fires()
    refs = iter(county.screening_refs[:needed])
    for ref in [next(refs) for _ in range(firers)]:  # the reference: one official, one fire after another
        fire_once(users[0], ref, alone, lock, None)
    fired: list[str] = []
    for _ in range(rounds):
        barrier = threading.Barrier(firers)
        batch = [next(refs) for _ in range(firers)]
        fired += batch
        with ThreadPoolExecutor(firers) as pool:
            list(pool.map(fire_once, users, batch, repeat(together), repeat(lock), repeat(barrier)))
    for user in users:
        user.close()
    with store.transaction() as s:
        moved = s.scalar(select(func.count()).select_from(Case).where(Case.ref.in_(fired), Case.state == "rectifying"))
    tracebacks, locked = served.log_counts()
    errors = len(together.errors) + len(alone.errors)
    for problem in (together.errors + alone.errors)[:5]:
        print(f"  error: {problem}", flush=True)
    report.add(f"{firers} officials fire 'confirm' at once, {rounds} round{'s' if rounds > 1 else ''} ({served.workers} workers)",
               f"{errors} errors: {together.committed} committed (303), {together.refused} refused by a rule (409); "
               f"{moved} cases moved in the database; POST p50 {ms(together.latencies, 50)}, p95 "
               f"{ms(together.latencies, 95)}; server log: {tracebacks} tracebacks, {locked} 'database is locked'",
               f"one official alone, {firers} fires one after another: p50 {ms(alone.latencies, 50)}, "
               f"p95 {ms(alone.latencies, 95)}",
               "0 errors", verdict(errors == 0 and tracebacks == 0 and locked == 0 and moved == together.committed))


def ms(latencies: list[float], q: int) -> str:
    return f"{Load(latencies).p(q):,.0f} ms" if latencies else "-"


# --- one backend -------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    orgs: int
    cases: int
    users: int
    requests: int
    firers: int
    rounds: int
    workers: int | None  # None: rectify serve's default for the backend
    every: float = 2.0  # seconds between one user's pages in the paced measure (0: none)


def measure(backend: str, plan: Plan, folder: Path) -> tuple[Report, str]:
    report = Report(f"web workspace (rectify serve), {backend}", plan.orgs, plan.cases)
    with (durable_postgres() if backend == "postgres" else _nothing()) as cluster:
        store = postgres_stores(cluster)("web") if cluster else sqlite_stores(folder)("web")
        started = time.perf_counter()
        county = build(store, plan.orgs, plan.cases, plan.firers)
        report.add("generate", f"{plan.orgs:,} organizations and {plan.cases:,} cases in "
                               f"{time.perf_counter() - started:,.0f} s")
        settle(store)
        store.dispose()
        os.sync()  # the load's writes reach the disk before anything is timed
        if cluster:
            durability = f"PostgreSQL on {filesystem_of(cluster.root)}, restarted with {cluster.make_durable()}"
        else:
            durability = f"SQLite WAL with synchronous=FULL (the Store's settings) on {filesystem_of(folder)}"
        store = Store(store.url)
        with serving(store.url, folder, plan.workers) as served:
            before = os.getloadavg()
            bench_pages(report, served, county, plan.users, plan.requests, plan.every)
            bench_fires(report, store, served, county, plan.firers, plan.rounds)
            after = os.getloadavg()
        store.dispose()
    workers = f"{served.workers} workers (`--workers`)" if plan.workers else f"its default {served.workers} workers for {backend}"
    note = (f"`rectify serve` with {workers}, `--now {NOW_TEXT}`; "
            f"{durability}. Load average (1 min) {before[0]:.1f} before the measures, {after[0]:.1f} after "
            f"(5 min: {before[1]:.1f}, {after[1]:.1f}) on {os.cpu_count()} cores.")
    return report, note


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--cases", type=int, default=250_000)
    parser.add_argument("--orgs", type=int, help="grassroots organizations (default: as many as cases, so every "
                                                  "one has a case and the officials' jurisdictions are full)")
    parser.add_argument("--users", type=int, default=20, help="concurrent users (also 1)")
    parser.add_argument("--requests", type=int, default=200, help="requests per measure, after a warm-up")
    parser.add_argument("--every", type=float, default=2.0, help="seconds between one user's pages in the paced "
                                                                  "measure (0: leave it out)")
    parser.add_argument("--firers", type=int, default=20, help="officials firing at once")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of firing at once")
    parser.add_argument("--workers", type=int, help="rectify serve's --workers (default: its own for the backend)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--smoke", action="store_true", help="a tiny run: 300 cases, 3 users, few requests")
    args = parser.parse_args(argv)
    if args.smoke:
        args.cases, args.users, args.requests, args.firers, args.rounds, args.every = 300, 3, 12, 3, 1, 0.2
    plan = Plan(args.orgs or args.cases, args.cases, args.users, args.requests, args.firers, args.rounds, args.workers,
                args.every)
    if plan.orgs < plan.cases or min(plan.users, plan.requests, plan.firers, plan.rounds) < 1:
        parser.error("--orgs must be at least --cases; --users, --requests, --firers and --rounds at least 1")
    print(f"machine: {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="rectify-web-bench-") as tmp:
        report, note = measure(args.backend, plan, Path(tmp))
    record(report, args.results, ("Smoke run. " if args.smoke else "") + note)
    print(f"recorded in {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
