"""The rule contract: broken rules are that rule's failure, never a traceback, and block both ways."""

from __future__ import annotations

from datetime import datetime, timezone

from engine.spec.machine import guard_passes
from rules.base import (
    CaseView,
    NoParams,
    Outcome,
    Rule,
    RuleContext,
    evaluate_safely,
    failed,
    passed,
)

CTX = RuleContext(case=CaseView("C1", "survey", 1, False, False, (), datetime(2014, 12, 1, tzinfo=timezone.utc)),
                  facts={}, now=datetime(2014, 12, 1, tzinfo=timezone.utc), dates={})


class Raises(Rule):
    name = "raises"

    def evaluate(self, ctx):
        raise ZeroDivisionError("division by zero")


class ReturnsNone(Rule):
    name = "returns_none"

    def evaluate(self, ctx):
        return True


def test_a_rule_that_raises_is_its_own_error_verdict():
    verdict = evaluate_safely("my_guard", Raises(NoParams()), CTX)
    assert verdict.outcome is Outcome.ERROR
    assert "my_guard" in verdict.reason_zh
    assert "ZeroDivisionError" in verdict.reason_en


def test_a_rule_that_returns_no_verdict_is_an_error():
    verdict = evaluate_safely("g", ReturnsNone(NoParams()), CTX)
    assert verdict.outcome is Outcome.ERROR
    assert "returned bool, not a Verdict" in verdict.reason_en


def test_a_broken_rule_blocks_both_the_guard_and_its_negation():
    broken = evaluate_safely("g", Raises(NoParams()), CTX)
    assert not guard_passes(broken, negated=False)
    assert not guard_passes(broken, negated=True)
    assert guard_passes(passed("", ""), False)
    assert not guard_passes(passed("", ""), True)
    assert guard_passes(failed("", ""), True)
    assert not guard_passes(failed("", ""), False)


def test_rules_list_and_show_document_the_code():
    from click.testing import CliRunner

    from cli import main

    runner = CliRunner()
    listed = runner.invoke(main, ["rules", "list", "--json"])
    assert listed.exit_code == 0
    names = {d["name"] for d in __import__("json").loads(listed.stdout)}
    assert {"facts_recorded", "satisfaction_at_least", "backward_ratio"} <= names
    shown = runner.invoke(main, ["rules", "show", "satisfaction_at_least"])
    assert shown.exit_code == 0
    assert "threshold" in shown.stdout
    assert "70 % exactly passes" in shown.stdout
    missing = runner.invoke(main, ["rules", "show", "nope"])
    assert missing.exit_code == 2
    assert "known rules: " in missing.output
