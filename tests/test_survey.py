"""`rectify survey record`: at or above the threshold → accepted, below → re-rectify; bad figures refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BACKENDS
from tests.runner import Rectify, build_county, fingerprint, prepare


def build_at_survey(run: Rectify, folder: Path) -> None:
    """The CLI county with T1-01's case through every step before its survey."""
    build_county(run, folder)
    run("case", "open", "T1-01", who="王强", now="2014-03-05")
    prepare(run, "2014-1-0001")


@pytest.fixture(params=BACKENDS)
def at_survey(request, built_counties, tmp_path) -> Rectify:
    """``build_at_survey``'s county on each backend, built once per session and copied per test."""
    return built_counties.copy("at_survey", build_at_survey, request.param, tmp_path)


@pytest.mark.parametrize(("respondents", "satisfied", "dest"), [
    ("50", "35", "验收通过"),   # exactly 70 %: passes
    ("50", "34", "重新整顿"),   # 68 %
    ("40", "40", "验收通过"),
])
def test_threshold(at_survey: Rectify, respondents, satisfied, dest):
    out = at_survey("survey", "record", "T1-01", "--respondents", respondents, "--satisfied", satisfied,
                    "--score", "班子建设=85", who="王强", now="2014-12-03").stdout
    assert dest in out
    facts = {f["name"]: f["value"] for f in at_survey.json("case", "show", "T1-01")["facts"]}
    assert facts["survey_respondents"] == int(respondents)
    assert facts["survey_scores"] == "班子建设=85"


@pytest.mark.parametrize(("args", "code", "message"), [
    (("--respondents", "10", "--satisfied", "11"), 2, "cannot exceed respondents"),
    (("--respondents", "0", "--satisfied", "0"), 2, "must be more than 0"),
    (("--respondents", "10", "--satisfied", "-1"), 2, "cannot be negative"),
    (("--respondents", "ten", "--satisfied", "1"), 2, "is not a valid integer"),
    (("--respondents", "30", "--satisfied", "25", "--score", "q=101"), 2, "QUESTION=0..100"),
    (("--respondents", "10", "--satisfied", "9"), 1, "fewer than the minimum 20"),
])
def test_bad_figures_change_nothing(at_survey: Rectify, args, code, message):
    before = fingerprint(at_survey.db)
    out = at_survey("survey", "record", "T1-01", *args, who="王强", now="2014-12-03", code=code).output
    assert message in out
    assert fingerprint(at_survey.db) == before


def test_survey_before_december_is_refused(at_survey: Rectify):
    out = at_survey("survey", "record", "T1-01", "--respondents", "30", "--satisfied", "29",
                    who="王强", now="2014-11-27", code=1).output
    assert "2014-12-01" in out


def test_survey_in_the_wrong_state(rectify: Rectify):
    rectify("case", "open", "T1-02", who="王强", now="2014-03-05")
    out = rectify("survey", "record", "T1-02", "--respondents", "30", "--satisfied", "29",
                  who="王强", now="2014-12-03", code=1).output
    assert "no transition from 'screening' concludes a satisfaction survey" in out
