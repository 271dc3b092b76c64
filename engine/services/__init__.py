"""Engine services: what a front end calls to act or to read.

Each service takes the store, the ``Caller`` (who asks, as the front end authenticated
them) and the request's values; it runs one transaction (retried whole if the database was
busy), decides the policy there (``engine.services.access``), and returns plain data once
that transaction has committed, so a front end reports only what really happened. A
refused attempt is recorded in the refusals log in a transaction of its own, after the
refused one rolled back. Services never print; a front end prints what they return and the
``warnings`` collected on the way.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from engine.base.errors import CheckFailed, RectifyError, Refused
from engine.ops.audit import record_refusal
from engine.ops.identity import authenticated, whoami
from engine.services.access import Access, Caller
from engine.store.db import DatabaseLibraryError, Store

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")

__all__ = ["Access", "Caller", "Done", "read", "write"]


@dataclass(frozen=True)
class Done(Generic[T]):
    """A committed (or read) result, with the warnings to show the caller."""

    value: T
    warnings: list[str] = field(default_factory=list)


def write(store: Store, caller: Caller, work: Callable[[Access], T]) -> Done[T]:
    """Run ``work`` in one write transaction (retried whole when the database is busy)."""
    return _refusals_recorded(store, caller, lambda: store.write(_with_access(caller, work, writing=True)))


def read(store: Store, caller: Caller, work: Callable[[Access], T]) -> Done[T]:
    """Run ``work`` in a read-only snapshot; a refused read is recorded like a refused write."""
    return _refusals_recorded(store, caller, lambda: store.read(_with_access(caller, work)))


def _with_access(caller: Caller, work: Callable[[Access], T], writing: bool = False) -> Callable[[Session], Done[T]]:
    """``work`` as a store's unit: the caller's rights are resolved afresh in each attempt's session."""
    def run(session: Session) -> Done[T]:
        access = Access(session, caller, writing=writing)
        value = work(access)
        return Done(value, access.finished_warnings())
    return run


def _refusals_recorded(store: Store, caller: Caller, attempt: Callable[[], Done[T]]) -> Done[T]:
    try:
        return attempt()
    except Refused as exc:
        if not isinstance(exc, CheckFailed):  # a failed verification refused nobody
            record_refused(store, caller, exc)
        raise


def record_refused(store: Store, caller: Caller, exc: RectifyError) -> None:
    """Record a refused attempt: the login, the official that login is (never the one it
    tried to act as: that is in the command), what was asked and why it was refused, linked
    into the refusals' hash chain (``engine.ops.audit``)."""
    def run(session) -> None:
        me = authenticated(session, caller.login, caller.official) if caller.official else whoami(session, caller.login)
        record_refusal(session, me.login, me.official.name if me.official else None, caller.command, str(exc))

    # No database to record in (or an unusable one): the refusal is still reported to the caller.
    with suppress(RectifyError, DatabaseLibraryError, OSError):
        store.write(run, attempts=2)
