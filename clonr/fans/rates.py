"""How fast fans may send messages: per fan and per network address, over a moving window.

Counts live in this process (the `limits` package's memory storage): each server process limits on its own.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import limits
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from clonr.errors import RateLimitedError

__all__ = ["Allowance", "KeyRates", "MessageRates"]


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


@dataclass(frozen=True)
class Allowance:
    """Where one rule stands, as the API's `x-ratelimit-*` headers say it."""

    limit: int
    remaining: int
    reset_s: int  # seconds until the window frees room


class KeyRates:
    """Requests and tokens per API key, over a moving window, counted in this process."""

    def __init__(self, requests: str, tokens: str) -> None:
        self._requests = limits.parse(requests)
        self._tokens = limits.parse(tokens)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def request(self, key_id: str) -> tuple[Allowance, Allowance]:
        """Count one request; `RateLimitedError` (counting nothing) when the key has no requests or tokens left.
        Returns the requests' and the tokens' allowances after it."""
        for rule, what in ((self._requests, "requests"), (self._tokens, "tokens")):
            if not self._limiter.test(rule, key_id, what):
                wait = self._allowance(rule, key_id, what).reset_s
                raise RateLimitedError(f"This key has used its {what} ({rule}): wait {wait} s, or raise "
                                       f"CLONR_KEY_{what[:-1].upper()}_LIMIT.", retry_after=wait)
        self._limiter.hit(self._requests, key_id, "requests")
        return self.allowances(key_id)

    def spend(self, key_id: str, tokens: int) -> None:
        """Count a reply's tokens (all that is left of the window, when they are more)."""
        if tokens > 0 and not self._limiter.hit(self._tokens, key_id, "tokens", cost=tokens):
            left = self._allowance(self._tokens, key_id, "tokens").remaining
            if left:
                self._limiter.hit(self._tokens, key_id, "tokens", cost=left)

    def allowances(self, key_id: str) -> tuple[Allowance, Allowance]:
        return (self._allowance(self._requests, key_id, "requests"),
                self._allowance(self._tokens, key_id, "tokens"))

    def _allowance(self, rule: limits.RateLimitItem, *keys: str) -> Allowance:
        stats = self._limiter.get_window_stats(rule, *keys)
        return Allowance(rule.amount, stats.remaining, max(1, math.ceil(stats.reset_time - time.time())))
