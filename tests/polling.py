"""Waiting for a condition, never for a fixed time: a busy 2-core machine is slow, not wrong."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.01)


def wait_for_file(path: Path, timeout: float = 60) -> None:
    wait_until(path.exists, f"{path} appears", timeout)
