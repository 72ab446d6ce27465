"""API keys: made by a creator, shown once, kept only as a keyed hash, found by a short visible prefix.

A key reads `clonr_<prefix>_<secret>`. The hash is an HMAC under a key derived from `CLONR_SECRET_KEY`, so a
copy of the database alone cannot check guesses. A revoked or expired key stops working at once, on every
process, since each request reads the key's row.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from clonr.access.actors import ApiKey, Creator
from clonr.access.tokens import derived_key
from clonr.errors import InvalidInputError, NotFoundError, SignInError
from clonr.store import ApiKeyRecord, SqlStore

__all__ = ["ApiKeyService", "NewKey"]

_PREFIX_BYTES = 6  # 12 hex characters: unique enough to find a key, short enough to show
_LAST_USED_GRAIN = timedelta(minutes=1)  # how precisely "last used" is kept


@dataclass(frozen=True)
class NewKey:
    record: ApiKeyRecord
    secret: str  # shown once, never stored


class ApiKeyService:
    def __init__(self, store: SqlStore, secret: bytes) -> None:
        self._store = store
        self._key = derived_key(secret, "api-key")

    def create(self, creator: Creator, name: str, clone_ids: list[str] | None = None,
               expires_in: timedelta | None = None) -> NewKey:
        """A new key for `creator` (for `clone_ids` only, when given; the caller checks they are theirs)."""
        name = " ".join(name.split())
        if not name or len(name) > 120:
            raise InvalidInputError("A key needs a name of 1-120 characters, to tell it apart: give it one.")
        prefix = secrets.token_hex(_PREFIX_BYTES)
        secret = f"clonr_{prefix}_{secrets.token_urlsafe(32)}"
        expires_at = datetime.now(UTC) + expires_in if expires_in else None
        record = self._store.add_api_key(key_id=uuid.uuid4().hex, owner_id=creator.id, name=name, prefix=prefix,
                                         secret_hash=self._hash(secret), clone_ids=clone_ids, expires_at=expires_at)
        return NewKey(record, secret)

    def list(self, creator: Creator) -> list[ApiKeyRecord]:
        return self._store.list_api_keys(creator.id)

    def revoke(self, creator: Creator, prefix: str) -> ApiKeyRecord:
        """Revoke one of the creator's keys, named by its prefix (as `list` shows it)."""
        record = self._store.api_key_by_prefix(prefix.strip().removeprefix("clonr_")[:2 * _PREFIX_BYTES])
        if record is None or record.owner_id != creator.id:
            raise NotFoundError(f"You have no key {prefix!r}: list your keys to see their prefixes.")
        self._store.revoke_api_key(creator.id, record.id)
        return record

    def authenticate(self, presented: str | None) -> ApiKey:
        """The actor a presented key speaks for; `SignInError` when it is missing, unknown, revoked or expired."""
        if not presented:
            raise SignInError("No API key: send `Authorization: Bearer clonr_…` (create one with `clonr keys "
                              "create` or in the studio's API & usage page).")
        parts = presented.split("_")
        record = self._store.api_key_by_prefix(parts[1]) if len(parts) >= 3 and parts[0] == "clonr" else None
        if record is None or not hmac.compare_digest(record.secret_hash, self._hash(presented)):
            raise SignInError("This API key is not valid: check it, or create one with `clonr keys create`.")
        if record.revoked_at is not None:
            raise SignInError("This API key was revoked: create another with `clonr keys create`.")
        if record.expires_at is not None and record.expires_at <= datetime.now(UTC):
            raise SignInError("This API key has expired: create another with `clonr keys create`.")
        now = datetime.now(UTC)
        if record.last_used_at is None or now - record.last_used_at > _LAST_USED_GRAIN:
            self._store.touch_api_key(record.id)  # a write per minute at most, not one per request
        return ApiKey(record.id, record.owner_id, None if record.clone_ids is None else frozenset(record.clone_ids))

    def _hash(self, secret: str) -> str:
        return hmac.new(self._key, secret.encode(), "sha256").hexdigest()

