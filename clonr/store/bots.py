"""Discord bots connected to clones."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from clonr.store.database import Database, _aware, _now
from clonr.store.records import BotRecord
from clonr.store.schema import discord_bots


class BotRecords(Database):
    def set_bot(self, clone_id: str, token_env: str | None, token_secret: str | None, guild_ids: tuple[int, ...],
                joined_channels: tuple[int, ...] = (), talkativeness: float = 0.3, speaks: bool = False) -> BotRecord:
        """Connect the clone's bot, or change how it is connected."""
        values = dict(token_env=token_env, token_secret=token_secret, guild_ids=json.dumps(list(guild_ids)),
                      joined_channels=json.dumps(list(joined_channels)), talkativeness=talkativeness, speaks=speaks)
        with self._transaction() as connection:
            connection.execute(discord_bots.delete().where(discord_bots.c.clone_id == clone_id))
            connection.execute(discord_bots.insert().values(clone_id=clone_id, created_at=_now(), **values))
        return self.get_bot(clone_id)  # type: ignore[return-value]

    def get_bot(self, clone_id: str) -> BotRecord | None:
        with self._transaction() as connection:
            row = connection.execute(sa.select(discord_bots).where(discord_bots.c.clone_id == clone_id)
                                     ).mappings().first()
        return None if row is None else _bot(row)

    def list_bots(self) -> list[BotRecord]:
        with self._transaction() as connection:
            return [_bot(row) for row in connection.execute(sa.select(discord_bots).order_by(
                discord_bots.c.created_at)).mappings().all()]

    def delete_bot(self, clone_id: str) -> bool:
        with self._transaction() as connection:
            return connection.execute(discord_bots.delete().where(discord_bots.c.clone_id == clone_id)).rowcount > 0


def _bot(row: Any) -> BotRecord:
    return BotRecord(row["clone_id"], row["token_env"], row["token_secret"],
                     tuple(int(g) for g in json.loads(row["guild_ids"])), _aware(row["created_at"]),
                     tuple(int(c) for c in json.loads(row["joined_channels"])), row["talkativeness"],
                     bool(row["speaks"]))
