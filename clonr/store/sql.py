"""The record store over SQLAlchemy 2: one adapter for SQLite and Postgres, migrated by Alembic.

`SqlStore` is a thin facade: each record area (an aggregate) lives in its own module, over one shared
`Database` (engine, migrations, transactions).
"""

from __future__ import annotations

from clonr.store.bots import BotRecords
from clonr.store.clones import CloneRecords
from clonr.store.database import redact_url
from clonr.store.feeds import FeedRecords
from clonr.store.fulltext import FullTextSearch
from clonr.store.jobs import JobRecords
from clonr.store.keys import KeyRecords
from clonr.store.memories import MemoryRecords
from clonr.store.messages import MessageRecords
from clonr.store.persona import PersonaRecords
from clonr.store.sources import SourceRecords
from clonr.store.voices import VoiceRecords

__all__ = ["SqlStore", "redact_url"]


class SqlStore(CloneRecords, SourceRecords, PersonaRecords, JobRecords, MessageRecords, MemoryRecords,
               FullTextSearch, KeyRecords, BotRecords, FeedRecords, VoiceRecords):
    """Clones, sources, persona, jobs, conversations, memories and feeds in one SQL database."""
