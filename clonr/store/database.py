"""The connection every record area shares: the engine, Alembic migrations and transactions."""

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

from clonr.errors import StorageError

_MIGRATIONS = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 72_001  # advisory lock id, so that several servers migrate one at a time


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    """A timestamp as UTC-aware. Columns read back aware (`UtcDateTime`); this is for values that did not come
    through one (a naive datetime built elsewhere). Everything Clonr stores is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def redact_url(url: str) -> str:
    """The database URL without its password, for messages and `clonr doctor`."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<malformed DATABASE_URL>"


class Database:
    """One SQL database (SQLite or Postgres), migrated to the latest schema when opened."""

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

    def close(self) -> None:
        self.engine.dispose()

