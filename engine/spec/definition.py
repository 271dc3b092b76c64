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

# The source document's words (一、整顿对象): the default of a workflow that does not declare its
# own ``problem_categories`` / ``key_target_circumstances`` — a workflow text deployed before those
# keys existed reads as it always did. The shipped YAML declares the same words itself (a test
# holds them equal); a county changes them there, never here.
DEFAULT_PROBLEM_CATEGORIES: dict[str, str] = {
    "1": "班子配备不齐、书记缺职、工作停滞",
    "2": "书记不胜任现职、工作不在状态",
    "3": "班子不团结、内耗严重",
    "4": "组织制度形同虚设、不开展活动",
}
DEFAULT_KEY_TARGET_CIRCUMSTANCES: dict[str, str] = {
    "canvassing": "换届选举拉票贿选问题突出",
    "interference": "“三宗”和黑恶势力干扰渗透严重",
    "disclosure": "村务居务财务公开和民主管理混乱",
    "petitions": "社会治安问题和信访矛盾纠纷集中",
}


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


class LookBack(Spec):
    """回头看: ``after`` a case entered the state, the notice ``notice`` asks ``notify`` to confirm
    that the organization is still sound; they answer with the fact ``fact`` (engine.ops.look_back)."""

    after: Duration
    notice: Name = "look_back_request"
    notify: tuple[Name, ...] = ()
    fact: Name = "look_back_sound"  # a declared bool fact: recorded, the request is not sent


class State(Spec):
    label: str
    initial: bool = False
    final: bool = False
    # An acceptance check (自查, 上级检查, 抽查, 测评): the acceptance notice names the checks a
    # case went through, read from its event log.
    check: bool = False
    description: str = ""
    deadline: Deadline | None = None
    recurring: tuple[Recurring, ...] = ()
    auto: tuple[Auto, ...] = ()
    look_back: LookBack | None = None  # 回头看 after reaching a final state


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


class KindLimited(Spec):
    """Something of the workflow that may concern some kinds of organization only.

    ``applies_to: [village, community]``: the source document's 驻村干部 and the county's training
    of secretaries concern villages and communities, not a school's party branch. None: every kind.
    """

    applies_to: tuple[Name, ...] | None = None

    def applies(self, kind: str) -> bool:
        """Whether it concerns an organization of ``kind`` (``Organization.kind``)."""
        return self.applies_to is None or kind in self.applies_to


class RuleUse(KindLimited):
    """A rule instance: a registered rule with its parameters, used as a guard by name.

    Limited by ``applies_to``, it is not evaluated for a case of another kind: it counts as
    passed, its verdict saying it does not apply.
    """

    rule: str
    label: str = ""
    params: dict[str, Any] = Field(default_factory=dict)


class Fact(KindLimited):
    """A fact officials record on a case (``rectify fact set``).

    Limited by ``applies_to``, it cannot be recorded on a case of another kind.
    """

    label: str
    # "person": a role people are assigned to (联系领导, 驻村干部: engine.ops.people), its value the
    # names of those assigned; "secretary": the organization's new secretary (engine.ops.secretaries).
    type: Literal["bool", "int", "text", "date", "person", "secretary"]
    guards: tuple[Name, ...] = ()  # rule instances that must pass after the fact is changed or cleared
    per_round: bool = False  # cleared when a new round (re-rectification) starts: checked afresh
    system_only: bool = False  # recorded by the system (e.g. the spot-check draw), never by hand
    many: bool = False  # a person fact several people hold at once (a work team); else one at a time
    exclusive: bool = False  # a person fact whose holder is stationed in one place: one case at a time

    @property
    def short_label(self) -> str:
        """The label without a closing （…） remark: how a document copies the people assigned to a
        person fact (抄送：联系领导, of 联系领导（党员领导干部）)."""
        return re.sub(r"（[^（）]*）$", "", self.label) or self.label


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


class Duty(Spec):
    """What each unit of a level owes on fixed dates (a township's 汇总表 due 03-16, its progress
    reports every two months): one occurrence per date in ``due``, each fulfilled by a submission
    (``rectify duty submit``), chased by reminders before and escalations after its date."""

    label: str
    owed_by: Name = "township"  # the kind of organization that owes it (Organization.kind)
    # Its dates, in order: names of campaign dates (``dates:``) or MM-DD in the campaign year.
    due: tuple[str, ...] = Field(min_length=1)
    # Owed only by units with a case in the campaign (progress reports); False: by every unit of
    # the level (the 排查 filing: a township with no backward organization files a nil return).
    only_with_cases: bool = False
    reminders: tuple[Duration, ...] = ()
    escalations: tuple[Duration, ...] = ()
    remind: tuple[Name, ...] = ()  # roles reminders go to (报送提醒)
    escalate_to: tuple[Name, ...] = ()  # roles escalations go to (督办)
    reminder_notice: Name = "duty_reminder"
    escalation_notice: Name = "duty_escalation"
    returned_notice: Name | None = "duty_returned"  # sent to ``remind`` when the county returns a filing
    filed_by: tuple[Name, ...] = ()  # roles that may file it (within their jurisdiction); empty: any official
    returned_by: tuple[Name, ...] = ()  # roles that may return (退回) a filing; empty: administrators

    @field_validator("due")
    @classmethod
    def _dates(cls, due: tuple[str, ...]) -> tuple[str, ...]:
        for item in due:
            if not (re.fullmatch(NAME, item) or re.fullmatch(r"\d{2}-\d{2}", item)):
                raise ValueError(f"'{item}' is neither a campaign date's name nor MM-DD")
        return due

    def days(self, year: int, dates: dict[str, dt.date]) -> list[dt.date]:
        """Its dates, resolved: a name through the campaign's ``dates``, MM-DD in ``year``."""
        return [dates[d] if d in dates else dt.date.fromisoformat(f"{year}-{d}") for d in self.due]


class ProblemList(Spec):
    """一支一策 at the level of problems (``rectify problem``): who may keep a case's problem list,
    whether closing a problem (销号) needs evidence attached to it, and the reminders before and
    escalations after each problem's own deadline (engine.ops.problems)."""

    roles: tuple[Name, ...] = ()  # who may add, update, close and reopen; empty: any official
    close_requires_evidence: bool = False
    reminders: tuple[Duration, ...] = ()
    escalations: tuple[Duration, ...] = ()
    remind: tuple[Name, ...] = ()  # roles reminders go to (the responsible person too, when registered)
    escalate_to: tuple[Name, ...] = ()  # roles escalations go to (督办)
    reminder_notice: Name = "problem_reminder"
    escalation_notice: Name = "problem_escalation"


class DocumentKind(Spec):
    """A kind of official document (通知, 通报, 督办通知) and the prefix of its numbers."""

    prefix: str | None = None  # None: the workflow's ``document_prefix``


class Documents(Spec):
    """Which notices are official documents (公文), numbered from the yearly register (发文字号),
    addressed to a unit (主送) and copied to the others (抄送); a template not listed in
    ``templates`` is a message (a reminder): no number."""

    issuer_role: Name | None = None  # the issuing department's own role: never copied to itself
    addressee_role: Name | None = None  # the unit a case's documents are addressed to (主送)
    kinds: dict[str, DocumentKind] = Field(default_factory=dict)  # 通知: {prefix: ×组通}
    templates: dict[Name, str] = Field(default_factory=dict)  # template → kind


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
    # 主要问题 (number → label: `case open --problem N`) and the circumstances that make a case a
    # key target (name → label: `case open --flag NAME`); absent: the source document's.
    # Keys and labels are checked by engine.spec.validate.
    problem_categories: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_PROBLEM_CATEGORIES))
    key_target_circumstances: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_KEY_TARGET_CIRCUMSTANCES))
    dates: dict[Name, CampaignDate] = Field(default_factory=dict)
    facts: dict[Name, Fact] = Field(default_factory=dict)
    rules: dict[Name, RuleUse] = Field(default_factory=dict)
    states: dict[Name, State]
    transitions: tuple[Transition, ...]
    spot_check: SpotCheck | None = None
    bulletin: Bulletin | None = None
    documents: Documents = Field(default_factory=Documents)
    problem_list: ProblemList = Field(default_factory=ProblemList)  # 一支一策 (engine.ops.problems)
    duties: dict[Name, Duty] = Field(default_factory=dict)  # what units owe (engine.ops.duties)

    @property
    def openable_kinds(self) -> tuple[str, ...]:
        """The kinds of organization a case may be opened for (``case_kinds``, or its default)."""
        return GRASSROOTS_KINDS if self.case_kinds is None else self.case_kinds

    @property
    def problem_labels(self) -> dict[int, str]:
        """Problem category number → label; cases store the numbers (``Case.problems``)."""
        return {int(key): label for key, label in self.problem_categories.items()}

    @property
    def person_facts(self) -> dict[str, Fact]:
        """The facts people are assigned to (type ``person``: 联系领导, 驻村干部), by name: each is
        also an audience a notice may name (engine.ops.notices)."""
        return {name: f for name, f in self.facts.items() if f.type == "person"}

    @property
    def initial_state(self) -> str:
        return next(name for name, state in self.states.items() if state.initial)

    def resolved_dates(self) -> dict[str, dt.date]:
        return {name: d.resolve(self.year) for name, d in self.dates.items()}
