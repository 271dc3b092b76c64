"""Measure rectify at scale and append the figures to benchmarks/RESULTS.md.

    python -m benchmarks.run --backend sqlite --orgs 1000000 --cases 250000
    python -m benchmarks.run --backend postgres --orgs 1000000 --cases 250000
    python -m benchmarks.run --smoke          # a tiny run (the test suite's smoke test)

Each figure stands beside a reference measured in the same run (a raw ``executemany``, the
bare start of a Python process that imports SQLAlchemy, the same tick at 1 000 cases), so
a slow machine does not read as a slow rectify.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from benchmarks.generate import (
    insert_cases,
    insert_due_timers,
    insert_orgs,
    org_rows,
    setup_campaign,
)
from engine.daemon.ticker import tick
from engine.ops.cases import fire, get_case
from engine.ops.identity import os_login
from engine.ops.officials import SYSTEM  # the engine's cost, whatever the official's county
from engine.ops.orgs import OrgRow, import_organizations
from engine.store.db import Store
from engine.store.migrate import upgrade
from engine.store.models import Case, Event, Notice, Official, Organization, OrgKind

RESULTS = Path(__file__).with_name("RESULTS.md")
NOW = datetime(2014, 3, 25, 1, 0, tzinfo=timezone.utc)  # 09:00 in the campaign's zone


@dataclass
class Figure:
    what: str
    value: str
    reference: str = ""
    target: str = ""
    verdict: str = ""


@dataclass
class Report:
    backend: str
    orgs: int
    cases: int
    figures: list[Figure] = field(default_factory=list)

    def add(self, *args: str) -> None:
        self.figures.append(Figure(*args))
        print(" | ".join(a for a in args if a), flush=True)


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    """The median wall time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


# --- the measures ------------------------------------------------------------------------

def bench_import(report: Report, make_store: Callable[[str], Store], rows: int) -> None:
    sample = list(org_rows(rows))
    code = {r["id"]: r["code"] for r in sample}
    org_list = [OrgRow(i + 2, r["code"], r["name"], OrgKind(r["kind"]), code.get(r["parent_id"]),
                       r["secretary_name"], r["secretary_phone"]) for i, r in enumerate(sample)]
    engine_store, raw_store = make_store("import"), make_store("raw")

    def through_engine() -> None:
        with engine_store.transaction() as s:
            import_organizations(s, org_list, "benchmark")

    def raw() -> None:
        with raw_store.engine.begin() as conn:
            conn.execute(insert(Organization), sample)

    mine, ref = timed(through_engine), timed(raw)
    report.add(f"org import ({len(sample):,} rows)", f"{len(sample) / mine:,.0f} rows/s",
               f"raw executemany {len(sample) / ref:,.0f} rows/s", "≥ 100 000 rows/s (SQLite)",
               verdict(len(sample) / mine >= 100_000) if report.backend == "sqlite" else "")
    engine_store.dispose()
    raw_store.dispose()


def settle(store: Store) -> None:
    """Steady state after a bulk load, as a running system would be: SQLite's WAL checkpointed,
    PostgreSQL's statistics gathered (what autovacuum does on its own a little later)."""
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
        return
    raw = store.engine.raw_connection()  # outside a transaction: a checkpoint cannot run in one
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def idle_tick(store: Store) -> float:
    settle(store)
    tick(store, NOW)  # warm: the machine is compiled once per process
    return timed(lambda: tick(store, NOW), repeat=51)


def bench_fire_due(report: Report, store: Store, count: int) -> None:
    insert_due_timers(store, count, NOW)
    took = timed(lambda: tick(store, NOW))
    with store.transaction() as s:
        case_id = s.scalar(select(Case.id).limit(1))
    events: list[dict[str, Any]] = [{"case_id": case_id, "seq": 10_000_000 + i, "at": NOW, "actor": "ref", "kind": "timer",
               "trigger": "reminder", "round": 1, "data": {}, "prev_hash": "", "hash": ""} for i in range(count)]
    notices: list[dict[str, Any]] = [{"case_id": case_id, "idempotency_key": f"ref:{i}", "template": "t", "template_hash": "",
                "title": "催办提醒", "body": "正文" * 40, "created_at": NOW, "status": "pending", "attempts": 0,
                "recipients": [], "expanded": False} for i in range(count)]
    scratch = Store(store.url)

    def raw() -> None:
        with scratch.engine.connect() as conn:
            trans = conn.begin()
            conn.execute(insert(Event), events)
            conn.execute(insert(Notice), notices)
            trans.rollback()  # a reference, not data

    ref = timed(raw)
    scratch.dispose()
    report.add(f"fire {count:,} due timers (render + outbox)", f"{count / took:,.0f} timers/s",
               f"raw insert of the same events and notices {count / ref:,.0f} rows/s",
               "≥ 5 000 timers/s (SQLite)", verdict(count / took >= 5000) if report.backend == "sqlite" else "")


def bench_transitions(report: Report, store: Store, count: int) -> None:
    with store.transaction() as s:
        refs = list(s.scalars(select(Case.ref).where(Case.state == "screening").order_by(Case.id).limit(2 * count)))
    one, batched = refs[:count], refs[count:2 * count]

    def each() -> None:
        for ref in one:
            with store.transaction() as s:
                fire(s, get_case(s, ref), "confirm", SYSTEM, NOW)

    def in_batches() -> None:
        for i in range(0, len(batched), 50):
            with store.transaction() as s:
                for ref in batched[i:i + 50]:
                    fire(s, get_case(s, ref), "confirm", SYSTEM, NOW)

    a, b = timed(each), timed(in_batches)
    report.add(f"fire 'confirm' ({len(one):,}, one transaction each)", f"{len(one) / a:,.0f} transitions/s")
    report.add(f"fire 'confirm' ({len(batched):,}, 50 per transaction)", f"{len(batched) / b:,.0f} transitions/s")


def rectify_cmd(url: str, *args: str) -> list[str]:
    return [sys.executable, "-c", "import cli; cli.main()", "--db", url, *args]


# Child processes keep compiled bytecode as an installed rectify does (pip compiles it;
# SQLAlchemy, the floor, ships with it): PYTHONDONTWRITEBYTECODE, set on some machines, would
# charge rectify alone for compiling its modules on every start.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "rectify-bench-pycache")


def run_quiet(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=CHILD_ENV)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[3:])} failed: {done.stderr.strip()[-500:]}")


def bench_cli(report: Report, store: Store) -> None:
    with store.transaction() as s:
        me = s.scalars(select(Official).where(Official.name == "县委组织部")).one()
        county = me.jurisdiction.path
        refs = list(s.scalars(select(Case.ref).join(Case.organization).where(
            Case.state == "screening", Organization.path.startswith(county)).order_by(Case.id).limit(5)))
        shown = s.scalars(select(Case.ref).order_by(Case.id.desc()).limit(1)).one()
    floor = timed(lambda: run_quiet([sys.executable, "-c", "import sqlalchemy"]), repeat=5)
    run_quiet(rectify_cmd(store.url, "case", "show", shown))  # warm: bytecode and the checked workflow cached
    report.add("floor: python -c 'import sqlalchemy'", f"{floor * 1000:,.0f} ms")
    fires = iter(refs)
    for label, args, repeat in (("rectify case show", ("case", "show", shown), 5),
                                ("rectify fire … confirm", None, len(refs)),
                                ("rectify case list --state rectifying --limit 20",
                                 ("case", "list", "--state", "rectifying", "--limit", "20"), 5)):
        if args is None:
            took = timed(lambda: run_quiet(rectify_cmd(store.url, "--now", "2014-03-25T09:00", "fire",
                                                       next(fires), "confirm")), repeat=repeat)
        else:
            command = rectify_cmd(store.url, *args)
            took = timed(lambda c=command: run_quiet(c), repeat=repeat)  # type: ignore[misc]
        report.add(label, f"{took * 1000:,.0f} ms", f"{took / floor:.1f}× the floor", "≤ 2× the floor",
                   verdict(took <= 2 * floor))


def peak_memory(url: str, *args: str) -> int:
    """The peak RSS (KiB) of a rectify command, measured in a wrapper process of its own."""
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], capture_output=True, check=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", probe, *rectify_cmd(url, *args)], capture_output=True, text=True,
                          check=True)
    return int(done.stdout.strip())


def bench_reports(report: Report, store: Store, folder: Path) -> None:
    for label, args in (("ledger export (xlsx)", ("ledger", "export", "-o", str(folder / "ledger.xlsx"))),
                        ("report --html", ("report", "--html", str(folder / "report.html"))),
                        ("report (terminal)", ("report",))):
        command = rectify_cmd(store.url, "--now", "2014-03-25T09:00", *args)
        took = timed(lambda c=command: run_quiet(c))  # type: ignore[misc]
        report.add(f"{label} at {report.cases:,} cases", f"{took:,.1f} s")


# --- one backend -------------------------------------------------------------------------

def measure(backend: str, orgs: int, cases: int, small: int, due: int, fires: int, folder: Path,
            make_store: Callable[[str], Store]) -> Report:
    report = Report(backend, orgs, cases)
    bench_import(report, make_store, min(orgs, 100_000))
    store = make_store("main")
    t0 = time.perf_counter()
    insert_orgs(store, orgs)
    setup_campaign(store, NOW - timedelta(days=40), os_login())  # this login acts as the county department
    insert_cases(store, small, NOW)
    small_tick = idle_tick(store)
    small_memory = peak_memory(store.url, "--now", "2014-03-25T09:00", "daemon", "--once")
    insert_cases(store, cases - small, NOW, seed=2)
    report.add("generate", f"{orgs:,} organizations and {cases:,} cases in {time.perf_counter() - t0:,.0f} s")
    big_tick = idle_tick(store)
    report.add(f"daemon tick, nothing due, {cases:,} cases", f"{big_tick * 1000:,.2f} ms",
               f"{small_tick * 1000:,.2f} ms at {small:,} cases (ratio {big_tick / small_tick:.2f})",
               "≤ 10 ms, ratio ≈ 1", verdict(big_tick <= 0.010 and big_tick / small_tick < 1.5))
    big_memory = peak_memory(store.url, "--now", "2014-03-25T09:00", "daemon", "--once")
    report.add(f"daemon peak memory, {cases:,} cases", f"{big_memory / 1024:,.0f} MiB",
               f"{small_memory / 1024:,.0f} MiB at {small:,} cases", "flat in the number of cases",
               verdict(big_memory < 1.25 * small_memory))
    bench_cli(report, store)  # first: it fires a few of the county's screening cases, the rest use any
    bench_fire_due(report, store, due)
    bench_transitions(report, store, fires)
    bench_reports(report, store, folder)
    store.dispose()
    return report


def sqlite_stores(folder: Path) -> Callable[[str], Store]:
    def make(name: str) -> Store:
        store = Store(f"sqlite:///{folder / (name + '.db')}")
        upgrade(store)
        return store
    return make


def postgres_stores(server) -> Callable[[str], Store]:
    from sqlalchemy import create_engine, text

    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")

    def make(name: str) -> Store:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE bench_{name}"))
        store = Store(server.url(f"bench_{name}"))
        upgrade(store)
        return store
    return make


# --- recording ---------------------------------------------------------------------------

def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?") if Path("/proc/cpuinfo").exists() else "?"
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import sqlite3

    return (f"{os.cpu_count()} cores ({cpu}), {memory:,.0f} GiB, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}")


def record(report: Report, path: Path, note: str = "") -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"\n## {stamp} — {report.backend}, {report.orgs:,} organizations, {report.cases:,} cases\n",
             f"Machine: {machine()}.{(' ' + note) if note else ''}\n",
             "| measure | rectify | reference (same run) | target | |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {f.what} | {f.value} | {f.reference} | {f.target} | {f.verdict} |" for f in report.figures]
    if not path.exists():
        path.write_text("# Benchmark results\n\nAppended by `python -m benchmarks.run`; newest last.\n",
                        encoding="utf-8")
    with path.open("a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--orgs", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=250_000)
    parser.add_argument("--small", type=int, default=1_000, help="cases for the reference tick")
    parser.add_argument("--due", type=int, default=5_000, help="due timers to fire")
    parser.add_argument("--fires", type=int, default=500, help="transitions fired through the engine")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--smoke", action="store_true", help="a tiny run: 3 000 organizations, 300 cases")
    args = parser.parse_args(argv)
    if args.smoke:
        args.orgs, args.cases, args.small, args.due, args.fires = 3_000, 300, 100, 50, 10
    if args.cases <= args.small:
        parser.error("--cases must be more than --small")
    with tempfile.TemporaryDirectory(prefix="rectify-bench-") as tmp:
        folder = Path(tmp)
        if args.backend == "postgres":
            from tests.pgserver import PgServer, find_bin

            bindir = find_bin()
            if bindir is None:
                parser.error("PostgreSQL server binaries not found (apt-get install postgresql)")
            server = PgServer(bindir)
            server.start()
            try:
                report = measure("postgres", args.orgs, args.cases, args.small, args.due, args.fires, folder,
                                 postgres_stores(server))
            finally:
                server.stop()
        else:
            report = measure("sqlite", args.orgs, args.cases, args.small, args.due, args.fires, folder,
                             sqlite_stores(folder))
    record(report, args.results, "Smoke run." if args.smoke else "")
    print(f"recorded in {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
