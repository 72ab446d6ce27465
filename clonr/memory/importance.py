"""How much a memory matters, 1-10: scored by the chat model off the reply path, or by a fixed rule."""

from __future__ import annotations

import re
from typing import Protocol

from langchain_core.language_models import BaseChatModel

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


_PROMPT = """Rate how important this memory is for knowing the person long-term, from 1 (mundane small talk) \
to 10 (life-changing). Answer with the number only.

Memory: Fan: hi, how are you?
Importance: 1
Memory: Fan: I had pasta for lunch.
Importance: 2
Memory: Fan: I started a new job as a nurse last week.
Importance: 7
Memory: Fan: My father passed away this morning.
Importance: 10
Memory: {text}
Importance:"""


class ModelImportanceScorer:
    """Asks the chat model, with examples (small models rate everything 10 without them); falls back to 3."""

    def __init__(self, model: BaseChatModel) -> None:
        self._model = model

    def score(self, texts: list[str]) -> list[int]:
        scores = []
        for text in texts:
            answer = self._model.invoke(_PROMPT.format(text=text[:600]), max_tokens=3, temperature=0.0).text
            match = re.search(r"\d+", answer)
            scores.append(max(1, min(10, int(match.group()))) if match else DEFAULT_IMPORTANCE)
        return scores
