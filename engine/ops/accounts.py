"""Web accounts: invitations, passwords, lock-out, browser sessions, API and CLI-client tokens.

An official gets into the web workspace through a one-time invitation an administrator issued:
the link carries a random token, the database keeps its SHA-256 only, and accepting it sets a
password, kept as an argon2id hash. Sessions and tokens are random too, stored as SHA-256, so a
copy of the database opens nothing. Five wrong passwords in a row lock an account for fifteen
minutes, whichever worker of the service counted them (the count is in the account's row).

Every function takes the caller's session and the real time (``now``: security never follows a
simulated campaign clock), and never commits. Hashing a password takes ~50 ms on purpose: the
services do it outside their write transactions, so a log-in never holds the database's lock
while it hashes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from engine.base.clock import DEFAULT_TZ, fmt
from engine.base.errors import BadInput, NotFound, Refused
from engine.base.text import visible
from engine.ops.audit import record_refusal
from engine.store.account_queries import (
    account_by_invite,
    account_of,
    last_logins,
    live_token_counts,
    official_and_account,
    officials_with_accounts,
    revoke_everything_of,
    service_key_value,
    session_by_hash,
    token_by_hash,
    tokens_of,
)
from engine.store.models import ApiToken, Official, ServiceKey, WebAccount, WebSession
from engine.store.widths import width

if TYPE_CHECKING:
    from argon2 import PasswordHasher
    from sqlalchemy.orm import Session

INVITE_DAYS, MAX_INVITE_DAYS = 7, 30
SESSION_LIFETIME = timedelta(hours=12)  # absolute: a browser logs in again every working day
SESSION_IDLE = timedelta(hours=2)
CLI_TOKEN_LIFETIME = timedelta(days=30)
MAX_FAILURES = 5  # wrong passwords in a row before the account locks
LOCK_TIME = timedelta(minutes=15)
TOUCH_EVERY = timedelta(minutes=1)  # a session's idle clock moves at most this often (one write a minute)
PASSWORD_MIN, PASSWORD_MAX = 10, 128
TOKEN_KINDS = ("api", "cli")

WRONG = "用户名或密码不正确 / wrong name or password"
STATE_LABELS = {
    "none": "未开通 / none", "invited": "已邀请 / invited", "invitation_expired": "邀请已过期 / invitation expired",
    "active": "已开通 / active", "locked": "已锁定 / locked", "disabled": "已停用 / disabled",
    "inactive": "官员已停用 / official inactive",
}


@dataclass(frozen=True)
class Authenticated:
    """Who a session or token belongs to."""

    official: str  # the official's name (Official.name)
    official_id: int
    via: str  # "web" (session), "api" or "cli" (token kind)
    admin: bool
    county_wide: bool = False  # the jurisdiction is the whole county: the county's pages are theirs to read


def digest(token: str) -> str:
    """What the database keeps of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> tuple[str, str]:
    """A random token (256 bits, URL-safe) and its digest."""
    raw = secrets.token_urlsafe(32)
    return raw, digest(raw)


# --- passwords -------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    # Imported on first use: the officials' other commands (revoking access included) need no argon2.
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id, the library's maintained defaults


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash no password matches, verified for an unknown name so that it costs what a known one does."""
    return _hasher().hash(secrets.token_urlsafe(32))


def check_password(name: str, password: str, repeat: str) -> None:
    """The password policy: 10 to 128 characters, not the official's name, typed the same twice."""
    if password != repeat:
        raise BadInput("两次输入的密码不一致 / the two passwords differ: type the same password twice")
    if len(password) < PASSWORD_MIN:
        raise BadInput(f"密码太短：至少 {PASSWORD_MIN} 个字符 / the password is too short: at least {PASSWORD_MIN} "
                       "characters")
    if len(password) > PASSWORD_MAX:
        raise BadInput(f"密码太长：最多 {PASSWORD_MAX} 个字符 / the password is too long: at most {PASSWORD_MAX} "
                       "characters")
    if password.strip().casefold() == name.strip().casefold():
        raise BadInput("密码不能是本人姓名 / the password may not be your name")
    if "\x00" in password:
        raise BadInput("密码含有不可见的控制字符 / the password contains a control character (U+0000)")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def password_matches(stored: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``stored`` hashes; with no hash (an unknown name, a
    password never set), a dummy one is verified all the same, so the answer takes as long."""
    from argon2.exceptions import InvalidHashError, VerificationError

    if len(password) > PASSWORD_MAX:  # never a valid password: not worth hashing megabytes
        return False
    try:
        return _hasher().verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def rehashed(stored: str | None, password: str) -> str | None:
    """A new hash of a password that just matched, when the library's parameters have grown
    since ``stored`` was made; None otherwise."""
    return hash_password(password) if stored and _hasher().check_needs_rehash(stored) else None


# --- invitations -----------------------------------------------------------------------------

class InvitationNotFound(NotFound):
    """An invitation link nobody issued, or one a newer invitation replaced."""

    def __init__(self) -> None:
        super().__init__("invitation 邀请", "")

    def _message(self) -> str:
        return ("邀请链接无效或已被新的邀请取代，请向管理员索取新的链接 / this invitation link is not valid, or a "
                "newer invitation replaced it: ask an administrator for a new one")


@dataclass(frozen=True)
class InvitationCheck:
    """An invitation link's official, and why it cannot be accepted (None: it can)."""

    name: str
    official_id: int
    refusal: str | None


def invite(session: Session, official: Official, by: str, now: datetime, days: int) -> tuple[str, datetime]:
    """A new invitation for an official with no password yet (or a disabled account): replaces
    an unaccepted one. Returns the raw token and its expiry."""
    account = account_of(session, official.id, lock=True)
    if account is not None and account.password_hash and account.disabled_at is None:
        raise Refused(f"{official.name}已设置密码，不能再次邀请；如需重设请用 'rectify official reset {official.name}' / "
                      f"{official.name} has already set a password: to start again, run 'rectify official reset "
                      f"{official.name}'")
    return _new_invitation(session, official, account, by, now, days)


def reset(session: Session, official: Official, by: str, now: datetime, days: int) -> tuple[str, datetime]:
    """The password cleared, every session and token revoked, and a new invitation."""
    account = account_of(session, official.id, lock=True)
    revoke_everything_of(session, official.id, now)
    return _new_invitation(session, official, account, by, now, days)


def _new_invitation(session: Session, official: Official, account: WebAccount | None, by: str, now: datetime,
                    days: int) -> tuple[str, datetime]:
    if account is None:
        account = WebAccount(official_id=official.id)
        session.add(account)
    raw, hashed = new_token()
    expires = now + timedelta(days=days)
    _fill(account, password_hash=None, password_set_at=None, invite_hash=hashed, invite_expires=expires,
          invited_at=now, invited_by=by[:width(WebAccount.invited_by)], failed_logins=0, locked_until=None,
          disabled_at=None)
    return raw, expires


def disable(session: Session, official: Official, now: datetime) -> None:
    """No more log-ins (an outstanding invitation included), and every session and token revoked."""
    account = account_of(session, official.id, lock=True)
    if account is None:  # disabled before ever invited: the listing says so, and tokens stay refused
        account = WebAccount(official_id=official.id, failed_logins=0)
        session.add(account)
    if account.disabled_at is None:
        account.disabled_at = now
    account.invite_expires = None
    revoke_access(session, official.id, now)


def revoke_access(session: Session, official_id: int, now: datetime) -> None:
    """Every session and token of the official revoked at once (deactivation, reset)."""
    revoke_everything_of(session, official_id, now)


def check_invitation(session: Session, token: str, now: datetime) -> InvitationCheck:
    """The invitation a link carries: its official, and what (if anything) stops accepting it."""
    return _checked(_invited(session, token), now)


def _invited(session: Session, token: str, lock: bool = False) -> WebAccount:
    account = account_by_invite(session, digest(token), lock=lock) if token else None
    if account is None:
        raise InvitationNotFound()
    return account


def _checked(account: WebAccount, now: datetime) -> InvitationCheck:
    official = account.official
    return InvitationCheck(official.name, official.id, _invitation_refusal(official, account, now))


def _invitation_refusal(official: Official, account: WebAccount, now: datetime) -> str | None:
    if account.disabled_at is not None:
        return "该账户已停用，请联系管理员 / this account is disabled: ask an administrator"
    if not official.active:
        return f"{official.name}已停用，请联系管理员 / {official.name} is no longer an active official: ask an administrator"
    if account.invite_expires is None:
        return ("邀请链接已使用，请用已设置的密码登录，或请管理员重设 / this invitation was already used: log in with "
                "your password, or ask an administrator to reset it")
    if account.invite_expires <= now:
        return (f"邀请链接已于{fmt(account.invite_expires, DEFAULT_TZ)}过期，请向管理员索取新的链接 / this invitation "
                f"expired on {fmt(account.invite_expires, DEFAULT_TZ)}: ask an administrator for a new one")
    return None


def accept(session: Session, token: str, password_hash: str, now: datetime) -> InvitationCheck:
    """Set the password an invitation's official chose (hashed before this transaction) and use
    the invitation up; the check is made again under the row's lock (two tabs, one link)."""
    account = _invited(session, token, lock=True)
    check = _checked(account, now)
    if check.refusal is None:
        _fill(account, password_hash=password_hash, password_set_at=now, invite_expires=None, failed_logins=0,
              locked_until=None)
    return check


# --- logging in --------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoginSeen:
    """What a log-in reads before it verifies the password (outside any write transaction)."""

    password_hash: str | None
    locked_until: datetime | None


@dataclass(frozen=True)
class LoginOutcome:
    token: str | None  # a new session's (or CLI token's) raw token
    refusal: str | None


def plausible_name(name: str) -> bool:
    """A name an official could have (checked before any query: a megabyte or a NUL is no name)."""
    return 0 < len(name) <= width(Official.name) and "\x00" not in name


def login_seen(session: Session, name: str, now: datetime) -> LoginSeen:
    found = official_and_account(session, name) if plausible_name(name) else None
    account = found[1] if found else None
    if account is None:
        return LoginSeen(None, None)
    locked = account.locked_until if account.locked_until and account.locked_until > now else None
    return LoginSeen(account.password_hash, locked)


def settle_login(session: Session, name: str, seen: LoginSeen, matched: bool, new_hash: str | None, now: datetime,
                 via: str, client: str) -> LoginOutcome:
    """Inside the write: count a failure (and record the refusal) or open a session — or, for
    the CLI client, a token — for the official. The account is read again under its lock:
    another worker may have counted a failure, locked it or changed the password meanwhile."""
    found = official_and_account(session, name, lock=True) if plausible_name(name) else None
    official, account = found if found else (None, None)
    reason = _refusal(official, account, seen, matched, now)
    if reason is not None:
        record_refusal(session, f"{via}:{visible(name)}"[:64], official.name if official else None,
                       f"log in ({visible(client)})", reason)
        return LoginOutcome(None, reason)
    assert official is not None
    assert account is not None
    account.failed_logins, account.locked_until = 0, None
    if new_hash:
        account.password_hash = new_hash
    if via == "web":
        return LoginOutcome(open_session(session, official.id, now), None)
    label = f"rectify login（{visible(client)}）"[:width(ApiToken.label)]
    return LoginOutcome(open_token(session, official.id, "cli", label, official.name, now,
                                   now + CLI_TOKEN_LIFETIME)[1], None)


def _refusal(official: Official | None, account: WebAccount | None, seen: LoginSeen, matched: bool,
             now: datetime) -> str | None:
    """Why the log-in is refused, None if it is not. The account's state is told only to whoever
    typed the right password (but the lock, which must say until when)."""
    if official is None or account is None or account.password_hash is None:
        return WRONG
    if account.locked_until is not None and account.locked_until > now:
        return locked_message(account.locked_until)
    if not matched or account.password_hash != seen.password_hash:  # changed meanwhile: not this password
        account.failed_logins = (account.failed_logins or 0) + 1
        if account.failed_logins < MAX_FAILURES:
            return WRONG
        account.failed_logins, account.locked_until = 0, now + LOCK_TIME
        return locked_message(account.locked_until)  # it says why: five wrong passwords in a row
    if account.disabled_at is not None:
        return "该账户已停用，请联系管理员 / this account is disabled: ask an administrator"
    if not official.active:
        return f"{official.name}已停用，不能登录 / {official.name} is no longer an active official and may not log in"
    return None


def locked_message(until: datetime) -> str:
    shown = fmt(until, DEFAULT_TZ)
    return (f"密码连续错误{MAX_FAILURES}次，账户已锁定至{shown}，届时再试或请管理员重设 / {MAX_FAILURES} wrong passwords "
            f"in a row: the account is locked until {shown} (Beijing time); try again then, or ask an "
            "administrator to reset it")


def open_session(session: Session, official_id: int, now: datetime) -> str:
    raw, hashed = new_token()
    session.add(WebSession(token_hash=hashed, official_id=official_id, created_at=now,
                           expires_at=now + SESSION_LIFETIME, last_seen_at=now))
    return raw


def open_token(session: Session, official_id: int, kind: str, label: str, by: str, now: datetime,
               expires: datetime | None) -> tuple[int, str]:
    """A new bearer token; its id and the raw token (shown once, never stored)."""
    raw, hashed = new_token()
    token = ApiToken(token_hash=hashed, official_id=official_id, kind=kind, label=label, created_at=now,
                     created_by=by[:width(ApiToken.created_by)], expires_at=expires)
    session.add(token)
    session.flush()
    return token.id, raw


# --- who a session or token is -----------------------------------------------------------------

def session_owner(session: Session, token: str, now: datetime) -> tuple[Authenticated, int | None] | None:
    """The official a browser session belongs to, and the session's id if its idle clock is due
    to move; None when unknown, expired (12 h, or 2 h idle), revoked, or its official may no
    longer log in."""
    found = session_by_hash(session, digest(token)) if token else None
    if found is None:
        return None
    row, official, account = found
    if row.revoked_at is not None or row.expires_at <= now or row.last_seen_at + SESSION_IDLE <= now:
        return None
    if not _may_enter(official, account) or account is None or account.password_hash is None:
        return None
    due = row.id if row.last_seen_at <= now - TOUCH_EVERY else None
    return Authenticated(official.name, official.id, "web", official.admin, _county_wide(official)), due


def token_owner(session: Session, token: str, now: datetime) -> tuple[Authenticated, int | None] | None:
    """The official an API or CLI-client token belongs to, and its id if its ``last_used_at`` is
    due to move; None when unknown, expired, revoked, or its official may no longer log in."""
    found = token_by_hash(session, digest(token)) if token else None
    if found is None:
        return None
    row, official, account = found
    if row.kind not in TOKEN_KINDS or row.revoked_at is not None or (row.expires_at and row.expires_at <= now):
        return None
    if not _may_enter(official, account):
        return None
    due = row.id if row.last_used_at is None or row.last_used_at <= now - TOUCH_EVERY else None
    return Authenticated(official.name, official.id, row.kind, official.admin, _county_wide(official)), due


def _county_wide(official: Official) -> bool:
    """As ``Access.require_everything`` judges it: a jurisdiction with no superior."""
    return official.jurisdiction.parent_id is None


def _may_enter(official: Official, account: WebAccount | None) -> bool:
    return official.active and (account is None or account.disabled_at is None)


# --- listings ----------------------------------------------------------------------------------

def token_rows(session: Session, official_id: int | None, now: datetime, zone: str) -> list[dict[str, Any]]:
    """The tokens (one official's, or everyone's), newest first, never their hash; times in
    ``zone`` ("YYYY-MM-DD HH:MM", "" for none, as every listing shows them)."""
    return [{"id": t.id, "official": name, "kind": t.kind, "label": t.label, "state": _token_state(t, now),
             "created_at": _in(t.created_at, zone), "created_by": t.created_by, "expires_at": _in(t.expires_at, zone),
             "last_used_at": _in(t.last_used_at, zone), "revoked_at": _in(t.revoked_at, zone)}
            for t, name in tokens_of(session, official_id)]


def _token_state(token: ApiToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    return "expired" if token.expires_at is not None and token.expires_at <= now else "active"


def account_rows(session: Session, now: datetime, zone: str) -> list[dict[str, Any]]:
    """Every official with the state of their web account, its date (an invitation's or a
    lock's end, a deactivation's day), their last log-in and how many live tokens they hold."""
    logins, tokens = last_logins(session), live_token_counts(session, now)
    rows = []
    for official, account in officials_with_accounts(session):
        state, when = account_state(official, account, now)
        rows.append({"name": official.name, "role": official.role, "jurisdiction": official.jurisdiction.name,
                     "admin": official.admin, "state": state, "state_label": STATE_LABELS[state],
                     "until": _in(when, zone), "last_login": _in(logins.get(official.id), zone),
                     "tokens": tokens.get(official.id, 0)})
    return rows


def account_state(official: Official, account: WebAccount | None, now: datetime) -> tuple[str, datetime | None]:
    """none / invited (until) / invitation_expired / active / locked (until) / disabled (since) /
    inactive (the official, not the account, was deactivated)."""
    if not official.active:
        return "inactive", None
    if account is None:
        return "none", None
    if account.disabled_at is not None:
        return "disabled", account.disabled_at
    if account.password_hash is None:
        expires = account.invite_expires
        return ("invited", expires) if expires is not None and expires > now else ("invitation_expired", expires)
    if account.locked_until is not None and account.locked_until > now:
        return "locked", account.locked_until
    return "active", None


# --- the service's shared keys -----------------------------------------------------------------

def service_key(session: Session, name: str, now: datetime) -> str:
    """The shared key called ``name``, made (48 random bytes, URL-safe) if it does not exist."""
    value = service_key_value(session, name)
    if value is None:
        value = secrets.token_urlsafe(48)
        session.add(ServiceKey(name=name, value=value, created_at=now))
    return value


def _in(moment: datetime | None, zone: str) -> str:
    """A time as the other listings show it: local to ``zone``, to the minute ("" for none)."""
    return fmt(moment, zone)


def _fill(account: WebAccount, **values: Any) -> None:
    for name, value in values.items():
        setattr(account, name, value)
