"""One chat turn for every surface: gather what the clone knows once, within one budget, and stream the reply.

The one-to-one chat (CLI, studio, widget), group chats, the fidelity check and the recall previews of the
studio and the CLI all come through `ChatService`; they differ only in `TurnOptions` and in whose
conversation it is. The prompt only grows at its end (see `clonr.chat.prompt`): what a turn is given stays in
the conversation after its message, each later turn adds only what is new, and the conversation is trimmed
in blocks, so a model that reuses its prompt's prefix reads a few hundred new tokens a turn, not the whole.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.vectorstores import VectorStore

from clonr.chat.context import ContextRef, excerpt, shown
from clonr.chat.disclosure import asks_if_ai, discloses, disclosure
from clonr.chat.prompt import (
    Given,
    Line,
    Prefix,
    PromptPlan,
    PromptSection,
    build_prompt,
    check_message,
    example_line,
    fixed_prefix,
)
from clonr.clones import CloneService
from clonr.clones.acting import ActsFor
from clonr.config import Settings
from clonr.errors import ClonrError, InvalidInputError, ModelError, NotFoundError
from clonr.jobs import Foreground, JobQueue, process_gone, this_process
from clonr.llm import context_tokens, count_tokens, keep_prompt_state
from clonr.memory import InPrompt, MemoryService, RecalledMemory
from clonr.persona.dialogues import DialogueService
from clonr.store import SHARED_FAN, Bill, Clone, Message, ReplyDraft, SqlStore

log = logging.getLogger(__name__)
_FAN_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
NOTES_TO_RETRIEVE = 8
HISTORY_TO_LOAD = 100
THOUGHT_TOKENS = 60
DRAFT_SECONDS = 2.0  # how often a streaming reply saves what it has sent (ReplyDraft)
DRAFT_STALE = timedelta(minutes=10)  # a draft not saved for this long died with its process, wherever it was
_SAFETY_MARGIN = 16
KEEP_AFTER_TRIM = 1 / 3  # of the conversation's room: what a trim keeps (the model reads it again once)
MEMORY_SHARE = 0.7  # of a message's information budget, for memories (see RESULTS.md, answer quality)
NOTES_SHARE = 0.9  # of what memories leave, for note excerpts; related example dialogues get the rest
_WINDOWS_KEPT = 50_000


@dataclass(frozen=True)
class TurnOptions:
    """What differs between surfaces. `remember`: store the exchange and make memories of it; `touch`: mark
    recalled memories as used (recency); `think`: an inner monologue first (`thought`: one the creator wrote);
    `exclude_examples`: example dialogues kept out of the prompt (the fidelity check's held-out answers);
    `channel` and `key_id`: who the reply is for, in the usage ledger; `bill`: who pays for it (none: nobody is
    charged); `conversation_id`: which of the fan's conversations it continues ('' is their first);
    `idempotency`: the (key id, Idempotency-Key) the stored reply answers."""

    remember: bool = True
    touch: bool = True
    think: bool = False
    thought: str = ""
    exclude_examples: frozenset[str] = frozenset()
    channel: str = "studio"  # where the reply goes, for the usage ledger: studio, cli, widget, api
    key_id: str | None = None  # the API key that asked, if any
    bill: Bill | None = None
    conversation_id: str = ""
    idempotency: tuple[str, str] | None = None


@dataclass(frozen=True)
class Conversation:
    """Whose conversation a turn continues, from the clone's point of view: its messages (oldest first, with
    what their turns were given) and whether they start at the very beginning (the greeting goes first)."""

    key: tuple[str, ...]
    messages: Sequence[Message]
    from_the_start: bool
    private: bool = True  # one-to-one: what is given stays in the record; a group's replies are read by all
    line_source: Callable[[int], str] | None = None  # the source memories of a line name; None: its message id

    def in_prompt(self, lines: Sequence[Message]) -> InPrompt:
        """What recall should know of the lines the prompt shows, so it does not repeat them."""
        if self.line_source is None:
            return InPrompt(messages=frozenset(m.id for m in lines))
        return InPrompt(sources=frozenset(self.line_source(m.id) for m in lines))


@dataclass
class _Gathered:
    given: Given = field(default_factory=Given)
    ref: ContextRef = field(default_factory=ContextRef)
    recalled: list[RecalledMemory] = field(default_factory=list)
    notes: list[Document] = field(default_factory=list)


class Turn:
    """A reply being streamed. Iterate it for text pieces; both messages are stored when it finishes.

    If the consumer stops early (Ctrl-C, a closed browser tab) or the model fails midway, what was said so far
    is stored marked interrupted, so the record matches what the fan saw and never passes a fragment off as a
    whole reply.
    """

    def __init__(self, model: BaseChatModel, clone: Clone, fan_id: str, message: str, plan: PromptPlan,
                 recalled: list[RecalledMemory], on_done: Callable[[Turn], None], foreground: Foreground,
                 think: bool = False, thought: str = "", context: ContextRef | None = None,
                 must_disclose: bool = False, options: TurnOptions | None = None,
                 on_failed: Callable[[Turn], None] = lambda turn: None,
                 on_abandoned: Callable[[Turn], None] = lambda turn: None,
                 on_progress: Callable[[Turn, str], None] | None = None) -> None:
        self._must_disclose = must_disclose  # the fan asked whether the clone is an AI (`disclosure`)
        self._on_progress = on_progress  # saves what has been sent so far (at the first words, then every 2 s)
        self.draft_id = uuid.uuid4().hex
        self.options = options or TurnOptions()
        self._on_failed = on_failed  # records a failed attempt (the usage ledger)
        self._on_abandoned = on_abandoned
        self.first_token_ms: int | None = None
        self.total_ms = 0
        self._on_done = on_done  # stores the reply (one-to-one chat or group) once it is complete
        self._foreground = foreground
        self._think = think or bool(thought)
        self.thought = thought  # the inner monologue, when asked for: shown to the creator, never to the fan
        self.recalled = recalled
        self._model = model
        self.clone = clone
        self.fan_id = fan_id
        self.message = message
        self.plan = plan
        self.context = context or ContextRef()
        self.reply = ""
        self.interrupted = False
        self.stored: tuple[int, int] | None = None  # (message id, reply id) once the exchange is stored
        self.usage: dict[str, int] = {}

    def __iter__(self) -> Iterator[str]:
        pieces: list[str] = []
        finished = False
        started = next_save = time.monotonic()
        self._foreground.enter()  # background memory work waits while the fan waits for this reply
        try:
            messages = self._with_thought() if self._think else self.plan.messages
            chunks = iter(self._model.stream(messages))
            with keep_prompt_state():  # read by a local model as its stream starts
                chunk = next(chunks, None)
            while chunk is not None:
                if chunk.usage_metadata:
                    self.usage = dict(chunk.usage_metadata)
                if chunk.text:
                    if self.first_token_ms is None:
                        self.first_token_ms = round((time.monotonic() - started) * 1000)
                    pieces.append(chunk.text)
                    yield chunk.text
                    if self._on_progress is not None and time.monotonic() >= next_save:
                        self._progress("".join(pieces))
                        next_save = time.monotonic() + DRAFT_SECONDS
                chunk = next(chunks, None)
            if self._must_disclose and not discloses("".join(pieces)):
                pieces.append((" " if pieces else "") + disclosure(self.clone.name))
                yield pieces[-1]
            finished = True
        except ClonrError:
            raise
        except Exception as exc:
            log.exception("chat model failed")
            self.total_ms = round((time.monotonic() - started) * 1000)
            if not pieces:
                self._on_failed(self)
            raise ModelError(f"The chat model failed ({type(exc).__name__}: {str(exc)[:160]}): check the model "
                             "settings with `clonr doctor` and try again.") from exc
        finally:
            try:
                if pieces and not self.reply:
                    self.total_ms = round((time.monotonic() - started) * 1000)
                    self._save("".join(pieces), interrupted=not finished)
            finally:
                self._foreground.leave()

    def _progress(self, sent: str) -> None:
        try:
            self._on_progress(self, sent)  # type: ignore[misc]
        except Exception:  # a missed save costs only the fragment a crash would keep: the fan reads on
            log.exception("could not save the reply in progress")

    def _with_thought(self) -> list[BaseMessage]:
        """Inner monologue: a short private thought first, then the reply is written with it in mind."""
        *context, message = self.plan.messages
        ask = HumanMessage(f"{message.text}\n\n(Before you reply: in one or two sentences, think privately as "
                           f"{self.clone.name} about what you feel and want to say. Write only the thought.)")
        if not self.thought:  # a thought the creator wrote is used as it is
            self.thought = " ".join(self._model.invoke([*context, ask], max_tokens=THOUGHT_TOKENS).text.split())
        return [*context, SystemMessage(f"Your private thought before replying (never say it aloud): "
                                        f"{self.thought}"), message]

    def _save(self, text: str, interrupted: bool) -> None:
        self.reply = text.strip() or text
        self.interrupted = interrupted
        self._on_done(self)

    def tokens(self) -> tuple[int, int]:
        """(prompt, reply) tokens: the model's own count, or the prompt's planned size when it gave none."""
        return int(self.usage.get("input_tokens", self.plan.tokens)), int(self.usage.get("output_tokens", 0))

    def abandon(self) -> None:
        """The turn will never run (its client left while it waited for the model): free what it claimed."""
        self._on_abandoned(self)

    def text(self) -> str:
        """Run the turn to the end and return the whole reply."""
        for _ in self:
            pass
        return self.reply


def _forget(turn: Turn) -> None:
    """A turn that leaves no trace (the fidelity check's questions, previews)."""


def _supplied(clone: Clone, fan_id: str, history: Sequence[tuple[str, str]]) -> Conversation:
    """A conversation as a stateless client sent it. Its lines get negative ids, so they never name a stored
    message; the client's first line keys its window, so a resent conversation keeps its prompt's prefix."""
    now = datetime.now(UTC)
    lines = [Message(id=n - len(history), clone_id=clone.id, fan_id=fan_id, role=role, content=text, created_at=now)
             for n, (role, text) in enumerate(history)]
    first = hashlib.sha256(history[0][1].encode()).hexdigest()[:16] if history else ""
    return Conversation(("client", clone.id, fan_id, first), lines, from_the_start=True)


def ledger_row(turn: Turn) -> dict[str, object]:
    """A reply attempt's row of the usage ledger (the store adds the status and the stored reply)."""
    prompt, completion = turn.tokens()
    return {"owner_id": turn.clone.owner_id, "channel": turn.options.channel, "key_id": turn.options.key_id,
            "prompt_tokens": prompt, "completion_tokens": completion,
            "first_token_ms": turn.first_token_ms, "total_ms": turn.total_ms, "bill": turn.options.bill}


class ChatService(ActsFor):
    def __init__(self, store: SqlStore, clones: CloneService, settings: Settings, model: Callable[[], BaseChatModel],
                 index_for: Callable[[Clone], VectorStore], memory: MemoryService, worker: JobQueue,
                 dialogues: DialogueService) -> None:
        self._store = store
        self._clones = clones
        self._settings = settings
        self._model = model
        self._index_for = index_for
        self._memory = memory
        self.worker = worker
        self._dialogues = dialogues
        self._token_counts: dict[tuple[int, str], int] = {}
        # Where each conversation's window starts (a message id): it moves only when the window is trimmed.
        self._window_starts: OrderedDict[tuple[str, ...], int] = OrderedDict()

    def model(self) -> BaseChatModel:
        return self._model()

    def query_vector(self, clone: Clone, text: str) -> list[float]:
        """Embed a message once per turn; notes, examples and memories are all searched with it."""
        return self._index_for(clone).embeddings.embed_query(text)

    def count(self, model: BaseChatModel, text: str) -> int:
        """Memory lines and notes recur turn after turn: count their tokens once (a bounded cache)."""
        key = (id(model), text)
        if key not in self._token_counts:
            if len(self._token_counts) > 65_536:
                self._token_counts.clear()
            self._token_counts[key] = count_tokens(model, text)
        return self._token_counts[key]

    def validate_message(self, message: str) -> str:
        message = (message or "").strip()
        if not message:
            raise InvalidInputError("The message is empty: type something to say.")
        if len(message) > self._settings.max_message_chars:
            raise InvalidInputError(f"The message is {len(message):,} characters; the limit is "
                                    f"{self._settings.max_message_chars:,} (CLONR_MAX_MESSAGE_CHARS): shorten it.")
        return message

    @staticmethod
    def validate_fan(fan_id: str) -> str:
        if not _FAN_ID.match(fan_id or ""):
            raise InvalidInputError(f"Fan id {fan_id!r} is not valid: use 1-64 letters, digits or ._:@-")
        return fan_id

    def prompt_budget(self, model: BaseChatModel) -> int:
        """The prompt always leaves room for a full reply inside the model's context window."""
        room = context_tokens(model, self._settings) - self._settings.reply_tokens - _SAFETY_MARGIN
        return max(128, min(self._settings.prompt_tokens, room))

    def information_budget(self, model: BaseChatModel) -> int:
        """Tokens of memories, notes and examples newly given with one message."""
        return min(self._settings.information_tokens, self.prompt_budget(model) // 4)

    # -- one-to-one -----------------------------------------------------------------------------

    def start_turn(self, clone_ref: str, message: str, fan_id: str = "me", think: bool = False,
                   thought: str = "", exclude_examples: frozenset[str] = frozenset(), remember: bool = True,
                   touch: bool = True, channel: str = "studio", key_id: str | None = None,
                   conversation_id: str = "", history: Sequence[tuple[str, str]] | None = None,
                   idempotency: tuple[str, str] | None = None, bill: Bill | None = None) -> Turn:
        """Prepare a reply in the fan's conversation; iterate the Turn to stream it (see `TurnOptions`).
        `history`: (role, text) lines a stateless client sent before `message`; they are the recent history
        instead of the stored conversation (the exchange is stored in it all the same)."""
        options = TurnOptions(remember=remember, touch=touch, think=think or bool(thought), thought=thought,
                              exclude_examples=exclude_examples, channel=channel, key_id=key_id, bill=bill,
                              conversation_id=conversation_id, idempotency=idempotency)
        with self.worker.foreground:  # the fan is waiting: background jobs (memory writes) start after this
            clone = self._owned(clone_ref)
            message = self.validate_message(message)
            fan_id = self.validate_fan(fan_id)
            conversation = self.conversation(clone, fan_id, conversation_id) if history is None else \
                _supplied(clone, fan_id, history)
            return self.compose(clone, fan_id, message, conversation, options,
                                self._finish if remember else self._counted,
                                on_progress=self._save_draft if remember else None)

    def preview(self, clone_ref: str, fan_id: str, message: str) -> Turn:
        """What a reply to `message` would be given, without answering, storing or marking anything: the
        studio's and the CLI's recall previews. Only its `recalled` and `plan` are meant to be read."""
        clone = self._owned(clone_ref)
        return self.compose(clone, self.validate_fan(fan_id), self.validate_message(message),
                            self.conversation(clone, fan_id), TurnOptions(remember=False, touch=False), _forget)

    def conversation(self, clone: Clone, fan_id: str, conversation_id: str = "") -> Conversation:
        messages = self._store.recent_messages(clone.id, fan_id, HISTORY_TO_LOAD, conversation_id=conversation_id)
        return Conversation(("fan", clone.id, fan_id, conversation_id), messages, len(messages) < HISTORY_TO_LOAD)

    # -- the turn builder -----------------------------------------------------------------------

    def compose(self, clone: Clone, fan_id: str, message: str, conversation: Conversation, options: TurnOptions,
                on_done: Callable[[Turn], None], query: str | None = None,
                on_progress: Callable[[Turn, str], None] | None = None) -> Turn:
        """The one place a prompt is built. `fan_id`: whose memories are recalled (the fan who spoke);
        `message`: what the model is asked to answer; `query`: what recall searches with (the message)."""
        model = self._model()

        def count(text: str) -> int:
            return self.count(model, text)

        budget = self.prompt_budget(model) - (THOUGHT_TOKENS + 40 if options.think else 0)
        message_tokens = check_message(message, budget, count)
        state, about_fan = self._memory.summaries(clone.id, fan_id)
        prefix = self._prefix(clone, state, budget, count, options.exclude_examples)
        information = self.information_budget(model)
        start, window = self._window(clone, fan_id, conversation, budget - prefix.tokens - information
                                     - message_tokens, count)
        kept = conversation.messages[start:]
        greeting = clone.greeting if conversation.from_the_start and start == 0 else ""
        query = query or message
        query_vector = self.query_vector(clone, query)
        gathered = self._gather(clone, fan_id, query, query_vector, about_fan, [line.ref for line in window],
                                conversation.in_prompt(kept), prefix, information, count, options)
        given = gathered.given.render(clone.name)
        items = len(gathered.recalled) + len(gathered.given.notes) + len(gathered.given.examples)
        plan = build_prompt(prefix, window, given, message, count, budget, notes=gathered.notes,
                            memories=[r.line for r in gathered.recalled], given_items=items, greeting=greeting)
        return Turn(model, clone, fan_id, message, plan, gathered.recalled, on_done, self.worker.foreground,
                    think=options.think, thought=" ".join(options.thought.split())[:600],
                    context=gathered.ref if conversation.private else ContextRef(), must_disclose=asks_if_ai(message),
                    options=options, on_failed=self._failed, on_abandoned=self._abandoned, on_progress=on_progress)

    def _prefix(self, clone: Clone, state: str, budget: int, count: Callable[[str], int],
                exclude: frozenset[str] = frozenset()) -> Prefix:
        examples = [(d.id, (d.user_text, d.char_text)) for d in self._store.list_dialogues(clone.id)
                    if d.id not in exclude]
        return fixed_prefix(clone, state, examples, budget, count)

    def warm(self, clone: Clone) -> None:
        """Have a model that keeps prompt states read the clone's fixed prefix now, off the reply path (the
        widget runs it on the background worker): the first fan's first reply then reads only its own part."""
        model = self._model()
        if not getattr(model, "keeps_prompt_state", False):
            return
        state, _ = self._memory.summaries(clone.id, SHARED_FAN)
        prefix = self._prefix(clone, state, self.prompt_budget(model), lambda text: self.count(model, text))
        with keep_prompt_state():
            model.invoke([SystemMessage(prefix.text), *([AIMessage(clone.greeting)] if clone.greeting else [])],
                         max_tokens=1)

    def _window(self, clone: Clone, fan_id: str, conversation: Conversation, room: int,
                count: Callable[[str], int]) -> tuple[int, list[Line]]:
        """The messages the prompt shows (from the index returned), with what their turns were given.

        The start moves only when the window outgrows `room`, and then by a block (to a third of the room),
        so the prompt's prefix stays the same for several turns."""
        messages = conversation.messages
        remembered = self._window_starts.get(conversation.key)
        first = 0 if remembered is None else next((n for n, m in enumerate(messages) if m.id >= remembered),
                                                  len(messages))
        lines = self._lines(clone, fan_id, messages[first:])
        costs = [line.tokens(count) for line in lines]
        if sum(costs) > room:
            keep, spent, cut = int(room * KEEP_AFTER_TRIM), 0, len(lines)
            while cut > 0 and spent + costs[cut - 1] <= keep:
                cut -= 1
                spent += costs[cut]
            while cut < len(lines) and messages[first + cut].role != "user":
                cut += 1  # a window starts with a fan's message, never with half an exchange
            first, lines = first + cut, lines[cut:]
        self._window_starts[conversation.key] = messages[first].id if first < len(messages) else \
            (messages[-1].id + 1 if messages else 0)
        self._window_starts.move_to_end(conversation.key)
        if len(self._window_starts) > _WINDOWS_KEPT:
            self._window_starts.popitem(last=False)
        return first, lines

    def _lines(self, clone: Clone, fan_id: str, messages: Sequence[Message]) -> list[Line]:
        """Messages as the model reads them, each fan's message after what its turn was given (its memories
        read again now: an edited one shows its new text, a deleted one is gone)."""
        refs = [ContextRef.from_json(m.context) for m in messages]
        memory_ids = [i for ref in refs for i in ref.memories]
        example_ids = [i for ref in refs for i in ref.examples]
        memories = {m.id: m for m in self._store.get_memories(memory_ids)} if memory_ids else {}
        examples = {d.id: d for d in self._store.get_dialogues(clone.id, example_ids)} if example_ids else {}
        lines = []
        for message, ref in zip(messages, refs, strict=True):
            given = Given(ref.about_fan, ref.entities,
                          [memories[i] for i in ref.memories if i in memories
                           and memories[i].fan_id in (fan_id, SHARED_FAN)],
                          [text for _, text in ref.notes],
                          [(examples[i].user_text, examples[i].char_text) for i in ref.examples if i in examples])
            lines.append(Line(message.role, message.content, given.render(clone.name), ref))
        return lines

    def _gather(self, clone: Clone, fan_id: str, query: str, query_vector: list[float], about_fan: str,
                refs: list[ContextRef], in_window: InPrompt, prefix: Prefix, budget: int,
                count: Callable[[str], int], options: TurnOptions) -> _Gathered:
        """What is new for this message, within `budget` tokens: what is known of the fan (when it changed),
        the people and things it names, memories (recall fills exactly its share), note excerpts and example
        dialogues that the window and the fixed prefix do not already hold."""
        memories_shown, notes_shown, examples_shown, entities_shown = shown(refs)
        about = "" if any(ref.about_fan == about_fan for ref in refs) else about_fan
        entities = tuple((name, what) for name, what in self._memory.mentioned(clone.id, fan_id, query).items()
                         if name not in entities_shown)
        spent = count(Given(about, entities, notes=["-"]).render(clone.name))  # with the headers
        recalled = self._memory.recall(clone.id, fan_id, query, int((budget - spent) * MEMORY_SHARE), count,
                                       in_prompt=in_window, exclude_ids=memories_shown, touch=options.touch,
                                       query_vector=query_vector)
        spent += sum(r.tokens for r in recalled)
        notes, excerpts = [], []
        room = int((budget - spent) * NOTES_SHARE)
        for note in self._index_for(clone).similarity_search_by_vector(query_vector, k=NOTES_TO_RETRIEVE):
            if room < 12:
                break
            text = excerpt(note.page_content, query, room, count, skip=notes_shown)
            if text:
                notes.append(note)
                excerpts.append((note.id or "", text))
                room -= count(text) + 2
                spent += count(text) + 2
        dialogues = []
        for dialogue in self._dialogues.relevant(clone, query_vector, exclude=prefix.example_ids | examples_shown
                                                 | options.exclude_examples):
            cost = count(example_line(clone.name, dialogue.user_text, dialogue.char_text))
            if spent + cost <= budget:
                dialogues.append(dialogue)
                spent += cost
        given = Given(about, entities, [r.memory for r in recalled], [text for _, text in excerpts],
                      [(d.user_text, d.char_text) for d in dialogues])
        while dialogues and count(given.render(clone.name)) > budget:  # headers the estimate missed
            dialogues.pop()
            given = replace(given, examples=given.examples[:-1])
        ref = ContextRef(tuple(r.memory.id for r in recalled), tuple(excerpts), tuple(d.id for d in dialogues),
                         about, entities)
        return _Gathered(given, ref, recalled, notes)

    def _finish(self, turn: Turn) -> None:
        """Store both messages and the reply's ledger row together; they become memories on the worker, never
        delaying the fan."""
        message_ids = self._store.add_exchange(turn.clone.id, turn.fan_id, turn.message, turn.reply,
                                               context=turn.context.to_json(),
                                               status="interrupted" if turn.interrupted else "complete",
                                               usage=ledger_row(turn), conversation_id=turn.options.conversation_id,
                                               idempotency=turn.options.idempotency, draft_id=turn.draft_id)
        turn.stored = message_ids
        try:
            self._memory.remember_later(turn.clone.id, turn.fan_id, *message_ids)
        except Exception:  # the reply is stored and charged: the fan gets it; a server's start queues this again
            log.exception("could not queue the memory work of messages %s; `catch_up` will", message_ids)

    def _failed(self, turn: Turn) -> None:
        self._store.add_usage(turn.clone.id, turn.fan_id, "failed", ledger_row(turn))
        self._abandoned(turn)

    def _save_draft(self, turn: Turn, sent: str) -> None:
        """What the fan has been sent so far, kept until the exchange is stored (`recover_interrupted`)."""
        self._store.save_draft(ReplyDraft(
            turn.draft_id, turn.clone.id, turn.fan_id, turn.options.conversation_id, turn.message, sent,
            turn.context.to_json(), turn.clone.owner_id, turn.options.channel, turn.options.key_id, this_process(),
            datetime.now(UTC)))

    def recover_interrupted(self) -> int:
        """Store the replies whose process died while they streamed (killed, its host lost) with what the fan had
        been sent, marked interrupted and charged nothing; how many. A server runs this as it starts, before
        `MemoryService.catch_up` queues their memories; a draft of a live process elsewhere is left for 10
        minutes."""
        stale = datetime.now(UTC) - DRAFT_STALE
        stored = [draft for draft in self._store.reply_drafts()
                  if (process_gone(draft.claimed_by) or draft.updated_at < stale) and self._store.store_draft(draft)]
        if stored:
            log.info("stored %d replies cut off by a process that died, as interrupted", len(stored))
        return len(stored)

    def _abandoned(self, turn: Turn) -> None:
        self._store.drop_draft(turn.draft_id)
        if turn.options.idempotency is not None:  # nothing was stored: a retry with the same key may run
            self._store.release_idempotency_key(*turn.options.idempotency)

    # -- autocomplete ---------------------------------------------------------------------------

    def draft(self, clone_ref: str, text: str, fan_id: str, channel: str = "api", key_id: str | None = None,
              bill: Bill | None = None) -> Turn:
        """Continue `text` the way the creator writes (drafting replies and posts): the clone's own answers in
        the example dialogues nearest the text, and excerpts of their notes, are its style. Nothing is stored
        but the attempt's row in the usage ledger (under fan `fan_id`)."""
        clone = self._owned(clone_ref)
        text = self.validate_message(text)
        model = self._model()

        def count(piece: str) -> int:
            return self.count(model, piece)

        budget = self.information_budget(model)
        query_vector = self.query_vector(clone, text)
        samples: list[str] = []
        for dialogue in self._dialogues.relevant(clone, query_vector):
            if count("\n".join([*samples, dialogue.char_text])) > budget // 2:
                break
            samples.append(dialogue.char_text)
        notes = [excerpt(note.page_content, text, budget // 4, count)
                 for note in self._index_for(clone).similarity_search_by_vector(query_vector, k=2)]
        system = (f"You are {clone.name}. Continue the text you are given in your own voice, the way you write: "
                  "reply with the continuation only, no preamble, no quotes.")
        if samples:
            system += "\n\nHow you write:\n" + "\n".join(f"- {sample}" for sample in samples)
        if any(notes):
            system += "\n\nWhat you know (your notes):\n" + "\n".join(note for note in notes if note)
        messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(text)]
        plan = PromptPlan(messages, [PromptSection("style", count(system), len(samples)),
                                     PromptSection("text", count(text), 1)], self.prompt_budget(model))
        options = TurnOptions(remember=False, touch=False, channel=channel, key_id=key_id, bill=bill)
        return Turn(model, clone, self.validate_fan(fan_id), text, plan, [], self._counted, self.worker.foreground,
                    options=options, on_failed=self._failed)

    def _counted(self, turn: Turn) -> None:
        """A reply that stores no message (a draft, a fidelity check's answer): its ledger row only."""
        self._store.add_usage(turn.clone.id, turn.fan_id, "interrupted" if turn.interrupted else "complete",
                              ledger_row(turn))

    # -- corrections ----------------------------------------------------------------------------

    def answer_again(self, clone_ref: str, fan_id: str, reply_id: int, thought: str) -> Turn:
        """User-guided monologue: replace the last reply with one made from a thought the creator wrote."""
        clone = self._owned(clone_ref)
        reply = self._own_reply(clone, fan_id, reply_id)
        latest = self._store.recent_messages(clone.id, fan_id, 1)
        asked = self._store.previous_message(reply)
        if latest[-1].id != reply.id or asked is None or asked.role != "user":
            raise InvalidInputError("Only the last reply can be answered again: correct older ones instead.")
        if not thought.strip():
            raise InvalidInputError("The thought is empty: write what the clone should think before answering.")
        self.worker.drain()  # the exchange's memories must exist before they are forgotten
        self._memory.forget_messages(clone.id, fan_id, [asked.id, reply.id])
        self._store.delete_messages([asked.id, reply.id])
        return self.start_turn(clone.id, asked.content, fan_id, thought=thought)

    def _own_reply(self, clone: Clone, fan_id: str, message_id: int) -> Message:
        message = self._store.get_message(message_id)
        if message is None or (message.clone_id, message.fan_id, message.role) != (clone.id, fan_id, "assistant"):
            raise NotFoundError(f"No reply {message_id} by {clone.name} in this conversation: pick one of its replies.")
        return message

    def correct_reply(self, clone_ref: str, fan_id: str, message_id: int, text: str,
                      save_as_example: bool = False) -> Message:
        """User-guided correction: the creator rewrites one of the clone's replies in the record and in memory,
        and may keep the exchange as an example dialogue so the clone talks that way from now on."""
        clone = self._owned(clone_ref)
        message = self._own_reply(clone, fan_id, message_id)
        text = self.validate_message(text)
        self._store.update_message(message_id, text)
        self._memory.rewrite_message(clone, message_id, text)
        if save_as_example:
            asked = self._store.previous_message(message)
            if asked is None or asked.role != "user":
                raise InvalidInputError("That reply answers no message: it cannot become an example dialogue.")
            self._dialogues.add(clone.id, asked.content, text, category="correction", origin="correction")
        return self._store.get_message(message_id)  # type: ignore[return-value]

    def history(self, clone_ref: str, fan_id: str = "me", limit: int = 100) -> list[Message]:
        clone = self._owned(clone_ref)
        return self._store.recent_messages(clone.id, self.validate_fan(fan_id), limit)
