"""The icebreaker interview: a bot asks the creator questions; their answers become example dialogues.

It asks from the least-covered category first, so a short session still spans a life; asks one short
follow-up when an answer is thin; can be skipped or stopped at any time, and resumes where it stopped (the
pending question is stored, not kept in memory).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from clonr.clones import CloneService
from clonr.clones.acting import ActsFor
from clonr.llm.structured import ask_json
from clonr.persona.dialogues import DialogueService
from clonr.persona.questions import CATEGORIES, QUESTIONS, Question, question
from clonr.store import SqlStore

__all__ = ["THIN_ANSWER_WORDS", "InterviewService", "InterviewStep"]

THIN_ANSWER_WORDS = 8  # an answer shorter than this gets one follow-up question
_FOLLOW_UP_SCHEMA = {"type": "object", "properties": {"question": {"type": "string", "maxLength": 160}},
                     "required": ["question"]}
_FALLBACK_FOLLOW_UPS = ("Could you tell me a bit more about that?", "What makes you say that?",
                        "Can you give me an example?")


@dataclass(frozen=True)
class InterviewStep:
    """What the interviewer asks now, and how far the interview has come."""

    question_id: str
    category: str
    text: str
    is_follow_up: bool
    answered: int  # questions answered so far
    total: int  # questions in the bank
    by_category: dict[str, int]  # answers per category


class InterviewService(ActsFor):
    def __init__(self, store: SqlStore, clones: CloneService, dialogues: DialogueService,
                 model: Callable[[], BaseChatModel]) -> None:
        self._store = store
        self._clones = clones
        self._dialogues = dialogues
        self._model = model

    def current(self, clone_ref: str) -> InterviewStep | None:
        """The question waiting for an answer (asked again after a restart), or the next one; None when done."""
        clone = self._owned(clone_ref)
        state = self._store.interview_state(clone.id)
        pending = question(state["pending_question"] or "")
        if pending is None:
            pending = self._next(clone.id, state["skipped"])
            if pending is None:
                return None
            self._store.save_interview_state(clone.id, pending.id, None, state["skipped"])
            state["pending_followup"] = None
        return self._step(clone.id, pending, state["pending_followup"])

    def answer(self, clone_ref: str, text: str) -> InterviewStep | None:
        """Keep the answer as an example dialogue; then a follow-up if it was thin, else the next question."""
        step = self.current(clone_ref)
        if step is None:
            return None
        clone = self._owned(clone_ref)
        self._dialogues.add(clone.id, step.text, text, category=step.category, origin="interview",
                            question_id=step.question_id)
        state = self._store.interview_state(clone.id)
        if not step.is_follow_up and len(text.split()) < THIN_ANSWER_WORDS:
            follow_up = self._follow_up(clone.name, step.text, text)
            self._store.save_interview_state(clone.id, step.question_id, follow_up, state["skipped"])
            return self._step(clone.id, question(step.question_id), follow_up)
        self._store.save_interview_state(clone.id, None, None, state["skipped"])
        return self.current(clone.id)

    def skip(self, clone_ref: str) -> InterviewStep | None:
        """Leave this question (a skipped follow-up just moves on) and ask the next one."""
        step = self.current(clone_ref)
        if step is None:
            return None
        clone = self._owned(clone_ref)
        skipped = self._store.interview_state(clone.id)["skipped"]
        if not step.is_follow_up:
            skipped = [*skipped, step.question_id]
        self._store.save_interview_state(clone.id, None, None, skipped)
        return self.current(clone.id)

    def restart_skipped(self, clone_ref: str) -> None:
        """Offer the skipped questions again."""
        clone = self._owned(clone_ref)
        state = self._store.interview_state(clone.id)
        self._store.save_interview_state(clone.id, state["pending_question"], state["pending_followup"], [])

    def _answered(self, clone_id: str) -> set[str]:
        return {d.question_id for d in self._store.list_dialogues(clone_id) if d.question_id}

    def _next(self, clone_id: str, skipped: list[str]) -> Question | None:
        """An open question from the category with the fewest answers (ties in bank order); the order within
        a category is shuffled per clone, so two clones are not asked the same things in the same order."""
        answered = self._answered(clone_id)
        per_category = Counter(q.category for q in QUESTIONS if q.id in answered)
        for category in sorted(CATEGORIES, key=lambda c: (per_category[c], CATEGORIES.index(c))):
            open_ = [q for q in QUESTIONS if q.category == category and q.id not in answered and q.id not in skipped]
            if open_:
                random.Random(f"{clone_id}:{category}").shuffle(open_)
                return open_[0]
        return None

    def _step(self, clone_id: str, asked: Question, follow_up: str | None) -> InterviewStep:
        answered = self._answered(clone_id)
        by_category = Counter(q.category for q in QUESTIONS if q.id in answered)
        return InterviewStep(asked.id, asked.category, follow_up or asked.text, bool(follow_up), len(answered),
                             len(QUESTIONS), {c: by_category[c] for c in CATEGORIES})

    def _follow_up(self, name: str, asked: str, answer: str) -> str:
        """One short follow-up question about a thin answer, from the model (a stock one if it fails)."""
        prompt = (f"You are interviewing {name} to learn how they think and talk. You asked: \"{asked}\" and they "
                  f"answered: \"{answer}\". Ask ONE short, friendly follow-up question (under 20 words) that "
                  'invites a story or a reason. Answer as JSON: {"question": "..."}')
        value = ask_json(self._model(), prompt, _FOLLOW_UP_SCHEMA, max_tokens=80, temperature=0.5) or {}
        text = " ".join(str(value.get("question", "")).split())
        if 5 <= len(text) <= 200 and text.endswith("?"):
            return text
        return random.Random(asked + answer).choice(_FALLBACK_FOLLOW_UPS)
