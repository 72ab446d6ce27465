"""Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server) through langchain-openai."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from clonr.config import Settings
from clonr.errors import ConfigError


def _require_key(settings: Settings) -> None:
    if not settings.openai_api_key:
        raise ConfigError("OPENAI_API_KEY is not set: set it (and OPENAI_BASE_URL for a local server), or "
                          "choose a local model with CLONR_CHAT_MODEL=smollm2.")


def openai_chat_model(settings: Settings) -> BaseChatModel:
    _require_key(settings)
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=settings.openai_model, api_key=settings.openai_api_key,
                      base_url=settings.openai_base_url or None, max_tokens=settings.reply_tokens,
                      stream_usage=True, timeout=60, max_retries=1)


def openai_embeddings(settings: Settings) -> Embeddings:
    _require_key(settings)
    from langchain_openai import OpenAIEmbeddings

    return OpenAIEmbeddings(model=settings.openai_embedding_model, api_key=settings.openai_api_key,
                            base_url=settings.openai_base_url or None, check_embedding_ctx_length=False)
