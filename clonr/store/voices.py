"""The voices a clone may speak with, and the one it does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clonr.store.database import Database, _aware, _now
from clonr.store.records import VoiceRecord
from clonr.store.schema import voices


class VoiceRecords(Database):
    def add_voice(self, clone_id: str, provider: str, voice_id: str, label: str,
                  consent_at: datetime | None = None) -> VoiceRecord:
        """Record a voice the clone may use (again: its label and consent are updated)."""
        key = (voices.c.clone_id == clone_id) & (voices.c.provider == provider) & (voices.c.voice_id == voice_id)
        with self._transaction() as connection:
            if connection.execute(sa.select(voices.c.voice_id).where(key)).first():
                connection.execute(voices.update().where(key).values(label=label, consent_at=consent_at))
            else:
                connection.execute(voices.insert().values(clone_id=clone_id, provider=provider, voice_id=voice_id,
                                                          label=label, chosen=False, consent_at=consent_at,
                                                          created_at=_now()))
        return next(v for v in self.clone_voices(clone_id) if (v.provider, v.voice_id) == (provider, voice_id))

    def clone_voices(self, clone_id: str) -> list[VoiceRecord]:
        with self._transaction() as connection:
            return [_voice(row) for row in connection.execute(
                sa.select(voices).where(voices.c.clone_id == clone_id).order_by(voices.c.created_at)).mappings()]

    def choose_voice(self, clone_id: str, provider: str, voice_id: str) -> None:
        """Make this (recorded) voice the one the clone speaks with, and no other."""
        with self._transaction() as connection:
            connection.execute(voices.update().where(voices.c.clone_id == clone_id).values(
                chosen=(voices.c.provider == provider) & (voices.c.voice_id == voice_id)))


def _voice(row: Any) -> VoiceRecord:
    return VoiceRecord(**{**row, "created_at": _aware(row["created_at"]),
                          "consent_at": _aware(row["consent_at"]) if row["consent_at"] else None})
