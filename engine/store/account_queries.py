"""Queries about the web workspace's accounts: officials' web accounts, browser sessions, API and
CLI-client tokens, and the service's shared keys.

``engine.ops.accounts`` decides what to do with what these return. Tokens are looked up by their
SHA-256 only (the raw token is never stored). Every function takes the caller's session and
never commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update

from engine.store.models import ApiToken, Official, ServiceKey, WebAccount, WebSession

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def official_and_account(session: Session, name: str, lock: bool = False) -> tuple[Official, WebAccount | None] | None:
    """The official called ``name`` (active or not) with their web account, if any; with ``lock``
    the account row is locked (PostgreSQL ``FOR UPDATE``): a log-in's failure count and a used
    invitation are read-modify-writes that two workers must not interleave."""
    official = session.scalar(select(Official).where(Official.name == name))
    if official is None:
        return None
    return official, account_of(session, official.id, lock)


def account_of(session: Session, official_id: int, lock: bool = False) -> WebAccount | None:
    """The web account of an official, or None if never invited; ``lock``: see above."""
    query = select(WebAccount).where(WebAccount.official_id == official_id)
    return session.scalar(query.with_for_update() if lock else query)


def account_by_invite(session: Session, invite_hash: str, lock: bool = False) -> WebAccount | None:
    """The account whose invitation token hashes to ``invite_hash`` (its official loaded with it)."""
    query = select(WebAccount).where(WebAccount.invite_hash == invite_hash)
    return session.scalar(query.with_for_update() if lock else query)


def session_by_hash(session: Session, token_hash: str) -> tuple[WebSession, Official, WebAccount | None] | None:
    """A browser session by its token's hash, with its official and their account, in one query
    (this runs on every page)."""
    row = session.execute(select(WebSession, Official, WebAccount)
                          .join(Official, Official.id == WebSession.official_id)
                          .outerjoin(WebAccount, WebAccount.official_id == WebSession.official_id)
                          .where(WebSession.token_hash == token_hash)).first()
    return None if row is None else (row[0], row[1], row[2])


def token_by_hash(session: Session, token_hash: str) -> tuple[ApiToken, Official, WebAccount | None] | None:
    """An API or CLI-client token by its hash, with its official and their account, in one query."""
    row = session.execute(select(ApiToken, Official, WebAccount)
                          .join(Official, Official.id == ApiToken.official_id)
                          .outerjoin(WebAccount, WebAccount.official_id == ApiToken.official_id)
                          .where(ApiToken.token_hash == token_hash)).first()
    return None if row is None else (row[0], row[1], row[2])


def token_by_id(session: Session, token_id: int) -> ApiToken | None:
    return session.get(ApiToken, token_id)


def tokens_of(session: Session, official_id: int | None) -> list[tuple[ApiToken, str]]:
    """The tokens of one official (or, with None, of everyone), newest first, each with its
    official's name."""
    query = (select(ApiToken, Official.name).join(Official, Official.id == ApiToken.official_id)
             .order_by(ApiToken.id.desc()))
    if official_id is not None:
        query = query.where(ApiToken.official_id == official_id)
    return [(token, name) for token, name in session.execute(query)]


def touch_session(session: Session, session_id: int, now: datetime, older_than: datetime) -> None:
    """Move a session's idle clock to ``now`` unless it moved after ``older_than`` (one write a
    minute at most, however many pages are opened; a race between two workers is harmless)."""
    session.execute(update(WebSession).where(WebSession.id == session_id, WebSession.last_seen_at < older_than)
                    .values(last_seen_at=now))


def touch_token(session: Session, token_id: int, now: datetime, older_than: datetime) -> None:
    """``touch_session`` for a token's ``last_used_at``."""
    session.execute(update(ApiToken).where(ApiToken.id == token_id, (ApiToken.last_used_at.is_(None))
                                           | (ApiToken.last_used_at < older_than)).values(last_used_at=now))


def revoke_session(session: Session, token_hash: str, now: datetime) -> int:
    """Revoke the session whose token hashes to ``token_hash``; how many were (0 or 1)."""
    done = session.execute(update(WebSession).where(WebSession.token_hash == token_hash,
                                                    WebSession.revoked_at.is_(None)).values(revoked_at=now))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def revoke_token_hash(session: Session, token_hash: str, kind: str, now: datetime) -> int:
    """Revoke the token of ``kind`` whose hash is ``token_hash``; how many were (0 or 1)."""
    done = session.execute(update(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.kind == kind,
                                                  ApiToken.revoked_at.is_(None)).values(revoked_at=now))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def revoke_everything_of(session: Session, official_id: int, now: datetime) -> tuple[int, int]:
    """Revoke every live session and token of an official, in two statements; how many of each."""
    sessions = session.execute(update(WebSession).where(WebSession.official_id == official_id,
                                                        WebSession.revoked_at.is_(None)).values(revoked_at=now))
    tokens = session.execute(update(ApiToken).where(ApiToken.official_id == official_id,
                                                    ApiToken.revoked_at.is_(None)).values(revoked_at=now))
    return int(sessions.rowcount or 0), int(tokens.rowcount or 0)  # type: ignore[attr-defined]


def officials_with_accounts(session: Session) -> list[tuple[Official, WebAccount | None]]:
    """Every official (active or not, by name) with their web account, if any."""
    rows = session.execute(select(Official, WebAccount)
                           .outerjoin(WebAccount, WebAccount.official_id == Official.id).order_by(Official.name))
    return [(official, account) for official, account in rows]


def last_logins(session: Session) -> dict[int, datetime]:
    """Each official's latest log-in: the newest browser session or CLI-client token made for
    them (an API token is issued, not logged in with)."""
    latest: dict[int, datetime] = {}
    web = select(WebSession.official_id, func.max(WebSession.created_at)).group_by(WebSession.official_id)
    cli = (select(ApiToken.official_id, func.max(ApiToken.created_at)).where(ApiToken.kind == "cli")
           .group_by(ApiToken.official_id))
    for query in (web, cli):
        for official_id, when in session.execute(query):
            if official_id not in latest or when > latest[official_id]:
                latest[official_id] = when
    return latest


def live_token_counts(session: Session, now: datetime) -> dict[int, int]:
    """How many unrevoked, unexpired tokens each official holds."""
    query = (select(ApiToken.official_id, func.count()).where(
        ApiToken.revoked_at.is_(None), ApiToken.expires_at.is_(None) | (ApiToken.expires_at > now))
        .group_by(ApiToken.official_id))
    return {official_id: count for official_id, count in session.execute(query)}


def service_key_value(session: Session, name: str) -> str | None:
    """The shared service key called ``name``, if made."""
    return session.scalar(select(ServiceKey.value).where(ServiceKey.name == name))
