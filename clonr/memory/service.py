"""The memory stream: what a clone remembers of each fan (and of its own life), and how it recalls it.

Writing: every exchange becomes observations (one per message), embedded into the fan's own vector
collection and indexed for full-text search; importance is scored later, on the background worker.
Recalling: candidates come from dense search and from full-text search; each is scored on relevance, lexical
match, recency and importance (Generative Agents, plus BM25), and the best are taken until a token budget is
spent. Pinned memories always come first. Every result says why it was chosen.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.vectorstores import VectorStore

from clonr.clones import CloneService
from clonr.clones.acting import ActsFor
from clonr.errors import InvalidInputError, NotFoundError
from clonr.ingest.untrusted import load_json
from clonr.jobs import JobQueue
from clonr.memory import changes, lexical, people, thinking
from clonr.memory.importance import DEFAULT_IMPORTANCE, ImportanceScorer
from clonr.memory.timeframe import asked_about, mentioned_period
from clonr.store import SHARED_FAN, Clone, FanMemories, Memory, SqlStore
from clonr.vectors.base import nearest_ids, replace_all, unit_vectors

log = logging.getLogger(__name__)
TokenCounter = Callable[[str], int]
Clock = Callable[[], datetime]
SPEAKER_ROOM = 256  # a memory is a message plus who said it (and where: "Sam (in the group 'Engines'): …")
CONVERSATION_GAP = timedelta(hours=3)  # a message this soon after another continues the same conversation
# The queued tasks of memory work (JobQueue names): arguments are ids, so a worker anywhere can run them.
SCORE = "memory.score"
REMEMBER_EXCHANGE = "memory.remember_exchange"
UPDATE_KNOWLEDGE = "memory.update_knowledge"
UPDATE_BATCH = 32  # fan lines per queued knowledge-update task (an import's batch)


@dataclass(frozen=True)
class RetrievalWeights:
    """How recall ranks candidates. Tuned on LoCoMo (benchmarks/memory_recall.py); see RESULTS.md."""

    relevance: float = 1.0
    lexical: float = 1.3
    recency: float = 0.2
    importance: float = 0.4
    half_life_hours: float = 24.0
    dense_candidates: int = 200  # nearest memories by meaning; 200 beat 100 on LoCoMo (0.846 -> 0.854 at 1k)
    lexical_candidates: int = 60  # best full-text matches; past 60 they change nothing on LoCoMo
    relevance_floor: float = 0.15  # about the cosine MiniLM gives unrelated sentences: relevance counts from here
    # Bonuses on top of the weighted score (which lies in 0..1):
    speaker: float = 0.2  # the query names the one person who said it ("What did Melanie paint?")
    same_day: float = 0.3  # times the best score of the memory's day: what a question asks about is told together
    period: float = 0.3  # the memory falls in the date, month or year the query names
    period_slack_days: tuple[int, int] = (1, 7)  # ...or just around it: events are told days after they happen
    neighbour_share: float = 0.6  # a turn next to a strong match is often the answer: it inherits 60 % of it
    neighbour_own: float = 0.3  # ...plus 30 % of its own score, so a neighbour that matches too comes first
    neighbour_anchors: int = 4
    neighbour_distance: int = 2  # turns on each side that inherit (2 beat 1 on LoCoMo: 0.781 vs 0.772 at 1k)
    asks: float = 0.06  # taken off a line that only asks ("...?"): its answer, the line after, inherits from it
    scan_limit: int = 400  # ranked candidates examined while filling the budget
    outdated: float = 0.6  # share of its score a memory keeps once a newer one replaced it...
    outdated_present: float = 0.3  # ...when the query asks about now ("these days", "currently", "still")
    near_repeat: float = 0.75  # content words two lines of one speaker share (Jaccard) to count as one repeated


@dataclass(frozen=True)
class MemoryWork:
    """Memories waiting for the background work: importance to score (then reflections and summaries), and fan
    lines to compare with what the fan said before (knowledge updates)."""

    to_score: int
    to_compare: int

    def __bool__(self) -> bool:
        return bool(self.to_score or self.to_compare)

    def __str__(self) -> str:
        parts = [f"{self.to_score:,} memories to score and reflect on" if self.to_score else "",
                 f"{self.to_compare:,} lines to compare with what the fan said before" if self.to_compare else ""]
        return ", ".join(part for part in parts if part)


@dataclass(frozen=True)
class InPrompt:
    """The lines a prompt already shows: recall skips the memories made from them. One-to-one memories name
    their message's id; others (a group's lines) name a source such as `group:<line id>`."""

    messages: frozenset[int] = frozenset()
    sources: frozenset[str] = frozenset()

    def holds(self, memory: Memory) -> bool:
        return memory.message_id in self.messages or (memory.source is not None and memory.source in self.sources)


_MINHASH_SALTS = (0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D)


@functools.lru_cache(maxsize=4096)  # lines of up to ~4 KB: at most ~17 MB
def _signature(text: str) -> tuple[frozenset[str], tuple[tuple[str, int, int], ...]]:
    """A line's content words and its three min-hash keys (with its speaker); none for a line of fewer than three
    words ("yes!" and "me too" repeat by chance, not by saying the same thing). Cached: a fan's turns recall
    many of the same memories."""
    speaker, said = lexical.said(text)
    words = lexical.content_words(said)
    if len(words) < 3:
        return words, ()
    return words, tuple((speaker.casefold(), n, min(hash((salt, w)) for w in words))
                        for n, salt in enumerate(_MINHASH_SALTS))


class _SaidAlready:
    """The lines recall has chosen, to find a near-repeat of one among them ("my coffee machine is making weird
    noises again" / "ugh, the coffee machine is making weird noises again": the same speaker, content words
    shared at `overlap` (Jaccard) or more). Each line is filed under three min-hashes of its words, so a
    candidate is compared only with the chosen lines that share one: constant work per candidate however many
    words the lines share (two lines sharing 75 % of their words share one of three min-hashes 98 % of the
    time). Exact repeats were folded when stored (`Memory.repeated_by`); these differ by a word or two, or were
    stored before gists."""

    def __init__(self, overlap: float = 0.75) -> None:
        self._overlap = overlap
        self._chosen: dict[tuple[str, int, int], list[tuple[frozenset[str], int]]] = {}

    def find(self, memory: Memory) -> int | None:
        """The place in the chosen list of a line `memory` repeats, if any."""
        words, keys = _signature(memory.text)
        for key in keys:
            for other, place in self._chosen.get(key, ()):
                if len(words & other) / len(words | other) >= self._overlap:
                    return place
        return None

    def add(self, memory: Memory, place: int) -> None:
        words, keys = _signature(memory.text)
        for key in keys:
            self._chosen.setdefault(key, []).append((words, place))

    @staticmethod
    def fold(kept: RecalledMemory, repeat: Memory) -> RecalledMemory:
        """`kept` now also stands for `repeat`: their counts added, said since the earlier of the two."""
        first = min(m.first_said_at or m.happened_at for m in (kept.memory, repeat))
        memory = replace(kept.memory, repeats=kept.memory.repeats + repeat.repeats, first_said_at=first)
        return RecalledMemory(memory, kept.score, {**kept.reasons, "repeats": memory.repeats}, kept.tokens)


@dataclass(frozen=True)
class RecalledMemory:
    memory: Memory
    score: float
    reasons: dict[str, float] = field(default_factory=dict)
    tokens: int = 0

    @property
    def line(self) -> str:
        return format_memory(self.memory)


@dataclass(frozen=True)
class MemoryLinks:
    """How a memory connects to others: the line it answers in its conversation (it was embedded with it),
    the memories a reflection rests on, and the newer memory that replaced it."""

    in_reply_to: Memory | None = None
    rests_on: tuple[Memory, ...] = ()
    replaced_by: Memory | None = None


@dataclass(frozen=True)
class TranscriptLine:
    speaker: str  # "fan" or "clone"
    text: str
    time: datetime
    name: str | None = None
    ref: str | None = None  # the line's id in its source, kept as provenance


def _words(text: str) -> int:
    return len(text.split())


def embedding_text(text: str, previous: str | None) -> str:
    """What a memory is embedded as: its own line, then the line it answers. "Yep, I started a few years back"
    means nothing alone; with "Do you still paint?" after it, a question about painting finds it (LoCoMo
    recall at 1k tokens 0.830 -> 0.846). Its own line comes first, so the 256-token window never cuts it."""
    return f"{text}\n{previous}" if previous else text


def _answered(memory: Memory, previous: Memory | None) -> str | None:
    """The line `memory` follows in the same conversation, if any: both observations, at most
    CONVERSATION_GAP apart."""
    if previous is None or memory.kind != "observation" or previous.kind != "observation":
        return None
    return previous.text if timedelta(0) <= memory.happened_at - previous.happened_at <= CONVERSATION_GAP else None


def _in_context(stream: Sequence[Memory], before: Memory | None = None) -> list[str]:
    """What consecutive memories are embedded as: each observation with the observation before it, if that is
    in the same conversation (`embedding_text`); `before` is the one preceding the first."""
    texts, previous = [], before
    for memory in stream:
        texts.append(embedding_text(memory.text, _answered(memory, previous)))
        previous = memory if memory.kind == "observation" else previous
    return texts


def _plain(text: str) -> str:
    """Text compared without case, punctuation or a speaker prefix: "Fan: I ran!" ~ "i ran"."""
    return " ".join(re.findall(r"\w+", lexical.said(text)[1])).casefold()


def _speaker(memory: Memory) -> str | None:
    """Who said an observation or event ("Ada: I ran" -> "Ada"); None for reflections and notes."""
    if memory.kind not in ("observation", "event"):
        return None
    name, colon, _ = memory.text.partition(":")
    return name if colon and 0 < len(name) <= 60 else None


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def told(memory: Memory) -> str:
    """A memory's text as the clone reads it: how often it was said, and whether it changed since."""
    notes = []
    if memory.repeats > 1:
        since = f" since {_day_label((memory.first_said_at or memory.happened_at).date())}"
        notes.append(f"said {memory.repeats} times{since}")
    if memory.superseded_by:
        notes.append("since changed")
    return f"{memory.text} ({'; '.join(notes)})" if notes else memory.text


def format_memory(memory: Memory) -> str:
    """A memory on its own line, with its date (lists, search results, the studio)."""
    return f"[{memory.happened_at:%Y-%m-%d}] {told(memory)}"


def memory_day(memory: Memory) -> str:
    """The day a memory happened, as the prompt groups memories under it ("8 May 2023")."""
    return _day_label(memory.happened_at.date())


@functools.lru_cache(maxsize=4096)
def _day_label(day: date) -> str:
    return f"{day.day} {day:%b %Y}"  # a recall asks for hundreds of these a turn


def day_header(day: str) -> str:
    return f"\nOn {day}:"


def memory_bullet(memory: Memory) -> str:
    return f"\n- {told(memory)}"


def memory_cost(memory: Memory, days_in: set[str], count: TokenCounter) -> int:
    """Tokens a memory adds to a prompt whose memories are grouped by day: its line, plus its day's header
    when no memory of that day is in yet. A date costs about 13 tokens on every line otherwise (Qwen2.5
    spells digits one by one), close to half of a typical memory."""
    day = memory_day(memory)
    return count(memory_bullet(memory)) + (0 if day in days_in else count(day_header(day)))


def render_by_day(memories: list[Memory]) -> str:
    """Memories in the order they happened, under one header per day."""
    lines, day = [], None
    for memory in sorted(memories, key=lambda m: m.order):
        if memory_day(memory) != day:
            day = memory_day(memory)
            lines.append(day_header(day))
        lines.append(memory_bullet(memory))
    return "".join(lines)


def _collection(clone_id: str, fan_id: str) -> str:
    key = "shared" if fan_id == SHARED_FAN else hashlib.sha256(fan_id.encode()).hexdigest()[:20]
    return f"memory_{clone_id}_{key}"


@dataclass(frozen=True)
class MemoryPolicy:
    """The background work memory does with the chat model (CLONR_REFLECTION_THRESHOLD, CLONR_KNOWLEDGE_UPDATES)."""

    reflection_threshold: int = 100  # 0: never reflect
    fan_summary_threshold: int = 40  # staggered: a fan's summary is refreshed more often than reflections
    agent_summary_threshold: int = 10  # the clone's own state moves with each notable event
    knowledge_updates: bool = True
    reflection_recent: int = 100  # memories the questions are drawn from
    reflection_evidence: int = 15  # memories recalled for each question
    confirm_updates: bool = False  # the chat model confirms each update the rules propose (not SmolLM2: too small)
    update_candidates: int = 8  # older lines closest in meaning that a new one is checked against...
    change_rule: changes.ChangeRule = field(default_factory=changes.ChangeRule)  # ...and how close, to be replaced
    longest_text: int = 4000  # characters in an event or an edited memory (CLONR_MAX_MESSAGE_CHARS)
    lately_days: int = 30  # events this recent are in every prompt, as the clone's life lately...
    lately_events: int = 5  # ...the latest this many of them...
    lately_chars: int = 240  # ...each cut to this (a small model loses the thread in long ones; recall has them whole)


class MemoryService(ActsFor):
    """Fans' memories and the clone's own. What the turn builder reads on every turn (recall, summaries,
    entities, mentioned) and the writes made after it are internal: their callers have checked the actor.
    What a creator does to memories (list, edit, pin, delete, forget, events, reindex) checks it here."""

    def __init__(self, store: SqlStore, clones: CloneService, index: Callable[[str], VectorStore],
                 scorer: Callable[[], ImportanceScorer], worker: JobQueue, model: Callable[[], BaseChatModel],
                 clock: Clock | None = None, weights: RetrievalWeights | None = None,
                 policy: MemoryPolicy | None = None) -> None:
        self._store = store
        self._clones = clones
        self._index = index
        self._scorer = scorer
        self._worker = worker
        self._model = model
        self.policy = policy or MemoryPolicy()
        self._clock = clock or (lambda: datetime.now(UTC))
        self.weights = weights or RetrievalWeights()
        worker.register(SCORE, self.score_pending)
        worker.register(REMEMBER_EXCHANGE, self.remember_stored_exchange)
        worker.register(UPDATE_KNOWLEDGE, self._update_knowledge_of)

    def _score_later(self, clone_id: str, fan_id: str) -> None:
        """One scoring task per fan at a time: it scores every memory still unscored when it runs."""
        key = f"memory:{clone_id}:{fan_id}"
        self._worker.defer(SCORE, clone_id=clone_id, fan_id=fan_id, lock=key, once=key)

    def _vectors(self, clone_id: str, fan_id: str) -> VectorStore:
        return self._index(_collection(clone_id, fan_id))

    # -- writing --------------------------------------------------------------------------------

    def remember(self, clone_id: str, fan_id: str, texts: Sequence[str], *, kind: str = "observation",
                 happened_at: Sequence[datetime] | None = None, sources: Sequence[str | None] | None = None,
                 message_ids: Sequence[int | None] | None = None, importance: int | None = None,
                 pinned: bool = False, score_later: bool = True, evidence: Sequence[str] = ()) -> list[Memory]:
        """Store memories (embedding them in one batch); importance is scored on the worker unless given."""
        now = self._clock()
        cleaned = [" ".join(text.split())[:self.policy.longest_text + SPEAKER_ROOM] for text in texts]
        if not cleaned or not all(cleaned):
            raise InvalidInputError("A memory needs some text: write what should be remembered.")
        times = [when.astimezone(UTC) for when in happened_at] if happened_at else [now] * len(cleaned)
        batch = uuid.uuid4().hex[:27]  # + the place in the batch: lines of one instant sort in the order given
        items = [Memory(id=f"{batch}{n:05x}", clone_id=clone_id, fan_id=fan_id, kind=kind, text=text,
                        importance=importance, happened_at=times[n], created_at=now, last_accessed_at=times[n],
                        pinned=pinned, source=(sources[n] if sources else None),
                        message_id=(message_ids[n] if message_ids else None), evidence=tuple(evidence),
                        gist=lexical.gist(text))
                 for n, text in enumerate(cleaned)]
        vectors = self._vectors(clone_id, fan_id)
        vectors.add_texts(self._embedding_texts(items), [{"kind": kind} for _ in items], ids=[m.id for m in items])
        try:
            items = self._store.add_memories(items)
        except BaseException:
            vectors.delete([m.id for m in items])  # never leave vectors without their records
            raise
        if importance is None and score_later:
            self._score_later(clone_id, fan_id)
        return items

    def _embedding_texts(self, items: list[Memory]) -> list[str]:
        """Observations are embedded with the line before them in their conversation (`embedding_text`): the
        items are consecutive lines, and the first continues the fan's stream when it follows soon enough."""
        if not items or items[0].kind != "observation":
            return [m.text for m in items]
        first = items[0]
        return _in_context(items, self._store.last_observation(first.clone_id, first.fan_id,
                                                               first.happened_at - CONVERSATION_GAP, first.happened_at))

    def remember_exchange(self, clone: Clone, fan_id: str, user_text: str, reply_text: str,
                          message_ids: tuple[int, int], fan_name: str = "Fan",
                          when: datetime | None = None) -> list[Memory]:
        """The live-chat path: each message of an exchange becomes an observation (said `when`, or now)."""
        when = when or self._clock()
        made = self.remember(clone.id, fan_id, [f"{fan_name}: {user_text}", f"{clone.name}: {reply_text}"],
                             happened_at=[when, when], sources=["chat", "chat"], message_ids=message_ids)
        self._fan_said(made[:1])
        return made

    def _fan_said(self, said_by_fan: Sequence[Memory]) -> None:
        """What follows a fan's new lines: the people they introduce become entities at once ("Inês: their
        sister", unless the chat model described Inês already), and the knowledge updates the lines may make are
        queued (one task per batch, one at a time per fan)."""
        if not said_by_fan:
            return
        introduced: dict[str, str] = {}
        for memory in said_by_fan:
            for name, relation in people.introduced(lexical.said(memory.text)[1]).items():
                introduced.setdefault(name, relation)  # as first introduced
        first = said_by_fan[0]
        if introduced:
            known = {name.casefold() for name in self._store.entities(first.clone_id, first.fan_id)}
            self._store.save_entities(first.clone_id, first.fan_id, {
                name: f"their {relation}" for name, relation in introduced.items() if name.casefold() not in known},
                self._clock())
        if self.policy.knowledge_updates:
            self._store.set_update_pending([m.id for m in said_by_fan], True)
            self._update_later(first.clone_id, first.fan_id, [m.id for m in said_by_fan])

    def _update_later(self, clone_id: str, fan_id: str, memory_ids: list[str]) -> None:
        self._worker.defer(UPDATE_KNOWLEDGE, memory_ids=memory_ids, lock=f"memory:{clone_id}:{fan_id}")

    def remember_stored_exchange(self, asked_id: int, reply_id: int) -> list[Memory]:
        """The queued form of `remember_exchange`, from the stored messages: nothing when they were deleted
        meanwhile (the creator corrected the reply) or are remembered already (the task ran before, and its
        worker died before it could say so)."""
        asked, reply = self._store.get_message(asked_id), self._store.get_message(reply_id)
        if asked is None or reply is None or self._store.memories_of_message(asked_id):
            return []
        return self.remember_exchange(self._store.get_clone(asked.clone_id), asked.fan_id, asked.content,
                                      reply.content, (asked_id, reply_id), when=asked.created_at)

    def remember_later(self, clone_id: str, fan_id: str, asked_id: int, reply_id: int) -> None:
        """Queue the memories of a stored exchange (made on a worker, never delaying the fan)."""
        self._worker.defer(REMEMBER_EXCHANGE, asked_id=asked_id, reply_id=reply_id,
                           lock=f"memory:{clone_id}:{fan_id}")

    def catch_up(self, days: int = 7) -> int:
        """Queue the memory work lost with a process killed in the last `days` (between storing a reply and
        remembering it, or before scoring what it remembered); how many exchanges and fans. A server runs this as
        it starts; work queued twice is done once (each task checks what is done, one at a time per fan)."""
        since = datetime.now(UTC) - timedelta(days=days)
        exchanges = self._store.unremembered_exchanges(since)
        for asked, reply in exchanges:
            self.remember_later(asked.clone_id, asked.fan_id, asked.id, reply.id)
        unscored = self._store.unscored_fans()
        for clone_id, fan_id in unscored:
            self._score_later(clone_id, fan_id)
        updates = self._store.pending_updates() if self.policy.knowledge_updates else {}
        for (clone_id, fan_id), ids in updates.items():
            for start in range(0, len(ids), UPDATE_BATCH):
                self._update_later(clone_id, fan_id, ids[start:start + UPDATE_BATCH])
        if exchanges or unscored or updates:
            log.info("queued the memory work lost with the last process: %d exchanges, %d fans' scores, %d fans' "
                     "knowledge updates", len(exchanges), len(unscored), len(updates))
        return len(exchanges) + len(unscored) + len(updates)

    def import_transcript(self, clone: Clone, fan_id: str, lines: Sequence[TranscriptLine],
                          on_progress: Callable[[int, int], None] | None = None, batch: int = UPDATE_BATCH) -> int:
        """A past conversation, fed through the same path as live chat: messages, then observations."""
        for line in lines:
            if line.speaker not in ("fan", "clone") or not line.text.strip():
                raise InvalidInputError(f"Transcript line {line.ref or ''} needs speaker 'fan' or 'clone' and "
                                        "some text: fix the file and import it again.")
        message_ids = self._store.add_messages(clone.id, fan_id, [
            ("user" if line.speaker == "fan" else "assistant", line.text, line.time) for line in lines])
        for start in range(0, len(lines), batch):
            chunk = lines[start:start + batch]
            made = self.remember(clone.id, fan_id,
                          [f"{line.name or ('Fan' if line.speaker == 'fan' else clone.name)}: {line.text}"
                           for line in chunk],
                          happened_at=[line.time for line in chunk],
                          sources=[f"import:{line.ref}" if line.ref else "import" for line in chunk],
                          message_ids=message_ids[start:start + batch])
            self._fan_said([m for m, line in zip(made, chunk, strict=True) if line.speaker == "fan"])
            if on_progress:
                on_progress(min(start + batch, len(lines)), len(lines))
        return len(lines)

    def score_pending(self, clone_id: str, fan_id: str) -> None:
        pending = self._store.list_memories(clone_id, [fan_id], limit=64, unscored_only=True)
        if not pending:
            return
        for memory, value in zip(pending, self._scorer().score([m.text for m in pending]), strict=True):
            self._store.update_memory(memory.id, importance=value)
        policy = self.policy
        if not policy.reflection_threshold:  # memory work with the model is off
            return
        if fan_id == SHARED_FAN:
            if self._store.importance_since(clone_id, fan_id, "summarized_at", ("event",)) >= \
                    policy.agent_summary_threshold:
                self.summarize(clone_id, fan_id)
            return
        if self._store.importance_since(clone_id, fan_id, "reflected_at", ("observation",)) >= \
                policy.reflection_threshold:
            self.reflect(clone_id, fan_id)
        if self._store.importance_since(clone_id, fan_id, "summarized_at", ("observation", "reflection")) >= \
                policy.fan_summary_threshold:
            self.summarize(clone_id, fan_id)

    # -- thinking (background, with the chat model) ------------------------------------------------

    def reflect(self, clone_id: str, fan_id: str) -> list[Memory]:
        """Generative Agents' reflection: ask 3 questions of the recent memories, answer each from the memories
        recall finds for it, and keep insights that cite their evidence."""
        name = self._store.get_clone(clone_id).name
        self._store.mark_reflected(clone_id, fan_id, self._clock())  # asked once per threshold, whatever comes back
        recent = self._store.list_memories(clone_id, [fan_id], limit=self.policy.reflection_recent,
                                           include_superseded=False, include_repeats=False)[::-1]
        if not recent:
            return []
        model = self._model()
        made: list[Memory] = []
        known = {_plain(m.text) for m in recent if m.kind == "reflection"}  # small models repeat themselves
        for question in thinking.reflection_questions(model, recent, name):
            self._worker.foreground.wait_idle()  # between model calls, let waiting fans go first
            evidence = [r.memory for r in self.recall(clone_id, fan_id, question, 10**9, _words, touch=False)
                        if r.memory.fan_id == fan_id][:self.policy.reflection_evidence]
            for text, cited in thinking.insights(model, question, evidence, name):
                if _plain(text) in known | {_plain(m.text) for m in evidence} or \
                        any(_plain(text) in _plain(m.text) for m in cited):
                    continue  # said before, or a memory it was shown, repeated: nothing learnt
                known.add(_plain(text))
                made += self.remember(clone_id, fan_id, [text], kind="reflection", sources=["reflection"],
                                      evidence=[m.id for m in cited], score_later=False)
        if made:
            self._score_later(clone_id, fan_id)
        return made

    def summarize(self, clone_id: str, fan_id: str) -> str:
        """Re-synthesise the summary of a fan (who they are, the relationship) or, for fan "*", the clone's
        own current state from its events; prompts read the summary instead of re-deriving it each turn."""
        clone = self._store.get_clone(clone_id)
        kinds = ("event",) if fan_id == SHARED_FAN else ("observation", "reflection")
        recent = [m for m in self._store.list_memories(clone_id, [fan_id], limit=self.policy.reflection_recent,
                                                       include_superseded=False, include_repeats=False)
                  if m.kind in kinds][::-1]
        previous = self._store.summaries(clone_id, [fan_id]).get(fan_id, "")
        model = self._model()
        summary = thinking.summary(model, clone.name, clone.long_description, recent, previous,
                                   about_fan=fan_id != SHARED_FAN)
        self._store.set_summary(clone_id, fan_id, summary or previous, self._clock())
        if fan_id != SHARED_FAN:
            self._worker.foreground.wait_idle()
            found = thinking.entities(model, recent, self._store.entities(clone_id, fan_id))
            self._store.save_entities(clone_id, fan_id, found, self._clock())
        return summary or previous

    def entities(self, clone_id: str, fan_id: str) -> dict[str, str]:
        """Who and what this fan talks about, as the clone knows them (name -> about)."""
        return self._store.entities(clone_id, fan_id)

    def mentioned(self, clone_id: str, fan_id: str, text: str) -> dict[str, str]:
        """What the clone knows of the people and things this fan talks about that `text` names."""
        lowered = text.casefold()
        return {name: about for name, about in self._store.entities(clone_id, fan_id).items()
                if re.search(rf"(?<!\w){re.escape(name.casefold())}(?!\w)", lowered)}

    def summaries(self, clone_id: str, fan_id: str) -> tuple[str, str]:
        """(the clone's life lately, what it knows of this fan), either possibly empty. Its life lately is the
        summary of its events, then its latest events themselves, dated: a post or a happening is in the next
        prompt of every fan, long before enough of them add up to rewrite the summary."""
        found = self._store.summaries(clone_id, [SHARED_FAN, fan_id])
        since = self._clock() - timedelta(days=self.policy.lately_days)
        latest = [replace(m, text=_shortened(m.text, self.policy.lately_chars))
                  for m in self._store.list_memories(clone_id, [SHARED_FAN], limit=self.policy.lately_events * 2,
                                                     include_superseded=False, include_repeats=False)
                  if m.kind == "event" and m.happened_at >= since][:self.policy.lately_events]
        lately = "\n".join(part for part in (found.get(SHARED_FAN, ""), render_by_day(latest).strip()) if part)
        return lately, found.get(fan_id, "")

    def _update_knowledge_of(self, memory_ids: Sequence[str] = (), memory_id: str | None = None) -> None:
        """The queued task: `memory_id` alone is how tasks queued before batches were written. A line compared
        already is skipped: a server starting queues again every line still marked, even one a durable queue
        still holds, so a batch may run twice."""
        for new in self._store.get_memories([*memory_ids, *([memory_id] if memory_id else [])]):
            if memory_ids and not new.update_pending:
                continue
            self._worker.foreground.wait_idle()  # between lines, let waiting fans go first
            self.update_knowledge(new)  # (a line forgotten meanwhile is not found: nothing to compare)
            self._store.set_update_pending([new.id], False)

    def update_knowledge(self, new: Memory) -> list[Memory]:
        """Retire the older memories that `new` makes out of date; they stay, marked `superseded_by`, and are
        still recalled for questions about the past. Candidates are the same speaker's older lines closest in
        meaning; the rules in `changes` choose (whose fact, change cues, closeness), and the chat model confirms
        each pair when the policy says it can judge."""
        vectors = self._vectors(new.clone_id, new.fan_id)
        near = [i for i, _ in nearest_ids(vectors, vectors.embeddings.embed_query(new.text),
                                          self.policy.update_candidates) if i != new.id]
        speaker = lexical.said(new.text)[0]
        older = [m for m in self._store.get_memories(near)
                 if m.kind == "observation" and m.superseded_by is None and m.repeated_by is None
                 and m.gist != new.gist and m.order < new.order and lexical.said(m.text)[0] == speaker]
        if not older:
            return []
        # Compared again as bare statements: the stored vectors carry the speaker's name and the line before, which
        # make any two lines of one person look alike.
        bare = [lexical.said(m.text)[1] for m in [new, *older]]
        plain = unit_vectors(vectors.embeddings.embed_documents(bare))
        closeness = plain[1:] @ plain[0]
        # Two lines naming the same person look alike for the name alone ("Hugo is FC Porto till he dies" / "Hugo
        # quit the studio"): such a pair is compared without the names it shares.
        named_now = people.names_in(bare[0])
        shared = [(n, names) for n, old in enumerate(bare[1:]) if (names := named_now & people.names_in(old))]
        if shared:
            apart = unit_vectors(vectors.embeddings.embed_documents(
                [people.without_names(text, names) for n, names in shared for text in (bare[0], bare[n + 1])]))
            for k, (n, _) in enumerate(shared):
                closeness[n] = float(apart[2 * k] @ apart[2 * k + 1])
        named = people.People.from_entities(self._store.entities(new.clone_id, new.fan_id))
        retired = [m for m, close in zip(older, closeness, strict=True)
                   if changes.replaces(new.text, m.text, float(close), self.policy.change_rule, named)]
        if retired and self.policy.confirm_updates:
            retired = thinking.outdated_by(self._model(), new, retired)
        for old in retired:
            self._store.update_memory(old.id, superseded_by=new.id)
        return retired

    # -- recalling ------------------------------------------------------------------------------

    def recall(self, clone_id: str, fan_id: str, query: str, budget_tokens: int, count: TokenCounter, *,
               in_prompt: InPrompt = InPrompt(),
               exclude_ids: set[str] | frozenset[str] = frozenset(), touch: bool = True,
               query_vector: list[float] | None = None) -> list[RecalledMemory]:
        """The best memories of this fan (and shared ones) for `query` that fit in `budget_tokens`.

        Memories made from lines `in_prompt` (the recent history already in the prompt) and those in
        `exclude_ids` (already given earlier in the conversation) are skipped.
        """
        fans = [fan_id, SHARED_FAN] if fan_id != SHARED_FAN else [SHARED_FAN]
        w = self.weights
        relevance: dict[str, float] = {}
        for owner in fans:
            vectors = self._vectors(clone_id, owner)
            query_vector = query_vector or vectors.embeddings.embed_query(query)
            relevance.update(nearest_ids(vectors, query_vector, w.dense_candidates))
        lexical = dict(self.lexical_search(clone_id, fans, query, limit=w.lexical_candidates))
        pinned = [m for m in self._store.list_memories(clone_id, fans, pinned_only=True, limit=200,
                                                       include_superseded=False) if m.id not in exclude_ids]
        candidates = [m for m in self._store.get_memories(list((relevance.keys() | lexical.keys()) - exclude_ids))
                      if m.repeated_by is None and not m.pinned and not in_prompt.holds(m)]
        now = self._clock()
        scored = self._score(query, candidates, relevance, lexical, now)
        scored.sort(key=lambda r: (-r.score, r.memory.id))
        skip = {m.id for m in pinned} | set(exclude_ids)
        scored = self._in_tense(query, self._with_neighbours(scored, skip, in_prompt), skip, in_prompt)
        chosen: list[RecalledMemory] = []
        spent, days, said = 0, set(), _SaidAlready(w.near_repeat)
        pinned_first = [RecalledMemory(m, 1.0, {"pinned": 1.0}) for m in sorted(pinned, key=lambda m: m.happened_at)]
        for examined, item in enumerate([*pinned_first, *scored]):
            if budget_tokens - spent < 8 or examined >= len(pinned_first) + w.scan_limit:
                break  # full, or far enough down the ranking that nothing better can come
            if (same := said.find(item.memory)) is not None:  # a repeat takes no place: it adds to a count
                kept = chosen[same]
                folded = said.fold(kept, item.memory)
                # Counted once, when the line first gets its "(said n times since …)": a larger n costs the same.
                extra = 0 if kept.memory.repeats > 1 else \
                    count(memory_bullet(folded.memory)) - count(memory_bullet(kept.memory))
                if spent + extra <= budget_tokens:
                    chosen[same] = replace(folded, tokens=folded.tokens + extra)
                    spent += extra
                continue
            tokens = memory_cost(item.memory, days, count)
            if spent + tokens > budget_tokens:
                if "pinned" in item.reasons:
                    log.warning("pinned memory %s does not fit the memory budget", item.memory.id)
                continue
            said.add(item.memory, len(chosen))
            chosen.append(RecalledMemory(item.memory, item.score, item.reasons, tokens))
            days.add(memory_day(item.memory))
            spent += tokens
        if touch and chosen:  # bookkeeping, written on the worker: a commit can wait on a WAL checkpoint
            self._worker.submit(self._store.touch_memories, [r.memory.id for r in chosen], now)
        return chosen

    def _in_tense(self, query: str, scored: list[RecalledMemory], skip: set[str],
                  in_prompt: InPrompt) -> list[RecalledMemory]:
        """Memories a newer one replaced, ranked for the time the query asks about. For the past ("Where did I
        live before?") as they are. Otherwise the newest fact in the chain of replacements takes the score of
        the best match it replaced (the question it answered, it answers now, however differently it is worded)
        and the replaced ones keep a share of theirs: a small one when the query insists on now ("these days",
        "currently", "still")."""
        outdated = [r for r in scored if r.memory.superseded_by]
        tense = asked_about(query) if outdated else "past"
        if tense == "past":
            return scored
        share = self.weights.outdated_present if tense == "present" else self.weights.outdated
        best = {r.memory.id: r for r in scored}
        known = {r.memory.id: r.memory for r in scored}
        for _ in range(3):  # chains of replacements, a few links long (a fact that changed, and changed back)
            wanted = {m.superseded_by for m in known.values() if m.superseded_by} - known.keys()
            known |= {m.id: m for m in self._store.get_memories(sorted(wanted or ()))}
            if not wanted:
                break
        for item in outdated:
            current = item.memory
            for _ in range(4):
                current = known.get(current.superseded_by or "", current)
            if (current.superseded_by or current.repeated_by or current.id in skip or in_prompt.holds(current)
                    or item.score <= (best[current.id].score if current.id in best else 0.0)):
                continue
            reasons = dict(best[current.id].reasons) if current.id in best else {}
            best[current.id] = RecalledMemory(current, item.score, {**reasons, "replaces_match": item.score})
        for item in outdated:
            best[item.memory.id] = RecalledMemory(item.memory, item.score * share, {**item.reasons, "outdated": share})
        return sorted(best.values(), key=lambda r: (-r.score, r.memory.id))

    def lexical_search(self, clone_id: str, fan_ids: list[str], query: str, limit: int = 50) -> list[tuple[str, float]]:
        """(memory id, score) best first: full-text search for the message's informative words."""
        return self._store.lexical_search(clone_id, fan_ids, lexical.search_terms(query), limit,
                                          most_matches=lexical.most_matches)

    def _score(self, query: str, candidates: list[Memory], relevance: dict[str, float], lexical: dict[str, float],
               now: datetime) -> list[RecalledMemory]:
        """Each candidate's weighted relevance, lexical match, recency and importance (0..1), plus bonuses when
        the query names who said it or when it happened, and a share of the best score of its day."""
        w = self.weights
        floor = w.relevance_floor
        top_relevance = max(relevance.values(), default=0.0)
        top_lexical = max(lexical.values(), default=0.0) or 1.0
        said_by = {m.id: _speaker(m) for m in candidates}
        named = {name for name in set(said_by.values()) - {None}
                 if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", query)}
        if period := mentioned_period(query, now):
            before, after = (timedelta(days=days) for days in w.period_slack_days)
            period = (period[0] - before, period[1] + after)
        total_weight = (w.relevance + w.lexical + w.recency + w.importance) or 1.0
        scored = []
        for memory in candidates:
            hours = max(0.0, (now - memory.last_accessed_at).total_seconds() / 3600)
            reasons = {
                "relevance": max(0.0, (relevance[memory.id] - floor) / (top_relevance - floor))
                if memory.id in relevance and top_relevance > floor else 0.0,
                "lexical": lexical.get(memory.id, 0.0) / top_lexical,
                "recency": 0.5 ** (hours / w.half_life_hours),
                "importance": (memory.importance or DEFAULT_IMPORTANCE) / 10,
            }
            total = (w.relevance * reasons["relevance"] + w.lexical * reasons["lexical"] + w.recency *
                     reasons["recency"] + w.importance * reasons["importance"]) / total_weight
            if len(named) == 1 and said_by[memory.id] in named:
                reasons["speaker"] = w.speaker
                total += w.speaker
            scored.append(RecalledMemory(memory, total, reasons))
        best_of_day: dict[str, float] = {}
        for item in scored:
            day = memory_day(item.memory)
            best_of_day[day] = max(best_of_day.get(day, 0.0), item.score)
        for n, item in enumerate(scored):
            extra = {"same_day": w.same_day * best_of_day[memory_day(item.memory)]}
            if period and period[0] <= item.memory.happened_at < period[1]:
                extra["period"] = w.period
            if w.asks and item.memory.text.rstrip().endswith("?"):
                extra["asks"] = -w.asks
            scored[n] = RecalledMemory(item.memory, item.score + sum(extra.values()), {**item.reasons, **extra})
        return scored

    def _with_neighbours(self, scored: list[RecalledMemory], skip: set[str],
                         in_prompt: InPrompt) -> list[RecalledMemory]:
        """Lift the turns around the best matches: an answer often sits a turn or two from the question that
        matched, in the same conversation (at most CONVERSATION_GAP from the match; never one in `skip`: pinned,
        or given already)."""
        w = self.weights
        own = {r.memory.id: r for r in scored}
        best = dict(own)
        anchors = scored[:w.neighbour_anchors]
        adjacent = self._store.adjacent_memories([a.memory for a in anchors], distance=w.neighbour_distance)
        for anchor in anchors:
            for place, memory in adjacent[anchor.memory.id]:
                if abs(memory.happened_at - anchor.memory.happened_at) > CONVERSATION_GAP:
                    continue  # another conversation: being next to the match says nothing
                # 1 % less per extra turn away: a nearer turn wins a tie, rankings otherwise stay as tuned
                inherited = anchor.score * w.neighbour_share * 0.99 ** (abs(place) - 1) + \
                    w.neighbour_own * (own[memory.id].score if memory.id in own else 0.0)
                if (memory.id in skip or memory.repeated_by or in_prompt.holds(memory)
                        or inherited <= (best[memory.id].score if memory.id in best else 0.0)):
                    continue
                reasons = dict(best[memory.id].reasons) if memory.id in best else {}
                best[memory.id] = RecalledMemory(memory, inherited, {**reasons, "next_to_match": inherited})
        return sorted(best.values(), key=lambda r: (-r.score, r.memory.id))

    # -- inspecting and editing -----------------------------------------------------------------

    def post_event(self, clone_id: str, text: str) -> Memory:
        """Something that happened in the creator's life: a memory every fan's chat can draw on, and material
        for the clone's current state, which is rewritten from its events."""
        clone = self._owned(clone_id)
        if clone.as_of is not None:
            raise InvalidInputError(f"{clone.name} knows only what was true up to {clone.as_of}: tell the clone it was "
                                    "made from what happened.")
        self._check_length(text, "The event", "tell it in fewer words, or as several events")
        event, = self.remember(clone_id, SHARED_FAN, [text], kind="event")
        return event

    def _check_length(self, text: str, what: str, advice: str) -> None:
        if len(text) > self.policy.longest_text:
            raise InvalidInputError(f"{what} is {len(text):,} characters; the limit is {self.policy.longest_text:,} "
                                    f"(CLONR_MAX_MESSAGE_CHARS): {advice}.")

    def links(self, clone_id: str, memories: Sequence[Memory]) -> dict[str, MemoryLinks]:
        """Each memory's links (two round trips for a page of them), only ever to memories of the same clone
        and fan, or shared ones."""
        self._owned(clone_id)
        cited = [i for m in memories for i in (*m.evidence, *([m.superseded_by] if m.superseded_by else []))]
        found = {m.id: m for m in self._store.get_memories(cited)}
        nearby = self._store.adjacent_memories([m for m in memories if m.kind == "observation"], distance=1)
        links = {}
        for memory in memories:
            linked = {i: found[i] for i in (*memory.evidence, memory.superseded_by) if i in found
                      and found[i].clone_id == clone_id and found[i].fan_id in (memory.fan_id, SHARED_FAN)}
            before = dict(nearby.get(memory.id, [])).get(-1)
            links[memory.id] = MemoryLinks(before if _answered(memory, before) else None,
                                           tuple(linked[i] for i in memory.evidence if i in linked),
                                           linked.get(memory.superseded_by or ""))
        return links

    def reindex(self, clone_id: str, on_progress: Callable[[int, int], None] | None = None) -> int:
        """Embed every memory of the clone again, each fan's and the shared events, with the current embedding
        model and each line with the line it answers, and count repeated lines once: for memories written before
        context embeddings or repeat counts, or after switching CLONR_EMBEDDINGS. Each fan's collection is swapped
        whole once embedded, so a failure leaves it as it was and running again finishes the rest. Progress is
        counted in memories, per fan."""
        self._owned(clone_id)
        fans = self.fans(clone_id)
        total = sum(f.memories for f in fans) + len(self._store.memory_ids(clone_id, SHARED_FAN))
        done = 0
        for owner in [*(f.fan_id for f in fans), SHARED_FAN]:
            stream = self._store.memory_stream(clone_id, owner)
            if stream:
                replace_all(self._vectors(clone_id, owner), _in_context(stream), [{"kind": m.kind} for m in stream],
                            [m.id for m in stream])
                self._store.set_gists([replace(m, gist=lexical.gist(m.text)) for m in stream])
                done += len(stream)
            if on_progress:
                on_progress(done, total)
        return done

    def fans(self, clone_id: str) -> list[FanMemories]:
        self._owned(clone_id)
        return self._store.memory_fans(clone_id)

    def waiting(self, clone_ref: str) -> MemoryWork:
        """The clone's memories still waiting for the background work on them: what `clonr jobs` and the studio
        show while an import is being worked through."""
        clone_id = self._owned(clone_ref).id
        return MemoryWork(self._store.unscored_count(clone_id),
                          self._store.update_pending_count(clone_id) if self.policy.knowledge_updates else 0)

    def list(self, clone_id: str, fan_id: str, limit: int = 50, offset: int = 0,
             every_saying: bool = False) -> list[Memory]:
        """Newest first; a line said again and again once, as its newest saying with the count, unless
        `every_saying`."""
        self._owned(clone_id)
        return self._store.list_memories(clone_id, [fan_id], limit=limit, offset=offset,
                                         include_repeats=every_saying)

    def _own(self, clone_id: str, fan_id: str, memory_id: str) -> Memory:
        self._owned(clone_id)
        found = self._store.get_memories([memory_id])
        if not found or found[0].clone_id != clone_id or found[0].fan_id != fan_id:
            raise NotFoundError(f"No memory {memory_id!r} for this fan: run `clonr memory <clone> --fan <id> list`.")
        return found[0]

    def pin(self, clone_id: str, fan_id: str, memory_id: str, pinned: bool = True) -> Memory:
        self._own(clone_id, fan_id, memory_id)
        self._store.update_memory(memory_id, pinned=pinned)
        return self._store.get_memories([memory_id])[0]

    def restore(self, clone_id: str, fan_id: str, memory_id: str) -> Memory:
        """A memory a knowledge update retired by mistake: it is true again, and recalled again."""
        self._own(clone_id, fan_id, memory_id)
        self._store.update_memory(memory_id, superseded_by=None)
        return self._store.get_memories([memory_id])[0]

    def edit(self, clone_id: str, fan_id: str, memory_id: str, text: str) -> Memory:
        memory = self._own(clone_id, fan_id, memory_id)
        text = " ".join(text.split())
        self._check_length(text, "The memory", "shorten it")
        if not text:
            raise InvalidInputError("A memory needs some text: give the new text, or delete the memory.")
        edited = replace(memory, text=text)
        before, after = self._around(memory)
        self._embed_again(clone_id, fan_id, [(edited, before)] + ([(after, edited)] if after else []))
        self._store.release_repeats(memory)  # it says something else now: the sayings it stood for stand alone
        self._store.update_memory(memory_id, text=text, gist=lexical.gist(text))
        return self._store.get_memories([memory_id])[0]

    def _around(self, memory: Memory) -> tuple[Memory | None, Memory | None]:
        """(the memory just before, the next memory if it was embedded with this one) in the fan's stream."""
        around = dict(self._store.adjacent_memories([memory], distance=1)[memory.id])
        after = around.get(1)
        return around.get(-1), after if after and _answered(after, memory) else None

    def _embed_again(self, clone_id: str, fan_id: str, lines: list[tuple[Memory, Memory | None]]) -> None:
        """Re-embed memories, each with the line before it (`embedding_text`)."""
        self._vectors(clone_id, fan_id).add_texts([embedding_text(m.text, _answered(m, p)) for m, p in lines],
                                                  [{"kind": m.kind} for m, _ in lines], ids=[m.id for m, _ in lines])

    def rewrite_message(self, clone: Clone, message_id: int, text: str) -> None:
        """A corrected reply: the observations made from that message now say what the creator wrote."""
        for memory in self._store.memories_of_message(message_id):
            if memory.clone_id == clone.id:
                self.edit(clone.id, memory.fan_id, memory.id, f"{clone.name}: {text}")

    def forget_messages(self, clone_id: str, fan_id: str, message_ids: list[int]) -> None:
        """Delete the observations made from these messages (an exchange that is being redone)."""
        for message_id in message_ids:
            for memory in self._store.memories_of_message(message_id):
                if (memory.clone_id, memory.fan_id) == (clone_id, fan_id):
                    self.delete(clone_id, fan_id, memory.id)

    def delete(self, clone_id: str, fan_id: str, memory_id: str) -> None:
        """Delete a memory everywhere, including from the vector of the line after it, which was embedded with
        its text: that line is embedded again with the line before the deleted one."""
        memory = self._own(clone_id, fan_id, memory_id)
        before, after = self._around(memory)
        self._store.release_repeats(memory)
        self._store.delete_memories([memory_id])
        self._vectors(clone_id, fan_id).delete([memory_id])
        if after:
            self._embed_again(clone_id, fan_id, [(after, before)])

    def forget_fan(self, clone_id: str, fan_id: str) -> int:
        """Delete everything about one fan: memories, their vectors, and the conversation."""
        self._owned(clone_id)
        ids = self._store.memory_ids(clone_id, fan_id)
        self._store.delete_fan(clone_id, fan_id)  # memories, summary and messages together
        self._vectors(clone_id, fan_id).delete(ids)
        return len(ids)


def read_transcript(path: Path, max_bytes: int) -> list[TranscriptLine]:
    """A JSON list of {"speaker": "fan"|"clone", "text", "time": ISO-8601, optional "name", "id"}."""
    try:
        readable = path.is_file()
    except OSError:  # a name too long for the file system
        readable = False
    if not readable:
        raise InvalidInputError(f"{str(path)[:120]} is not a readable file: check the path.")
    if path.stat().st_size > max_bytes:
        raise InvalidInputError(f"{path.name} is larger than {max_bytes:,} bytes (CLONR_MAX_FILE_BYTES): split it.")
    try:
        raw = load_json(path.name, path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path.name} is not UTF-8 text: export the transcript again.") from None
    if not isinstance(raw, list):
        raise InvalidInputError(f"{path.name} must hold a JSON list of lines: see `clonr memory --help`.")
    lines = []
    for n, item in enumerate(raw, start=1):
        try:
            time = datetime.fromisoformat(str(item["time"]))
            time = (time if time.tzinfo else time.replace(tzinfo=UTC)).astimezone(UTC)  # out of range: refused
            if not all(isinstance(item.get(key), str) for key in ("speaker", "text")) or \
                    not isinstance(item.get("name") or "", str):
                raise TypeError("speaker, text and name are texts")
            lines.append(TranscriptLine(speaker=item["speaker"], text=item["text"], time=time,
                                        name=item.get("name"), ref=str(item.get("id", n))))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            raise InvalidInputError(f"{path.name}: line {n} needs \"speaker\", \"text\" (texts) and an ISO-8601 "
                                    "\"time\": fix it and import again.") from None
    return lines
