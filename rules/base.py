"""The rule contract: typed parameters in, a verdict with a bilingual reason out.

Rules are pure: they judge a ``RuleContext`` (a snapshot of the case, its facts, the
campaign dates, the clock's ``now`` and any figures the engine gathered for them) and
never touch a session, a file or the network. That keeps them trivially testable and
safe to evaluate for every case on a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any, ClassVar, Generic, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict


class Outcome(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"  # allows the transition but is recorded and shown
    ERROR = "error"  # the rule itself failed (raised, or returned no verdict): blocks either way


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason_zh: str
    reason_en: str
    figures: Mapping[str, Any] = field(default_factory=dict)

    @property
    def allows(self) -> bool:
        return self.outcome in (Outcome.PASS, Outcome.WARN)

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "reason_zh": self.reason_zh,
                "reason_en": self.reason_en, "figures": dict(self.figures)}


def passed(zh: str, en: str, **figures: Any) -> Verdict:
    return Verdict(Outcome.PASS, zh, en, figures)


def failed(zh: str, en: str, **figures: Any) -> Verdict:
    return Verdict(Outcome.FAIL, zh, en, figures)


def warned(zh: str, en: str, **figures: Any) -> Verdict:
    return Verdict(Outcome.WARN, zh, en, figures)


@dataclass(frozen=True)
class CaseView:
    """What a rule may know about a case (no ORM object leaks into rules)."""

    ref: str
    state: str
    round: int
    key_target: bool
    weak_and_lax: bool
    problems: tuple[int, ...]
    entered_at: datetime


@dataclass(frozen=True)
class RuleContext:
    case: CaseView
    facts: Mapping[str, Any]
    now: datetime
    dates: Mapping[str, date]
    figures: Mapping[str, Any] = field(default_factory=dict)  # gathered by the engine per `needs`
    fact_labels: Mapping[str, str] = field(default_factory=dict)  # for readable reasons

    def label(self, fact: str) -> str:
        return self.fact_labels.get(fact, fact)


class Params(BaseModel):
    """Base for rule parameter models: strict, unknown keys refused."""

    # defer_build, as engine.spec.definition.Spec: parameters are validated when a workflow is
    # checked, not in every process that evaluates a rule from the cached workflow.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class NoParams(Params):
    """The parameters of a rule that takes none."""


P = TypeVar("P", bound=Params)


class Rule(Generic[P]):
    """Subclass ``Rule[MyParams]``, name it and implement ``evaluate``::

        class MeetingsHeld(Rule[MeetingsParams]):
            name = "meetings_held"
            def evaluate(self, ctx): ... self.params.min_meetings ...  # typed: MeetingsParams

    ``Params`` (the model a workflow's ``params`` are validated with) is taken from the type
    argument; a class may also set it itself. Rules know no registry: rectify's own are listed
    in ``rules.BUILTIN``, other packages declare theirs in the ``rectify.rules`` entry-point
    group, and a workflow may name any by ``package.module:Class`` (engine.spec.rule_registry).

    ``facts_used`` and ``dates_used`` let the loader check that a rule instance only names
    facts and dates the workflow declares. ``needs`` names figures the engine must gather
    (e.g. ``"jurisdiction_counts"``) because a pure rule cannot query them itself.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = NoParams
    needs: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, params: P):
        self.params: P = params

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Params" in vars(cls):
            return
        for base in vars(cls).get("__orig_bases__", ()):  # class X(Rule[XParams]): Params is XParams
            origin, args = get_origin(base), get_args(base)
            if isinstance(origin, type) and issubclass(origin, Rule) and args and isinstance(args[0], type):
                cls.Params = args[0]

    def facts_used(self) -> tuple[str, ...]:
        return ()

    def dates_used(self) -> tuple[str, ...]:
        return ()

    def states_used(self) -> tuple[str, ...]:
        return ()

    def evaluate(self, ctx: RuleContext) -> Verdict:
        raise NotImplementedError


def evaluate_safely(instance: str, rule: Rule, ctx: RuleContext) -> Verdict:
    """Run a rule; a rule that raises or returns no verdict becomes that rule's ERROR verdict.

    A broken third-party rule must block the transition with its name and the reason,
    never crash the command with a traceback, and never let a ``not <rule>`` guard pass.
    """
    try:
        verdict = rule.evaluate(ctx)
    except Exception as exc:  # any bug in any rule: reported, not raised
        return Verdict(Outcome.ERROR, f"规则“{instance}”（{rule.name}）执行出错：{type(exc).__name__}: {exc}",
                       f"rule '{instance}' ({rule.name}) raised {type(exc).__name__}: {exc}")
    if not isinstance(verdict, Verdict):
        return Verdict(Outcome.ERROR, f"规则“{instance}”（{rule.name}）没有返回判定结果",
                       f"rule '{instance}' ({rule.name}) returned {type(verdict).__name__}, not a Verdict")
    return verdict
