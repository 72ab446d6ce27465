""""Test my clone": how close the clone's answers come to the creator's own, beside a generic assistant's.

Interview questions the creator answered are held out of the examples for the run; the clone answers them
through the normal turn pipeline (nothing is stored, no memory is marked used), a generic assistant answers
them on the same model, and each answer is scored by embedding similarity to the creator's answer.

The last report is kept with a fingerprint of what the answers depend on (descriptions, greeting, dialogues,
sources, models), so Publish can show it, tell when the clone has changed since, and warn when it is low.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from clonr.clones import CloneService
from clonr.clones.acting import ActsFor
from clonr.config import Settings
from clonr.errors import InvalidInputError
from clonr.store import Clone, Dialogue, SqlStore

if TYPE_CHECKING:  # chat builds on persona's dialogues; the fidelity check only calls the chat service it is given
    from clonr.chat import ChatService

__all__ = ["FidelityCheck", "FidelityItem", "FidelityReport", "FidelityService"]

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

    def as_dict(self) -> dict:
        return {"clone": self.clone_score, "baseline": self.baseline_score,
                "items": [asdict(item) for item in self.items]}

    @classmethod
    def from_dict(cls, data: dict) -> FidelityReport:
        return cls(tuple(FidelityItem(**item) for item in data["items"]))


@dataclass(frozen=True)
class FidelityCheck:
    """A clone's last fidelity report, when it ran, and what Publish should say about it."""

    report: FidelityReport
    checked_at: datetime
    stale: bool  # the clone (or the model) has changed since: the score may no longer hold
    warning: str  # empty when the score is fine


class FidelityService(ActsFor):
    def __init__(self, store: SqlStore, clones: CloneService, chat: ChatService, model: Callable[[], BaseChatModel],
                 embeddings: Callable[[], Embeddings], settings: Settings) -> None:
        self._store = store
        self._clones = clones
        self._chat = chat
        self._model = model
        self._embeddings = embeddings
        self._settings = settings

    def run(self, clone_ref: str, questions: int = 8,
            on_progress: Callable[[int, int], None] | None = None) -> FidelityReport:
        clone = self._owned(clone_ref)
        dialogues = self._store.list_dialogues(clone.id)
        answered = [d for d in dialogues if d.origin == "interview"]
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
                                                 exclude_examples=excluded, remember=False, touch=False,
                                                 channel="fidelity").text()
            baseline = model.invoke([SystemMessage(_BASELINE_PROMPT), HumanMessage(dialogue.user_text)],
                                    max_tokens=self._settings.reply_tokens).text
            creator, ours, generic = np.array(self._embeddings().embed_documents(
                [dialogue.char_text, clone_answer or " ", baseline or " "]))
            items.append(FidelityItem(dialogue.user_text, dialogue.char_text, clone_answer, baseline,
                                      _cosine(creator, ours), _cosine(creator, generic)))
        if on_progress:
            on_progress(len(held_out), len(held_out))
        report = FidelityReport(tuple(items))
        self._store.save_fidelity_check(clone.id, self._fingerprint(clone, dialogues), report.as_dict())
        return report

    def can_run(self, clone_ref: str) -> bool:
        """Whether the clone has interview answers to be checked against."""
        clone = self._owned(clone_ref)
        return any(d.origin == "interview" for d in self._store.list_dialogues(clone.id))

    def last(self, clone_ref: str) -> FidelityCheck | None:
        """The clone's last check, or None if it was never checked."""
        clone = self._owned(clone_ref)
        stored = self._store.last_fidelity_check(clone.id)
        if stored is None:
            return None
        report = FidelityReport.from_dict(stored.report)
        stale = stored.fingerprint != self._fingerprint(clone, self._store.list_dialogues(clone.id))
        return FidelityCheck(report, stored.checked_at, stale, self._warning(report))

    def _warning(self, report: FidelityReport) -> str:
        ours, generic, floor = report.clone_score, report.baseline_score, self._settings.fidelity_warning
        advice = ("answer more icebreaker questions, correct replies in the test chat, or fill in the long "
                  "description before fans meet it.")
        if ours <= generic:
            return (f"Your clone comes no closer to your own answers ({ours:.2f}) than a generic assistant "
                    f"({generic:.2f}): {advice}")
        if ours < floor:
            return f"Your clone's answers are far from yours ({ours:.2f}, below {floor:.2f}): {advice}"
        return ""

    def _fingerprint(self, clone: Clone, dialogues: list[Dialogue]) -> str:
        """A hash of what the clone's answers depend on: when it changes, the last score may no longer hold."""
        s = self._settings
        parts = [clone.short_description, clone.long_description, clone.greeting, clone.avoid_topics,
                 clone.shared_links,
                 [(d.category, d.user_text, d.char_text, d.origin) for d in dialogues],
                 sorted(source.content_hash for source in self._store.list_sources(clone.id)),
                 [s.chat_model, s.openai_model, s.openai_base_url, s.embeddings, s.openai_embedding_model]]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) or 1.0))
