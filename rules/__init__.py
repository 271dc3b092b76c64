"""Rule modules: one per rule family, all registered in ``rules.registry.registry``."""

from rules import facts, quota, spotcheck, staffing, survey, timeline  # noqa: F401  (importing registers them)
from rules.base import Outcome, Rule, RuleContext, Verdict
from rules.registry import registry

__all__ = ["Outcome", "Rule", "RuleContext", "Verdict", "registry"]
