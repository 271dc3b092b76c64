"""Every rule instance of the shipped workflow (each row of SPEC §2) allowing and refusing.

Rules are pure, so each is judged directly on a hand-made context: one that satisfies it
and one that does not. The engine-level tests show the same rules at work through the CLI.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from engine.spec.loader import load_workflow_file
from rules.base import CaseView, Outcome, RuleContext
from tests.conftest import ROOT

# The workflow the county ships, not tests/county.py's timed variant (which has per-case
# screening deadlines and a progress-report count instead of the townships' duties).
LOADED = load_workflow_file(ROOT / "workflows" / "backward_orgs.yaml")
DATES = LOADED.definition.resolved_dates()
NOW = datetime(2014, 12, 3, 2, 0, tzinfo=timezone.utc)
COUNTS = {"township_organizations": 20, "county_organizations": 300, "county_cases": 5}


def ctx(facts=None, state="rectifying", key_target=False, now=NOW, **figures):
    case = CaseView("2014-1-0001", state, 1, key_target, False, (1,), now)
    return RuleContext(case, facts or {}, now, DATES, {**COUNTS, "township_cases": 0, "duty_counts": {}, **figures})


def filed(due: int, filed_: int) -> dict[str, dict[str, int]]:
    """The township's progress reports (engine.ops.duties ``duty_counts``): due by now, and filed."""
    return {"progress_report": {"due": due, "filed": filed_}}


# instance → (a context it allows, a context it refuses, the outcome of the refusal)
CASES = {
    "within_quota": (ctx(township_cases=0), ctx(township_cases=1), Outcome.WARN),  # 1/20 ok, 2/20 = 10 % > 7 %
    "plan_ready": (ctx({"plan_made": True, "plan_published": True}), ctx({"plan_made": True}), Outcome.FAIL),
    "secretary_in_place": (ctx({"first_secretary": "王"}), ctx({}), Outcome.FAIL),
    "secretary_trained_on_time": (ctx({"secretary_trained": "2014-03-31"}),
                                  ctx({"secretary_trained": "2014-04-01"}), Outcome.WARN),
    "contact_leader_assigned": (ctx({"contact_leader": "周"}), ctx({"contact_leader": ""}), Outcome.FAIL),
    "key_target_staffed": (ctx({}, key_target=False), ctx({"county_cadre": "陈"}, key_target=True), Outcome.FAIL),
    "cadre_stationed": (ctx({"stationed_cadre": "队"}), ctx({}), Outcome.FAIL),
    "cadre_kept": (ctx({}, state="accepted"), ctx({}, state="survey"), Outcome.FAIL),
    # the township's duty: on 12-03 the reports of 05-20, 07-20, 09-20 and 11-20 were due
    "reports_up_to_date": (ctx(duty_counts=filed(4, 4)), ctx(duty_counts=filed(4, 3)), Outcome.FAIL),
    "survey_window_open": (ctx(), ctx(now=datetime(2014, 11, 30, 12, tzinfo=timezone.utc)), Outcome.FAIL),
    "self_check_done": (ctx({"self_check_report": "r"}), ctx({}), Outcome.FAIL),
    "superior_check_done": (ctx({"superior_check_opinion": "ok"}), ctx({}), Outcome.FAIL),
    "spot_check_cleared": (ctx({"spot_drawn": False}), ctx({"spot_drawn": True}), Outcome.FAIL),
    "problems_closed": (ctx(problem_list={"total": 2, "open": []}), ctx(problem_list={"total": 2, "open": [2]}),
                        Outcome.FAIL),
    "spot_check_done": (ctx({"spot_drawn": True, "spot_check_opinion": "合格"}), ctx({"spot_drawn": True}), Outcome.FAIL),
    "survey_valid": (ctx({"survey_respondents": 20, "survey_satisfied": 3}),
                     ctx({"survey_respondents": 19, "survey_satisfied": 19}), Outcome.FAIL),
    "satisfaction_passes": (ctx({"survey_respondents": 50, "survey_satisfied": 35}),
                            ctx({"survey_respondents": 50, "survey_satisfied": 34}), Outcome.FAIL),
}


def test_every_rule_instance_of_the_shipped_workflow_is_covered():
    assert set(CASES) == set(LOADED.rules)


@pytest.mark.parametrize("instance", sorted(CASES))
def test_rule_allows_and_refuses(instance):
    allow, refuse, outcome = CASES[instance]
    rule = LOADED.rules[instance]
    allowed = rule.evaluate(allow)
    refused = rule.evaluate(refuse)
    assert allowed.outcome is Outcome.PASS, allowed
    assert refused.outcome is outcome, refused
    assert refused.reason_zh
    assert refused.reason_en


def test_the_threshold_is_inclusive_and_exact():
    rule = LOADED.rules["satisfaction_passes"]
    for respondents in range(1, 400):
        satisfied = -(-7 * respondents // 10)  # the smallest count reaching 70 %
        assert rule.evaluate(ctx({"survey_respondents": respondents, "survey_satisfied": satisfied})).allows
        assert not rule.evaluate(ctx({"survey_respondents": respondents, "survey_satisfied": satisfied - 1})).allows
