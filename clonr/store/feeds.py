"""Live feeds and their posts."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from clonr.store.database import Database, _aware
from clonr.store.records import FeedItem, FeedRecord
from clonr.store.schema import feed_items, feeds


def guid_hash(guid: str) -> str:
    return hashlib.sha256(guid.encode()).hexdigest()


class FeedRecords(Database):
    def add_feed(self, feed: FeedRecord) -> FeedRecord | None:
        """Store a new feed; None when the clone already has one at the same address."""
        try:
            with self._transaction() as connection:
                connection.execute(feeds.insert().values(**_feed_row(feed)))
        except IntegrityError:
            return None
        return feed

    def get_feed(self, feed_id: str) -> FeedRecord | None:
        with self._transaction() as connection:
            row = connection.execute(sa.select(feeds).where(feeds.c.id == feed_id)).mappings().first()
        return None if row is None else _feed(row)

    def list_feeds(self, clone_id: str) -> list[FeedRecord]:
        with self._transaction() as connection:
            return [_feed(row) for row in connection.execute(
                sa.select(feeds).where(feeds.c.clone_id == clone_id).order_by(feeds.c.created_at)).mappings()]

    def update_feed(self, feed_id: str, **fields: Any) -> None:
        with self._transaction() as connection:
            connection.execute(feeds.update().where(feeds.c.id == feed_id).values(**fields))

    def delete_feed(self, feed_id: str) -> None:
        with self._transaction() as connection:
            connection.execute(feed_items.delete().where(feed_items.c.feed_id == feed_id))
            connection.execute(feeds.delete().where(feeds.c.id == feed_id))

    def claim_due_feeds(self, now: datetime, lease_until: datetime, limit: int = 100) -> list[str]:
        """The feeds due a poll that this caller now holds: each one's `next_poll_at` moves to `lease_until` in
        one conditional update, so of several processes looking at once exactly one claims it, and a poller that
        dies mid-poll leaves the feed due again when the lease ends."""
        with self._transaction() as connection:
            due = list(connection.execute(sa.select(feeds.c.id, feeds.c.next_poll_at).where(
                feeds.c.next_poll_at <= now).order_by(feeds.c.next_poll_at).limit(limit)))
        claimed = []
        for feed_id, was in due:
            with self._transaction() as connection:
                moved = connection.execute(feeds.update().where(
                    feeds.c.id == feed_id, feeds.c.next_poll_at == was).values(next_poll_at=lease_until)).rowcount
            if moved:
                claimed.append(feed_id)
        return claimed

    def add_feed_items(self, items: list[FeedItem]) -> list[FeedItem]:
        """Store the items not stored before (by feed and guid); the new ones, in the order given."""
        if not items:
            return []
        for _attempt in range(3):  # another process storing the same items at once: look again
            with self._transaction() as connection:
                known = set(connection.execute(sa.select(feed_items.c.guid_hash).where(
                    feed_items.c.feed_id == items[0].feed_id,
                    feed_items.c.guid_hash.in_([guid_hash(item.guid) for item in items]))).scalars())
            fresh = {guid_hash(item.guid): item for item in items if guid_hash(item.guid) not in known}
            if not fresh:
                return []
            try:
                with self._transaction() as connection:
                    connection.execute(feed_items.insert(), [_item_row(item) for item in fresh.values()])
            except IntegrityError:
                continue
            return list(fresh.values())
        return []

    def feed_items(self, clone_id: str, *, status: str | None = None, feed_id: str | None = None,
                   limit: int | None = 100) -> list[FeedItem]:
        """Newest first; all of them with `limit=None`."""
        query = sa.select(feed_items).where(feed_items.c.clone_id == clone_id)
        if status is not None:
            query = query.where(feed_items.c.status == status)
        if feed_id is not None:
            query = query.where(feed_items.c.feed_id == feed_id)
        with self._transaction() as connection:
            return [_item(row) for row in connection.execute(
                query.order_by(feed_items.c.published_at.desc(), feed_items.c.id).limit(limit)).mappings()]

    def get_feed_item(self, item_id: str) -> FeedItem | None:
        with self._transaction() as connection:
            row = connection.execute(sa.select(feed_items).where(feed_items.c.id == item_id)).mappings().first()
        return None if row is None else _item(row)

    def decide_feed_item(self, item_id: str, status: str, was: str) -> bool:
        """Move an item from status `was` to `status`; False when it was not in `was` (decided meanwhile, by
        another click or process)."""
        with self._transaction() as connection:
            return connection.execute(feed_items.update().where(
                feed_items.c.id == item_id, feed_items.c.status == was).values(status=status)).rowcount > 0

    def link_feed_item(self, item_id: str, memory_id: str | None, source_id: str | None) -> None:
        with self._transaction() as connection:
            connection.execute(feed_items.update().where(feed_items.c.id == item_id).values(
                memory_id=memory_id, source_id=source_id))


def _feed_row(feed: FeedRecord) -> dict[str, Any]:
    return {name: getattr(feed, name) for name in FeedRecord.__dataclass_fields__}


def _feed(row: Any) -> FeedRecord:
    values = dict(row)
    for name in ("next_poll_at", "last_polled_at", "created_at"):
        values[name] = _aware(values[name]) if values[name] is not None else None
    return FeedRecord(**values)


def _item_row(item: FeedItem) -> dict[str, Any]:
    values = {name: getattr(item, name) for name in FeedItem.__dataclass_fields__}
    values["images"] = json.dumps(list(item.images))
    values["guid_hash"] = guid_hash(item.guid)
    return values


def _item(row: Any) -> FeedItem:
    values = dict(row)
    values.pop("guid_hash")
    values["images"] = tuple(json.loads(values["images"]))
    for name in ("published_at", "created_at"):
        values[name] = _aware(values[name])
    return FeedItem(**values)
