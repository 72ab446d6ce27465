""""Test my clone": how close the clone's answers come to the creator's own, beside a generic assistant's.

Interview questions the creator answered are held out of the examples for the run; the clone answers them
through the normal turn pipeline (nothing is stored, no memory is marked used), a generic assistant answers
them on the same model, and each answer is scored by embedding similarity to the creator's answer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from clonr.config import Settings
from clonr.errors import InvalidInputError
from clonr.store import SqlStore

if TYPE_CHECKING:  # chat builds on persona's dialogues; the fidelity check only calls the chat service it is given
    from clonr.chat import ChatService

__all__ = ["FidelityItem", "FidelityReport", "FidelityService"]

_BASELINE_PROMPT = "You are a helpful assistant. Answer the user's question."
_FAN = "fidelity-check"


@dataclass(frozen=True)
class FidelityItem:
    question: str
    creator_answer: str
    clone_answer: str
    baseline_answer: str
    clone_score: float  # cosine similarity to the creator's answer
    baseline_score: float


@dataclass(frozen=True)
class FidelityReport:
    items: tuple[FidelityItem, ...]

    @property
    def clone_score(self) -> float:
        return float(np.mean([i.clone_score for i in self.items]))

    @property
    def baseline_score(self) -> float:
        return float(np.mean([i.baseline_score for i in self.items]))

    def worst(self, n: int = 3) -> list[FidelityItem]:
        return sorted(self.items, key=lambda i: i.clone_score)[:n]


class FidelityService:
    def __init__(self, store: SqlStore, chat: ChatService, model: Callable[[], BaseChatModel],
                 embeddings: Callable[[], Embeddings], settings: Settings) -> None:
        self._store = store
        self._chat = chat
        self._model = model
        self._embeddings = embeddings
        self._settings = settings

    def run(self, clone_ref: str, questions: int = 8,
            on_progress: Callable[[int, int], None] | None = None) -> FidelityReport:
        clone = self._store.get_clone(clone_ref)
        answered = [d for d in self._store.list_dialogues(clone.id) if d.origin == "interview"]
        if not answered:
            raise InvalidInputError(f"{clone.name} has no interview answers to compare with: run the icebreaker "
                                    "interview first (clonr interview).")
        held_out = random.Random(clone.id).sample(answered, min(questions, len(answered)))
        excluded = frozenset(d.id for d in held_out)
        model = self._model()
        items = []
        for n, dialogue in enumerate(held_out):
            if on_progress:
                on_progress(n, len(held_out))
            clone_answer = self._chat.start_turn(clone.id, dialogue.user_text, fan_id=_FAN,
                                                 exclude_examples=excluded, remember=False, touch=False).text()
            baseline = model.invoke([SystemMessage(_BASELINE_PROMPT), HumanMessage(dialogue.user_text)],
                                    max_tokens=self._settings.reply_tokens).text
            creator, ours, generic = np.array(self._embeddings().embed_documents(
                [dialogue.char_text, clone_answer or " ", baseline or " "]))
            items.append(FidelityItem(dialogue.user_text, dialogue.char_text, clone_answer, baseline,
                                      _cosine(creator, ours), _cosine(creator, generic)))
        if on_progress:
            on_progress(len(held_out), len(held_out))
        return FidelityReport(tuple(items))


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) or 1.0))
