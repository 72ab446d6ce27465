"""The one authorization policy: which actor may do which operation on which clone's data.

Services call `authorize` before they read or write; surfaces never decide on their own. The rules: the
system may do anything but create a clone (which needs an owner); anyone may see a published clone's public
face (name, greeting); a creator may do anything with the clones they own, and create clones; a fan may talk
with a published clone and see, export or delete their own data with it, and nothing else; an API key does
the same for its owner's end users on its owner's published clones.
"""

from __future__ import annotations

from enum import Enum

from clonr.access.actors import Actor, ApiKey, Creator, Fan, Nobody, System
from clonr.errors import ForbiddenError
from clonr.store import Clone


class Operation(Enum):
    """Everything that can be done with a clone's data. The value says it in words, for refusals."""

    VIEW_CLONE = "see this clone"
    READ_CLONE = "read this clone's private details"
    CREATE_CLONE = "create a clone"
    EDIT_CLONE = "change this clone"
    PUBLISH_CLONE = "publish or unpublish this clone"
    DELETE_CLONE = "delete this clone"
    READ_SOURCES = "read this clone's sources"
    EDIT_SOURCES = "change this clone's sources"
    CREATOR_CHAT = "use the creator's own conversations with this clone"
    LIST_FANS = "list this clone's fans"
    READ_FAN_DATA = "read a fan's conversation and memories"
    EDIT_FAN_DATA = "change or delete a fan's memories"
    STEP_IN = "write in a fan's conversation as the creator"
    CHAT = "talk with this clone"
    READ_OWN_DATA = "read your conversation and memories"
    DELETE_OWN_DATA = "delete your memories or conversation"


FAN_OPERATIONS = frozenset({Operation.CHAT, Operation.READ_OWN_DATA, Operation.DELETE_OWN_DATA})
PUBLIC_OPERATIONS = frozenset({Operation.VIEW_CLONE})
API_FAN_PREFIX = "a_"  # fans made for an API key's end users; the widget's are `f_`


def allowed(actor: Actor, operation: Operation, clone: Clone | None, fan_id: str | None = None) -> bool:
    """Whether `actor` may do `operation` on `clone` (and, for a fan's data, on fan `fan_id`'s)."""
    if operation is Operation.CREATE_CLONE:
        return isinstance(actor, Creator)  # a clone needs an owner, so not even the system makes one
    if isinstance(actor, System):
        return True
    if clone is None:
        return False
    if operation in PUBLIC_OPERATIONS and clone.published:
        return True
    if isinstance(actor, Creator):
        return clone.owner_id == actor.id
    if isinstance(actor, ApiKey):  # the API's end users are fans `a_…` the server made for the key's owner
        return (operation in FAN_OPERATIONS and clone.published and clone.owner_id == actor.owner_id
                and (actor.clone_ids is None or clone.id in actor.clone_ids)
                and fan_id is not None and fan_id.startswith(API_FAN_PREFIX))
    if isinstance(actor, Fan):
        return (operation in FAN_OPERATIONS and clone.published and actor.clone_id == clone.id
                and fan_id == actor.fan_id)
    assert isinstance(actor, Nobody), actor
    return False  # a public operation on a published clone was allowed above


def authorize(actor: Actor, operation: Operation, clone: Clone | None, fan_id: str | None = None) -> None:
    """Raise `ForbiddenError` unless `actor` may do `operation` (see `allowed`)."""
    if not allowed(actor, operation, clone, fan_id):
        raise ForbiddenError(f"You may not {operation.value}.")
