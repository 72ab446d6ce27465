"""Fans as public surfaces meet them: made by the server, and in charge of their own data.

A surface hands over the token it was given (or none); `visit` answers with the fan it names, or a new fan
and a new token. Every other call names the actor and the fan whose data it touches, and the one policy
(`clonr.access`) decides: a fan reaches only their own conversation and memories with a published clone;
the clone's owner reaches every fan's.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from clonr.access import (
    API_FAN_PREFIX,
    NOBODY,
    Actor,
    ApiKey,
    Fan,
    FanTokens,
    IdentityTokens,
    LinkCodes,
    Operation,
    allowed,
    authorize,
)
from clonr.billing import Payments, Pricing, Standing
from clonr.chat import ChatService, GroupChatService, Turn
from clonr.clones import CloneService
from clonr.errors import ConflictError, IdempotencyKeyReusedError, InvalidInputError, NotFoundError, SignInError
from clonr.fans.rates import Allowance, KeyRates, MessageRates
from clonr.memory import MemoryService
from clonr.store import Clone, ConversationRecord, FanActivity, GroupChat, Memory, Message, SqlStore
from clonr.voice import Speech, VoiceService

__all__ = ["DISCORD_SUBJECT", "Allowance", "FanService", "KeyRates", "MessageRates", "Replay", "Visit", "fingerprint"]

_FAN_PREFIX = "f_"  # fans the server made; creators' own conversations ("studio", "me") never look like this
_CONVERSATION_PREFIX = "conv_"
DISCORD_SUBJECT = "discord:"  # a Discord user's fan: `discord:<user id>`
IDEMPOTENCY_STALE = timedelta(minutes=10)  # an attempt this old that stored nothing died with its process


@dataclass(frozen=True)
class Visit:
    fan: Fan
    token: str  # for the surface to keep and hand back next time
    new: bool  # a new fan: no token, or one that named nobody


@dataclass(frozen=True)
class Replay:
    """A message posted again with the same Idempotency-Key: the reply stored the first time, not charged again."""

    asked: Message
    reply: Message
    prompt_tokens: int
    completion_tokens: int


def fingerprint(clone_id: str, fan_id: str, conversation_id: str, message: str,
                history: Sequence[tuple[str, str]] | None) -> str:
    """What an Idempotency-Key is bound to: the same key with another request is refused."""
    return hashlib.sha256(repr((clone_id, fan_id, conversation_id, message, history)).encode()).hexdigest()


class FanService:
    def __init__(self, store: SqlStore, clones: CloneService, chat: ChatService, memory: MemoryService,
                 tokens: FanTokens, rates: MessageRates, pricing: Pricing, payments: Payments, links: LinkCodes,
                 groups: GroupChatService, voice: VoiceService, identities: IdentityTokens | None = None) -> None:
        self._store = store
        self._voice = voice
        self._groups = groups
        self._links = links
        self._pricing = pricing
        self._payments = payments
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

    def end_user(self, actor: ApiKey, clone_ref: str, user: str, create: bool = True) -> Fan:
        """The fan that an API key's end user `user` (the key owner's own id for them) is to this clone, made on
        first use (`NotFoundError` instead when not `create`). End users are namespaced by the key's owner: two
        customers' user "42" are two fans."""
        user = user.strip()
        if not 1 <= len(user) <= 256:
            raise InvalidInputError("`user` must be your id for the end user, 1-256 characters.")
        clone = self._store.get_clone(clone_ref)
        subject = f"api:{actor.owner_id}:{user}"
        known = self._store.fan_by_subject(clone.id, subject)
        fan_id = known.id if known else API_FAN_PREFIX + uuid.uuid4().hex
        authorize(actor, Operation.CHAT, clone, fan_id)
        if known is None:
            if not create:
                raise NotFoundError(f"{clone.name} has no end user {user!r}: nothing to do.")
            fan_id = self._store.add_fan(clone.id, fan_id, subject)
        return Fan(clone.id, fan_id)

    def discord_user(self, clone_ref: str, user_id: int) -> Fan:
        """The fan a Discord user is to this published clone (Discord proved who they are to the bot), made on
        first use."""
        clone = self._published(clone_ref)
        subject = f"{DISCORD_SUBJECT}{int(user_id)}"
        linked = self._store.fan_alias(clone.id, subject)
        if linked and self._store.get_fan(clone.id, linked):
            return Fan(clone.id, linked)
        known = self._store.fan_by_subject(clone.id, subject)
        fan_id = known.id if known else self._store.add_fan(clone.id, _FAN_PREFIX + uuid.uuid4().hex, subject)
        return Fan(clone.id, fan_id)

    def link_code(self, actor: Actor, clone_ref: str, fan_id: str) -> str:
        """A one-time code (15 minutes) that ties a Discord account to this signed-in fan: their balance and
        purchases then apply on Discord too (`/link` there)."""
        clone = self._allowed(actor, Operation.READ_OWN_DATA, clone_ref, fan_id)
        record = self._store.get_fan(clone.id, fan_id)
        if record is None or record.subject is None or record.subject.startswith(DISCORD_SUBJECT):
            raise InvalidInputError("Sign in first: a link code ties Discord to your signed-in account.")
        return self._links.issue(clone.id, fan_id)

    def link_discord(self, clone_ref: str, user_id: int, code: str) -> Fan:
        """Tie the Discord user to the signed-in fan a link code names (once per code); they are that fan on
        Discord from now on. Their earlier Discord-only conversation stays with the fan they were."""
        clone = self._published(clone_ref)
        checked = self._links.check(code, clone.id)
        if checked is None or self._store.get_fan(clone.id, checked[0]) is None:
            raise InvalidInputError(f"That link code is not valid or is older than 15 minutes: get a new one on "
                                    f"{clone.name}'s chat page (Your data → Link Discord) while signed in.")
        fan_id, link_id = checked
        if not self._store.add_fan_alias(clone.id, f"{DISCORD_SUBJECT}{int(user_id)}", fan_id, link_id):
            raise InvalidInputError("That link code was used already: get a new one.")
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
             channel: str = "widget", conversation_id: str = "",
             history: Sequence[tuple[str, str]] | None = None) -> Turn:
        """Start the clone's reply to `message` in fan `fan_id`'s conversation; iterate it to stream. Each
        message counts against the fan's and the sending address's rates (`CLONR_*_MESSAGE_LIMIT`); the reply
        is recorded in the usage ledger under `channel` (and the API key, when one asked). `history`: what a
        stateless client sent before the message (see `ChatService.start_turn`)."""
        clone = self._allowed(actor, Operation.CHAT, clone_ref, fan_id)
        return self._start(actor, clone, fan_id, message, address, channel, conversation_id, history, None)

    def post(self, actor: ApiKey, clone_ref: str, fan_id: str, message: str, idempotency_key: str | None,
             conversation_id: str = "", history: Sequence[tuple[str, str]] | None = None) -> Turn | Replay:
        """`turn` for an API request that may carry an Idempotency-Key: the same key and request again get the
        stored reply (`Replay`, no second charge); `ConflictError` while the first still runs;
        `IdempotencyKeyReusedError` for a key that named another request."""
        if idempotency_key and len(idempotency_key) > 255:
            raise InvalidInputError("The Idempotency-Key header is longer than 255 characters: use a shorter one.")
        clone = self._allowed(actor, Operation.CHAT, clone_ref, fan_id)
        if not idempotency_key:
            return self._start(actor, clone, fan_id, message, None, "api", conversation_id, history, None)
        request = fingerprint(clone.id, fan_id, conversation_id, message, history)
        state, reply_id = self._store.claim_idempotency_key(actor.key_id, idempotency_key, request,
                                                            datetime.now(UTC) - IDEMPOTENCY_STALE)
        if state == "mismatch":
            raise IdempotencyKeyReusedError("This Idempotency-Key was used for another request: use a new key for "
                                            "each new message.")
        if state == "running":
            raise ConflictError("A request with this Idempotency-Key is still running: retry when it has finished.")
        if state == "done" and reply_id is not None:
            return self._replay(reply_id)
        claim = (actor.key_id, idempotency_key)
        try:
            return self._start(actor, clone, fan_id, message, None, "api", conversation_id, history, claim)
        except Exception:
            self._store.release_idempotency_key(*claim)
            raise

    def _start(self, actor: Actor, clone: Clone, fan_id: str, message: str, address: str | None, channel: str,
               conversation_id: str, history: Sequence[tuple[str, str]] | None,
               idempotency: tuple[str, str] | None) -> Turn:
        """The turn, for a caller that has checked `actor` on `clone`."""
        if conversation_id:
            self._conversation_of(clone, fan_id, conversation_id)
        bill = self._pricing.bill_for(actor, clone, fan_id)
        self._pricing.admit(clone, bill)
        self._rates.count(f"{clone.id}:{fan_id}", address)
        key_id = actor.key_id if isinstance(actor, ApiKey) else None
        return self._chat.start_turn(clone.id, message, fan_id=fan_id, channel=channel, key_id=key_id,
                                     conversation_id=conversation_id, history=history, idempotency=idempotency,
                                     bill=bill)

    def group_post(self, actor: Actor, group: GroupChat, clone_ref: str, fan_id: str, fan_name: str, text: str,
                   channel: str = "discord") -> Iterator[Turn]:
        """The fan speaks in a group chat the clone is in (a Discord channel it joined): their line is stored and
        a Turn is yielded for each clone that answers (named, or at its talkativeness: none may), each reply
        charged to the fan like a one-to-one reply. `PaymentRequiredError` before anything is stored when nothing
        would pay."""
        clone = self._allowed(actor, Operation.CHAT, clone_ref, fan_id)
        if clone.id not in group.members:
            raise NotFoundError(f"{clone.name} is not in the group chat {group.name!r}.")
        bill = self._pricing.bill_for(actor, clone, fan_id)
        self._pricing.admit(clone, bill)
        self._rates.count(f"{clone.id}:{fan_id}", None)
        return self._groups.post(group.id, fan_id, fan_name, text, channel=channel, bill=bill, someone_answers=False)

    def draft(self, actor: Actor, clone_ref: str, fan_id: str, text: str) -> Turn:
        """Continue `text` in the creator's voice (`ChatService.draft`), counted like a message of the fan."""
        clone = self._allowed(actor, Operation.CHAT, clone_ref, fan_id)
        bill = self._pricing.bill_for(actor, clone, fan_id)
        self._pricing.admit(clone, bill)
        self._rates.count(f"{clone.id}:{fan_id}", None)
        return self._chat.draft(clone.id, text, fan_id, key_id=actor.key_id if isinstance(actor, ApiKey) else None,
                                bill=bill)

    # -- paying ---------------------------------------------------------------------------------

    def standing(self, actor: Actor, clone_ref: str, fan_id: str) -> Standing | None:
        """Where the fan (an API key: its owner) stands with the clone this month: free messages left, bought
        ones, the metered subscription, and what can be bought; None when nothing is charged to `actor`."""
        clone = self._allowed(actor, Operation.READ_OWN_DATA, clone_ref, fan_id)
        bill = self._pricing.bill_for(actor, clone, fan_id)
        return None if bill is None else self._pricing.standing(clone, bill)

    def checkout(self, actor: Actor, clone_ref: str, fan_id: str, offer: str, return_url: str) -> str:
        """The Stripe Checkout page where the fan buys `offer` (a pack's id, or "subscription"), coming back to
        `return_url`; what is bought is theirs on every surface they are signed in on."""
        clone = self._allowed(actor, Operation.CHAT, clone_ref, fan_id)
        bill = self._pricing.bill_for(actor, clone, fan_id)
        if bill is None:
            raise InvalidInputError("Nothing is charged to you here: there is nothing to buy.")
        return self._payments.checkout(clone, bill, offer, return_url)

    def _replay(self, reply_id: int) -> Replay:
        reply = self._store.get_message(reply_id)
        asked = reply and self._store.previous_message(reply)
        if reply is None or asked is None:  # the fan was forgotten since
            raise NotFoundError("The reply to this Idempotency-Key was deleted: send the message with a new key.")
        usage = self._store.usage_of_reply(reply_id) or {}
        return Replay(asked, reply, usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))

    def exchange(self, actor: Actor, clone_ref: str, fan_id: str, message_ids: tuple[int, int]) -> list[Message]:
        """A stored message and its reply (`Turn.stored`), as the fan's own data."""
        clone = self._allowed(actor, Operation.READ_OWN_DATA, clone_ref, fan_id)
        found = [self._store.get_message(i) for i in message_ids]
        if any(m is None or (m.clone_id, m.fan_id) != (clone.id, fan_id) for m in found):
            raise NotFoundError("That exchange is not in this end user's conversations.")
        return found  # type: ignore[return-value]

    # -- the creator's view ---------------------------------------------------------------------

    def fans_of(self, actor: Actor, clone_ref: str) -> list[FanActivity]:
        """The clone's fans who have talked with it, most recently active first: for its creator."""
        clone = self._store.get_clone(clone_ref)
        authorize(actor, Operation.LIST_FANS, clone)
        return self._store.fan_activity(clone.id)

    def step_in(self, actor: Actor, clone_ref: str, fan_id: str, text: str, conversation_id: str = "") -> Message:
        """The creator writes in the fan's conversation themselves: stored as a reply marked as theirs (the fan
        sees it so), remembered like any other line of the conversation, never charged."""
        clone = self._allowed(actor, Operation.STEP_IN, clone_ref, fan_id)
        text = self._chat.validate_message(text)
        if self._store.get_fan(clone.id, fan_id) is None:
            raise NotFoundError(f"{clone.name} has no fan {fan_id!r}: choose one from the list.")
        if conversation_id:
            self._conversation_of(clone, fan_id, conversation_id)
        reply = self._store.add_creator_reply(clone.id, fan_id, text, conversation_id)
        self._chat.worker.submit(functools.partial(
            self._memory.remember, clone.id, fan_id, [f"{clone.name}: {text}"], happened_at=[reply.created_at],
            sources=["chat"], message_ids=[reply.id]))
        return reply

    # -- conversations --------------------------------------------------------------------------

    def start_conversation(self, actor: Actor, clone_ref: str, fan_id: str) -> ConversationRecord:
        """A new conversation for the fan: its own history, while the clone's memory of the fan spans them all."""
        clone = self._allowed(actor, Operation.CHAT, clone_ref, fan_id)
        return self._store.add_conversation(clone.id, fan_id, _CONVERSATION_PREFIX + uuid.uuid4().hex)

    def conversations(self, actor: Actor, clone_ref: str, fan_id: str) -> list[ConversationRecord]:
        """The conversations the fan started, oldest first (their first one, '', is not among them)."""
        clone = self._allowed(actor, Operation.READ_OWN_DATA, clone_ref, fan_id)
        return self._store.list_conversations(clone.id, fan_id)

    def _conversation_of(self, clone: Clone, fan_id: str, conversation_id: str) -> ConversationRecord:
        found = self._store.get_conversation(conversation_id)
        if found is None or (found.clone_id, found.fan_id) != (clone.id, fan_id):
            raise NotFoundError(f"No conversation {conversation_id!r} with this end user: start one first.")
        return found

    def history(self, actor: Actor, clone_ref: str, fan_id: str, limit: int | None = None,
                conversation_id: str | None = None, before: int | None = None) -> list[Message]:
        """The fan's messages, oldest first: the last `limit` (before message `before`), of one conversation when
        `conversation_id` is given ('' is their first)."""
        clone = self._allowed(actor, Operation.READ_OWN_DATA, clone_ref, fan_id)
        if conversation_id:
            self._conversation_of(clone, fan_id, conversation_id)
        return self._store.recent_messages(clone.id, fan_id, limit, conversation_id=conversation_id, before=before)

    def speak(self, actor: Actor, clone_ref: str, fan_id: str, reply: int = 1, channel: str = "widget",
              conversation_id: str | None = None) -> Iterator[Speech]:
        """The clone's `reply`-th reply from the end of the fan's conversation (1: the last; its greeting comes first)
        in the clone's voice, sentence by sentence. Only what the clone itself said: a caller
        never names the text, so no one can make the creator's voice say anything else."""
        clone = self._allowed(actor, Operation.READ_OWN_DATA, clone_ref, fan_id)
        said = ([clone.greeting] if clone.greeting else []) + [
            m.content for m in self._store.recent_messages(clone.id, fan_id, 200, conversation_id=conversation_id)
            if m.role == "assistant"]
        if not 1 <= reply <= len(said):
            raise NotFoundError(f"{clone.name} has no such reply to listen to.")
        return self._voice.speak(clone, [said[-reply]], fan_id=fan_id, channel=channel)

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
                          **({"interrupted": True} if m.interrupted else {}),
                          **({"written_by": "creator"} if m.by_creator else {})}
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
