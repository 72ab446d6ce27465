"""Who is asking: every call that reads or writes a clone's data names its actor.

A fan is never named by a client: the server creates fans and hands out tokens that prove who they are
(`clonr.access.tokens`). A creator is the local creator on a machine of their own, or one signed in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Creator:
    """A person who makes clones; they own the clones they create."""

    id: str


@dataclass(frozen=True)
class Fan:
    """One fan of one clone, as the server created them (`FanService.visit`)."""

    clone_id: str
    fan_id: str


@dataclass(frozen=True)
class ApiKey:
    """A creator's API key: it speaks for the creator's end users on the creator's published clones (all of
    them, or `clone_ids`), and manages nothing."""

    key_id: str
    owner_id: str
    clone_ids: frozenset[str] | None = None


@dataclass(frozen=True)
class System:
    """Clonr itself: background memory work, migrations, benchmarks."""


@dataclass(frozen=True)
class Nobody:
    """A caller who has proven nothing."""


Actor = Creator | Fan | ApiKey | System | Nobody

LOCAL_CREATOR = Creator("local")  # the one creator of a studio or CLI on the creator's own machine
SYSTEM = System()
NOBODY = Nobody()
