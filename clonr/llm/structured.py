"""JSON answers constrained by a schema: llama.cpp turns the schema into a grammar, so even small local models
answer in shape; OpenAI-compatible servers get the same `response_format`. Callers still validate."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

__all__ = ["ask_json", "with_examples"]

log = logging.getLogger(__name__)


def ask_json(model: BaseChatModel, prompt: LanguageModelInput, schema: dict[str, Any], max_tokens: int = 400,
             temperature: float = 0.2) -> dict[str, Any] | None:
    """One constrained JSON answer to a prompt (text, or messages), or None if it still came out of shape."""
    answer = model.invoke(prompt, temperature=temperature, max_tokens=max_tokens,
                          response_format={"type": "json_object", "schema": schema}).text
    try:
        value = json.loads(answer[answer.index("{"):answer.rindex("}") + 1])
    except ValueError:
        log.info("model answered out of shape: %.200s", answer)
        return None
    return value if isinstance(value, dict) else None


def with_examples(instructions: str, examples: Iterable[tuple[str, dict[str, Any]]]) -> list[BaseMessage]:
    """Instructions, then worked examples as earlier turns of the chat (what was asked, the JSON answered):
    Qwen2.5-1.5B follows these, where examples inline in one prompt had their answers copied."""
    messages: list[BaseMessage] = [SystemMessage(instructions)]
    for asked, answer in examples:
        messages += [HumanMessage(asked), AIMessage(json.dumps(answer))]
    return messages
