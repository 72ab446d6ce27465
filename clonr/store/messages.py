"""Conversations: one-to-one messages and group chats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from clonr.errors import AlreadyExistsError, NotFoundError
from clonr.store.database import _aware, _now
from clonr.store.ledger import LedgerRecords
from clonr.store.records import (
    ConversationRecord,
    FanActivity,
    GroupChat,
    GroupMessage,
    Message,
    ReplyDraft,
)
from clonr.store.schema import (
    conversations,
    fans,
    group_chats,
    group_members,
    group_messages,
    idempotency_keys,
    memories,
    messages,
    reply_drafts,
)


class MessageRecords(LedgerRecords):
    # -- messages -------------------------------------------------------------------------------

    def add_exchange(self, clone_id: str, fan_id: str, user_text: str, reply_text: str, *,
                     context: str | None = None, status: str = "complete", usage: dict[str, Any] | None = None,
                     conversation_id: str = "", idempotency: tuple[str, str] | None = None,
                     draft_id: str | None = None) -> tuple[int, int]:
        """Store a user message (with what its turn was given) and the clone's reply (complete or interrupted)
        together, with the reply's row of the usage ledger (and its charge), its idempotency key (key id, key) and
        the removal of its draft when given, or none of them; returns their ids."""
        with self._transaction() as connection:
            if draft_id is not None:
                connection.execute(reply_drafts.delete().where(reply_drafts.c.id == draft_id))
            ids = self._insert_exchange(connection, clone_id, fan_id, user_text, reply_text, context, status,
                                        usage, conversation_id)
            if idempotency is not None:
                connection.execute(idempotency_keys.update().where(*_idempotency_row(*idempotency))
                                   .values(message_id=ids[1]))
        return ids

    def _insert_exchange(self, connection: Connection, clone_id: str, fan_id: str, user_text: str,
                         reply_text: str, context: str | None, status: str, usage: dict[str, Any] | None,
                         conversation_id: str) -> tuple[int, int]:
        now = _now()
        rows = (dict(role="user", content=user_text, context=context), dict(role="assistant", content=reply_text,
                                                                            status=status))
        ids = [connection.execute(messages.insert().values(
            clone_id=clone_id, fan_id=fan_id, created_at=now, conversation_id=conversation_id, **row)
        ).inserted_primary_key[0] for row in rows]
        if usage is not None:
            self._write_usage(connection, clone_id, fan_id, ids[1], status, now, usage)
        return ids[0], ids[1]

    # -- replies while they stream ----------------------------------------------------------------

    def save_draft(self, draft: ReplyDraft) -> None:
        """Write what a streaming reply has sent so far (the first call inserts it)."""
        values = {name: getattr(draft, name) for name in ReplyDraft.__dataclass_fields__}
        with self._transaction() as connection:
            updated = connection.execute(reply_drafts.update().where(reply_drafts.c.id == draft.id)
                                         .values(reply=draft.reply, updated_at=draft.updated_at)).rowcount
            if not updated:
                connection.execute(reply_drafts.insert().values(**values))

    def drop_draft(self, draft_id: str) -> None:
        with self._transaction() as connection:
            connection.execute(reply_drafts.delete().where(reply_drafts.c.id == draft_id))

    def reply_drafts(self) -> list[ReplyDraft]:
        with self._transaction() as connection:
            rows = connection.execute(sa.select(reply_drafts).order_by(reply_drafts.c.updated_at)).mappings().all()
        return [ReplyDraft(**{**row, "updated_at": _aware(row["updated_at"])}) for row in rows]

    def store_draft(self, draft: ReplyDraft) -> tuple[int, int] | None:
        """Store a draft whose process died as an interrupted exchange, charged nothing (its ledger row counts
        the attempt); its ids, or None when another process stored it first."""
        usage = {"owner_id": draft.owner_id, "channel": draft.channel, "key_id": draft.key_id, "prompt_tokens": 0,
                 "completion_tokens": 0, "first_token_ms": None, "total_ms": 0}
        with self._transaction() as connection:
            if not connection.execute(reply_drafts.delete().where(reply_drafts.c.id == draft.id)).rowcount:
                return None
            return self._insert_exchange(connection, draft.clone_id, draft.fan_id, draft.message, draft.reply,
                                         draft.context, "interrupted", usage, draft.conversation_id)

    def add_messages(self, clone_id: str, fan_id: str, items: list[tuple[str, str, datetime]]) -> list[int]:
        """Store (role, content, time) messages in one transaction, e.g. an imported conversation; their ids."""
        if not items:
            return []
        with self._transaction() as connection:
            result = connection.execute(
                messages.insert().returning(messages.c.id, sort_by_parameter_order=True),
                [dict(clone_id=clone_id, fan_id=fan_id, role=role, content=content, created_at=when)
                 for role, content, when in items])
            return list(result.scalars().all())

    def add_creator_reply(self, clone_id: str, fan_id: str, text: str, conversation_id: str = "") -> Message:
        """A reply the creator wrote in the fan's conversation, marked as theirs; no ledger row (no model ran)."""
        now = _now()
        with self._transaction() as connection:
            message_id = connection.execute(messages.insert().values(
                clone_id=clone_id, fan_id=fan_id, role="assistant", content=text, created_at=now,
                conversation_id=conversation_id, written_by="creator")).inserted_primary_key[0]
        return Message(message_id, clone_id, fan_id, "assistant", text, now, conversation_id=conversation_id,
                       written_by="creator")

    def fan_activity(self, clone_id: str) -> list[FanActivity]:
        """The clone's fans who have messages (not the creator's own conversations), most recently active first."""
        query = (sa.select(messages.c.fan_id, sa.func.count().label("count"), sa.func.max(messages.c.created_at)
                           .label("last_at"), fans.c.subject)
                 .select_from(messages.join(fans, sa.and_(fans.c.clone_id == messages.c.clone_id,
                                                               fans.c.id == messages.c.fan_id)))
                 .where(messages.c.clone_id == clone_id).group_by(messages.c.fan_id, fans.c.subject)
                 .order_by(sa.func.max(messages.c.created_at).desc()))
        with self._transaction() as connection:
            return [FanActivity(row.fan_id, row.subject is not None, row.count, _aware(row.last_at))
                    for row in connection.execute(query)]

    def recent_messages(self, clone_id: str, fan_id: str, limit: int | None = 50, *,
                        conversation_id: str | None = None, before: int | None = None) -> list[Message]:
        """The last `limit` messages of a fan (all with None), oldest first: of one conversation when
        `conversation_id` is given ('' is their first), and older than message `before` when given."""
        query = (sa.select(messages).where(messages.c.clone_id == clone_id, messages.c.fan_id == fan_id)
                 .order_by(messages.c.id.desc()).limit(limit))
        if conversation_id is not None:
            query = query.where(messages.c.conversation_id == conversation_id)
        if before is not None:
            query = query.where(messages.c.id < before)
        with self._transaction() as connection:
            rows = connection.execute(query).mappings().all()
        return [Message(**{**row, "created_at": _aware(row["created_at"])}) for row in reversed(rows)]

    # -- conversations and idempotency keys ----------------------------------------------------------

    def add_conversation(self, clone_id: str, fan_id: str, conversation_id: str) -> ConversationRecord:
        record = ConversationRecord(conversation_id, clone_id, fan_id, _now())
        with self._transaction() as connection:
            connection.execute(conversations.insert().values(id=record.id, clone_id=clone_id, fan_id=fan_id,
                                                             created_at=record.created_at))
        return record

    def list_conversations(self, clone_id: str, fan_id: str) -> list[ConversationRecord]:
        """The conversations a fan started beyond their first, oldest first."""
        query = (sa.select(conversations).where(conversations.c.clone_id == clone_id, conversations.c.fan_id == fan_id)
                 .order_by(conversations.c.created_at, conversations.c.id))
        with self._transaction() as connection:
            return [ConversationRecord(**{**row, "created_at": _aware(row["created_at"])})
                    for row in connection.execute(query).mappings().all()]

    def get_conversation(self, conversation_id: str) -> ConversationRecord | None:
        with self._transaction() as connection:
            row = connection.execute(sa.select(conversations).where(conversations.c.id == conversation_id)
                                     ).mappings().first()
        return None if row is None else ConversationRecord(**{**row, "created_at": _aware(row["created_at"])})

    def claim_idempotency_key(self, key_id: str, key: str, request_hash: str,
                              stale_before: datetime) -> tuple[str, int | None]:
        """Claim an Idempotency-Key for a request: ("claimed", None) for a new key, or one whose earlier attempt
        started before `stale_before` and never stored a reply (its process died); ("done", reply id);
        ("running", None) while the first attempt runs; ("mismatch", None) for another request's key."""
        with self._transaction() as connection:
            row = connection.execute(sa.select(idempotency_keys).where(*_idempotency_row(key_id, key))
                                     ).mappings().first()
            if row is None:
                try:
                    with connection.begin_nested():
                        connection.execute(idempotency_keys.insert().values(
                            key_id=key_id, idempotency_key=key, request_hash=request_hash, started_at=_now()))
                    return "claimed", None
                except IntegrityError:  # another request claimed it between the read and the write
                    return "running", None
            if row["request_hash"] != request_hash:
                return "mismatch", None
            if row["message_id"] is not None:
                return "done", row["message_id"]
            if _aware(row["started_at"]) >= stale_before:
                return "running", None
            connection.execute(idempotency_keys.update().where(*_idempotency_row(key_id, key))
                               .values(started_at=_now()))
            return "claimed", None

    def release_idempotency_key(self, key_id: str, key: str) -> None:
        """The attempt stored no reply (the model failed, or the request was refused): the key may be used again."""
        with self._transaction() as connection:
            connection.execute(idempotency_keys.delete().where(*_idempotency_row(key_id, key),
                                                               idempotency_keys.c.message_id.is_(None)))

    def unremembered_exchanges(self, since: datetime, limit: int = 500) -> list[tuple[Message, Message]]:
        """(message, reply) pairs stored since `since` that no memory was made from: their process died before
        its memory work ran. Oldest first."""
        made = sa.select(memories.c.id).where(memories.c.message_id == messages.c.id).exists()
        query = (sa.select(messages).where(messages.c.role == "user", messages.c.created_at >= since, ~made)
                 .order_by(messages.c.id).limit(limit))
        with self._transaction() as connection:
            asked = [Message(**{**row, "created_at": _aware(row["created_at"])})
                     for row in connection.execute(query).mappings().all()]
        pairs = []
        for message in asked:
            reply = self.next_message(message)
            if reply is not None and reply.role == "assistant":
                pairs.append((message, reply))
        return pairs

    def next_message(self, message: Message) -> Message | None:
        """The message just after `message` in the same conversation."""
        return self._beside(message, after=True)

    def get_message(self, message_id: int) -> Message | None:
        with self._transaction() as connection:
            row = connection.execute(sa.select(messages).where(messages.c.id == message_id)).mappings().first()
        return None if row is None else Message(**{**row, "created_at": _aware(row["created_at"])})

    def previous_message(self, message: Message) -> Message | None:
        """The message just before `message` in the same conversation."""
        return self._beside(message, after=False)

    def _beside(self, message: Message, after: bool) -> Message | None:
        same = (messages.c.clone_id == message.clone_id, messages.c.fan_id == message.fan_id,
                messages.c.conversation_id == message.conversation_id)
        query = (sa.select(messages).where(*same, messages.c.id > message.id if after else messages.c.id < message.id)
                 .order_by(messages.c.id if after else messages.c.id.desc()).limit(1))
        with self._transaction() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else Message(**{**row, "created_at": _aware(row["created_at"])})

    def delete_messages(self, ids: list[int]) -> None:
        with self._transaction() as connection:
            connection.execute(messages.delete().where(messages.c.id.in_(ids)))

    def update_message(self, message_id: int, content: str) -> None:
        with self._transaction() as connection:
            connection.execute(messages.update().where(messages.c.id == message_id).values(content=content))


    # -- group chats ----------------------------------------------------------------------------

    def create_group(self, group_id: str, name: str, members: dict[str, float]) -> GroupChat:
        now = _now()
        try:
            with self._transaction() as connection:
                connection.execute(group_chats.insert().values(id=group_id, name=name, created_at=now))
                connection.execute(group_members.insert(), [
                    {"group_id": group_id, "clone_id": clone_id, "talkativeness": value}
                    for clone_id, value in members.items()])
        except IntegrityError:
            raise AlreadyExistsError(f"A group chat named {name!r} already exists: choose another name.") from None
        return GroupChat(group_id, name, dict(members), now)

    def get_group(self, ref: str) -> GroupChat:
        with self._transaction() as connection:
            row = connection.execute(sa.select(group_chats).where(sa.or_(
                group_chats.c.id == ref, sa.func.lower(group_chats.c.name) == ref.strip().lower()))).mappings().first()
            if row is None:
                raise NotFoundError(f"No group chat called {ref!r}: create one with `clonr group create`.")
            members = dict(connection.execute(sa.select(group_members.c.clone_id, group_members.c.talkativeness)
                                              .where(group_members.c.group_id == row["id"])).all())
        return GroupChat(row["id"], row["name"], members, _aware(row["created_at"]))

    def list_groups(self, clone_id: str | None = None) -> list[GroupChat]:
        """Group chats, oldest first; with `clone_id`, only those the clone is in."""
        query = sa.select(group_chats.c.id).order_by(group_chats.c.created_at)
        if clone_id:
            query = query.where(group_chats.c.id.in_(sa.select(group_members.c.group_id)
                                                     .where(group_members.c.clone_id == clone_id)))
        with self._transaction() as connection:
            ids = connection.execute(query).scalars().all()
        return [self.get_group(group_id) for group_id in ids]

    def add_group_message(self, group_id: str, speaker_kind: str, speaker_id: str, speaker_name: str,
                          content: str, usage: dict[str, Any] | None = None, status: str = "complete") -> GroupMessage:
        """A line of a group chat; a clone's reply with its row of the usage ledger (whose `message_id` is then
        the group message's, under channel "group"), in one transaction."""
        row = dict(group_id=group_id, speaker_kind=speaker_kind, speaker_id=speaker_id, speaker_name=speaker_name,
                   content=content, created_at=_now())
        with self._transaction() as connection:
            message_id = connection.execute(group_messages.insert().values(**row)).inserted_primary_key[0]
            if usage is not None:  # with the fan who spoke
                usage = dict(usage)
                self._write_usage(connection, speaker_id, usage.pop("fan_id"), message_id, status, row["created_at"],
                                  usage)
        return GroupMessage(id=message_id, **row)

    def recent_group_messages(self, group_id: str, limit: int = 60) -> list[GroupMessage]:
        query = (sa.select(group_messages).where(group_messages.c.group_id == group_id)
                 .order_by(group_messages.c.id.desc()).limit(limit))
        with self._transaction() as connection:
            rows = connection.execute(query).mappings().all()
        return [GroupMessage(**{**row, "created_at": _aware(row["created_at"])}) for row in reversed(rows)]



def _idempotency_row(key_id: str, key: str) -> tuple[sa.ColumnElement[bool], ...]:
    return idempotency_keys.c.key_id == key_id, idempotency_keys.c.idempotency_key == key
