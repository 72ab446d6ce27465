"""API keys: who may call the HTTP API for which creator, stored as a keyed hash of the secret."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clonr.store.database import Database, _aware, _now
from clonr.store.records import ApiKeyRecord
from clonr.store.schema import api_keys


class KeyRecords(Database):
    def add_api_key(self, *, key_id: str, owner_id: str, name: str, prefix: str, secret_hash: str,
                    clone_ids: list[str] | None, expires_at: datetime | None) -> ApiKeyRecord:
        row = {"id": key_id, "owner_id": owner_id, "name": name, "prefix": prefix, "secret_hash": secret_hash,
               "clone_ids": None if clone_ids is None else json.dumps(clone_ids), "expires_at": expires_at,
               "created_at": _now(), "last_used_at": None, "revoked_at": None}
        with self._transaction() as connection:
            connection.execute(api_keys.insert().values(**row))
        return self._key(row)

    def api_key_by_prefix(self, prefix: str) -> ApiKeyRecord | None:
        with self._transaction() as connection:
            row = connection.execute(sa.select(api_keys).where(api_keys.c.prefix == prefix)).mappings().first()
        return None if row is None else self._key(row)

    def list_api_keys(self, owner_id: str) -> list[ApiKeyRecord]:
        query = sa.select(api_keys).where(api_keys.c.owner_id == owner_id).order_by(api_keys.c.created_at)
        with self._transaction() as connection:
            return [self._key(row) for row in connection.execute(query).mappings().all()]

    def revoke_api_key(self, owner_id: str, key_id: str) -> bool:
        with self._transaction() as connection:
            result = connection.execute(api_keys.update().where(
                api_keys.c.owner_id == owner_id, api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=_now()))
        return result.rowcount == 1

    def touch_api_key(self, key_id: str) -> None:
        with self._transaction() as connection:
            connection.execute(api_keys.update().where(api_keys.c.id == key_id).values(last_used_at=_now()))

    @staticmethod
    def _key(row: Any) -> ApiKeyRecord:
        def when(value: datetime | None) -> datetime | None:
            return None if value is None else _aware(value)

        return ApiKeyRecord(id=row["id"], owner_id=row["owner_id"], name=row["name"], prefix=row["prefix"],
                            secret_hash=row["secret_hash"],
                            clone_ids=None if row["clone_ids"] is None else tuple(json.loads(row["clone_ids"])),
                            expires_at=when(row["expires_at"]), created_at=_aware(row["created_at"]),
                            last_used_at=when(row["last_used_at"]), revoked_at=when(row["revoked_at"]))
