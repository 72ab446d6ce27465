"""The record store over SQLAlchemy 2: one adapter for SQLite and Postgres, migrated by Alembic."""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from clonr.errors import AlreadyExistsError, NotFoundError, StorageError
from clonr.store.records import (
    SHARED_FAN,
    Clone,
    Dialogue,
    DialogueCandidate,
    FanMemories,
    GroupChat,
    GroupMessage,
    IngestJob,
    JobItem,
    Memory,
    Message,
    Proposal,
    Source,
)
from clonr.store.schema import (
    cards,
    clones,
    dialogue_candidates,
    dialogues,
    group_chats,
    group_members,
    group_messages,
    ingest_job_items,
    ingest_jobs,
    interviews,
    memories,
    memory_states,
    messages,
    proposals,
    sources,
)
from clonr.store.schema import (
    entities as entity_rows,
)

_MIGRATIONS = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 72_001  # advisory lock id, so that several servers migrate one at a time


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; everything Clonr stores is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def redact_url(url: str) -> str:
    """The database URL without its password, for messages and `clonr doctor`."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<malformed DATABASE_URL>"


class SqlStore:
    """Clones, sources and messages in one SQL database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._stream_sizes: dict[str, tuple[float, int]] = {}  # clone and fans -> (when counted, memories)
        try:
            self.engine: Engine = self._create_engine(url)
            with self.engine.connect() as connection:
                self._migrate(connection)
        except sa.exc.ArgumentError:
            raise StorageError(f"DATABASE_URL {redact_url(url)} is malformed: use "
                               "postgresql+psycopg://user:password@host:5432/dbname or leave it empty.") from None
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "connection failed"
            raise StorageError(f"Cannot open the database {redact_url(url)} ({reason}): start it or fix "
                               "DATABASE_URL.") from None

    @staticmethod
    def _create_engine(url: str) -> Engine:
        if url.startswith("sqlite"):
            engine = sa.create_engine(url, connect_args={"timeout": 30})

            @sa.event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA journal_mode=WAL")
                # WAL's recommended level: a crash of the app loses nothing, a power cut at most the last commits,
                # and a commit on the reply path no longer waits for the disk (fsync)
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

            return engine
        return sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})

    @staticmethod
    def _migrate(connection: Connection) -> None:
        """Upgrade to the latest revision in one transaction.

        On SQLite, foreign keys are off meanwhile: changing a column there rebuilds the table, and dropping the
        old one would otherwise cascade-delete every row that points at it. Integrity is checked afterwards.
        """
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # outside a transaction, or it is ignored
            connection.commit()
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
                config = Config()
                config.set_main_option("script_location", str(_MIGRATIONS))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise StorageError("The database failed its integrity check after an upgrade: nothing was "
                                       "changed; restore a backup of CLONR_HOME/clonr.db and report this.")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as connection:
                yield connection
        except IntegrityError:
            raise
        except OperationalError as exc:
            raise StorageError(f"The database {redact_url(self.url)} failed ({exc.orig}): check that it is "
                               "running and writable, then retry.") from None

    # -- clones ---------------------------------------------------------------------------------

    def create_clone(self, *, slug: str, name: str, short_description: str = "", long_description: str = "",
                     greeting: str = "", clone_id: str) -> Clone:
        now = _now()
        row = dict(id=clone_id, slug=slug, name=name, short_description=short_description,
                   long_description=long_description, greeting=greeting,
                   published=False, created_at=now, updated_at=now)
        try:
            with self._transaction() as connection:
                connection.execute(clones.insert().values(**row))
        except IntegrityError:
            raise AlreadyExistsError(f"A clone named {name!r} (slug {slug!r}) already exists: choose another "
                                     "name, or edit that clone.") from None
        return Clone(**row)

    def get_clone(self, ref: str) -> Clone:
        """Find a clone by id, slug or name (names and slugs ignore case)."""
        key = ref.strip()
        query = sa.select(clones).where(sa.or_(clones.c.id == key, clones.c.slug == key.lower(),
                                               sa.func.lower(clones.c.name) == key.lower()))
        with self._transaction() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            raise NotFoundError(f"No clone called {ref!r}: run `clonr list` to see your clones, or "
                                "`clonr create` to make one.")
        return self._clone(row)

    def list_clones(self) -> list[Clone]:
        with self._transaction() as connection:
            rows = connection.execute(sa.select(clones).order_by(clones.c.created_at)).mappings().all()
        return [self._clone(row) for row in rows]

    def update_clone(self, clone_id: str, **fields: Any) -> Clone:
        allowed = {"name", "slug", "short_description", "long_description", "greeting", "published"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown clone fields: {sorted(unknown)}")
        try:
            with self._transaction() as connection:
                result = connection.execute(clones.update().where(clones.c.id == clone_id)
                                            .values(**fields, updated_at=_now()))
        except IntegrityError:
            raise AlreadyExistsError(f"Another clone already uses the name {fields.get('name')!r}: choose "
                                     "another name.") from None
        if result.rowcount == 0:
            raise NotFoundError(f"No clone with id {clone_id!r}: it may have been deleted.")
        return self.get_clone(clone_id)

    def delete_clone(self, clone_id: str) -> None:
        """Delete a clone and, by cascade, everything recorded about it (vectors are the caller's)."""
        with self._transaction() as connection:
            connection.execute(clones.delete().where(clones.c.id == clone_id))

    @staticmethod
    def _clone(row: Any) -> Clone:
        return Clone(**{**row, "created_at": _aware(row["created_at"]), "updated_at": _aware(row["updated_at"])})

    # -- sources --------------------------------------------------------------------------------

    def add_source(self, source: Source, candidates: list[tuple[str, str, datetime | None]] = ()) -> Source:
        """Store a source and its dialogue candidates (user text, creator's answer, time) together."""
        with self._transaction() as connection:
            connection.execute(sources.insert().values(**source.__dict__))
            if candidates:
                connection.execute(dialogue_candidates.insert(), [
                    {"clone_id": source.clone_id, "source_id": source.id, "user_text": user, "char_text": char,
                     "said_at": said_at} for user, char, said_at in candidates])
        return source

    def find_source(self, clone_id: str, content_hash: str) -> Source | None:
        query = sa.select(sources).where(sources.c.clone_id == clone_id, sources.c.content_hash == content_hash)
        with self._transaction() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else self._source(row)

    def get_source(self, clone_id: str, source_id: str) -> Source:
        query = sa.select(sources).where(sources.c.clone_id == clone_id, sources.c.id == source_id)
        with self._transaction() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            raise NotFoundError(f"This clone has no source {source_id!r}: run `clonr sources <clone>` to see its ids.")
        return self._source(row)

    def list_sources(self, clone_id: str) -> list[Source]:
        query = sa.select(sources).where(sources.c.clone_id == clone_id).order_by(sources.c.created_at)
        with self._transaction() as connection:
            rows = connection.execute(query).mappings().all()
        return [self._source(row) for row in rows]

    def delete_source(self, source_id: str) -> None:
        """Delete a source and (by cascade) its dialogue candidates."""
        with self._transaction() as connection:
            connection.execute(dialogue_candidates.delete().where(dialogue_candidates.c.source_id == source_id))
            connection.execute(sources.delete().where(sources.c.id == source_id))

    @staticmethod
    def _source(row: Any) -> Source:
        return Source(**{**row, "created_at": _aware(row["created_at"])})

    def list_dialogue_candidates(self, clone_id: str, limit: int = 1000) -> list[DialogueCandidate]:
        query = (sa.select(dialogue_candidates).where(dialogue_candidates.c.clone_id == clone_id)
                 .order_by(dialogue_candidates.c.id).limit(limit))
        with self._transaction() as connection:
            rows = connection.execute(query).mappings().all()
        return [DialogueCandidate(id=r["id"], source_id=r["source_id"], user_text=r["user_text"],
                                  char_text=r["char_text"], said_at=r["said_at"] and _aware(r["said_at"]))
                for r in rows]

    # -- example dialogues ---------------------------------------------------------------------

    def add_dialogues(self, clone_id: str, items: list[dict[str, Any]]) -> list[Dialogue]:
        """Insert dialogues (category, user_text, char_text, origin, optional question_id) in one transaction."""
        now = _now()  # one microsecond apart, so they list in the order given
        rows = [{"id": uuid.uuid4().hex, "clone_id": clone_id, "question_id": None, **item, "indexed": False,
                 "created_at": now + timedelta(microseconds=n), "updated_at": now + timedelta(microseconds=n)}
                for n, item in enumerate(items)]
        if rows:
            with self._transaction() as connection:
                connection.execute(dialogues.insert(), rows)
        return [self._dialogue(row) for row in rows]

    def list_dialogues(self, clone_id: str, *, unindexed: bool = False) -> list[Dialogue]:
        query = sa.select(dialogues).where(dialogues.c.clone_id == clone_id)
        if unindexed:
            query = query.where(dialogues.c.indexed.is_(False))
        with self._transaction() as connection:
            rows = connection.execute(query.order_by(dialogues.c.created_at, dialogues.c.id)).mappings().all()
        return [self._dialogue(row) for row in rows]

    def get_dialogues(self, clone_id: str, ids: list[str]) -> list[Dialogue]:
        """The clone's dialogues with these ids, in the order of `ids` (missing ones left out)."""
        with self._transaction() as connection:
            rows = connection.execute(sa.select(dialogues).where(dialogues.c.clone_id == clone_id,
                                                                 dialogues.c.id.in_(ids))).mappings().all()
        found = {row["id"]: self._dialogue(row) for row in rows}
        return [found[i] for i in ids if i in found]

    def update_dialogue(self, clone_id: str, dialogue_id: str, **fields: Any) -> Dialogue:
        unknown = set(fields) - {"category", "user_text", "char_text", "indexed"}
        if unknown:
            raise ValueError(f"unknown dialogue fields: {sorted(unknown)}")
        values = fields | ({"updated_at": _now()} if set(fields) - {"indexed"} else {})
        with self._transaction() as connection:
            result = connection.execute(dialogues.update().where(dialogues.c.clone_id == clone_id,
                                                                 dialogues.c.id == dialogue_id).values(**values))
        if result.rowcount == 0:
            raise NotFoundError(f"This clone has no example dialogue {dialogue_id!r}: list them to see the ids.")
        return self.get_dialogues(clone_id, [dialogue_id])[0]

    def mark_dialogues_indexed(self, ids: list[str]) -> None:
        if ids:
            with self._transaction() as connection:
                connection.execute(dialogues.update().where(dialogues.c.id.in_(ids)).values(indexed=True))

    def delete_dialogue(self, clone_id: str, dialogue_id: str) -> None:
        with self._transaction() as connection:
            result = connection.execute(dialogues.delete().where(dialogues.c.clone_id == clone_id,
                                                                 dialogues.c.id == dialogue_id))
        if result.rowcount == 0:
            raise NotFoundError(f"This clone has no example dialogue {dialogue_id!r}: list them to see the ids.")

    @staticmethod
    def _dialogue(row: Any) -> Dialogue:
        return Dialogue(id=row["id"], clone_id=row["clone_id"], category=row["category"], user_text=row["user_text"],
                        char_text=row["char_text"], origin=row["origin"], question_id=row["question_id"],
                        created_at=_aware(row["created_at"]), updated_at=_aware(row["updated_at"]))

    # -- interviews, proposals, cards -----------------------------------------------------------

    def interview_state(self, clone_id: str) -> dict[str, Any]:
        """The interview's pending question and follow-up, and the skipped question ids."""
        with self._transaction() as connection:
            row = connection.execute(sa.select(interviews).where(interviews.c.clone_id == clone_id)).mappings().first()
        if row is None:
            return {"pending_question": None, "pending_followup": None, "skipped": []}
        return {"pending_question": row["pending_question"], "pending_followup": row["pending_followup"],
                "skipped": json.loads(row["skipped"])}

    def save_interview_state(self, clone_id: str, pending_question: str | None, pending_followup: str | None,
                             skipped: list[str]) -> None:
        values = {"pending_question": pending_question, "pending_followup": pending_followup,
                  "skipped": json.dumps(skipped), "updated_at": _now()}
        with self._transaction() as connection:
            updated = connection.execute(interviews.update().where(interviews.c.clone_id == clone_id).values(**values))
            if updated.rowcount == 0:
                connection.execute(interviews.insert().values(clone_id=clone_id, **values))

    def add_proposal(self, clone_id: str, field: str, text: str, base_text: str,
                     evidence: list[dict[str, Any]]) -> Proposal:
        row = {"id": uuid.uuid4().hex, "clone_id": clone_id, "field": field, "text": text, "base_text": base_text,
               "evidence": json.dumps(evidence), "status": "pending", "created_at": _now()}
        with self._transaction() as connection:
            connection.execute(proposals.insert().values(**row))
        return self._proposal(row)

    def get_proposal(self, clone_id: str, proposal_id: str) -> Proposal:
        with self._transaction() as connection:
            row = connection.execute(sa.select(proposals).where(proposals.c.clone_id == clone_id,
                                                                proposals.c.id == proposal_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"This clone has no proposal {proposal_id!r}: make one with `clonr describe`.")
        return self._proposal(row)

    def list_proposals(self, clone_id: str, status: str = "pending") -> list[Proposal]:
        query = (sa.select(proposals).where(proposals.c.clone_id == clone_id, proposals.c.status == status)
                 .order_by(proposals.c.created_at))
        with self._transaction() as connection:
            return [self._proposal(row) for row in connection.execute(query).mappings().all()]

    def set_proposal_status(self, proposal_id: str, status: str) -> None:
        with self._transaction() as connection:
            connection.execute(proposals.update().where(proposals.c.id == proposal_id).values(status=status))

    @staticmethod
    def _proposal(row: Any) -> Proposal:
        return Proposal(id=row["id"], clone_id=row["clone_id"], field=row["field"], text=row["text"],
                        base_text=row["base_text"], evidence=tuple(json.loads(row["evidence"])), status=row["status"],
                        created_at=_aware(row["created_at"]))

    def get_card(self, clone_id: str) -> dict[str, Any] | None:
        with self._transaction() as connection:
            card = connection.execute(sa.select(cards.c.card).where(cards.c.clone_id == clone_id)).scalar_one_or_none()
        return None if card is None else json.loads(card)

    def save_card(self, clone_id: str, card: dict[str, Any]) -> None:
        with self._transaction() as connection:
            connection.execute(cards.delete().where(cards.c.clone_id == clone_id))
            connection.execute(cards.insert().values(clone_id=clone_id, card=json.dumps(card)))

    # -- ingestion jobs -------------------------------------------------------------------------

    def create_job(self, job_id: str, clone_id: str, items: list[tuple[str, dict[str, Any]]]) -> IngestJob:
        now = _now()
        with self._transaction() as connection:
            connection.execute(ingest_jobs.insert().values(id=job_id, clone_id=clone_id, status="queued",
                                                           created_at=now, updated_at=now))
            connection.execute(ingest_job_items.insert(), [
                {"job_id": job_id, "position": n, "item": item, "options": json.dumps(options), "status": "pending"}
                for n, (item, options) in enumerate(items)])
        return self.get_job(job_id)

    def append_job_items(self, job_id: str, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Add items at the end of a job (pages found while crawling)."""
        with self._transaction() as connection:
            last = connection.execute(sa.select(sa.func.max(ingest_job_items.c.position))
                                      .where(ingest_job_items.c.job_id == job_id)).scalar_one()
            connection.execute(ingest_job_items.insert(), [
                {"job_id": job_id, "position": (last or 0) + 1 + n, "item": item, "options": json.dumps(options),
                 "status": "pending"} for n, (item, options) in enumerate(items)])

    def get_job(self, job_id: str) -> IngestJob:
        with self._transaction() as connection:
            job = connection.execute(sa.select(ingest_jobs).where(ingest_jobs.c.id == job_id)).mappings().first()
            if job is None:
                raise NotFoundError(f"No ingestion job {job_id!r}: run `clonr sources <clone> --jobs` to see them.")
            items = connection.execute(sa.select(ingest_job_items).where(ingest_job_items.c.job_id == job_id)
                                       .order_by(ingest_job_items.c.position)).mappings().all()
        return IngestJob(id=job["id"], clone_id=job["clone_id"], status=job["status"],
                         created_at=_aware(job["created_at"]), updated_at=_aware(job["updated_at"]),
                         items=tuple(JobItem(position=i["position"], item=i["item"], options=json.loads(i["options"]),
                                             status=i["status"], detail=i["detail"], source_id=i["source_id"],
                                             chunk_count=i["chunk_count"]) for i in items))

    def list_jobs(self, clone_id: str) -> list[IngestJob]:
        query = sa.select(ingest_jobs.c.id).where(ingest_jobs.c.clone_id == clone_id).order_by(ingest_jobs.c.created_at)
        with self._transaction() as connection:
            ids = connection.execute(query).scalars().all()
        return [self.get_job(job_id) for job_id in ids]

    def set_job_status(self, job_id: str, status: str, *, only_from: tuple[str, ...] = ()) -> bool:
        """Move a job to `status` (only from one of `only_from`, when given); whether it moved."""
        query = ingest_jobs.update().where(ingest_jobs.c.id == job_id)
        if only_from:
            query = query.where(ingest_jobs.c.status.in_(only_from))
        with self._transaction() as connection:
            return connection.execute(query.values(status=status, updated_at=_now())).rowcount > 0

    def update_job_item(self, job_id: str, position: int, **fields: Any) -> None:
        unknown = set(fields) - {"status", "detail", "source_id", "chunk_count"}
        if unknown:
            raise ValueError(f"unknown job item fields: {sorted(unknown)}")
        with self._transaction() as connection:
            connection.execute(ingest_job_items.update().where(ingest_job_items.c.job_id == job_id,
                                                               ingest_job_items.c.position == position)
                               .values(**fields))
            connection.execute(ingest_jobs.update().where(ingest_jobs.c.id == job_id).values(updated_at=_now()))

    # -- messages -------------------------------------------------------------------------------

    def add_exchange(self, clone_id: str, fan_id: str, user_text: str, reply_text: str, *,
                     context: str | None = None, status: str = "complete") -> tuple[int, int]:
        """Store a user message (with what its turn was given) and the clone's reply (complete or interrupted)
        together, or neither; returns their ids."""
        now = _now()
        rows = (dict(role="user", content=user_text, context=context), dict(role="assistant", content=reply_text,
                                                                            status=status))
        with self._transaction() as connection:
            ids = [connection.execute(messages.insert().values(clone_id=clone_id, fan_id=fan_id, created_at=now,
                                                               **row)).inserted_primary_key[0] for row in rows]
        return ids[0], ids[1]

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

    def recent_messages(self, clone_id: str, fan_id: str, limit: int = 50) -> list[Message]:
        """The last `limit` messages of a conversation, oldest first."""
        query = (sa.select(messages).where(messages.c.clone_id == clone_id, messages.c.fan_id == fan_id)
                 .order_by(messages.c.id.desc()).limit(limit))
        with self._transaction() as connection:
            rows = connection.execute(query).mappings().all()
        return [Message(**{**row, "created_at": _aware(row["created_at"])}) for row in reversed(rows)]

    def get_message(self, message_id: int) -> Message | None:
        with self._transaction() as connection:
            row = connection.execute(sa.select(messages).where(messages.c.id == message_id)).mappings().first()
        return None if row is None else Message(**{**row, "created_at": _aware(row["created_at"])})

    def previous_message(self, message: Message) -> Message | None:
        """The message just before `message` in the same conversation."""
        query = (sa.select(messages).where(messages.c.clone_id == message.clone_id,
                                           messages.c.fan_id == message.fan_id, messages.c.id < message.id)
                 .order_by(messages.c.id.desc()).limit(1))
        with self._transaction() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else Message(**{**row, "created_at": _aware(row["created_at"])})

    def delete_messages(self, ids: list[int]) -> None:
        with self._transaction() as connection:
            connection.execute(messages.delete().where(messages.c.id.in_(ids)))

    def update_message(self, message_id: int, content: str) -> None:
        with self._transaction() as connection:
            connection.execute(messages.update().where(messages.c.id == message_id).values(content=content))

    def memories_of_message(self, message_id: int) -> list[Memory]:
        with self._transaction() as connection:
            rows = connection.execute(sa.select(memories).where(memories.c.message_id == message_id))
            return [_memory(row) for row in rows]

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

    def add_group_message(self, group_id: str, speaker_kind: str, speaker_id: str, speaker_name: str,
                          content: str) -> GroupMessage:
        row = dict(group_id=group_id, speaker_kind=speaker_kind, speaker_id=speaker_id, speaker_name=speaker_name,
                   content=content, created_at=_now())
        with self._transaction() as connection:
            message_id = connection.execute(group_messages.insert().values(**row)).inserted_primary_key[0]
        return GroupMessage(id=message_id, **row)

    def recent_group_messages(self, group_id: str, limit: int = 60) -> list[GroupMessage]:
        query = (sa.select(group_messages).where(group_messages.c.group_id == group_id)
                 .order_by(group_messages.c.id.desc()).limit(limit))
        with self._transaction() as connection:
            rows = connection.execute(query).mappings().all()
        return [GroupMessage(**{**row, "created_at": _aware(row["created_at"])}) for row in reversed(rows)]

    # -- memories -------------------------------------------------------------------------------

    def add_memories(self, items: list[Memory]) -> None:
        if not items:
            return
        with self._transaction() as connection:
            connection.execute(memories.insert(), [_memory_row(m) for m in items])
            if connection.dialect.name == "sqlite":
                self._lower_first_rowids(connection, items)

    @staticmethod
    def _lower_first_rowids(connection: Connection, items: list[Memory]) -> None:
        """Keep each fan's `first_rowid` at or below the rowid of every memory it has had (migration 0008)."""
        owners: dict[tuple[str, str], list[str]] = {}
        for memory in items:
            owners.setdefault((memory.clone_id, memory.fan_id), []).append(memory.id)
        for (clone_id, fan_id), ids in owners.items():
            first = connection.execute(sa.select(sa.func.min(sa.literal_column("rowid"))).select_from(memories)
                                       .where(memories.c.id.in_(ids))).scalar()
            connection.execute(sa.text(
                "INSERT INTO memory_states (clone_id, fan_id, first_rowid) VALUES (:clone, :fan, :first) ON CONFLICT "
                "(clone_id, fan_id) DO UPDATE SET first_rowid = min(coalesce(first_rowid, :first), :first)"),
                {"clone": clone_id, "fan": fan_id, "first": first})

    def get_memories(self, ids: list[str]) -> list[Memory]:
        """The memories with these ids, in the order asked; missing ids are skipped."""
        if not ids:
            return []
        with self._transaction() as connection:
            rows = connection.execute(sa.select(memories).where(memories.c.id.in_(ids))).all()
        found = {row.id: _memory(row) for row in rows}
        return [found[i] for i in ids if i in found]

    def memory_fans(self, clone_id: str) -> list[FanMemories]:
        """Every fan with memories of this clone (not the shared stream), the most recently active first."""
        latest = sa.func.max(memories.c.happened_at)
        query = (sa.select(memories.c.fan_id, sa.func.count(), latest)
                 .where(memories.c.clone_id == clone_id, memories.c.fan_id != SHARED_FAN)
                 .group_by(memories.c.fan_id).order_by(latest.desc(), memories.c.fan_id))
        with self._transaction() as connection:
            return [FanMemories(fan, count, _aware(when)) for fan, count, when in connection.execute(query)]

    def list_memories(self, clone_id: str, fan_ids: list[str], *, limit: int = 100, offset: int = 0,
                      pinned_only: bool = False, unscored_only: bool = False,
                      include_superseded: bool = True) -> list[Memory]:
        """Newest first."""
        query = sa.select(memories).where(memories.c.clone_id == clone_id, memories.c.fan_id.in_(fan_ids))
        if pinned_only:
            query = query.where(memories.c.pinned == sa.true())  # matches the partial index ix_memories_pinned
        if unscored_only:
            query = query.where(memories.c.importance.is_(None))  # the partial index ix_memories_unscored
        if not include_superseded:
            query = query.where(memories.c.superseded_by.is_(None))
        query = query.order_by(memories.c.happened_at.desc(), memories.c.id).limit(limit).offset(offset)
        with self._transaction() as connection:
            return [_memory(row) for row in connection.execute(query).all()]

    def update_memory(self, memory_id: str, **fields: Any) -> None:
        allowed = {"text", "importance", "pinned", "superseded_by", "last_accessed_at"}
        if set(fields) - allowed:
            raise ValueError(f"unknown memory fields: {sorted(set(fields) - allowed)}")
        with self._transaction() as connection:
            connection.execute(memories.update().where(memories.c.id == memory_id).values(**fields))

    def memory_stream(self, clone_id: str, fan_id: str) -> list[Memory]:
        """All of a fan's memories, oldest first (the two messages of an exchange in order)."""
        query = sa.select(memories).where(memories.c.clone_id == clone_id, memories.c.fan_id == fan_id).order_by(
            memories.c.happened_at, memories.c.message_id, memories.c.id)
        with self._transaction() as connection:
            return [_memory(row) for row in connection.execute(query)]

    def last_observation(self, clone_id: str, fan_id: str, since: datetime, until: datetime) -> Memory | None:
        """The fan's latest observation that happened between `since` and `until` (ix_memories_owner)."""
        query = sa.select(memories).where(
            memories.c.clone_id == clone_id, memories.c.fan_id == fan_id, memories.c.kind == "observation",
            memories.c.happened_at >= since, memories.c.happened_at <= until,
        ).order_by(memories.c.happened_at.desc(), memories.c.message_id.desc(), memories.c.id.desc()).limit(1)
        with self._transaction() as connection:
            row = connection.execute(query).first()
        return _memory(row) if row else None

    def adjacent_memories(self, anchors: list[Memory], reach: int = 5,
                          distance: int = 2) -> dict[str, list[tuple[int, Memory]]]:
        """For each anchor, (places away: negative before it, positive after, memory) for the memories up to
        `distance` places on either side of it in its fan's stream, nearest first.

        One round trip: per anchor, two short index range scans on (clone_id, fan_id, happened_at). Memories of
        the same instant (the two messages of an exchange) are ordered by message id, then id; an anchor lost
        among more than `reach` memories of one instant gets no neighbours.
        """
        if not anchors:
            return {}

        def order(m: Memory) -> tuple[datetime, int, str]:
            return (m.happened_at, m.message_id or 0, m.id)

        values = {"reach": reach}
        for n, anchor in enumerate(anchors):
            values |= {f"clone{n}": anchor.clone_id, f"fan{n}": anchor.fan_id, f"at{n}": anchor.happened_at}
        with self._transaction() as connection:
            rows = {row.id: _memory(row) for row in connection.execute(_adjacent_statement(len(anchors)), values)}
        found: dict[str, list[tuple[int, Memory]]] = {}
        for anchor in anchors:
            nearby = sorted((m for m in rows.values() if (m.clone_id, m.fan_id) == (anchor.clone_id, anchor.fan_id)),
                            key=order)
            position = next((n for n, m in enumerate(nearby) if m.id == anchor.id), None)
            if position is None:
                found[anchor.id] = []
                continue
            places = [step * side for step in range(1, distance + 1) for side in (-1, 1)]
            found[anchor.id] = [(place, nearby[position + place]) for place in places
                                if 0 <= position + place < len(nearby)]
        return found

    def _set_state(self, clone_id: str, fan_id: str, **fields: Any) -> None:
        with self._transaction() as connection:
            updated = connection.execute(memory_states.update().where(
                memory_states.c.clone_id == clone_id, memory_states.c.fan_id == fan_id).values(**fields))
            if updated.rowcount == 0:
                connection.execute(memory_states.insert().values(clone_id=clone_id, fan_id=fan_id, **fields))

    def mark_reflected(self, clone_id: str, fan_id: str, when: datetime) -> None:
        self._set_state(clone_id, fan_id, reflected_at=when)

    def set_summary(self, clone_id: str, fan_id: str, summary: str, when: datetime) -> None:
        self._set_state(clone_id, fan_id, summary=summary, summarized_at=when)

    def summaries(self, clone_id: str, fan_ids: list[str]) -> dict[str, str]:
        """The current summary of each fan that has one (fan "*": the clone's own state)."""
        query = sa.select(memory_states.c.fan_id, memory_states.c.summary).where(
            memory_states.c.clone_id == clone_id, memory_states.c.fan_id.in_(fan_ids),
            memory_states.c.summary.is_not(None))
        with self._transaction() as connection:
            return dict(connection.execute(query).all())

    def save_entities(self, clone_id: str, fan_id: str, found: dict[str, str], when: datetime) -> None:
        """Upsert what is known of each person or thing (name -> about) a fan talks about."""
        with self._transaction() as connection:
            for name, about in found.items():
                key = name.casefold()[:120]
                connection.execute(entity_rows.delete().where(entity_rows.c.clone_id == clone_id,
                                                           entity_rows.c.fan_id == fan_id, entity_rows.c.key == key))
                connection.execute(entity_rows.insert().values(clone_id=clone_id, fan_id=fan_id, key=key,
                                                            name=name[:120], about=about, updated_at=when))

    def entities(self, clone_id: str, fan_id: str) -> dict[str, str]:
        own = (entity_rows.c.clone_id == clone_id, entity_rows.c.fan_id == fan_id)
        query = sa.select(entity_rows.c.name, entity_rows.c.about).where(*own).order_by(entity_rows.c.name)
        with self._transaction() as connection:
            return dict(connection.execute(query).all())

    def importance_since(self, clone_id: str, fan_id: str, mark: str, kinds: tuple[str, ...]) -> int:
        """Summed importance of the fan's memories of `kinds` made after the state's `mark` time."""
        own = (memories.c.clone_id == clone_id, memories.c.fan_id == fan_id)
        with self._transaction() as connection:
            last = connection.execute(sa.select(memory_states.c[mark]).where(
                memory_states.c.clone_id == clone_id, memory_states.c.fan_id == fan_id)).scalar()
            query = sa.select(sa.func.coalesce(sa.func.sum(memories.c.importance), 0)).where(
                *own, memories.c.kind.in_(kinds))
            if last is not None:
                query = query.where(memories.c.created_at > last)
            return int(connection.execute(query).scalar())

    def touch_memories(self, ids: list[str], when: datetime) -> None:
        if ids:
            with self._transaction() as connection:
                connection.execute(memories.update().where(memories.c.id.in_(ids)).values(last_accessed_at=when))

    def delete_memories(self, ids: list[str]) -> None:
        if ids:
            with self._transaction() as connection:
                connection.execute(memories.delete().where(memories.c.id.in_(ids)))

    def memory_ids(self, clone_id: str, fan_id: str) -> list[str]:
        query = sa.select(memories.c.id).where(memories.c.clone_id == clone_id, memories.c.fan_id == fan_id)
        with self._transaction() as connection:
            return list(connection.execute(query).scalars().all())

    def delete_fan(self, clone_id: str, fan_id: str) -> None:
        """Everything about one fan of one clone, in one transaction: memories and messages."""
        with self._transaction() as connection:
            connection.execute(memories.delete().where(memories.c.clone_id == clone_id, memories.c.fan_id == fan_id))
            connection.execute(memory_states.delete().where(memory_states.c.clone_id == clone_id,
                                                            memory_states.c.fan_id == fan_id))
            connection.execute(entity_rows.delete().where(entity_rows.c.clone_id == clone_id,
                                                          entity_rows.c.fan_id == fan_id))
            connection.execute(messages.delete().where(messages.c.clone_id == clone_id, messages.c.fan_id == fan_id))

    def lexical_search(self, clone_id: str, fan_ids: list[str], query: str, limit: int = 50) -> list[tuple[str, float]]:
        """(memory id, score) best first by BM25 (SQLite FTS5) or ts_rank (Postgres); higher is better."""
        terms = _search_terms(query)
        if not terms:
            return []
        with self._transaction() as connection:
            if connection.dialect.name == "sqlite":
                fans = {"clone": clone_id, **{f"fan{n}": fan for n, fan in enumerate(fan_ids)}}
                first = self._first_rowid(connection, fans)
                terms = self._informative(connection, terms, fans, first)
                if not terms:
                    return []
                rows = connection.execute(sa.text(
                    "SELECT m.id, -bm25(memories_fts) AS score FROM memories_fts CROSS JOIN memories m "
                    "ON m.rowid = memories_fts.rowid WHERE memories_fts MATCH :match AND memories_fts.rowid >= :first "
                    f"AND {_owned(fans)} ORDER BY score DESC LIMIT :limit"),
                    {"match": " OR ".join(f'"{term}"' for term in terms), "first": first, "limit": limit,
                     **fans}).all()
            else:
                tsquery = " | ".join(terms)
                rows = connection.execute(sa.text(
                    "SELECT id, ts_rank_cd(to_tsvector('english', text), to_tsquery('english', :q)) AS score "
                    "FROM memories WHERE clone_id = :clone AND fan_id = ANY(:fans) "
                    "AND to_tsvector('english', text) @@ to_tsquery('english', :q) ORDER BY score DESC LIMIT :limit"),
                    {"q": tsquery, "clone": clone_id, "fans": fan_ids, "limit": limit}).all()
        return [(row[0], float(row[1])) for row in rows]

    def _stream_size(self, connection: Connection, fans: dict[str, str]) -> int:
        """How many memories these fans have. The 5 % threshold needs only its order of magnitude, so it is
        counted at most once a minute per process (the count takes ~7 ms at 100k memories)."""
        key = "\0".join(fans.values())
        now = time.monotonic()
        counted = self._stream_sizes.get(key)
        if counted and now - counted[0] < 60:
            return counted[1]
        size = connection.execute(sa.text(f"SELECT count(*) FROM memories m WHERE {_owned(fans)}"), fans).scalar()
        if len(self._stream_sizes) > 10_000:
            self._stream_sizes.clear()
        self._stream_sizes[key] = (now, size or 0)
        return size or 0

    @staticmethod
    def _first_rowid(connection: Connection, fans: dict[str, str]) -> int:
        """No memory of these fans has a smaller rowid: the full-text postings before it belong to others."""
        return connection.execute(sa.text(
            f"SELECT coalesce(min(first_rowid), 0) FROM memory_states WHERE clone_id = :clone AND fan_id IN "
            f"({_fan_list(fans)})"), fans).scalar() or 0

    def _informative(self, connection: Connection, terms: list[str], fans: dict[str, str], first: int) -> list[str]:
        """Drop terms found in more than 5 % of these fans' memories (or in over 500 of them): such a term says
        little about which memory is meant (every line names the fan, say), yet ranking its thousands of
        matches is what makes full-text search slow on a long memory stream, and so is counting them. Counted
        within the fans, not the whole table, where other clones' memories would make any term look rare.

        Each term's matches are counted through the full-text index itself (stopping past the threshold), so
        the count is of the term as the porter tokenizer stems it: "adopted" counts the memories with "adopt".
        The full-text index is read first (CROSS JOIN): left to itself, SQLite walks the fan's memories and
        runs the full-text match once for each. It starts at the fans' first rowid: the postings before it are
        other clones' and fans', and walking them cost more than the count itself.
        """
        threshold = int(min(max(20, 0.05 * self._stream_size(connection, fans)), _MOST_MATCHES))
        counts = " UNION ALL ".join(
            f"SELECT {n}, count(*) FROM (SELECT m.rowid FROM memories_fts CROSS JOIN memories m "
            f"ON m.rowid = memories_fts.rowid WHERE memories_fts MATCH :term{n} AND memories_fts.rowid >= :first "
            f"AND {_owned(fans)} LIMIT :cap)"
            for n in range(len(terms)))  # one round trip for all terms
        rows = connection.execute(sa.text(counts), {
            "cap": threshold + 1, "first": first, **fans,
            **{f"term{n}": f'"{term}"' for n, term in enumerate(terms)}}).all()
        return [terms[n] for n, matches in sorted(rows) if matches <= threshold]

    def close(self) -> None:
        self.engine.dispose()


_MOST_MATCHES = 500  # a term in more memories than this is never searched for (see `_informative`)

_STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "did", "do", "does", "for", "from", "had", "has",
    "have", "he", "her", "his", "how", "i", "if", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our",
    "she", "so", "that", "the", "their", "them", "then", "there", "they", "this", "to", "was", "we", "were",
    "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
})


def _owned(fans: dict[str, str]) -> str:
    """SQL for "memory m belongs to the clone and one of the fans" in `fans` (:clone, :fan0, :fan1, ...)."""
    return f"m.clone_id = :clone AND m.fan_id IN ({_fan_list(fans)})"


def _fan_list(fans: dict[str, str]) -> str:
    """The fans' parameters, ":fan0, :fan1", for an IN list."""
    return ", ".join(f":{key}" for key in fans if key != "clone")


def _search_terms(query: str) -> list[str]:
    """Plain words only: user text never reaches the full-text query syntax."""
    words = [w for w in re.findall(r"[A-Za-z0-9]+", query.lower()) if w not in _STOPWORDS and len(w) > 1]
    return list(dict.fromkeys(words))[:32]


@functools.cache
def _adjacent_statement(anchors: int) -> sa.CompoundSelect:
    """The union of two index range scans per anchor, built once per anchor count (building it costs more than
    running it); the anchors come as parameters clone<n>, fan<n>, at<n>, and reach."""
    when = memories.c.happened_at
    reach = sa.bindparam("reach", type_=sa.Integer)
    scans = []
    for n in range(anchors):
        own = (memories.c.clone_id == sa.bindparam(f"clone{n}"), memories.c.fan_id == sa.bindparam(f"fan{n}"))
        at = sa.bindparam(f"at{n}", type_=when.type)
        scans.append(sa.select(memories).where(*own, when <= at).order_by(when.desc()).limit(reach).subquery().select())
        scans.append(sa.select(memories).where(*own, when >= at).order_by(when.asc()).limit(reach).subquery().select())
    return sa.union_all(*scans)


def _memory_row(memory: Memory) -> dict[str, Any]:
    return {**memory.__dict__, "evidence": json.dumps(list(memory.evidence))}


def _memory(row: sa.Row) -> Memory:
    """A row of `select(memories)`, whose columns are Memory's fields in order (tests/test_memory.py checks).
    Positional: building from a mapping cost 2.6 ms for the ~260 candidates of a recall, this 1.1 ms."""
    (id_, clone_id, fan_id, kind, text, importance, happened_at, created_at, last_accessed_at, pinned,
     superseded_by, source, message_id, evidence) = row
    return Memory(id_, clone_id, fan_id, kind, text, importance, _aware(happened_at), _aware(created_at),
                  _aware(last_accessed_at), pinned, superseded_by, source, message_id,
                  tuple(json.loads(evidence)) if evidence and evidence != "[]" else ())


__all__ = ["SqlStore", "redact_url"]
