"""Rules about recorded facts: plans made and published, people in place."""

from __future__ import annotations

from pydantic import Field

from rules.base import Params, Rule, RuleContext, Verdict, failed, passed


def _present(value: object) -> bool:
    return value is not None and value is not False and value != ""


class FactsParams(Params):
    facts: tuple[str, ...] = Field(min_length=1)
    only_key_targets: bool = False


class FactsRecorded(Rule[FactsParams]):
    """Every listed fact is recorded (true, or a non-empty name/date/number)."""

    name = "facts_recorded"
    summary = "所列事实均已登记 / all listed facts are recorded"

    def facts_used(self) -> tuple[str, ...]:
        return self.params.facts

    def evaluate(self, ctx: RuleContext) -> Verdict:
        p = self.params
        if p.only_key_targets and not ctx.case.key_target:
            return passed("非重点整顿对象，不要求", "not a key target: not required")
        missing = [name for name in p.facts if not _present(ctx.facts.get(name))]
        if missing:
            return failed(f"尚未登记：{'、'.join(map(ctx.label, missing))}", f"not yet recorded: {', '.join(missing)}",
                          missing=missing)
        return passed("均已登记", "all recorded", facts=list(p.facts))


class AnyFactParams(Params):
    facts: tuple[str, ...] = Field(min_length=2)


class AnyFactRecorded(Rule[AnyFactParams]):
    """At least one of the listed facts is recorded (e.g. secretary appointed or first secretary)."""

    name = "any_fact_recorded"
    summary = "所列事实至少登记一项 / at least one listed fact is recorded"

    def facts_used(self) -> tuple[str, ...]:
        return self.params.facts

    def evaluate(self, ctx: RuleContext) -> Verdict:
        p = self.params
        present = [name for name in p.facts if _present(ctx.facts.get(name))]
        if present:
            return passed(f"已登记：{'、'.join(map(ctx.label, present))}", f"recorded: {', '.join(present)}")
        return failed(f"以下事实均未登记（至少需一项）：{'、'.join(map(ctx.label, p.facts))}",
                      f"none of these is recorded (one is needed): {', '.join(p.facts)}")
