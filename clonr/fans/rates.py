"""How fast fans may send messages: per fan and per network address, over a moving window.

Counts live in this process (the `limits` package's memory storage): each server process limits on its own.
"""

from __future__ import annotations

import math
import time

import limits
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from clonr.errors import RateLimitedError

__all__ = ["MessageRates"]


class MessageRates:
    def __init__(self, per_fan: str, per_address: str) -> None:
        self._per_fan = limits.parse_many(per_fan)
        self._per_address = limits.parse_many(per_address)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def count(self, fan_key: str, address: str | None) -> None:
        """Count one message, or raise `RateLimitedError` (counting nothing) when a rule is exhausted."""
        rules = [(rule, "fan", fan_key) for rule in self._per_fan]
        if address:
            rules += [(rule, "address", address) for rule in self._per_address]
        for rule, *keys in rules:
            if not self._limiter.test(rule, *keys):
                reset = self._limiter.get_window_stats(rule, *keys).reset_time
                wait = max(1, math.ceil(reset - time.time()))  # the limiter's own clock
                who = "this conversation" if keys[0] == "fan" else "your network"
                raise RateLimitedError(f"Too many messages from {who}: please wait {wait} s and try again.",
                                       retry_after=wait)
        for rule, *keys in rules:
            self._limiter.hit(rule, *keys)
