"""A third-party rule package, installed beside rectify, used from a workflow without editing rectify.

The package is laid out as an installed distribution (``*.dist-info`` with an
``entry_points.txt`` declaring the ``rectify.rules`` group) on ``PYTHONPATH``, and the real
``rectify`` command runs in a subprocess, so entry-point discovery is the real one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.runner import ORGS

PLUGIN = '''
from pydantic import Field

from rules.base import Params, Rule, failed, passed


class MeetingsParams(Params):
    min_meetings: int = Field(ge=1, description="最少召开次数 / minimum number of meetings")


class MeetingsHeld(Rule[MeetingsParams]):  # no name of its own: it is called as its entry point
    """Enough "三会一课" meetings were held during rectification."""

    summary = "“三会一课”召开次数达标 / enough party meetings held"

    def facts_used(self):
        return ("meetings_held",)

    def evaluate(self, ctx):
        held = ctx.facts.get("meetings_held") or 0
        if held >= self.params.min_meetings:
            return passed(f"已召开 {held} 次", f"{held} meetings held")
        return failed(f"仅召开 {held} 次，少于 {self.params.min_meetings} 次",
                      f"only {held} meetings, fewer than {self.params.min_meetings}")


class Broken(Rule):
    """A rule with a bug: it must be reported as this rule's failure, not as a traceback."""

    def evaluate(self, ctx):
        return 1 / 0
'''


@pytest.fixture
def plugin_env(tmp_path: Path, workflow_copy: Path) -> tuple[dict[str, str], Path]:
    site = tmp_path / "site"
    (site / "county_rules").mkdir(parents=True)
    (site / "county_rules" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    dist = site / "county_rules-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: county-rules\nVersion: 0.1\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[rectify.rules]\nmeetings_held = county_rules:MeetingsHeld\n",
                                           encoding="utf-8")
    text = workflow_copy.read_text(encoding="utf-8")
    text = text.replace("  survey_respondents:", "  meetings_held:            {label: “三会一课”召开次数, type: int}\n"
                                                  "  survey_respondents:")
    text = text.replace("rules:\n", textwrap.dedent("""\
        rules:
          enough_meetings:
            rule: meetings_held
            label: “三会一课”正常开展
            params: {min_meetings: 4}
          buggy:
            rule: county_rules:Broken
            label: 有缺陷的规则
        """), 1)
    text = text.replace("guards: [plan_ready, secretary_in_place,", "guards: [enough_meetings, plan_ready, secretary_in_place,")
    text = text.replace("guards: [self_check_done]", "guards: [self_check_done, buggy]", 1)
    workflow_copy.write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "RECTIFY_DB": str(tmp_path / "p.db")}
    env.pop("RECTIFY_USER", None)
    env.pop("RECTIFY_NOW", None)
    return env, workflow_copy


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("rectify")
    cmd = [exe] if exe else [sys.executable, "-c", "import cli; cli.main()"]
    result = subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


@pytest.mark.slow
def test_third_party_rule_package_plugs_in(plugin_env, tmp_path):
    env, workflow = plugin_env
    listed = run(env, "rules", "list")
    assert listed.returncode == 0
    assert "meetings_held" in listed.stdout
    shown = run(env, "rules", "show", "meetings_held")
    assert "最少召开次数" in shown.stdout
    assert run(env, "workflow", "check", str(workflow)).returncode == 0
    for args in (["init"], ["--now", "2014-03-01", "workflow", "deploy", str(workflow)]):
        assert run(env, *args).returncode == 0, args
    orgs = tmp_path / "orgs.csv"
    orgs.write_text(ORGS, encoding="utf-8")
    assert run(env, "org", "import", str(orgs)).returncode == 0
    assert run(env, "official", "add", "李明", "--role", "county_department", "--jurisdiction", "X").returncode == 0
    assert run(env, "official", "add", "王强", "--role", "township_committee", "--jurisdiction", "T1").returncode == 0
    for person in ("周", "队"):  # contact leaders and stationed cadres are registered people
        assert run(env, "person", "add", person, "--unit", "县委").returncode == 0
    act = ["--as", "李明", "--now", "2014-11-20"]
    assert run(env, *act, "case", "open", "T1-01").returncode == 0
    assert run(env, *act, "fire", "T1-01", "confirm").returncode == 0
    for name, value in [("plan_made", "是"), ("plan_published", "是"), ("contact_leader", "周"),
                        ("secretary_appointed", "张"), ("stationed_cadre", "队"), ("meetings_held", "2"),
                        ("secretary_trained", "2014-03-31")]:
        assert run(env, *act, "fact", "set", "T1-01", name, value).returncode == 0
    refused = run(env, *act, "fire", "T1-01", "submit_self_check")
    assert refused.returncode == 1
    assert "仅召开 2 次，少于 4 次" in refused.stderr
    assert run(env, *act, "fact", "set", "T1-01", "meetings_held", "4").returncode == 0
    assert run(env, *act, "fire", "T1-01", "submit_self_check").returncode == 0
    assert run(env, *act, "fact", "set", "T1-01", "self_check_report", "报告").returncode == 0
    broken = run(env, "--as", "王强", "--now", "2014-11-21", "fire", "T1-01", "request_superior_check")
    assert broken.returncode == 1
    assert "county_rules:Broken" in broken.stderr
    assert "ZeroDivisionError" in broken.stderr


def test_bad_parameter_of_a_plugin_rule_is_placed(plugin_env):
    env, workflow = plugin_env
    text = workflow.read_text(encoding="utf-8").replace("params: {min_meetings: 4}", "params: {min_meetings: 0}")
    workflow.write_text(text, encoding="utf-8")
    checked = run(env, "workflow", "check", str(workflow))
    assert checked.returncode == 2
    assert f"{workflow}:" in checked.stderr
    assert "min_meetings" in checked.stderr
    assert "greater than or equal to 1" in checked.stderr
