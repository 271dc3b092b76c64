"""The shipped workflow as the engine-level tests' county runs it: with a deadline of its own on
each case in screening (3月16日, reminded and escalated) and progress-report requests every two
months on each case in rectification, counted by a fact (``reports_submitted``); no duties.

The shipped workflow gives the 3月16日 filing and the progress reports to the townships as their
duties (engine.ops.duties, tests/test_duties.py). The timer tests are about the engine's timers
— deadlines, reminders, escalations, recurring requests, races — and keep exercising all of them
on this variant, made from the shipped text so that it never drifts from it otherwise."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent.parent / "workflows" / "backward_orgs.yaml"

SCREENING = "    description: 排查确定整顿对象，登记造册、建立台账，3月16日前报县委组织部备案\n"
SCREENING_DEADLINE = """    deadline:
      date: screening_report_due
      reminders: [3 days, 1 day]
      escalations: [1 day, 7 days]
      remind: [township_committee]
      escalate_to: [township_committee, county_department]
"""
RECTIFYING = "    # 每两个月报送整顿建设情况是乡镇（街道）党委的报送事项（见 duties.progress_report）\n"
RECURRING = """    recurring:
      - {notice: progress_report_request, every: 2 months, label: 每两个月报送整顿建设情况,
         notify: [township_committee]}
"""
RULE = """    rule: duty_filed
    label: 所在乡镇已按期报送整顿建设情况（每两个月一次）
    params: {duty: progress_report}"""
COUNTED_RULE = """    rule: reports_submitted
    label: 每两个月向县委组织部报送整顿建设情况
    params: {fact: progress_reports}"""
FACTS = "facts:\n"
COUNT_FACT = "facts:\n  progress_reports:         {label: 已报送整顿建设情况次数, type: int, per_round: true}\n"


def timed_text(shipped: str) -> str:
    """``shipped`` with the per-case screening deadline, progress requests and report count, and
    without the townships' duties."""
    for old, new in ((SCREENING, SCREENING + SCREENING_DEADLINE), (RECTIFYING, RECTIFYING + RECURRING),
                     (RULE, COUNTED_RULE), (FACTS, COUNT_FACT)):
        assert shipped.count(old) == 1, f"the shipped workflow changed: cannot find {old!r}"
        shipped = shipped.replace(old, new)
    start, end = shipped.index("\nduties:\n"), shipped.index("\nstates:\n")
    return shipped[:start] + shipped[end:]  # the townships' duties are tests/test_duties.py's


def write_timed_workflow() -> Path:
    """The variant in a folder of its own (this process's), beside a copy of the templates."""
    folder = Path(tempfile.mkdtemp(prefix="rectify-timed-workflow-"))
    atexit.register(shutil.rmtree, folder, True)
    shutil.copytree(SHIPPED.parent / "templates", folder / "templates")
    target = folder / SHIPPED.name
    target.write_text(timed_text(SHIPPED.read_text(encoding="utf-8")), encoding="utf-8")
    return target
