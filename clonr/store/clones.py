"""Clones (a person's or character's identity, owner and publication state) and the fans the server made."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from clonr.errors import AlreadyExistsError, NotFoundError
from clonr.store.database import Database, _aware, _now
from clonr.store.records import (
    Clone,
    FanRecord,
)
from clonr.store.schema import (
    clones,
    fan_aliases,
    fans,
)


class CloneRecords(Database):
    # -- clones ---------------------------------------------------------------------------------

    def create_clone(self, *, slug: str, name: str, short_description: str = "", long_description: str = "",
                     greeting: str = "", clone_id: str, owner_id: str = "local", avoid_topics: str = "",
                     shared_links: str = "", variant_of: str | None = None, as_of: date | None = None) -> Clone:
        now = _now()
        row = dict(id=clone_id, slug=slug, name=name, short_description=short_description,
                   long_description=long_description, greeting=greeting,
                   published=False, created_at=now, updated_at=now, owner_id=owner_id, avoid_topics=avoid_topics,
                   shared_links=shared_links, variant_of=variant_of, as_of=as_of)
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

    def list_clones(self, owner_id: str | None = None) -> list[Clone]:
        """Every clone, oldest first; only `owner_id`'s when given."""
        query = sa.select(clones).order_by(clones.c.created_at)
        if owner_id is not None:
            query = query.where(clones.c.owner_id == owner_id)
        with self._transaction() as connection:
            rows = connection.execute(query).mappings().all()
        return [self._clone(row) for row in rows]

    def list_variants(self, clone_id: str) -> list[Clone]:
        """The clones made from this one as of a date, earliest date first."""
        with self._transaction() as connection:
            rows = connection.execute(sa.select(clones).where(clones.c.variant_of == clone_id)
                                      .order_by(clones.c.as_of)).mappings().all()
        return [self._clone(row) for row in rows]

    def update_clone(self, clone_id: str, **fields: Any) -> Clone:
        allowed = {"name", "slug", "short_description", "long_description", "greeting", "published",
                   "avoid_topics", "shared_links"}
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

    # -- fans -----------------------------------------------------------------------------------

    def add_fan(self, clone_id: str, fan_id: str, subject: str | None = None) -> str:
        """Record a fan; the id of the fan who holds `subject` when another request made them first."""
        try:
            with self._transaction() as connection:
                connection.execute(fans.insert().values(id=fan_id, clone_id=clone_id, subject=subject,
                                                        created_at=_now()))
        except IntegrityError:
            existing = self.fan_by_subject(clone_id, subject) if subject else None
            if existing is None:
                raise
            return existing.id
        return fan_id

    def get_fan(self, clone_id: str, fan_id: str) -> FanRecord | None:
        return self._fan(fans.c.clone_id == clone_id, fans.c.id == fan_id)

    def fan_by_subject(self, clone_id: str, subject: str) -> FanRecord | None:
        return self._fan(fans.c.clone_id == clone_id, fans.c.subject == subject)

    def set_fan_subject(self, clone_id: str, fan_id: str, subject: str) -> None:
        with self._transaction() as connection:
            connection.execute(fans.update().where(fans.c.clone_id == clone_id, fans.c.id == fan_id)
                               .values(subject=subject))

    def delete_fan_record(self, clone_id: str, fan_id: str) -> None:
        """The fan, and the other accounts tied to them."""
        with self._transaction() as connection:
            connection.execute(fans.delete().where(fans.c.clone_id == clone_id, fans.c.id == fan_id))
            connection.execute(fan_aliases.delete().where(fan_aliases.c.clone_id == clone_id,
                                                          fan_aliases.c.fan_id == fan_id))

    def add_fan_alias(self, clone_id: str, subject: str, fan_id: str, link_id: str) -> bool:
        """Tie `subject` (another account) to the fan, in place of any fan it was tied to; False when the link
        code `link_id` was used before."""
        try:
            with self._transaction() as connection:
                if connection.execute(sa.select(fan_aliases.c.subject).where(fan_aliases.c.link_id == link_id)).first():
                    return False
                connection.execute(fan_aliases.delete().where(fan_aliases.c.clone_id == clone_id,
                                                              fan_aliases.c.subject == subject))
                connection.execute(fan_aliases.insert().values(clone_id=clone_id, subject=subject, fan_id=fan_id,
                                                               link_id=link_id, created_at=_now()))
        except IntegrityError:
            return False
        return True

    def fan_alias(self, clone_id: str, subject: str) -> str | None:
        """The fan another account was tied to."""
        with self._transaction() as connection:
            return connection.execute(sa.select(fan_aliases.c.fan_id).where(
                fan_aliases.c.clone_id == clone_id, fan_aliases.c.subject == subject)).scalar()

    def _fan(self, *conditions: Any) -> FanRecord | None:
        with self._transaction() as connection:
            row = connection.execute(sa.select(fans).where(*conditions)).mappings().first()
        return None if row is None else FanRecord(id=row["id"], clone_id=row["clone_id"], subject=row["subject"],
                                                  created_at=_aware(row["created_at"]))
