"""Usage: what each creator's clones answered, read from the usage ledger (one row per reply attempt).

The ledger is written by the turn builder with each stored reply; here a creator reads their own rows,
grouped by day, clone, API key or end user, and an API key reads its own (`GET /v1/usage`).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from clonr.access import ApiKey, Creator
from clonr.clones import CloneService
from clonr.clones.acting import ActsFor
from clonr.store import SqlStore

__all__ = ["GROUPINGS", "SPOKEN", "UsageLine", "UsageService"]

GROUPINGS = ("day", "clone", "key", "user")


SPOKEN = "spoken"  # the ledger status of a row that is speech, not a reply


@dataclass(frozen=True)
class UsageLine:
    group: str
    replies: int  # complete and interrupted
    failed: int
    fans: int
    prompt_tokens: int
    completion_tokens: int
    first_token_p50_ms: float | None
    first_token_p95_ms: float | None
    speech_seconds: float = 0.0  # replies spoken aloud (widget, /v1/audio/speech, Discord)


class UsageService(ActsFor):
    def __init__(self, store: SqlStore, clones: CloneService) -> None:
        self._store = store
        self._clones = clones

    def summary(self, by: str = "day") -> list[UsageLine]:
        """The creator's usage (an API key's: its own) grouped `by` day, clone (slug), key (id) or user (fan id),
        oldest/first first."""
        if by not in GROUPINGS:
            raise ValueError(f"group usage by one of {GROUPINGS}")
        actor = self._clones.actor
        if isinstance(actor, ApiKey):
            rows = [r for r in self._store.usage_rows(owner_id=actor.owner_id) if r["key_id"] == actor.key_id]
            owner = actor.owner_id
        else:
            self._clones.require_creator()
            assert isinstance(actor, Creator)
            rows, owner = self._store.usage_rows(owner_id=actor.id), actor.id
        slugs = {c.id: c.slug for c in self._store.list_clones(owner_id=owner)}
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            key = {"day": row["created_at"].date().isoformat(), "clone": slugs.get(row["clone_id"], row["clone_id"]),
                   "key": row["key_id"] or "-", "user": row["fan_id"]}[by]
            groups[key].append(row)
        return [_line(group, items) for group, items in groups.items()]


def _line(group: str, rows: list[dict[str, Any]]) -> UsageLine:
    spoken = [r for r in rows if r["status"] == SPOKEN]
    rows = [r for r in rows if r["status"] != SPOKEN]
    waits = [r["first_token_ms"] for r in rows if r["first_token_ms"] is not None]
    return UsageLine(
        group=group, replies=sum(r["status"] != "failed" for r in rows),
        failed=sum(r["status"] == "failed" for r in rows),
        fans=len({r["fan_id"] for r in rows + spoken}), prompt_tokens=sum(r["prompt_tokens"] for r in rows),
        completion_tokens=sum(r["completion_tokens"] for r in rows),
        first_token_p50_ms=statistics.median(waits) if waits else None,
        first_token_p95_ms=statistics.quantiles(waits, n=20)[-1] if len(waits) > 1 else (waits[0] if waits else None),
        speech_seconds=round(sum(r.get("speech_ms") or 0 for r in spoken) / 1000, 1))
