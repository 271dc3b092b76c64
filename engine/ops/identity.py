"""Who is acting: the operating-system login, mapped to an official by an administrator.

Whoever runs ``rectify`` is who acts: the login is looked up in the officials table
(``rectify official add … --login NAME``). Only an administrator may act as someone else
(``--as``), act at another time (``--now`` on a command that writes) or run administrative
commands (deploy a workflow, import, manage officials).

Until an administrator has *taken office* the database is in *bootstrap* mode and every login
is trusted as one, so a new county can set itself up. Registering an administrator does not
end it: the administrator's own login running a command that writes (``rectify whoami`` does)
does, and so does registering the login of the person doing the set-up. So whoever sets up
can register the county's administrator first and everyone else after, and is never locked
out by a login that has not been used yet.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from engine.base.errors import BadInput, PermissionDenied
from engine.base.text import one_line
from engine.ops.officials import Actor, actor_for
from engine.store.models import Official
from engine.store.people_queries import (
    active_official_by_login,
    admin_took_office,
    official_by_login,
    official_by_name,
)
from engine.store.widths import width

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def os_login() -> str:
    """The login of the process's effective user (not $USER, which anyone can set)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):  # not POSIX, or a uid without a passwd entry
        return getpass.getuser()


@dataclass(frozen=True)
class Identity:
    login: str
    official: Official | None
    bootstrap: bool  # no administrator has taken office yet: every login is trusted as one

    @property
    def admin(self) -> bool:
        return self.bootstrap or bool(self.official and self.official.admin)

    def describe(self) -> str:
        who = f"{self.official.name}（{self.official.role}）" if self.official else "未对应官员 / no official"
        return f"login {self.login}: {who}"


def whoami(session: Session, login: str | None = None) -> Identity:
    login = login or os_login()
    official = active_official_by_login(session, login)
    return Identity(login, official, bootstrap=not admin_took_office(session))


def authenticated(session: Session, login: str, name: str) -> Identity:
    """The identity of an official the service authenticated (web session, API or CLI-client
    token): that official if still active, never the bootstrap mode's trust in any login."""
    official = official_by_name(session, name)
    return Identity(login, official if official is not None and official.active else None, bootstrap=False)


def awaiting_office(identity: Identity) -> bool:
    """A registered administrator whose own login runs rectify for the first time in
    bootstrap mode: their command ends bootstrap (``take_office``)."""
    return identity.bootstrap and identity.official is not None and identity.official.admin


def take_office(identity: Identity, now: datetime) -> Identity:
    """Inside a write transaction: the caller is a registered administrator running rectify
    under their own login, so bootstrap ends for good (``Official.admin_since``)."""
    if not awaiting_office(identity):
        return identity
    assert identity.official is not None
    identity.official.admin_since = now
    return Identity(identity.login, identity.official, bootstrap=False)


def require_admin(identity: Identity, what_zh: str, what_en: str) -> None:
    if not identity.admin:
        raise PermissionDenied(f"{what_zh}须由管理员办理，{identity.describe()} / only an administrator may {what_en} "
                               f"({identity.describe()}); an administrator can grant it with "
                               f"'rectify official update NAME --admin'")


def acting_actor(session: Session, identity: Identity, as_name: str | None, clock_set: bool) -> Actor:
    """The official a writing command acts as: the login's own, or ``--as`` for an administrator."""
    if clock_set and not identity.admin:
        raise PermissionDenied(f"只有管理员可以用 --now 以其他时间办理 / only an administrator may act at another "
                               f"time (--now); {identity.describe()}")
    own = identity.official
    if as_name and not (own is not None and own.name == as_name):
        if not identity.admin:
            raise PermissionDenied(f"只有管理员可以用 --as 代他人办理 / only an administrator may act as someone else "
                                   f"(--as {as_name}); {identity.describe()}")
        return actor_for(session, as_name)
    if own is None:
        if identity.bootstrap:
            return actor_for(session, as_name)  # asks for --as, with its own message
        raise PermissionDenied(f"登录名“{identity.login}”没有对应的官员 / login '{identity.login}' is not mapped to an "
                               f"official: ask an administrator to run 'rectify official add NAME --role ROLE "
                               f"--jurisdiction CODE --login {identity.login}'")
    return Actor(own.name, own.role, own.jurisdiction)


def set_login(session: Session, official: Official, login: str | None) -> None:
    if login is not None:
        login = one_line(login, "登录名", "the login", width(Official.login))
        if any(c.isspace() for c in login):
            raise BadInput(f"无效的登录名 / invalid login '{login}': no spaces")
        holder = official_by_login(session, login)
        if holder is not None and holder.id != official.id:
            raise BadInput(f"登录名“{login}”已对应{holder.name} / login '{login}' already belongs to {holder.name}")
    official.login = login
