"""Memory streams: memories, their per-fan state (summaries, marks), and entities."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clonr.store.database import Database, _aware
from clonr.store.records import (
    SHARED_FAN,
    FanMemories,
    Memory,
)
from clonr.store.schema import (
    conversations,
    memories,
    memory_states,
    messages,
)
from clonr.store.schema import (
    entities as entity_rows,
)

# Built once: building `in_(ids)` anew for the few hundred candidates of each recall cost more than running it
_BY_IDS = sa.select(memories).where(memories.c.id.in_(sa.bindparam("ids", expanding=True)))
ADJACENT_BATCH = 100  # anchors per statement: SQLite takes at most 500 terms in a compound SELECT, two per anchor


class MemoryRecords(Database):
    # -- memories -------------------------------------------------------------------------------
    def memories_of_message(self, message_id: int) -> list[Memory]:
        with self._transaction() as connection:
            rows = connection.execute(sa.select(memories).where(memories.c.message_id == message_id))
            return [_memory(row) for row in rows]


    def add_memories(self, items: list[Memory]) -> list[Memory]:
        """Store memories, each repeat of a line (same gist, same fan, neither pinned) folded into the newest
        saying of it; the memories as stored (with their `repeated_by`, `repeats`, `first_said_at`)."""
        if not items:
            return []
        with self._transaction() as connection:
            stored = _fold_repeats(connection, items)
            connection.execute(memories.insert(), [_memory_row(m) for m in stored])
            if connection.dialect.name == "sqlite":
                self._lower_first_rowids(connection, items)
        return stored

    @staticmethod
    def _lower_first_rowids(connection: Connection, items: list[Memory]) -> None:
        """Keep each fan's `first_rowid` at or below the rowid of every memory it has had (migration 0008)."""
        owners: dict[tuple[str, str], list[str]] = {}
        for memory in items:
            owners.setdefault((memory.clone_id, memory.fan_id), []).append(memory.id)
        for (clone_id, fan_id), ids in owners.items():
            first = connection.execute(sa.select(sa.func.min(sa.literal_column("rowid"))).select_from(memories)
                                       .where(memories.c.id.in_(ids))).scalar()
            connection.execute(sa.text(
                "INSERT INTO memory_states (clone_id, fan_id, first_rowid) VALUES (:clone, :fan, :first) ON CONFLICT "
                "(clone_id, fan_id) DO UPDATE SET first_rowid = min(coalesce(first_rowid, :first), :first)"),
                {"clone": clone_id, "fan": fan_id, "first": first})

    def get_memories(self, ids: list[str]) -> list[Memory]:
        """The memories with these ids, in the order asked; missing ids are skipped."""
        if not ids:
            return []
        with self._transaction() as connection:
            rows = connection.execute(_BY_IDS, {"ids": ids}).all()
        found = {row.id: _memory(row) for row in rows}
        return [found[i] for i in ids if i in found]

    def memory_fans(self, clone_id: str) -> list[FanMemories]:
        """Every fan with memories of this clone (not the shared stream), the most recently active first."""
        latest = sa.func.max(memories.c.happened_at)
        query = (sa.select(memories.c.fan_id, sa.func.count(), latest)
                 .where(memories.c.clone_id == clone_id, memories.c.fan_id != SHARED_FAN)
                 .group_by(memories.c.fan_id).order_by(latest.desc(), memories.c.fan_id))
        with self._transaction() as connection:
            return [FanMemories(fan, count, _aware(when)) for fan, count, when in connection.execute(query)]

    def list_memories(self, clone_id: str, fan_ids: list[str], *, limit: int | None = 100, offset: int = 0,
                      pinned_only: bool = False, unscored_only: bool = False,
                      include_superseded: bool = True, include_repeats: bool = True) -> list[Memory]:
        """Newest first; all of them with `limit=None`. Without repeats, a line said again and again is listed
        once, as its newest saying (which counts them)."""
        query = sa.select(memories).where(memories.c.clone_id == clone_id, memories.c.fan_id.in_(fan_ids))
        if pinned_only:
            query = query.where(memories.c.pinned == sa.true())  # matches the partial index ix_memories_pinned
        if unscored_only:
            query = query.where(memories.c.importance.is_(None))  # the partial index ix_memories_unscored
        if not include_superseded:
            query = query.where(memories.c.superseded_by.is_(None))
        if not include_repeats:
            query = query.where(memories.c.repeated_by.is_(None))
        query = query.order_by(memories.c.happened_at.desc(), memories.c.id).limit(limit).offset(offset)
        with self._transaction() as connection:
            return [_memory(row) for row in connection.execute(query).all()]

    def unscored_count(self, clone_id: str) -> int:
        """How many of the clone's memories wait for their importance score (and the work it triggers)."""
        query = sa.select(sa.func.count()).where(memories.c.clone_id == clone_id, memories.c.importance.is_(None))
        with self._transaction() as connection:
            return int(connection.execute(query).scalar() or 0)

    def set_update_pending(self, ids: list[str], pending: bool) -> None:
        """Mark fan lines as waiting for their knowledge update (queued), or done with it."""
        if ids:
            with self._transaction() as connection:
                connection.execute(memories.update().where(memories.c.id.in_(ids)).values(update_pending=pending))

    def update_pending_count(self, clone_id: str) -> int:
        """How many of the clone's fan lines still wait for their knowledge update."""
        query = sa.select(sa.func.count()).where(memories.c.clone_id == clone_id, memories.c.update_pending)
        with self._transaction() as connection:
            return int(connection.execute(query).scalar() or 0)

    def pending_updates(self) -> dict[tuple[str, str], list[str]]:
        """(clone id, fan id) -> ids, oldest first, of the fan lines still waiting for their knowledge update (the
        partial index ix_memories_update_pending holds just them)."""
        query = (sa.select(memories.c.clone_id, memories.c.fan_id, memories.c.id).where(memories.c.update_pending)
                 .order_by(memories.c.happened_at, memories.c.message_id, memories.c.id))
        found: dict[tuple[str, str], list[str]] = {}
        with self._transaction() as connection:
            for clone_id, fan_id, memory_id in connection.execute(query):
                found.setdefault((clone_id, fan_id), []).append(memory_id)
        return found

    def unscored_fans(self) -> list[tuple[str, str]]:
        """(clone id, fan id) of the fans with memories whose importance is not scored yet (few: scoring follows
        soon after remembering, and the partial index ix_memories_unscored holds just them)."""
        query = (sa.select(memories.c.clone_id, memories.c.fan_id).distinct()
                 .where(memories.c.importance.is_(None)))
        with self._transaction() as connection:
            return [(clone_id, fan_id) for clone_id, fan_id in connection.execute(query)]

    def release_repeats(self, memory: Memory) -> None:
        """`memory` is going: the newest of the sayings it stood for stands for the rest, counting one less."""
        with self._transaction() as connection:
            folded = sorted(map(_memory, connection.execute(sa.select(memories).where(
                memories.c.repeated_by == memory.id))), key=lambda m: m.order)
            if not folded:
                return
            head, rest = folded[-1], folded[:-1]
            repeats = max(head.repeats, memory.repeats - 1)
            connection.execute(memories.update().where(memories.c.id == head.id).values(
                repeated_by=None, repeats=repeats, first_said_at=memory.first_said_at if repeats > 1 else None))
            if rest:
                connection.execute(memories.update().where(memories.c.id.in_([m.id for m in rest]))
                                   .values(repeated_by=head.id))

    def set_gists(self, stream: list[Memory]) -> None:
        """Fold a fan's whole stream (oldest first, gists set) afresh: each gist's newest saying stands for the rest."""
        said: dict[str, list[Memory]] = {}
        for memory in stream:
            if memory.gist and not memory.pinned:
                said.setdefault(memory.gist, []).append(memory)
        rows = []
        for memory in stream:
            group = said.get(memory.gist or "", [memory])
            head = group[-1]
            rows.append({"key": memory.id, "gist": memory.gist, "repeated_by": None if head is memory else head.id,
                         "repeats": len(group) if head is memory else 1,
                         "first_said_at": group[0].happened_at if head is memory and len(group) > 1 else None})
        statement = memories.update().where(memories.c.id == sa.bindparam("key")).values(
            gist=sa.bindparam("gist"), repeated_by=sa.bindparam("repeated_by"), repeats=sa.bindparam("repeats"),
            first_said_at=sa.bindparam("first_said_at"))
        with self._transaction() as connection:
            for start in range(0, len(rows), 500):
                connection.execute(statement, rows[start:start + 500])

    def update_memory(self, memory_id: str, **fields: Any) -> None:
        allowed = {"text", "importance", "pinned", "superseded_by", "last_accessed_at", "gist"}
        if set(fields) - allowed:
            raise ValueError(f"unknown memory fields: {sorted(set(fields) - allowed)}")
        with self._transaction() as connection:
            connection.execute(memories.update().where(memories.c.id == memory_id).values(**fields))

    def memory_stream(self, clone_id: str, fan_id: str) -> list[Memory]:
        """All of a fan's memories, oldest first (the two messages of an exchange in order)."""
        query = sa.select(memories).where(memories.c.clone_id == clone_id, memories.c.fan_id == fan_id).order_by(
            memories.c.happened_at, memories.c.message_id, memories.c.id)
        with self._transaction() as connection:
            return [_memory(row) for row in connection.execute(query)]

    def last_observation(self, clone_id: str, fan_id: str, since: datetime, until: datetime) -> Memory | None:
        """The fan's latest observation that happened between `since` and `until` (ix_memories_owner)."""
        query = sa.select(memories).where(
            memories.c.clone_id == clone_id, memories.c.fan_id == fan_id, memories.c.kind == "observation",
            memories.c.happened_at >= since, memories.c.happened_at <= until,
        ).order_by(memories.c.happened_at.desc(), memories.c.message_id.desc(), memories.c.id.desc()).limit(1)
        with self._transaction() as connection:
            row = connection.execute(query).first()
        return _memory(row) if row else None

    def adjacent_memories(self, anchors: list[Memory], reach: int = 5,
                          distance: int = 2) -> dict[str, list[tuple[int, Memory]]]:
        """For each anchor, (places away: negative before it, positive after, memory) for the memories up to
        `distance` places on either side of it in its fan's stream, nearest first.

        One round trip per ADJACENT_BATCH anchors: per anchor, two short index range scans on (clone_id, fan_id,
        happened_at). Memories of the same instant (the two messages of an exchange) are ordered by message id,
        then id; an anchor lost among more than `reach` memories of one instant gets no neighbours.
        """
        rows: dict[str, Memory] = {}
        with self._transaction() as connection:
            for start in range(0, len(anchors), ADJACENT_BATCH):
                batch = anchors[start:start + ADJACENT_BATCH]
                values = {"reach": reach}
                for n, anchor in enumerate(batch):
                    values |= {f"clone{n}": anchor.clone_id, f"fan{n}": anchor.fan_id, f"at{n}": anchor.happened_at}
                rows |= {row.id: _memory(row) for row in connection.execute(_adjacent_statement(len(batch)), values)}
        found: dict[str, list[tuple[int, Memory]]] = {}
        for anchor in anchors:
            nearby = sorted((m for m in rows.values() if (m.clone_id, m.fan_id) == (anchor.clone_id, anchor.fan_id)),
                            key=lambda m: m.order)
            position = next((n for n, m in enumerate(nearby) if m.id == anchor.id), None)
            if position is None:
                found[anchor.id] = []
                continue
            places = [step * side for step in range(1, distance + 1) for side in (-1, 1)]
            found[anchor.id] = [(place, nearby[position + place]) for place in places
                                if 0 <= position + place < len(nearby)]
        return found

    def _set_state(self, clone_id: str, fan_id: str, **fields: Any) -> None:
        with self._transaction() as connection:
            updated = connection.execute(memory_states.update().where(
                memory_states.c.clone_id == clone_id, memory_states.c.fan_id == fan_id).values(**fields))
            if updated.rowcount == 0:
                connection.execute(memory_states.insert().values(clone_id=clone_id, fan_id=fan_id, **fields))

    def mark_reflected(self, clone_id: str, fan_id: str, when: datetime) -> None:
        self._set_state(clone_id, fan_id, reflected_at=when)

    def set_summary(self, clone_id: str, fan_id: str, summary: str, when: datetime) -> None:
        self._set_state(clone_id, fan_id, summary=summary, summarized_at=when)

    def summaries(self, clone_id: str, fan_ids: list[str]) -> dict[str, str]:
        """The current summary of each fan that has one (fan "*": the clone's own state)."""
        query = sa.select(memory_states.c.fan_id, memory_states.c.summary).where(
            memory_states.c.clone_id == clone_id, memory_states.c.fan_id.in_(fan_ids),
            memory_states.c.summary.is_not(None))
        with self._transaction() as connection:
            return dict(connection.execute(query).all())

    def save_entities(self, clone_id: str, fan_id: str, found: dict[str, str], when: datetime) -> None:
        """Upsert what is known of each person or thing (name -> about) a fan talks about."""
        with self._transaction() as connection:
            for name, about in found.items():
                key = name.casefold()[:120]
                connection.execute(entity_rows.delete().where(entity_rows.c.clone_id == clone_id,
                                                           entity_rows.c.fan_id == fan_id, entity_rows.c.key == key))
                connection.execute(entity_rows.insert().values(clone_id=clone_id, fan_id=fan_id, key=key,
                                                            name=name[:120], about=about, updated_at=when))

    def entities(self, clone_id: str, fan_id: str) -> dict[str, str]:
        own = (entity_rows.c.clone_id == clone_id, entity_rows.c.fan_id == fan_id)
        query = sa.select(entity_rows.c.name, entity_rows.c.about).where(*own).order_by(entity_rows.c.name)
        with self._transaction() as connection:
            return dict(connection.execute(query).all())

    def importance_since(self, clone_id: str, fan_id: str, mark: str, kinds: tuple[str, ...]) -> int:
        """Summed importance of the fan's memories of `kinds` made after the state's `mark` time."""
        own = (memories.c.clone_id == clone_id, memories.c.fan_id == fan_id)
        with self._transaction() as connection:
            last = connection.execute(sa.select(memory_states.c[mark]).where(
                memory_states.c.clone_id == clone_id, memory_states.c.fan_id == fan_id)).scalar()
            query = sa.select(sa.func.coalesce(sa.func.sum(memories.c.importance), 0)).where(
                *own, memories.c.kind.in_(kinds))
            if last is not None:
                query = query.where(memories.c.created_at > last)
            return int(connection.execute(query).scalar())

    def touch_memories(self, ids: list[str], when: datetime) -> None:
        if ids:
            with self._transaction() as connection:
                connection.execute(memories.update().where(memories.c.id.in_(ids)).values(last_accessed_at=when))

    def delete_memories(self, ids: list[str]) -> None:
        if ids:
            with self._transaction() as connection:
                connection.execute(memories.delete().where(memories.c.id.in_(ids)))

    def memory_ids(self, clone_id: str, fan_id: str) -> list[str]:
        query = sa.select(memories.c.id).where(memories.c.clone_id == clone_id, memories.c.fan_id == fan_id)
        with self._transaction() as connection:
            return list(connection.execute(query).scalars().all())

    def delete_fan(self, clone_id: str, fan_id: str) -> None:
        """Everything about one fan of one clone, in one transaction: memories, messages and conversations."""
        with self._transaction() as connection:
            connection.execute(memories.delete().where(memories.c.clone_id == clone_id, memories.c.fan_id == fan_id))
            connection.execute(memory_states.delete().where(memory_states.c.clone_id == clone_id,
                                                            memory_states.c.fan_id == fan_id))
            connection.execute(entity_rows.delete().where(entity_rows.c.clone_id == clone_id,
                                                          entity_rows.c.fan_id == fan_id))
            connection.execute(messages.delete().where(messages.c.clone_id == clone_id, messages.c.fan_id == fan_id))
            connection.execute(conversations.delete().where(conversations.c.clone_id == clone_id,
                                                            conversations.c.fan_id == fan_id))


def _fold_repeats(connection: Connection, items: list[Memory]) -> list[Memory]:
    """`items` as they are to be stored: of each group of memories with one gist (the new ones and the fan's
    current newest saying of it), the newest stands for the rest: it counts them all and the others point at
    it. One indexed lookup for the whole batch."""
    foldable = [m for m in items if m.gist and not m.pinned]
    if not foldable:
        return items
    owners = {(m.clone_id, m.fan_id) for m in foldable}
    heads: dict[tuple[str, str, str], Memory] = {}
    for clone_id, fan_id in owners:
        query = sa.select(memories).where(
            memories.c.clone_id == clone_id, memories.c.fan_id == fan_id,
            memories.c.gist.in_({m.gist for m in foldable if (m.clone_id, m.fan_id) == (clone_id, fan_id)}),
            memories.c.repeated_by.is_(None), memories.c.pinned == sa.false())
        heads |= {(m.clone_id, m.fan_id, m.gist or ""): m for m in map(_memory, connection.execute(query))}
    groups: dict[tuple[str, str, str], list[Memory]] = {}
    for memory in foldable:
        groups.setdefault((memory.clone_id, memory.fan_id, memory.gist or ""), []).append(memory)
    changed: dict[str, Memory] = {}
    for key, new in groups.items():
        old = heads.get(key)
        if old is None and len(new) == 1:
            continue
        head = max([*new, *([old] if old else [])], key=lambda m: m.order)
        said = [m.first_said_at or m.happened_at for m in ([old] if old else [])] + [m.happened_at for m in new]
        total = (old.repeats if old else 0) + len(new)
        for memory in [*new, *([old] if old else [])]:
            changed[memory.id] = replace(memory, repeats=total, first_said_at=min(said)) if memory is head else \
                replace(memory, repeated_by=head.id)
        if old is not None:
            folded = changed[old.id]
            connection.execute(memories.update().where(memories.c.id == old.id).values(
                repeated_by=folded.repeated_by, repeats=folded.repeats, first_said_at=folded.first_said_at))
    return [changed.get(m.id, m) for m in items]


@functools.cache
def _adjacent_statement(anchors: int) -> sa.CompoundSelect:
    """The union of two index range scans per anchor, built once per anchor count (building it costs more than
    running it); the anchors come as parameters clone<n>, fan<n>, at<n>, and reach."""
    when = memories.c.happened_at
    reach = sa.bindparam("reach", type_=sa.Integer)
    scans = []
    for n in range(anchors):
        own = (memories.c.clone_id == sa.bindparam(f"clone{n}"), memories.c.fan_id == sa.bindparam(f"fan{n}"))
        at = sa.bindparam(f"at{n}", type_=when.type)
        scans.append(sa.select(memories).where(*own, when <= at).order_by(when.desc()).limit(reach).subquery().select())
        scans.append(sa.select(memories).where(*own, when >= at).order_by(when.asc()).limit(reach).subquery().select())
    return sa.union_all(*scans)


def _memory_row(memory: Memory) -> dict[str, Any]:
    return {**memory.__dict__, "evidence": json.dumps(list(memory.evidence))}


def _memory(row: sa.Row) -> Memory:
    """A row of `select(memories)`, whose columns are Memory's fields in order (tests/test_memory.py checks).
    Positional, because building from a mapping is slower for the hundreds of candidates of a recall."""
    (id_, clone_id, fan_id, kind, text, importance, happened_at, created_at, last_accessed_at, pinned,
     superseded_by, source, message_id, evidence, gist, repeated_by, repeats, first_said_at, update_pending) = row
    return Memory(id_, clone_id, fan_id, kind, text, importance, _aware(happened_at), _aware(created_at),
                  _aware(last_accessed_at), pinned, superseded_by, source, message_id,
                  tuple(json.loads(evidence)) if evidence and evidence != "[]" else (), gist, repeated_by, repeats,
                  _aware(first_said_at) if first_said_at else None, update_pending)



