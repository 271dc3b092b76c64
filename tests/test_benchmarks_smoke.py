"""The benchmark runner, tiny: it builds a database, measures every figure and records them.

The benchmarks themselves are not part of the test suite (python -m benchmarks.run); this
only shows that the runner works, so a change cannot break it unnoticed."""

from __future__ import annotations

import pytest

from benchmarks.run import main

pytestmark = pytest.mark.slow  # runs the benchmarks on small figures


def test_a_smoke_run_records_every_figure(tmp_path):
    results = tmp_path / "RESULTS.md"
    assert main(["--smoke", "--results", str(results)]) == 0
    text = results.read_text(encoding="utf-8")
    assert "# Benchmark results" in text
    assert "sqlite, 3,000 organizations, 300 cases" in text
    for measure in ("org import", "daemon tick, nothing due", "daemon peak memory", "due timers",
                    "one transaction each", "50 per transaction", "import sqlalchemy", "rectify case show",
                    "rectify fire", "case list --state", "ledger export", "report --html"):
        assert measure in text, measure
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) >= 15
    assert all(line.count("|") == 6 for line in rows)


def test_a_smoke_run_of_the_web_benchmark_records_every_figure(tmp_path):
    from benchmarks.web import main as web_main  # a real `rectify serve`, real logins and fires

    results = tmp_path / "RESULTS.md"
    assert web_main(["--smoke", "--results", str(results)]) == 0
    text = results.read_text(encoding="utf-8")
    assert "web workspace (rectify serve), sqlite, 300 organizations, 300 cases" in text
    assert "synchronous=FULL" in text
    assert "Load average" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    for page in ("GET / (我的待办)", "GET /cases/{ref} (a case page)"):
        for official in ("乡镇党委", "县委组织部"):
            for users in (", 1 user |", "3 concurrent users |", "3 users, each a page every 0.2 s |"):
                assert sum(page in r and official in r and users in r for r in rows) == 1, (page, official, users)
    assert any("POST /login" in r for r in rows)
    fired = [r for r in rows if "fire 'confirm' at once" in r]
    assert len(fired) == 1, fired
    assert "| 0 errors: 3 committed (303)" in fired[0]
    assert fired[0].endswith("| met |")
    assert len(rows) == 15
    assert all(line.count("|") == 6 for line in rows)
