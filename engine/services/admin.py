"""Administrative services: the database's schema, workflows, organizations and officials.

Every act here is an administrator's (``Access.require_admin``); listings are for any
registered official.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.base.clock import utcnow
from engine.base.errors import BadInput, NotFound, PermissionDenied
from engine.ops import identity as identities
from engine.ops.accounts import revoke_access
from engine.ops.deploy import campaigns, compiled_version, deploy, resolve_campaign
from engine.ops.duties import ensure_all
from engine.ops.identity import Identity, awaiting_office
from engine.ops.officials import add_official, list_officials
from engine.ops.orgs import OrgRow, get_org, import_organizations
from engine.services import Access, Caller, Done, read, write
from engine.spec.loader import LoadedWorkflow
from engine.store.admin_queries import official_named, organizations_within
from engine.store.db import Store
from engine.store.models import Official
from engine.store.people_queries import active_admins


def may_upgrade(store: Store, caller: Caller) -> Done[None]:
    """Upgrading an initialised database is an administrator's act (a new one is anyone's)."""
    return read(store, caller, lambda access: access.require_admin("升级数据库", "upgrade the database"))


@dataclass(frozen=True)
class Deployed:
    name: str
    title: str
    year: int
    version: int
    digest: str
    created: bool


def deploy_workflow(store: Store, caller: Caller, loaded: LoadedWorkflow) -> Done[Deployed]:
    def work(access: Access) -> Deployed:
        access.require_admin("部署工作流", "deploy a workflow")
        wf = loaded.definition
        version, created = deploy(access.session, loaded, access.actor_name(), access.now(wf.timezone))
        ensure_all(access.session, access.now(wf.timezone))  # what units owe under the version deployed
        return Deployed(wf.name, wf.title, wf.year, version.version, version.digest, created)
    return write(store, caller, work)


def deployed_workflow(store: Store, caller: Caller, campaign_ref: str | None) -> Done[tuple[Any, str]]:
    """The definition a campaign runs on and a line saying which version it is."""
    def work(access: Access) -> tuple[Any, str]:
        access.scope()  # any registered official may read it
        version = resolve_campaign(access.session, campaign_ref).current_version
        return (compiled_version(version).definition,
                f"已部署版本 / deployed version v{version.version} ({version.digest[:12]}), from {version.source_file}")
    return read(store, caller, work)


def import_orgs(store: Store, caller: Caller, rows: list[OrgRow], source: str) -> Done[tuple[int, int]]:
    """Add or update organizations; returns (added, updated)."""
    def work(access: Access) -> tuple[int, int]:
        access.require_admin("导入基层党组织", "import organizations")
        counts = import_organizations(access.session, rows, source)
        ensure_all(access.session, access.now())  # a new township owes what the others owe
        return counts
    return write(store, caller, work)


def may_import(store: Store, caller: Caller, what_zh: str, what_en: str) -> None:
    """Refuse (and record) an import by a non-administrator before its file is even read."""
    read(store, caller, lambda access: access.require_admin(what_zh, what_en))


def list_orgs(store: Store, caller: Caller, township: str | None = None) -> Done[list[dict[str, Any]]]:
    """Organizations inside the caller's jurisdiction, in hierarchy order."""
    def work(access: Access) -> list[dict[str, Any]]:
        scope = access.scope()
        township_id = get_org(access.session, township).id if township else None
        found = organizations_within(access.session, scope.path if scope is not None else None, township_id)
        return [{"code": o.code, "name": o.name, "kind": o.kind, "parent": o.parent.code if o.parent else None,
                 "secretary": o.secretary_name, "phone": o.secretary_phone} for o in found]
    return read(store, caller, work)


@dataclass(frozen=True)
class OfficialShown:
    name: str
    role: str
    role_label: str
    jurisdiction: str
    login: str | None
    admin: bool
    active: bool


def _shown(person: Official, roles: dict[str, str]) -> OfficialShown:
    return OfficialShown(person.name, person.role, roles.get(person.role, person.role), person.jurisdiction.name,
                         person.login, person.admin, person.active)


def _known_roles(access: Access) -> dict[str, str]:
    roles: dict[str, str] = {}
    for campaign in campaigns(access.session):
        roles.update(compiled_version(campaign.current_version).definition.roles)
    return roles


def add(store: Store, caller: Caller, name: str, role: str, jurisdiction: str, *, phone: str | None = None,
        email: str | None = None, login: str | None = None, admin: bool = False) -> Done[OfficialShown]:
    """Register an official (an administrator's act)."""
    def work(access: Access) -> OfficialShown:
        access.require_admin("登记官员", "register officials")
        roles = _known_roles(access)
        person = add_official(access.session, name, role, jurisdiction, roles, phone, email)
        identities.set_login(access.session, person, login)
        person.admin = admin
        _settle_bootstrap(access, person)
        return _shown(person, roles)
    return write(store, caller, work)


def update(store: Store, caller: Caller, name: str, *, login: str | None = None, no_login: bool = False,
           admin: bool | None = None, active: bool | None = None) -> Done[OfficialShown]:
    """Change an official's login, administrator role or activity (an administrator's act)."""
    if login and no_login:
        raise BadInput("--login 与 --no-login 不能同时使用 / use either --login or --no-login")

    def work(access: Access) -> OfficialShown:
        access.require_admin("修改官员", "change officials")
        person = official_named(access.session, name)
        if person is None:
            raise NotFound("official 官员", name, "list them with 'rectify official list'")
        if login or no_login:
            identities.set_login(access.session, person, None if no_login else login)
        losing = (admin is False or active is False) and person.admin and person.active
        if losing and active_admins(access.session) < 2:
            raise PermissionDenied(f"{person.name}是最后一名在职管理员，不能停用或撤销 / {person.name} is the last "
                                   "active administrator and cannot be deactivated or demoted: make another "
                                   "official an administrator first ('rectify official update NAME --admin')")
        if admin is not None:
            person.admin = admin
        if active is not None:
            person.active = active
        if active is False:  # a deactivated official's web sessions and API tokens stop at once
            revoke_access(access.session, person.id, utcnow())
        _settle_bootstrap(access, person)
        return _shown(person, _known_roles(access))
    return write(store, caller, work)


def _settle_bootstrap(access: Access, person: Official) -> None:
    """In bootstrap mode, an administrator registered under the login doing the set-up takes
    office at once; anyone else's login keeps bootstrap open until it runs rectify, so the
    person setting up is never locked out halfway (the warning says whom it waits for)."""
    if not access.identity.bootstrap or not (person.admin and person.active):
        return
    if person.login == access.identity.login:
        person.admin_since = utcnow()
        access.identity = Identity(access.identity.login, person, bootstrap=False)
        access.warnings.append(f"{person.name}（登录名 {person.login}）已就任管理员，引导模式结束 / {person.name} "
                               f"(login {person.login}) has taken office as administrator: bootstrap mode has ended")
    else:
        access.session.flush()
        access.note_bootstrap()


def officials(store: Store, caller: Caller) -> Done[list[dict[str, Any]]]:
    """The officials (a directory any registered official may read)."""
    def work(access: Access) -> list[dict[str, Any]]:
        access.scope()
        return [{"name": o.name, "role": o.role, "jurisdiction": o.jurisdiction.name, "phone": o.phone,
                 "email": o.email, "login": o.login, "admin": o.admin, "active": o.active}
                for o in list_officials(access.session)]
    return read(store, caller, work)


@dataclass(frozen=True)
class WhoAmI:
    login: str
    official: str | None  # "name（role，jurisdiction）"
    admin: bool
    bootstrap: bool


def whoami(store: Store, caller: Caller) -> Done[WhoAmI]:
    """Who the caller is. A registered administrator's first ``whoami`` under their own login
    is a write: it ends bootstrap mode (``take_office``)."""
    pending = False

    def work(access: Access) -> WhoAmI:
        nonlocal pending
        me = access.identity
        pending = awaiting_office(me)
        if me.bootstrap:
            access.note_bootstrap()
        shown = f"{me.official.name}（{me.official.role}，{me.official.jurisdiction.name}）" if me.official else None
        return WhoAmI(me.login, shown, me.admin, me.bootstrap)
    done = read(store, caller, work)
    if not pending:
        return done
    took = write(store, caller, work)
    return Done(took.value, [*took.warnings, "已就任管理员，引导模式结束 / you have taken office as administrator: "
                                             "bootstrap mode has ended"])
