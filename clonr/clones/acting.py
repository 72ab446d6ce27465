"""Services that act for one actor at a time, decided by the one policy (`clonr.access`).

A surface calls a service bound to its actor (`service.acting_as(creator)`); every public method that takes
a clone checks first that the actor may manage it. A service that has checked its caller calls the others
through instances bound to the system, so a check is made once, where the surface called.
"""

from __future__ import annotations

import copy
from typing import Self

from clonr.access import Actor
from clonr.clones import CloneService
from clonr.store import Clone


class ActsFor:
    """Mixin: `acting_as(actor)` returns this service bound to `actor`; `_owned(ref)` is the check."""

    _clones: CloneService

    def acting_as(self, actor: Actor) -> Self:
        bound = copy.copy(self)  # shallow: caches and workers stay shared with the original
        bound._clones = self._clones.acting_as(actor)
        return bound

    def _owned(self, clone_ref: str) -> Clone:
        """The clone, when the actor may manage it (its owner, or the system); `ForbiddenError` otherwise."""
        return self._clones.get(clone_ref)
