"""Named failpoints: places where a test can make a real process crash, fail or wait.

Crash safety and concurrency cannot be shown by calling functions in one process: a test
must kill a real ``rectify`` between two writes of a transaction, or hold one official's
command between its read and its write while another commits. The environment variable
``RECTIFY_FAILPOINTS`` (read once, at import) arms points by name::

    RECTIFY_FAILPOINTS="fire.after_event=kill"              # SIGKILL this process there
    RECTIFY_FAILPOINTS="fire.before_write=pause:/tmp/gate"  # wait for /tmp/gate/fire.before_write.go
    RECTIFY_FAILPOINTS="delivery.after_send=kill@3"         # only the 3rd time the point is reached
    RECTIFY_FAILPOINTS="sqlite.begin_write=mark:/tmp/gate"  # touch /tmp/gate/sqlite.begin_write.reached, go on

``raise`` raises ``FailpointError``; ``dberror`` raises SQLAlchemy's ``OperationalError``, as a
driver does when the database is locked past the busy timeout or the connection is lost
(inside ``Store.transaction`` it becomes ``DatabaseUnavailable``). Unarmed, a point costs
one dictionary look-up. The points are listed in ``POINTS``; arming an unknown one is
refused, so a typo cannot make a test pass by testing nothing.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

POINTS = {
    "fire.before_write": "a transition's guards are judged, nothing is written yet",
    "fire.after_state": "the case row has its new state",
    "fire.after_event": "the transition's event is written",
    "fire.after_outbox": "the transition's notice is in the outbox",
    "commit.before": "a transaction's work is done, the commit not yet sent",
    "delivery.before_send": "a delivery is claimed, not yet sent",
    "delivery.after_send": "a delivery is sent, not yet settled",
    "tick.after_claim": "the daemon claimed a due timer, not yet fired",
    "sqlite.begin_write": "a write transaction is about to ask SQLite for the write lock (BEGIN IMMEDIATE)",
    "evidence.before_rename": "an evidence file is written and flushed under a temporary name, not yet renamed",
}
PAUSE_LIMIT = 120.0  # seconds a paused point waits for its gate before giving up


class FailpointError(RuntimeError):
    """Raised where a point is armed with ``raise``.

    Deliberately not a ``RectifyError``: it stands for an unexpected crash (a bug, a full disk)
    in the middle of a transaction. Handlers of project errors (the CLI's exit codes, the
    daemon taking a refused automatic transition for a skipped timer) must not catch it, so
    that a test sees what a real crash does: the transaction rolled back, the exception
    going up to the generic handlers, never a tidy refusal.
    """


def _parse(text: str) -> dict[str, tuple[str, int]]:
    armed: dict[str, tuple[str, int]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, action = item.partition("=")
        if name not in POINTS:
            raise ValueError(f"RECTIFY_FAILPOINTS: unknown point '{name}'; points: {', '.join(POINTS)}")
        action, _, nth = action.partition("@")
        armed[name] = (action, int(nth) if nth else 1)
    return armed


_armed = _parse(os.environ.get("RECTIFY_FAILPOINTS", ""))
_reached: dict[str, int] = {}


def arm(name: str, action: str | None) -> None:
    """Arm (or, with None, disarm) a point in this process, for in-process tests."""
    _reached.pop(name, None)
    if action is None:
        _armed.pop(name, None)
    else:
        _armed.update(_parse(f"{name}={action}"))


def point(name: str) -> None:
    """Do what the point is armed to do, if it is armed and this is its turn."""
    if name not in _armed:
        return
    action, nth = _armed[name]
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] != nth:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "raise":
        raise FailpointError(f"failpoint {name}")
    elif action == "dberror":
        # Imported only when armed: an unarmed point costs one look-up and imports nothing.
        from sqlalchemy.exc import OperationalError

        raise OperationalError(f"-- failpoint {name}", None, FailpointError(f"database unavailable (failpoint {name})"))
    elif action.startswith("pause:"):
        _pause(Path(action[6:]), name)
    elif action.startswith("mark:"):
        # Lets a test wait for a process to reach a point it cannot be held at: a lock request.
        (Path(action[5:]) / f"{name}.reached").touch()


def _pause(gate: Path, name: str) -> None:
    (gate / f"{name}.reached").touch()
    deadline = time.monotonic() + PAUSE_LIMIT
    while not (gate / f"{name}.go").exists():
        if time.monotonic() > deadline:
            raise FailpointError(f"failpoint {name}: nobody opened {gate / (name + '.go')}")
        time.sleep(0.01)
