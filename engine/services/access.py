"""The policy every front end obeys: who the caller is, what they may do and what they may read.

A front end (the CLI, the web workspace, the API) says who is calling (a ``Caller``: the
login it authenticated, and the ``--as`` / ``--now`` it was asked for); everything else is
decided here, inside the transaction that acts, so two front ends cannot drift apart:

- administrators alone run administrative acts, act for someone else (``as_name``) or at
  another time (a clock set on a write); until a registered administrator's own login has
  run a command that writes, the database is in bootstrap mode and every login counts as one;
- an official reads only what lies inside their jurisdiction: the cases of organizations
  under it, their facts, notices and history (the county department's jurisdiction is the
  county, so it reads everything); county-wide figures need a county-wide jurisdiction;
- a login that maps to no official may read nothing and do nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from engine.base.clock import DEFAULT_TZ, parse_when, utcnow
from engine.base.errors import PermissionDenied
from engine.ops.clock_check import far_from_campaign
from engine.ops.deploy import compiled_version
from engine.ops.identity import (
    Identity,
    acting_actor,
    authenticated,
    require_admin,
    take_office,
    whoami,
)
from engine.ops.officials import Actor, get_official
from engine.ops.orgs import is_within
from engine.store.admin_queries import newest_campaign
from engine.store.models import Campaign, Case, Organization
from engine.store.people_queries import admins_awaiting_office

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

BOOTSTRAP_WARNING = (
    "提醒：尚未登记管理员，任何能运行 rectify 的登录名都可办理管理事项，请尽快用 "
    "'rectify official add 姓名 --role … --jurisdiction … --login 登录名 --admin' 登记 / "
    "warning: no administrator is registered, so anyone who can run rectify may do an "
    "administrator's work; register one with 'rectify official add NAME --role … "
    "--jurisdiction … --login LOGIN --admin'")


def bootstrap_warning(session: Session) -> str:
    """What bootstrap mode means right now: no administrator yet, or who must still log in."""
    waiting = admins_awaiting_office(session)
    with_login = [o for o in waiting if o.login]
    if not waiting:
        return BOOTSTRAP_WARNING
    if not with_login:
        names = "、".join(o.name for o in waiting)
        return (f"提醒：管理员{names}没有登录名，引导模式不会结束，任何能运行 rectify 的登录名都可办理管理事项；"
                f"请用 'rectify official update 姓名 --login 登录名' 补登 / warning: administrator(s) {names} have "
                "no login, so bootstrap mode cannot end and anyone who can run rectify may do an administrator's "
                "work; give one a login with 'rectify official update NAME --login LOGIN'")
    who = "、".join(f"{o.name}（登录名 {o.login}）" for o in with_login)
    who_en = ", ".join(f"{o.name} (login {o.login})" for o in with_login)
    return (f"提醒：引导模式——已登记管理员{who}，待其登录名首次运行 rectify（如 'rectify whoami'）后引导模式结束；"
            f"在此之前任何能运行 rectify 的登录名都可办理管理事项 / bootstrap mode: {who_en} is registered as "
            "administrator; bootstrap ends when that login first runs rectify (e.g. 'rectify whoami'), and until "
            "then anyone who can run rectify may do an administrator's work")


@dataclass(frozen=True)
class Caller:
    """Who asks, as the front end established it, and what they asked for."""

    login: str
    as_name: str | None = None  # --as: act (or read) as this official; administrators only
    now_text: str | None = None  # --now: a simulated clock; on a write, administrators only
    command: str = ""  # what was asked, as the refusals log shows it (no passwords)
    # An official the service authenticated (a web session, an API or CLI-client token): the
    # identity is that official, whatever ``login`` says, and bootstrap mode grants it nothing.
    official: str | None = None
    via: str = "local"  # how the caller acts: local (the CLI on the database), web, api, cli (client mode)
    # ``now_text`` is the service's own simulated clock (``rectify serve --now``, set by whoever
    # runs the service on its database, e.g. for the demo): it is not the caller's request.
    service_clock: bool = False

    @property
    def clock_set(self) -> bool:
        """The caller asked for another time (an administrator's privilege on a write)."""
        return self.now_text is not None and not self.service_clock


@dataclass
class Access:
    """The caller's rights, resolved once per transaction against the officials table."""

    session: Session
    caller: Caller
    writing: bool = False  # a write transaction: a pending administrator's first command ends bootstrap
    identity: Identity = field(init=False)
    warnings: list[str] = field(default_factory=list)  # shown to the caller after the commit
    _bootstrap_noted: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.caller.official is not None:
            self.identity = authenticated(self.session, self.caller.login, self.caller.official)
        else:
            self.identity = whoami(self.session, self.caller.login)
        if self.writing and self.identity.bootstrap:
            self.identity = take_office(self.identity, utcnow())
        if self.caller.now_text is None:
            note = far_from_campaign(self.session, utcnow())
            if note:
                self.warnings.append(note)

    # --- time --------------------------------------------------------------------------

    def now(self, where: Case | Campaign | str | None = None) -> datetime:
        """The caller's clock: ``--now`` read in the time zone of the case's (or campaign's)
        workflow, or the real time."""
        if self.caller.now_text is None:
            return utcnow()
        return parse_when(self.caller.now_text, _timezone(where))

    def zone(self) -> str:
        """The time zone to show times in when no one case is in view: the newest campaign's
        workflow's (the default before any is deployed)."""
        return _timezone(newest_campaign(self.session))

    # --- acting --------------------------------------------------------------------------

    def require_admin(self, what_zh: str, what_en: str) -> None:
        """An administrative act: refused unless the caller is an administrator."""
        require_admin(self.identity, what_zh, what_en)
        self._note_bootstrap()

    def actor(self) -> Actor:
        """The official a write acts as: the login's own, or ``--as`` for an administrator;
        a simulated clock on a write is the administrator's call too."""
        actor = acting_actor(self.session, self.identity, self.caller.as_name, self.caller.clock_set)
        if self.caller.as_name or self.caller.clock_set:
            self._note_bootstrap()
        return replace(actor, via=self.caller.via)

    def actor_name(self) -> str:
        """Who is recorded as having done an administrative act."""
        if self.caller.as_name:
            return self.caller.as_name
        return self.identity.official.name if self.identity.official else self.identity.login

    def _note_bootstrap(self) -> None:
        """An administrative act in bootstrap mode: the caller is told (``finished_warnings``)."""
        self._bootstrap_noted = True

    def note_bootstrap(self) -> None:
        self._note_bootstrap()

    def finished_warnings(self) -> list[str]:
        """The warnings to show once the work is done, bootstrap's as it stands at the end of
        the transaction (the work may have registered an administrator, or ended it)."""
        if self._bootstrap_noted and self.identity.bootstrap:
            return [*self.warnings, bootstrap_warning(self.session)]
        return self.warnings

    # --- reading -------------------------------------------------------------------------

    def scope(self) -> Organization | None:
        """The jurisdiction whose cases the caller may read; None for everything (an
        administrator). Refused for a login that maps to no official."""
        if self.caller.as_name and not self._is_self(self.caller.as_name):
            if not self.identity.admin:
                raise PermissionDenied(f"只有管理员可以用 --as 以他人身份查看 / only an administrator may read as "
                                       f"someone else (--as {self.caller.as_name}); {self.identity.describe()}")
            return get_official(self.session, self.caller.as_name).jurisdiction
        if self.identity.admin:
            return None
        if self.identity.official is None:
            raise PermissionDenied(
                f"登录名“{self.identity.login}”没有对应的官员，不能查看 / login '{self.identity.login}' is not "
                f"mapped to an official and may read nothing: ask an administrator to run 'rectify official add "
                f"NAME --role ROLE --jurisdiction CODE --login {self.identity.login}'")
        return self.identity.official.jurisdiction

    def require_case(self, case: Case) -> Case:
        """Refuse to show a case outside the caller's jurisdiction; returns it otherwise."""
        self.require_org(case.organization, f"整顿对象 {case.ref}", f"case {case.ref}")
        return case

    def require_org(self, org: Organization, what_zh: str, what_en: str) -> None:
        scope = self.scope()
        if scope is not None and not is_within(org, scope):
            raise PermissionDenied(f"{what_zh}（{org.name}）不在{self._who()}的管辖范围“{scope.name}”内，不能查看 / "
                                   f"{what_en} ({org.name}) is outside {self._who()}'s jurisdiction ({scope.name})")

    def require_everything(self, what_zh: str, what_en: str) -> None:
        """County-wide figures (reports, quotas, the audit of every chain): only for a caller
        whose jurisdiction is the whole county (or an administrator)."""
        scope = self.scope()
        if scope is not None and scope.parent_id is not None:
            raise PermissionDenied(f"{what_zh}涉及全县，{self._who()}的管辖范围是“{scope.name}” / {what_en} covers the "
                                   f"whole county; {self._who()}'s jurisdiction is {scope.name}")

    def _is_self(self, name: str) -> bool:
        return self.identity.official is not None and self.identity.official.name == name

    def _who(self) -> str:
        if self.caller.as_name:
            return self.caller.as_name
        return self.identity.official.name if self.identity.official else self.identity.login


def _timezone(where: Case | Campaign | str | None) -> str:
    """The time zone of a case's or a campaign's workflow (the default one without either)."""
    if isinstance(where, str):
        return where
    if where is None:
        return DEFAULT_TZ
    version = where.workflow_version if isinstance(where, Case) else where.current_version
    return compiled_version(version).definition.timezone
