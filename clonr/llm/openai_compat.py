"""Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server) through langchain-openai."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from langchain_openai import ChatOpenAI

from clonr.config import Settings
from clonr.errors import ConfigError


def _require_key(settings: Settings) -> None:
    if not settings.openai_api_key:
        raise ConfigError("OPENAI_API_KEY is not set: set it (and OPENAI_BASE_URL for a local server), or "
                          "choose a local model with CLONR_CHAT_MODEL=smollm2.")


class OpenAICompatibleChat(ChatOpenAI):
    """`ChatOpenAI` that also suits self-hosted servers (llama.cpp's, vLLM, Ollama):
    - their reply cap is `max_tokens` (langchain-openai sends OpenAI's newer `max_completion_tokens`, which
      llama-cpp-python's server ignores, so replies ran past `CLONR_REPLY_TOKENS`);
    - when a stream brings no usage (llama-cpp-python's server sends none), the reply's streamed pieces are
      counted (one token each) and the prompt estimated as Clonr does for remote models, so the usage ledger
      never bills a reply as 0 tokens."""

    def _get_request_payload(self, input_: Any, *, stop: list[str] | None = None, **kwargs: Any) -> dict:
        payload = super()._get_request_payload(input_, stop=stop, **kwargs)
        if self.openai_api_base and "max_completion_tokens" in payload:
            payload["max_tokens"] = payload.pop("max_completion_tokens")
        return payload

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        pieces, told = 0, False
        for chunk in super()._stream(messages, stop, run_manager, **kwargs):
            told = told or bool(getattr(chunk.message, "usage_metadata", None))
            pieces += bool(chunk.text)
            yield chunk
        if not told:
            prompt = math.ceil(sum(len(m.text) for m in messages) / 3)
            yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata={
                "input_tokens": prompt, "output_tokens": pieces, "total_tokens": prompt + pieces}))


def openai_chat_model(settings: Settings) -> BaseChatModel:
    _require_key(settings)
    return OpenAICompatibleChat(model=settings.openai_model, api_key=settings.openai_api_key,
                      base_url=settings.openai_base_url or None, max_tokens=settings.reply_tokens,
                      stream_usage=True, timeout=60, max_retries=1)


def openai_embeddings(settings: Settings) -> Embeddings:
    _require_key(settings)
    from langchain_openai import OpenAIEmbeddings

    return OpenAIEmbeddings(model=settings.openai_embedding_model, api_key=settings.openai_api_key,
                            base_url=settings.openai_base_url or None, check_embedding_ctx_length=False)
