"""How much a memory matters, 1-10: scored by the chat model off the reply path, or by a fixed rule."""

from __future__ import annotations

import re
from typing import Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from clonr.llm.structured import ask_json, with_examples

DEFAULT_IMPORTANCE = 3


class ImportanceScorer(Protocol):
    def score(self, texts: list[str]) -> list[int]: ...


_SALIENT = re.compile(
    r"\b(love[sd]?|hate[sd]?|died|death|born|married|divorce[d]?|engaged|pregnan\w*|baby|moved|move|job|fired|"
    r"hired|promot\w*|graduat\w*|diagnos\w*|sick|hospital|accident|dream|afraid|scared|proud|birthday|wedding|"
    r"funeral|broke up|girlfriend|boyfriend|wife|husband|son|daughter|mother|father|mom|dad|adopt\w*|never|always|"
    r"favorite|favourite|name is|my name)\b", re.IGNORECASE)


class HeuristicImportanceScorer:
    """A fixed, model-free rule: life events and feelings matter more than small talk. Deterministic."""

    def score(self, texts: list[str]) -> list[int]:
        scores = []
        for text in texts:
            value = 2 + min(4, len(_SALIENT.findall(text)) * 2) + min(2, len(text.split()) // 25)
            scores.append(max(1, min(10, value)))
        return scores


_RUBRIC = ("How much does this line from a conversation matter for knowing the person in the long run? "
           "1-2: greetings and small talk; 3-4: passing details and opinions; 5-6: lasting facts (pets, hobbies, "
           "tastes); 7-8: big news (a move, a new job, an engagement); 9-10: life-changing events (a birth, a "
           'death, a serious illness). Answer as JSON: {"importance": <1-10>}')
_EXAMPLES = [("Fan: good morning!", 1), ("Fan: I think the new café downtown is overrated.", 3),
             ("Fan: I've been vegetarian for ten years.", 5), ("Fan: I'm changing careers to become a teacher.", 7),
             ("Fan: my dad had a heart attack last night.", 9)]
IMPORTANCE_SCHEMA = {"type": "object", "properties": {"importance": {"type": "integer", "enum": list(range(1, 11))}},
                     "required": ["importance"]}


class ModelImportanceScorer:
    """Asks the chat model, constrained to {"importance": 1-10}: a rubric, then worked examples as earlier turns
    of the chat. With the examples inline in one prompt, Qwen2.5-1.5B copied their numbers (rank agreement
    with hand labels 0.33); as chat turns, 0.87 (benchmarks/importance_agreement.py). Falls back to 3."""

    def __init__(self, model: BaseChatModel) -> None:
        self._model = model
        self._examples = with_examples(_RUBRIC, [(line, {"importance": value}) for line, value in _EXAMPLES])

    def score(self, texts: list[str]) -> list[int]:
        scores = []
        for text in texts:
            answer = ask_json(self._model, [*self._examples, HumanMessage(text[:600])], IMPORTANCE_SCHEMA,
                              max_tokens=12, temperature=0.0) or {}
            value = answer.get("importance")
            scores.append(value if isinstance(value, int) and 1 <= value <= 10 else DEFAULT_IMPORTANCE)
        return scores
