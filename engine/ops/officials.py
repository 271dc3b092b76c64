"""Officials: who acts, in which role, over which jurisdiction, reachable how."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.base.errors import BadInput, InvalidValue, NotFound
from engine.base.text import one_line
from engine.ops.orgs import PHONE, get_org
from engine.store.models import Official, Organization
from engine.store.people_queries import official_by_name, official_name_taken, officials_by_role
from engine.store.widths import width

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class Actor:
    """Who is acting: an official, or the system (the daemon's automatic transitions)."""

    name: str
    role: str | None
    jurisdiction: Organization | None
    via: str | None = None  # how an official acted (local, web, api, cli), recorded on each event

    @property
    def is_system(self) -> bool:
        return self.role is None


SYSTEM = Actor(SYSTEM_ACTOR, None, None)


def add_official(session: Session, name: str, role: str, jurisdiction_code: str, known_roles: dict[str, str],
                 phone: str | None = None, email: str | None = None) -> Official:
    name = one_line(name, "官员姓名", "an official's name", width(Official.name))
    if name == SYSTEM_ACTOR:
        raise InvalidValue(f"无效的姓名 / invalid official name '{name}'")
    phone = phone and one_line(phone, "电话", "the phone number", width(Official.phone))
    email = email and one_line(email, "邮箱", "the e-mail address", width(Official.email))
    if not known_roles:
        raise BadInput("尚未部署工作流，角色未知 / no workflow deployed yet, so no roles are known: "
                       "run 'rectify workflow deploy' first")
    if role not in known_roles:
        listed = ", ".join(f"{code}（{label}）" for code, label in known_roles.items())
        raise InvalidValue(f"未知角色 / unknown role '{role}'; roles of the deployed workflow: {listed}")
    if phone and not PHONE.match(phone):
        raise InvalidValue(f"电话号码格式不对 / not a phone number: '{phone}'")
    if email and "@" not in email:
        raise InvalidValue(f"邮箱格式不对 / not an e-mail address: '{email}'")
    if official_name_taken(session, name):
        raise BadInput(f"官员已存在 / an official named '{name}' already exists")
    official = Official(name=name, role=role, jurisdiction=get_org(session, jurisdiction_code),
                        phone=phone, email=email, channels={}, active=True)
    session.add(official)
    session.flush()
    return official


def get_official(session: Session, name: str) -> Official:
    official = official_by_name(session, name)
    if official is None or not official.active:
        raise NotFound("official 官员", name, "register with 'rectify official add', or check --as / RECTIFY_USER")
    return official


def actor_for(session: Session, name: str | None) -> Actor:
    if not name:
        raise BadInput("请用 --as 姓名 或环境变量 RECTIFY_USER 指明操作人 / say who is acting with --as NAME or RECTIFY_USER")
    official = get_official(session, name)
    return Actor(official.name, official.role, official.jurisdiction)


def list_officials(session: Session) -> list[Official]:
    return officials_by_role(session)
