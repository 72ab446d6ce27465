"""Sources a clone was built from, and the chat-export answers they yield."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clonr.errors import NotFoundError
from clonr.store.database import Database, _aware
from clonr.store.records import (
    DialogueCandidate,
    Source,
)
from clonr.store.schema import (
    dialogue_candidates,
    sources,
)


class SourceRecords(Database):
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

    def date_source(self, source_id: str, published: str | None) -> None:
        with self._transaction() as connection:
            connection.execute(sources.update().where(sources.c.id == source_id).values(published=published))

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

