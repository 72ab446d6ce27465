"""A clone as of a date: a variant that knows only what was true up to then ("Inês, 2015").

What it may know is copied from the clone it is made from: sources dated up to then (a source dated by year or
month counts as written at the period's end; undated ones are left out until the creator dates them; a chat
export is dated message by message, and only what was said by then is copied), example
dialogues written by then with the chat answers said by then, and the clone's own events up to then. Fans'
memories never pass. Its long description is then drafted from that slice alone. Being its own clone, it is
published with its own widget, API model and Discord bot, and frozen: it takes no live feed and no new event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from clonr.clones import CloneService
from clonr.clones.acting import ActsFor
from clonr.errors import InvalidInputError
from clonr.ingest import IngestService, period_end
from clonr.memory import MemoryService
from clonr.persona.describe import DescriptionService
from clonr.persona.dialogues import DialogueService
from clonr.store import SHARED_FAN, Clone, Memory, Source, SqlStore

__all__ = ["Slice", "VariantService", "parse_as_of"]


def parse_as_of(text: str) -> date:
    """A year, a month or a day, as the last day of that period: "2015" is the end of 2015."""
    return period_end(text)


def source_date(source: Source) -> date | None:
    """When a source's content belongs to (the end of the period it names), or None when it says nothing usable."""
    try:
        return period_end(source.published) if source.published else None
    except InvalidInputError:
        return None


@dataclass(frozen=True)
class Slice:
    """What a clone as of a date is given of its original, and what is left out."""

    sources: list[Source]
    later_sources: int
    undated_sources: list[Source]  # left out until the creator dates them in Sources
    dialogues: int
    later_dialogues: int
    events: int
    later_events: int


class VariantService(ActsFor):
    """Makes variants as of a date, and says beforehand what each would know."""

    def __init__(self, store: SqlStore, clones: CloneService, ingest: IngestService, dialogues: DialogueService,
                 memory: MemoryService, descriptions: DescriptionService) -> None:
        self._store = store
        self._clones = clones
        self._ingest = ingest
        self._dialogues = dialogues
        self._memory = memory
        self._descriptions = descriptions

    def slice(self, clone_ref: str, as_of: date) -> Slice:
        """What a variant as of `as_of` would know (and leave out), before it is made."""
        clone = self._owned(clone_ref)
        until = _end_of(as_of)
        found = self._store.list_sources(clone.id)
        dated = [(source, source_date(source)) for source in found if source.kind != "chat"]
        chats = [source for source in found if source.kind == "chat"  # dated message by message
                 and self._ingest.chunks_said_by(clone.id, source.id, _end_of(as_of))]
        dialogues = self._store.list_dialogues(clone.id)
        events = self._events(clone)
        return Slice(sources=[s for s, day in dated if day is not None and day <= as_of] + chats,
                     later_sources=sum(1 for _, day in dated if day is not None and day > as_of),
                     undated_sources=[s for s, day in dated if day is None],
                     dialogues=sum(1 for d in dialogues if d.created_at <= until),
                     later_dialogues=sum(1 for d in dialogues if d.created_at > until),
                     events=sum(1 for m in events if m.happened_at <= until),
                     later_events=sum(1 for m in events if m.happened_at > until))

    def create(self, clone_ref: str, as_of: date, name: str = "", *, describe: bool = True,
               on_progress: Callable[[int, int], None] | None = None) -> tuple[Clone, Slice]:
        """Make the variant and copy its slice in; with `describe`, draft its descriptions and greeting from that
        slice with the chat model and apply them (the creator edits them like any clone's)."""
        clone = self._owned(clone_ref)
        found = self.slice(clone.id, as_of)
        if not (found.sources or found.dialogues or found.events):
            raise InvalidInputError(f"{clone.name} has nothing dated up to {as_of}: date its sources in Sources (a "
                                    "year is enough), then make the variant.")
        variant = self._clones.create_variant(clone.id, as_of, name)
        try:
            self._fill(clone, variant, found, as_of, describe, on_progress)
        except BaseException:
            self._store.delete_clone(variant.id)  # all or nothing: no half-made variant is left to publish
            raise
        return self._clones.get(variant.id), found

    def _fill(self, clone: Clone, variant: Clone, found: Slice, as_of: date, describe: bool,
              on_progress: Callable[[int, int], None] | None) -> None:
        until = _end_of(as_of)
        self._ingest.copy_sources(clone.id, variant, found.sources, until)
        written = [(d.user_text, d.char_text, d.category) for d in self._store.list_dialogues(clone.id)
                   if d.created_at <= until]
        if written:
            self._dialogues.add_many(variant.id, written, origin="manual")
        events = [m for m in self._events(clone) if m.happened_at <= until]
        if events:
            self._memory.remember(variant.id, SHARED_FAN, [m.text for m in events], kind="event",
                                  happened_at=[m.happened_at for m in events], sources=[m.source for m in events],
                                  importance=None)
        if describe:
            for proposal in self._descriptions.propose(variant.id, on_progress=on_progress):
                if proposal.text.strip():  # a small model may ground no claim: the field stays empty to write
                    self._descriptions.accept(variant.id, proposal.id)

    def _events(self, clone: Clone) -> list[Memory]:
        return [m for m in self._store.list_memories(clone.id, [SHARED_FAN], limit=None, include_superseded=False)
                if m.kind == "event"]


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=UTC)
