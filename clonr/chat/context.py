"""What a turn is given, as stored with the fan's message, and the excerpt of a note that a message needs.

A fan's message keeps the ids of the memories and example dialogues put in front of it, the note excerpts, and
what the clone knew of the fan then. Later turns render it again in the same place, so the prompt's earlier
part never changes and only what is new is added. Memories are kept by id: an edited memory shows its new
text, a deleted one is gone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from clonr.memory.lexical import STOPWORDS

TokenCounter = Callable[[str], int]
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[^\W_]{3,}")
# Full-text recall's stop words, and words a question uses that say nothing about which sentence is meant
_COMMON = STOPWORDS | {"about", "any", "been", "can", "could", "him", "into", "just", "know", "like", "not", "now",
                       "out", "tell", "than"}


@dataclass(frozen=True)
class ContextRef:
    """What one turn was given: memory ids, (note id, excerpt) pairs, example dialogue ids, what was known of
    the fan, and the people and things named (entities) whose description was given."""

    memories: tuple[str, ...] = ()
    notes: tuple[tuple[str, str], ...] = ()
    examples: tuple[str, ...] = ()
    about_fan: str = ""
    entities: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> str | None:
        if self == ContextRef():
            return None
        return json.dumps({"memories": self.memories, "notes": self.notes, "examples": self.examples,
                           "about_fan": self.about_fan, "entities": self.entities}, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | None) -> ContextRef:
        """Tolerant: a missing or damaged record gives an empty context (the turn is only less informed)."""
        try:
            data = json.loads(raw) if raw else {}
            return cls(tuple(map(str, data.get("memories", ()))),
                       tuple((str(i), str(t)) for i, t in data.get("notes", ())),
                       tuple(map(str, data.get("examples", ()))), str(data.get("about_fan", "")),
                       tuple((str(n), str(a)) for n, a in data.get("entities", ())))
        except (ValueError, TypeError, AttributeError):
            return cls()


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.casefold()) if w not in _COMMON}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def excerpt(text: str, message: str, budget: int, count: TokenCounter, skip: set[str] | frozenset[str] = frozenset(),
            ) -> str:
    """The sentences of a note that share the most words with the message, in their order, within `budget`
    tokens, leaving out those in `skip` (given already); a note chunk is several times longer than the
    information a turn can afford."""
    every = sentences(text)
    parts = [s for s in every if s not in skip]
    if not parts or budget <= 0:
        return ""
    asked = _words(message)
    ranked = sorted(range(len(parts)), key=lambda n: (-len(asked & _words(parts[n])), n))
    chosen: list[int] = []
    spent = 0
    for n in ranked:
        overlap = len(asked & _words(parts[n]))
        if not overlap and (chosen or len(parts) < len(every)):
            break  # past the sentences that match (or a guess given before), more text only costs the fan time
        cost = count(parts[n]) + 1
        if spent + cost > budget:
            continue
        chosen.append(n)
        spent += cost
        if not overlap:
            break  # nothing matches: the note's best guess is its opening
    return " ".join(parts[n] for n in sorted(chosen))


def shown(refs: Iterable[ContextRef]) -> tuple[set[str], set[str], set[str], set[str]]:
    """Memory ids, note sentences, example ids and entity names already given somewhere in `refs`."""
    memories: set[str] = set()
    notes: set[str] = set()
    examples: set[str] = set()
    entities: set[str] = set()
    for ref in refs:
        memories.update(ref.memories)
        notes.update(sentence for _, text in ref.notes for sentence in sentences(text))
        examples.update(ref.examples)
        entities.update(name for name, _ in ref.entities)
    return memories, notes, examples, entities
