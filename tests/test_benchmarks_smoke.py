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
