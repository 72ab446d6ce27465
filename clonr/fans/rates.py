"""How fast fans may send messages: per fan and per network address, over a moving window; and what API keys
may use.

Counts live where `CLONR_LIMITS_STORAGE` says (the `limits` package's storages): `memory://`, each process on its
own; or Redis, shared by every process of the service.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import limits
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from limits.util import WindowStats

from clonr.errors import RateLimitedError, StorageError

__all__ = ["Allowance", "KeyRates", "MessageRates"]

T = TypeVar("T")


class _Limiter:
    """The moving-window limiter over the configured storage; a storage that cannot be reached is one line."""

    def __init__(self, storage_uri: str) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self._where = storage_uri.rpartition("@")[2]  # never the password

    def test(self, rule: limits.RateLimitItem, *keys: str) -> bool:
        return self._reached(lambda: self._limiter.test(rule, *keys))

    def hit(self, rule: limits.RateLimitItem, *keys: str, cost: int = 1) -> bool:
        return self._reached(lambda: self._limiter.hit(rule, *keys, cost=cost))

    def get_window_stats(self, rule: limits.RateLimitItem, *keys: str) -> WindowStats:
        return self._reached(lambda: self._limiter.get_window_stats(rule, *keys))

    def _reached(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except Exception as exc:  # the storage's own errors (redis.ConnectionError, …)
            raise StorageError(f"The rate-limit store {self._where} cannot be reached ({type(exc).__name__}): start "
                               "it, or set CLONR_LIMITS_STORAGE=memory:// to count in each process.") from None


class MessageRates:
    def __init__(self, per_fan: str, per_address: str, storage_uri: str = "memory://") -> None:
        self._per_fan = limits.parse_many(per_fan)
        self._per_address = limits.parse_many(per_address)
        self._limiter = _Limiter(storage_uri)

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
    """Requests and tokens per API key, over a moving window."""

    def __init__(self, requests: str, tokens: str, storage_uri: str = "memory://") -> None:
        self._requests = limits.parse(requests)
        self._tokens = limits.parse(tokens)
        self._limiter = _Limiter(storage_uri)

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
