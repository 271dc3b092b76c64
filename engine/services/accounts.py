"""Services on the web workspace's accounts: what ``rectify serve`` and the account commands call.

Administrators invite officials (a one-time link), reset and disable their accounts, and see
every account's state; any official may issue, list and revoke their own API tokens (an
administrator, anyone's). The web itself logs officials in and out and asks who a session or a
bearer token belongs to: those calls take no ``Caller`` (nobody is authenticated yet, or the
token is the authentication), so they run their transaction on the store directly and record
their refusals themselves.

Security keeps real time (``utcnow``) whatever clock the campaign is simulated on. Passwords are
hashed (~50 ms) outside any write transaction, so logging in never holds the database's lock
while it hashes.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.base.clock import local, utcnow
from engine.base.errors import (
    Conflict,
    DatabaseUnavailable,
    InvalidValue,
    LoginRefused,
    NotFound,
    PermissionDenied,
    RectifyError,
    Refused,
)
from engine.base.text import one_line
from engine.ops import accounts as ops
from engine.ops.accounts import Authenticated
from engine.ops.audit import record_refusal
from engine.ops.officials import get_official
from engine.services import Access, Caller, Done, read, write
from engine.store.account_queries import (
    account_of,
    revoke_session,
    revoke_token_hash,
    service_key_value,
    token_by_id,
    touch_session,
    touch_token,
)
from engine.store.admin_queries import official_named
from engine.store.db import DatabaseLibraryError, Store
from engine.store.models import Official

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["Authenticated", "Invitation", "accept_invitation", "accounts", "deactivate", "invitation_name",
           "invite", "issue_token", "list_tokens", "log_in", "log_out", "reset", "revoke_token", "service_key",
           "session_user", "token_user"]


@dataclass(frozen=True)
class Invitation:
    """What an administrator hands over."""

    name: str  # the official
    url: str  # f"{base_url}/invite/{token}"
    expires: datetime  # in the campaign's time zone


# --- administrators -------------------------------------------------------------------------

def invite(store: Store, caller: Caller, name: str, base_url: str, days: int = ops.INVITE_DAYS) -> Done[Invitation]:
    """A one-time invitation for an official who has no password yet; replaces an unaccepted one."""
    return _invitation(store, caller, name, base_url, days, ops.invite, ("邀请官员开通网页账户", "invite officials"))


def reset(store: Store, caller: Caller, name: str, base_url: str, days: int = ops.INVITE_DAYS) -> Done[Invitation]:
    """The official's password cleared, their sessions and tokens revoked, a new invitation."""
    return _invitation(store, caller, name, base_url, days, ops.reset, ("重设网页账户", "reset web accounts"))


def _invitation(store: Store, caller: Caller, name: str, base_url: str, days: int, make: Any,
                what: tuple[str, str]) -> Done[Invitation]:
    base = _base_url(base_url)
    if not 1 <= days <= ops.MAX_INVITE_DAYS:
        raise InvalidValue(f"邀请有效天数须在 1 到 {ops.MAX_INVITE_DAYS} 之间 / an invitation lasts 1 to "
                           f"{ops.MAX_INVITE_DAYS} days, not {days}")

    def work(access: Access) -> Invitation:
        access.require_admin(*what)
        official = _active_official(access, name)
        token, expires = make(access.session, official, access.actor_name(), utcnow(), days)
        return Invitation(official.name, f"{base}/invite/{token}", local(expires, access.zone()))
    return write(store, caller, work)


def _base_url(base_url: str) -> str:
    base = one_line(base_url, "网址", "the base URL", 500).rstrip("/")
    if not base.startswith(("http://", "https://")) or any(c.isspace() for c in base):
        raise InvalidValue(f"网址须以 http:// 或 https:// 开头 / the base URL must start with http:// or https://: "
                           f"'{base_url}'")
    return base


def _active_official(access: Access, name: str) -> Official:
    official = official_named(access.session, name)
    if official is None:
        raise NotFound("official 官员", name, "list them with 'rectify official list'")
    if not official.active:
        raise Refused(f"{official.name}已停用，不能开通网页账户；请先用 'rectify official update {official.name} --active' "
                      f"恢复 / {official.name} is inactive and cannot have a web account: reactivate them first "
                      f"('rectify official update {official.name} --active')")
    return official


def deactivate(store: Store, caller: Caller, name: str) -> Done[None]:
    """The official's web account disabled: no log-in, every session and token revoked at once."""
    def work(access: Access) -> None:
        access.require_admin("停用网页账户", "disable web accounts")
        official = official_named(access.session, name)
        if official is None:
            raise NotFound("official 官员", name, "list them with 'rectify official list'")
        ops.disable(access.session, official, utcnow())
    return write(store, caller, work)


def accounts(store: Store, caller: Caller) -> Done[list[dict[str, Any]]]:
    """Every official with the state of their web account and their last log-in (administrators)."""
    def work(access: Access) -> list[dict[str, Any]]:
        access.require_admin("查看网页账户", "see the web accounts")
        return ops.account_rows(access.session, utcnow(), access.zone())
    return read(store, caller, work)


# --- invitations and logging in (the web, before anyone is authenticated) ----------------------

def invitation_name(store: Store, token: str) -> str:
    """The invited official's name, to greet them on the invitation's page; ``InvitationNotFound``
    (a ``NotFound``) for a link nobody issued, ``Refused`` for a used or expired one."""
    check = store.read(lambda session: ops.check_invitation(session, token, utcnow()))
    if check.refusal is not None:
        raise Refused(check.refusal)
    return check.name


def accept_invitation(store: Store, token: str, password: str, repeat: str) -> Done[str]:
    """Set the invited official's password (the policy: 10 to 128 characters, not the name, the
    same twice) and use the invitation up; returns the official's name."""
    now = utcnow()
    check = store.read(lambda session: ops.check_invitation(session, token, now))
    if check.refusal is None:
        ops.check_password(check.name, password, repeat)
        hashed = ops.hash_password(password)
        check = store.write(lambda session: ops.accept(session, token, hashed, now))
    if check.refusal is not None:
        _record(store, f"web:{check.name}", check.name, "accept invitation", check.refusal)
        raise Refused(check.refusal)
    return Done(check.name)


def log_in(store: Store, name: str, password: str, client: str, via: str = "web") -> Done[str]:
    """A new session token (``via`` web: 12 h, 2 h idle) or CLI-client token (``via`` cli: 30
    days) for the official whose name and password these are. Refused with one message for a
    wrong name or a wrong password, recorded either way; the fifth wrong password in a row locks
    the account for 15 minutes, during which even the right one is refused."""
    if via not in ("web", "cli"):
        raise InvalidValue(f"未知的登录方式 / unknown way to log in: '{via}' (web or cli)")
    name, now = name.strip(), utcnow()
    seen = store.read(lambda session: ops.login_seen(session, name, now))
    matched, new_hash = False, None
    if seen.locked_until is None:  # a locked account's password is not even looked at
        matched = ops.password_matches(seen.password_hash, password)
        new_hash = ops.rehashed(seen.password_hash, password) if matched else None
    outcome = store.write(lambda session: ops.settle_login(session, name, seen, matched, new_hash, now, via, client))
    if outcome.refusal is not None:
        raise LoginRefused(outcome.refusal)
    assert outcome.token is not None
    return Done(outcome.token)


def session_user(store: Store, token: str) -> Authenticated | None:
    """Who a browser session belongs to; None when unknown, expired, revoked, or its official may
    no longer log in. Its idle clock moves at most once a minute (not a write per page)."""
    return _found_by(store, lambda session, now: ops.session_owner(session, token, now), touch_session)


def token_user(store: Store, token: str) -> Authenticated | None:
    """Who an API or CLI-client bearer token belongs to (``Authorization: Bearer``); None when
    unknown, expired, revoked, or its official may no longer log in."""
    return _found_by(store, lambda session, now: ops.token_owner(session, token, now), touch_token)


def _found_by(store: Store, find: Callable[[Session, datetime], tuple[Authenticated, int | None] | None],
             touch: Callable[[Session, int, datetime, datetime], object]) -> Authenticated | None:
    """The official ``find`` names, read in a snapshot; the row's last-seen time moved afterwards
    when it is due (``find`` says which row)."""
    now = utcnow()
    found = store.read(lambda session: find(session, now))
    if found is None:
        return None
    who, due = found
    if due is not None:
        _touch(store, lambda session: touch(session, due, now, now - ops.TOUCH_EVERY))
    return who


def _touch(store: Store, work: Callable[[Session], object]) -> None:
    # A page need not fail because its idle clock could not move: the database is busy, and the
    # next request moves it (an idle expiry late by a minute at most).
    with suppress(DatabaseUnavailable):
        store.write(work, attempts=1)


def log_out(store: Store, token: str) -> None:
    """Revoke a browser session (or a CLI-client token: ``rectify logout``); nothing if unknown.
    An API token is revoked by ``revoke_token`` only, with its id."""
    if not token:
        return
    hashed, now = ops.digest(token), utcnow()
    store.write(lambda session: revoke_session(session, hashed, now) or revoke_token_hash(session, hashed, "cli", now))


# --- tokens ----------------------------------------------------------------------------------

def issue_token(store: Store, caller: Caller, label: str, name: str | None = None) -> Done[tuple[int, str]]:
    """A new API token for the caller's own official, or (an administrator) for ``name``; returns
    its id and the token, which is shown this once and never stored."""
    label = one_line(label, "令牌标签", "the token's label", 100) if label.strip() else ""

    def work(access: Access) -> tuple[int, str]:
        owner = _owner(access, name, "为他人签发令牌", "issue a token for another official")
        account = account_of(access.session, owner.id)
        if account is not None and account.disabled_at is not None:
            raise Refused(f"{owner.name}的网页账户已停用，不能签发令牌；如需恢复请用 'rectify official reset {owner.name}' / "
                          f"{owner.name}'s web account is disabled, so no token is issued: 'rectify official reset "
                          f"{owner.name}' restores it")
        return ops.open_token(access.session, owner.id, "api", label, access.actor_name(), utcnow(), None)
    return write(store, caller, work)


def list_tokens(store: Store, caller: Caller, name: str | None = None) -> Done[list[dict[str, Any]]]:
    """The caller's own tokens; an administrator's without ``name``: everyone's; with it, that official's."""
    def work(access: Access) -> list[dict[str, Any]]:
        if name is None and access.identity.admin:
            access.require_admin("查看所有令牌", "list every token")
            official_id = None
        else:
            official_id = _owner(access, name, "查看他人的令牌", "list another official's tokens").id
        return ops.token_rows(access.session, official_id, utcnow(), access.zone())
    return read(store, caller, work)


def revoke_token(store: Store, caller: Caller, token_id: int) -> Done[None]:
    """Revoke a token (one's own; an administrator, anyone's): it stops on its next request."""
    def work(access: Access) -> None:
        token = token_by_id(access.session, token_id)
        if token is None:
            raise NotFound("token 令牌", token_id, "list them with 'rectify token list'")
        if access.identity.admin:
            access.require_admin("撤销他人的令牌", "revoke another official's token")
        else:
            me = _own(access)
            if token.official_id != me.id:
                raise PermissionDenied(f"令牌 {token_id} 不属于{me.name}，只有管理员可以撤销他人的令牌 / token {token_id} "
                                       f"is not {me.name}'s: only an administrator may revoke another official's token")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
    return write(store, caller, work)


def _owner(access: Access, name: str | None, what_zh: str, what_en: str) -> Official:
    """The official whose tokens are meant: the caller's own, or (an administrator) ``name``."""
    if name is None:
        return _own(access)
    mine = access.identity.official
    if mine is not None and mine.name == name and not access.caller.as_name:
        return mine
    access.require_admin(what_zh, what_en)
    return get_official(access.session, name)


def _own(access: Access) -> Official:
    """The official the caller acts as (``--as`` is an administrator's)."""
    return get_official(access.session, access.actor().name)


# --- the service's shared keys ------------------------------------------------------------------

def service_key(store: Store, name: str) -> str:
    """The shared secret called ``name`` (the cookie-signing key), made at the first call; two
    workers starting together get the same one (the loser of the insert reads the winner's)."""
    name = one_line(name, "密钥名称", "the key's name", 50)
    found = store.read(lambda session: service_key_value(session, name))
    if found is not None:
        return found
    try:
        return store.write(lambda session: ops.service_key(session, name, utcnow()))
    except Conflict:  # another worker inserted it first (unique primary key)
        value = store.read(lambda session: service_key_value(session, name))
        if value is None:
            raise
        return value


def _record(store: Store, login: str, actor: str | None, command: str, reason: str) -> None:
    """A refusal recorded in a transaction of its own (the refused one wrote nothing)."""
    with suppress(RectifyError, DatabaseLibraryError, OSError):
        store.write(lambda session: record_refusal(session, login[:64], actor, command, reason), attempts=2)
