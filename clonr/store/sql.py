"""The record store over SQLAlchemy 2: one adapter for SQLite and Postgres, migrated by Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from clonr.errors import AlreadyExistsError, NotFoundError, StorageError
from clonr.store.records import Clone, Message, Source
from clonr.store.schema import clones, messages, sources

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
        try:
            self.engine: Engine = self._create_engine(url)
            with self.engine.begin() as connection:
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
                cursor.close()

            return engine
        return sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})

    @staticmethod
    def _migrate(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

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
                     greeting: str = "", example_dialogues: str = "", clone_id: str) -> Clone:
        now = _now()
        row = dict(id=clone_id, slug=slug, name=name, short_description=short_description,
                   long_description=long_description, greeting=greeting, example_dialogues=example_dialogues,
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
        allowed = {"name", "slug", "short_description", "long_description", "greeting", "example_dialogues",
                   "published"}
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

    @staticmethod
    def _clone(row: Any) -> Clone:
        return Clone(**{**row, "created_at": _aware(row["created_at"]), "updated_at": _aware(row["updated_at"])})

    # -- sources --------------------------------------------------------------------------------

    def add_source(self, source: Source) -> Source:
        with self._transaction() as connection:
            connection.execute(sources.insert().values(**source.__dict__))
        return source

    def find_source(self, clone_id: str, content_hash: str) -> Source | None:
        query = sa.select(sources).where(sources.c.clone_id == clone_id, sources.c.content_hash == content_hash)
        with self._transaction() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else Source(**{**row, "created_at": _aware(row["created_at"])})

    def list_sources(self, clone_id: str) -> list[Source]:
        query = sa.select(sources).where(sources.c.clone_id == clone_id).order_by(sources.c.created_at)
        with self._transaction() as connection:
            rows = connection.execute(query).mappings().all()
        return [Source(**{**row, "created_at": _aware(row["created_at"])}) for row in rows]

    def delete_source(self, source_id: str) -> None:
        with self._transaction() as connection:
            connection.execute(sources.delete().where(sources.c.id == source_id))

    # -- messages -------------------------------------------------------------------------------

    def add_exchange(self, clone_id: str, fan_id: str, user_text: str, reply_text: str) -> None:
        """Store a user message and the clone's reply together, or neither."""
        now = _now()
        with self._transaction() as connection:
            connection.execute(messages.insert(), [
                dict(clone_id=clone_id, fan_id=fan_id, role="user", content=user_text, created_at=now),
                dict(clone_id=clone_id, fan_id=fan_id, role="assistant", content=reply_text, created_at=now),
            ])

    def recent_messages(self, clone_id: str, fan_id: str, limit: int = 50) -> list[Message]:
        """The last `limit` messages of a conversation, oldest first."""
        query = (sa.select(messages).where(messages.c.clone_id == clone_id, messages.c.fan_id == fan_id)
                 .order_by(messages.c.id.desc()).limit(limit))
        with self._transaction() as connection:
            rows = connection.execute(query).mappings().all()
        return [Message(**{**row, "created_at": _aware(row["created_at"])}) for row in reversed(rows)]

    def close(self) -> None:
        self.engine.dispose()


__all__ = ["SqlStore", "redact_url"]
