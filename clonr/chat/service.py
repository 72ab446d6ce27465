"""One chat turn: validate → retrieve notes → assemble the prompt → stream the reply → persist both messages."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.vectorstores import VectorStore

from clonr.chat.prompt import MEMORY_SHARE, PromptPlan, build_prompt
from clonr.config import Settings
from clonr.errors import ClonrError, InvalidInputError, ModelError, NotFoundError
from clonr.jobs import BackgroundWorker, Foreground
from clonr.llm import context_tokens, count_tokens
from clonr.memory import MemoryService, RecalledMemory
from clonr.persona.dialogues import DialogueService
from clonr.store import Clone, Message, SqlStore

log = logging.getLogger(__name__)
_FAN_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
NOTES_TO_RETRIEVE = 8
HISTORY_TO_LOAD = 60
THOUGHT_TOKENS = 60
_SAFETY_MARGIN = 16


class Turn:
    """A reply being streamed. Iterate it for text pieces; both messages are stored when it finishes.

    If the consumer stops early (Ctrl-C, a closed browser tab), what was said so far is stored, so the
    conversation on record matches what the fan saw.
    """

    def __init__(self, model: BaseChatModel, clone: Clone, fan_id: str, message: str, plan: PromptPlan,
                 recalled: list[RecalledMemory], on_done: Callable[[Turn], None], foreground: Foreground,
                 think: bool = False, thought: str = "") -> None:
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
        self.reply = ""
        self.usage: dict[str, int] = {}

    def __iter__(self) -> Iterator[str]:
        pieces: list[str] = []
        self._foreground.enter()  # background memory work waits while the fan waits for this reply
        try:
            messages = self._with_thought() if self._think else self.plan.messages
            for chunk in self._model.stream(messages):
                if chunk.usage_metadata:
                    self.usage = dict(chunk.usage_metadata)
                if chunk.text:
                    pieces.append(chunk.text)
                    yield chunk.text
        except ClonrError:
            raise
        except Exception as exc:
            if pieces:
                self._save("".join(pieces))
            log.exception("chat model failed")
            raise ModelError(f"The chat model failed ({type(exc).__name__}: {str(exc)[:160]}): check the model "
                             "settings with `clonr doctor` and try again.") from exc
        finally:
            try:
                if pieces and not self.reply:
                    self._save("".join(pieces))
            finally:
                self._foreground.leave()

    def _with_thought(self) -> list[BaseMessage]:
        """Inner monologue: a short private thought first, then the reply is written with it in mind."""
        *context, message = self.plan.messages
        ask = HumanMessage(f"{message.text}\n\n(Before you reply: in one or two sentences, think privately as "
                           f"{self.clone.name} about what you feel and want to say. Write only the thought.)")
        if not self.thought:  # a thought the creator wrote is used as it is
            self.thought = " ".join(self._model.invoke([*context, ask], max_tokens=THOUGHT_TOKENS).text.split())
        return [*context, SystemMessage(f"Your private thought before replying (never say it aloud): "
                                        f"{self.thought}"), message]

    def _save(self, text: str) -> None:
        self.reply = text.strip() or text
        self._on_done(self)

    def text(self) -> str:
        """Run the turn to the end and return the whole reply."""
        for _ in self:
            pass
        return self.reply


def _forget(turn: Turn) -> None:
    """A turn that leaves no trace (the fidelity check's questions)."""


class ChatService:
    def __init__(self, store: SqlStore, settings: Settings, model: Callable[[], BaseChatModel],
                 index_for: Callable[[Clone], VectorStore], memory: MemoryService, worker: BackgroundWorker,
                 dialogues: DialogueService) -> None:
        self._store = store
        self._settings = settings
        self._model = model
        self._index_for = index_for
        self._memory = memory
        self.worker = worker
        self._dialogues = dialogues
        self._token_counts: dict[tuple[int, str], int] = {}

    def model(self) -> BaseChatModel:
        return self._model()

    def query_vector(self, clone: Clone, text: str) -> list[float]:
        """Embed a message once per turn; notes and memories are both searched with it."""
        return self._index_for(clone).embeddings.embed_query(text)

    def notes_for(self, clone: Clone, text: str, query_vector: list[float] | None = None) -> list[Document]:
        return self._index_for(clone).similarity_search_by_vector(query_vector or self.query_vector(clone, text),
                                                                  k=NOTES_TO_RETRIEVE)

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

    def start_turn(self, clone_ref: str, message: str, fan_id: str = "me", think: bool = False,
                   thought: str = "", exclude_examples: frozenset[str] = frozenset(), remember: bool = True) -> Turn:
        """Prepare a reply; iterate the Turn to stream it. `think`: an inner monologue first (the studio);
        `thought`: that monologue, written by the creator. `exclude_examples` and `remember=False` serve the
        fidelity check: held-out answers stay out of the prompt, and the test exchange is not stored."""
        with self.worker.foreground:  # the fan is waiting: background jobs (memory writes) start after this
            return self._prepare(clone_ref, message, fan_id, think, thought, exclude_examples, remember)

    def _prepare(self, clone_ref: str, message: str, fan_id: str, think: bool, thought: str,
                 exclude_examples: frozenset[str], remember: bool) -> Turn:
        clone = self._store.get_clone(clone_ref)
        message = self.validate_message(message)
        fan_id = self.validate_fan(fan_id)
        model = self._model()
        history = self._store.recent_messages(clone.id, fan_id, HISTORY_TO_LOAD)
        query_vector = self.query_vector(clone, message)
        notes = self.notes_for(clone, message, query_vector)
        think = think or bool(thought)
        budget = self.prompt_budget(model) - (THOUGHT_TOKENS + 40 if think else 0)

        def count(text: str) -> int:
            return self.count(model, text)

        recalled = self._memory.recall(clone.id, fan_id, message, int(budget * MEMORY_SHARE), count,
                                       exclude_messages={m.id for m in history}, query_vector=query_vector)
        state, fan_summary = self._memory.summaries(clone.id, fan_id)
        fan_summary += self._memory.entity_context(clone.id, fan_id, message)
        examples = self._dialogues.relevant(clone, query_vector, exclude=exclude_examples)
        plan = build_prompt(clone, message, history, notes, count, budget, memories=[r.memory for r in recalled],
                            state=state, fan_summary=fan_summary.strip(),
                            examples=[(d.user_text, d.char_text) for d in examples])
        return Turn(model, clone, fan_id, message, plan, recalled, self._finish if remember else _forget,
                    self.worker.foreground, think=think,
                    thought=" ".join(thought.split())[:600])

    def _finish(self, turn: Turn) -> None:
        """Store both messages together; they become memories on the worker, never delaying the fan."""
        message_ids = self._store.add_exchange(turn.clone.id, turn.fan_id, turn.message, turn.reply)
        self.worker.submit(self._memory.remember_exchange, turn.clone, turn.fan_id, turn.message, turn.reply,
                            message_ids)

    def answer_again(self, clone_ref: str, fan_id: str, reply_id: int, thought: str) -> Turn:
        """User-guided monologue: replace the last reply with one made from a thought the creator wrote."""
        clone = self._store.get_clone(clone_ref)
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
        clone = self._store.get_clone(clone_ref)
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
        clone = self._store.get_clone(clone_ref)
        return self._store.recent_messages(clone.id, self.validate_fan(fan_id), limit)
