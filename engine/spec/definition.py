"""The workflow definition: the schema of a workflow YAML file as frozen pydantic models.

A definition is data only. ``engine.spec.loader`` reads a file into it and checks the whole
graph; ``engine.spec.machine`` compiles it into the shared transitions Machine. Strict mode:
no coercion ("10" is not 10), and unknown keys are refused.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.base.domain import GRASSROOTS_KINDS

NAME = r"^[a-z][a-z0-9_]*$"
Name = Annotated[str, Field(pattern=NAME)]


class Spec(BaseModel):
    # defer_build: the validators are built by the first model_validate (check, deploy). A
    # command that takes the deployed workflow from the cache (engine.ops.deploy) never needs them.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


_DURATION = re.compile(r"^\s*(\d+)\s*(working days?|workdays?|days?|weeks?|months?|个工作日|工作日|天|日|周|个月|月)\s*$")
_UNITS = {"day": "days", "days": "days", "天": "days", "日": "days", "week": "weeks", "weeks": "weeks",
          "周": "weeks", "month": "months", "months": "months", "个月": "months", "月": "months",
          "working day": "working_days", "working days": "working_days", "workday": "working_days",
          "workdays": "working_days", "个工作日": "working_days", "工作日": "working_days"}
_UNIT_ZH = {"days": "天", "weeks": "周", "months": "个月", "working_days": "个工作日"}


class Duration(Spec):
    """An amount of time: ``"3 days"``, ``"2 weeks"``, ``"2 months"``, ``"10 working days"``.

    Chinese units work too: ``"3天"``, ``"2个月"``, ``"10个工作日"``. Working days follow the
    campaign's working-day calendar (statutory holidays and adjusted working days).
    """

    amount: int = Field(ge=0)
    unit: Literal["days", "weeks", "months", "working_days"]

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _DURATION.match(value)
            if not match:
                raise ValueError(
                    f"'{value}' is not a duration: write '<n> days', '<n> weeks', '<n> months' "
                    "or '<n> working days' (or 3天, 2个月, 10个工作日)"
                )
            return {"amount": int(match.group(1)), "unit": _UNITS[match.group(2)]}
        return value

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.replace('_', ' ')}"

    @property
    def zh(self) -> str:
        return f"{self.amount}{_UNIT_ZH[self.unit]}"


class CampaignDate(Spec):
    """A named date of the campaign: ``MM-DD`` in the campaign year, or a full ``YYYY-MM-DD``."""

    date: str = Field(pattern=r"^(\d{4}-)?\d{2}-\d{2}$")
    label: str

    def resolve(self, year: int) -> dt.date:
        text = self.date if len(self.date) == 10 else f"{year}-{self.date}"
        return dt.date.fromisoformat(text)


class Deadline(Spec):
    """When a state must be left: a named campaign date or a duration after entering it.

    ``later_rounds`` replaces it for re-rectification rounds (round ≥ 2), whose calendar
    dates have passed: a fresh relative deadline.
    """

    date: Name | None = None
    after: Duration | None = None
    reminders: tuple[Duration, ...] = ()
    escalations: tuple[Duration, ...] = ()
    later_rounds: Deadline | None = None
    # "keep": a deadline on a rest day stays there; "next_workday": it moves to the next working day.
    if_holiday: Literal["keep", "next_workday"] = "keep"
    reminder_notice: Name = "deadline_reminder"
    escalation_notice: Name = "overdue_escalation"
    remind: tuple[Name, ...] = ()  # roles reminders go to (催办)
    escalate_to: tuple[Name, ...] = ()  # roles escalations go to (督办: superior, contact leader, county)

    @model_validator(mode="after")
    def _one_anchor(self) -> Deadline:
        if (self.date is None) == (self.after is None):
            raise ValueError("a deadline needs exactly one of 'date' (a campaign date) or 'after' (a duration)")
        return self


class Recurring(Spec):
    """A notice repeated while the case stays in the state (e.g. progress reports)."""

    notice: Name
    every: Duration
    label: str = ""
    notify: tuple[Name, ...] = ()  # roles the notice goes to


class Auto(Spec):
    """An automatic transition the daemon fires once the case has been in the state ``after``."""

    trigger: Name
    after: Duration


class State(Spec):
    label: str
    initial: bool = False
    final: bool = False
    description: str = ""
    deadline: Deadline | None = None
    recurring: tuple[Recurring, ...] = ()
    auto: tuple[Auto, ...] = ()


class Transition(Spec):
    trigger: Name
    label: str
    source: Name | tuple[Name, ...]
    dest: Name
    roles: tuple[Name, ...] = ()
    guards: tuple[str, ...] = ()
    notice: Name | None = None
    notify: tuple[Name, ...] = ()  # roles the notice goes to
    new_round: bool = False

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,) if isinstance(self.source, str) else self.source

    @field_validator("guards")
    @classmethod
    def _guard_syntax(cls, guards: tuple[str, ...]) -> tuple[str, ...]:
        for guard in guards:
            if not re.fullmatch(r"(not\s+)?[a-z][a-z0-9_]*", guard):
                raise ValueError(f"guard '{guard}' must be a rule name, or 'not <rule name>'")
        return guards


class RuleUse(Spec):
    """A rule instance: a registered rule with its parameters, used as a guard by name."""

    rule: str
    label: str = ""
    params: dict[str, Any] = Field(default_factory=dict)


class Fact(Spec):
    """A fact officials record on a case (``rectify fact set``)."""

    label: str
    type: Literal["bool", "int", "text", "date"]
    guards: tuple[Name, ...] = ()  # rule instances that must pass after the fact is changed or cleared
    per_round: bool = False  # cleared when a new round (re-rectification) starts: checked afresh
    system_only: bool = False  # recorded by the system (e.g. the spot-check draw), never by hand


class SpotCheck(Spec):
    """The county's random spot check (县委组织部抽查) among cases waiting in ``state``."""

    state: Name
    rate: float = Field(gt=0, le=1)
    include_key_targets: bool = True
    drawn_fact: Name = "spot_drawn"
    pass_trigger: Name  # fired for the cases not drawn: they move on
    notice: Name | None = None  # sent for each drawn case (抽查通知)
    notify: tuple[Name, ...] = ()


class Bulletin(Spec):
    """The county's periodic bulletin (定期通报): one notice for the whole campaign, every ``every``."""

    notice: Name
    every: Duration
    start: Name  # a campaign date: the first bulletin
    end: Name  # a campaign date: no bulletin after it
    notify: tuple[Name, ...] = ()


class Workflow(Spec):
    """A whole workflow file."""

    name: Name
    title: str
    year: int = Field(ge=2000, le=2100)
    timezone: str = "Asia/Shanghai"
    issuer: str = "中共××县委组织部"
    # 发文字号前缀 (×组通 in ×组通〔2014〕12号): the county's own, set by `rectify workflow new`.
    document_prefix: str = "×组通"
    roles: dict[Name, str]
    open_roles: tuple[Name, ...] = ()  # who may open (register) a case; empty: any official
    # Kinds of organization that may be opened as cases; None: every grassroots kind (all but
    # county and township). Checked against engine.base.domain by engine.spec.validate.
    case_kinds: tuple[Name, ...] | None = None
    dates: dict[Name, CampaignDate] = Field(default_factory=dict)
    facts: dict[Name, Fact] = Field(default_factory=dict)
    rules: dict[Name, RuleUse] = Field(default_factory=dict)
    states: dict[Name, State]
    transitions: tuple[Transition, ...]
    spot_check: SpotCheck | None = None
    bulletin: Bulletin | None = None

    @property
    def openable_kinds(self) -> tuple[str, ...]:
        """The kinds of organization a case may be opened for (``case_kinds``, or its default)."""
        return GRASSROOTS_KINDS if self.case_kinds is None else self.case_kinds

    @property
    def initial_state(self) -> str:
        return next(name for name, state in self.states.items() if state.initial)

    def resolved_dates(self) -> dict[str, dt.date]:
        return {name: d.resolve(self.year) for name, d in self.dates.items()}
