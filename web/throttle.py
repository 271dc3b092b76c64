"""Failed log-ins counted per client address, in each worker's memory (``limits``): past the
allowance an address is answered at once, before a password hash is computed.

The engine's own guard is per account (five wrong passwords lock it, in the database, for every
worker); this one stops what that cannot see: one address trying many names (each unknown name
still costs an argon2id computation against the dummy hash, about a quarter of a second of CPU)
or many passwords across accounts. A log-in that succeeds costs nothing here, so an office behind
one address is not held up by its own officials. Each worker counts alone: with N workers an
address gets up to N times the allowance, still bounded; a reverse proxy's ``limit_req``
(docs/deploy.md) is the place for a shared limit.
"""

from __future__ import annotations

import ipaddress
import math
import time

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

ALLOWANCE = RateLimitItemPerMinute(20, 10)  # failed log-ins per address per 10 minutes
_limiter = MovingWindowRateLimiter(MemoryStorage())


def blocked_for(address: str) -> int | None:
    """Minutes until ``address`` may try again, or None when it may now."""
    if _limiter.test(ALLOWANCE, "login", _key(address)):
        return None
    reset_at, _ = _limiter.get_window_stats(ALLOWANCE, "login", _key(address))
    return max(1, math.ceil((reset_at - time.time()) / 60))


def failed(address: str) -> None:
    _limiter.hit(ALLOWANCE, "login", _key(address))


def _key(address: str) -> str:
    """Whom the count is kept for: an IPv4 address, or an IPv6 address's /64 (one subscriber's
    network: its 2^64 addresses are one client's to rotate through)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def refusal(minutes: int) -> str:
    return (f"此地址登录失败次数过多，请 {minutes} 分钟后再试 / too many failed log-ins from this address: try again in "
            f"{minutes} minute{'s' if minutes != 1 else ''}")


class TooManyLogIns(Exception):
    """An address past its allowance of failed log-ins: 429, with when to try again."""

    def __init__(self, minutes: int):
        self.minutes = minutes
        super().__init__(refusal(minutes))
