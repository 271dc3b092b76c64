"""Rule modules: one per rule family. ``BUILTIN`` lists rectify's own rules.

Rules know no registry: ``engine.spec.rule_registry`` registers ``BUILTIN``, the rules
third-party packages declare in the ``rectify.rules`` entry-point group, and finds any
``package.module:Class`` a workflow names.
"""

from rules.base import Outcome, Rule, RuleContext, Verdict
from rules.facts import AnyFactRecorded, FactsRecorded
from rules.problems import ProblemsClosed
from rules.quota import BackwardRatio
from rules.spotcheck import SpotCheckCleared
from rules.staffing import DutyFiled, KeptUntil, ReportsSubmitted
from rules.survey import SatisfactionAtLeast, SurveyComplete
from rules.timeline import DateReached, DoneByDate

BUILTIN: tuple[type[Rule], ...] = (
    FactsRecorded, AnyFactRecorded, BackwardRatio, SpotCheckCleared, KeptUntil, ReportsSubmitted, DutyFiled,
    SurveyComplete, SatisfactionAtLeast, DateReached, DoneByDate, ProblemsClosed,
)

__all__ = ["BUILTIN", "Outcome", "Rule", "RuleContext", "Verdict"]
