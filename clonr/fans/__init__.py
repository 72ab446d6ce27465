"""Fans as public surfaces meet them: made by the server, and in charge of their own data.

A surface hands over the token it was given (or none); `visit` answers with the fan it names, or a new fan
and a new token. Every other call names the actor and the fan whose data it touches, and the one policy
(`clonr.access`) decides: a fan reaches only their own conversation and memories with a published clone;
the clone's owner reaches every fan's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clonr.access import (
    API_FAN_PREFIX,
    NOBODY,
    Actor,
    ApiKey,
    Fan,
    FanTokens,
    IdentityTokens,
    Operation,
    allowed,
    authorize,
)
from clonr.chat import ChatService, Turn
from clonr.clones import CloneService
from clonr.errors import InvalidInputError, SignInError
from clonr.fans.rates import Allowance, KeyRates, MessageRates
from clonr.memory import MemoryService
from clonr.store import Clone, Memory, Message, SqlStore

__all__ = ["Allowance", "FanService", "KeyRates", "MessageRates", "Visit"]

_FAN_PREFIX = "f_"  # fans the server made; creators' own conversations ("studio", "me") never look like this


@dataclass(frozen=True)
class Visit:
    fan: Fan
    token: str  # for the surface to keep and hand back next time
    new: bool  # a new fan: no token, or one that named nobody


class FanService:
    def __init__(self, store: SqlStore, clones: CloneService, chat: ChatService, memory: MemoryService,
                 tokens: FanTokens, rates: MessageRates, identities: IdentityTokens | None = None) -> None:
        self._store = store
        self._identities = identities
        self._rates = rates
        self._clones = clones
        self._chat = chat
        self._memory = memory
        self._tokens = tokens

    def visit(self, clone_ref: str, token: str | None) -> Visit:
        """The fan `token` names for this published clone, or a new fan with a new token. A forged, altered,
        expired or other clone's token, or one of a fan who asked to be forgotten, gets a new fan."""
        clone = self._published(clone_ref)
        fan = self._named(clone, token)
        if fan is not None:
            return Visit(fan, token or "", new=False)
        return self._new(clone, None)

    def end_user(self, actor: ApiKey, clone_ref: str, user: str) -> Fan:
        """The fan that an API key's end user `user` (the key owner's own id for them) is to this clone, made on
        first use. End users are namespaced by the key's owner: two customers' user "42" are two fans."""
        user = user.strip()
        if not 1 <= len(user) <= 256:
            raise InvalidInputError("`user` must be your id for the end user, 1-256 characters.")
        clone = self._store.get_clone(clone_ref)
        subject = f"api:{actor.owner_id}:{user}"
        known = self._store.fan_by_subject(clone.id, subject)
        fan_id = known.id if known else API_FAN_PREFIX + uuid.uuid4().hex
        authorize(actor, Operation.CHAT, clone, fan_id)
        if known is None:
            fan_id = self._store.add_fan(clone.id, fan_id, subject)
        return Fan(clone.id, fan_id)

    def clones_for(self, actor: ApiKey) -> list[Clone]:
        """The published clones an API key may talk with (its owner's, or those it is limited to)."""
        return [c for c in self._store.list_clones(owner_id=actor.owner_id)
                if allowed(actor, Operation.CHAT, c, API_FAN_PREFIX)]

    def known(self, clone_ref: str, token: str | None) -> Fan | None:
        """The fan `token` names for this published clone, or None; never makes a fan."""
        return self._named(self._published(clone_ref), token)

    def sign_in(self, clone_ref: str, token: str | None, id_token: str) -> Visit:
        """The signed-in person's fan of this clone, from a JWT of the sign-in issuer (`CLONR_AUTH_*`). On their
        first sign-in the fan `token` names becomes theirs, with its conversation and memories; later they get
        that fan back on any device. `SignInError` says why a JWT is refused."""
        clone = self._published(clone_ref)
        if self._identities is None:
            raise SignInError("Sign-in is not set up on this server: set CLONR_AUTH_JWKS_URL and CLONR_AUTH_ISSUER.")
        subject = self._identities.subject(id_token)
        known = self._store.fan_by_subject(clone.id, subject)
        if known is not None:
            return Visit(Fan(clone.id, known.id), self._tokens.issue(clone.id, known.id), new=False)
        current = self._named(clone, token)
        record = current and self._store.get_fan(clone.id, current.fan_id)
        if record and record.subject is None:
            self._store.set_fan_subject(clone.id, record.id, subject)
            return Visit(current, self._tokens.issue(clone.id, record.id), new=False)
        return self._new(clone, subject)

    def turn(self, actor: Actor, clone_ref: str, fan_id: str, message: str, address: str | None = None,
             channel: str = "widget") -> Turn:
        """Start the clone's reply to `message` in fan `fan_id`'s conversation; iterate it to stream. Each
        message counts against the fan's and the sending address's rates (`CLONR_*_MESSAGE_LIMIT`); the reply
        is recorded in the usage ledger under `channel` (and the API key, when one asked)."""
        clone = self._allowed(actor, Operation.CHAT, clone_ref, fan_id)
        self._rates.count(f"{clone.id}:{fan_id}", address)
        key_id = actor.key_id if isinstance(actor, ApiKey) else None
        return self._chat.start_turn(clone.id, message, fan_id=fan_id, channel=channel, key_id=key_id)

    def history(self, actor: Actor, clone_ref: str, fan_id: str, limit: int | None = None) -> list[Message]:
        clone = self._allowed(actor, Operation.READ_OWN_DATA, clone_ref, fan_id)
        return self._store.recent_messages(clone.id, fan_id, limit)

    def memories(self, actor: Actor, clone_ref: str, fan_id: str, limit: int | None = None) -> list[Memory]:
        """What the clone remembers of the fan, newest first (not what it shares with every fan)."""
        clone = self._allowed(actor, Operation.READ_OWN_DATA, clone_ref, fan_id)
        return self._store.list_memories(clone.id, [fan_id], limit=limit)

    def forget_memory(self, actor: Actor, clone_ref: str, fan_id: str, memory_id: str) -> None:
        clone = self._allowed(actor, Operation.DELETE_OWN_DATA, clone_ref, fan_id)
        self._memory.delete(clone.id, fan_id, memory_id)

    def forget(self, actor: Actor, clone_ref: str, fan_id: str) -> None:
        """Forget the fan: messages, memories, their vectors and summary; their token then names nobody."""
        clone = self._allowed(actor, Operation.DELETE_OWN_DATA, clone_ref, fan_id)
        self._memory.forget_fan(clone.id, fan_id)
        self._store.delete_fan_record(clone.id, fan_id)

    def export(self, actor: Actor, clone_ref: str, fan_id: str) -> dict[str, Any]:
        """The fan's conversation and memories as one JSON-ready dict."""
        clone = self._allowed(actor, Operation.READ_OWN_DATA, clone_ref, fan_id)
        return {
            "clone": clone.name,
            "exported_at": datetime.now(UTC).isoformat(),
            "messages": [{"role": m.role, "content": m.content, "at": m.created_at.isoformat(),
                          **({"interrupted": True} if m.interrupted else {})}
                         for m in self._store.recent_messages(clone.id, fan_id, None)],
            "memories": [{"id": m.id, "kind": m.kind, "text": m.text, "at": m.happened_at.isoformat()}
                         for m in self._store.list_memories(clone.id, [fan_id], limit=None)],
        }

    def _named(self, clone: Clone, token: str | None) -> Fan | None:
        fan_id = self._tokens.fan_id(token, clone.id)
        return Fan(clone.id, fan_id) if fan_id and self._store.get_fan(clone.id, fan_id) else None

    def _new(self, clone: Clone, subject: str | None) -> Visit:
        fan_id = _FAN_PREFIX + uuid.uuid4().hex
        self._store.add_fan(clone.id, fan_id, subject)
        return Visit(Fan(clone.id, fan_id), self._tokens.issue(clone.id, fan_id), new=True)

    def _published(self, clone_ref: str) -> Clone:
        return self._clones.acting_as(NOBODY).public(clone_ref)

    def _allowed(self, actor: Actor, operation: Operation, clone_ref: str, fan_id: str) -> Clone:
        clone = self._store.get_clone(clone_ref)
        authorize(actor, operation, clone, fan_id)
        return clone
