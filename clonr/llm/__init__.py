"""Chat models and embeddings, looked up by a short name in a registry.

Built-in backends register exactly as an extension would: `register_chat_model(name, factory)` and
`register_embeddings(name, factory)`. `clonr.config` picks one by name (CLONR_CHAT_MODEL, CLONR_EMBEDDINGS).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from clonr.config import Settings
from clonr.errors import ConfigError
from clonr.llm.files import LOCAL_CHAT_MODELS, MINILM_ONNX, MINILM_TOKENIZER, ModelFile, is_installed, locate
from clonr.llm.llamacpp import LlamaCppChatModel, keep_prompt_state
from clonr.llm.minilm import MiniLMEmbeddings
from clonr.llm.structured import ask_json

__all__ = [
    "LOCAL_CHAT_MODELS", "MINILM_ONNX", "MINILM_TOKENIZER", "LlamaCppChatModel",
    "MiniLMEmbeddings", "ModelFile",
    "ask_json", "chat_model_names", "context_tokens", "count_tokens", "embedding_model_id", "get_chat_model",
    "get_embeddings", "is_installed", "keep_prompt_state", "locate", "register_chat_model", "register_embeddings",
    "resolve_chat_model_name",
]

ChatModelFactory = Callable[[Settings], BaseChatModel]
EmbeddingsFactory = Callable[[Settings], Embeddings]
_CHAT_MODELS: dict[str, ChatModelFactory] = {}
_EMBEDDINGS: dict[str, EmbeddingsFactory] = {}
_LOCAL_PREFERENCE = ("qwen2.5-1.5b", "qwen2.5-0.5b", "smollm2")


def register_chat_model(name: str, factory: ChatModelFactory) -> None:
    _CHAT_MODELS[name] = factory


def register_embeddings(name: str, factory: EmbeddingsFactory) -> None:
    _EMBEDDINGS[name] = factory


def chat_model_names() -> list[str]:
    return sorted(_CHAT_MODELS)


def resolve_chat_model_name(settings: Settings) -> str:
    """`auto` means OpenAI when a key is set, else the best local model that is installed."""
    if settings.chat_model != "auto":
        return settings.chat_model
    if settings.openai_api_key:
        return "openai"
    for name in _LOCAL_PREFERENCE:
        if is_installed(LOCAL_CHAT_MODELS[name]):
            return name
    return _LOCAL_PREFERENCE[-1]  # not installed: get_chat_model explains how to install it


def get_chat_model(settings: Settings) -> BaseChatModel:
    name = resolve_chat_model_name(settings)
    if name not in _CHAT_MODELS:
        raise ConfigError(f"CLONR_CHAT_MODEL={name!r} is not known: use one of {', '.join(chat_model_names())}.")
    return _CHAT_MODELS[name](settings)


def get_embeddings(settings: Settings) -> Embeddings:
    if settings.embeddings not in _EMBEDDINGS:
        raise ConfigError(f"CLONR_EMBEDDINGS={settings.embeddings!r} is not known: use one of "
                          f"{', '.join(sorted(_EMBEDDINGS))}.")
    return _EMBEDDINGS[settings.embeddings](settings)


def embedding_model_id(embeddings: Embeddings) -> str:
    """The id stored with every vector, so that vector spaces are never mixed."""
    return str(getattr(embeddings, "model_id", None) or getattr(embeddings, "model", None)
               or type(embeddings).__name__)


def count_tokens(model: BaseChatModel, text: str) -> int:
    """Exact for local models; a conservative estimate (3 characters a token) for remote ones."""
    if isinstance(model, LlamaCppChatModel) or getattr(model, "counts_tokens_exactly", False):
        return model.get_num_tokens(text)
    return math.ceil(len(text) / 3)


def context_tokens(model: BaseChatModel, settings: Settings) -> int:
    return int(getattr(model, "context_tokens", settings.context_tokens))


def _local_factory(name: str) -> ChatModelFactory:
    def factory(settings: Settings) -> BaseChatModel:
        path = locate(LOCAL_CHAT_MODELS[name], settings.home / "models")
        return LlamaCppChatModel(model_path=str(path), model_name=name, n_ctx=settings.context_tokens,
                                 n_threads=settings.threads or os.cpu_count() or 1, max_tokens=settings.reply_tokens,
                                 kv_cache_mb=settings.kv_cache_mb)
    return factory


for _name in LOCAL_CHAT_MODELS:
    register_chat_model(_name, _local_factory(_name))


def _openai_chat_model(settings: Settings) -> BaseChatModel:
    from clonr.llm.openai_compat import openai_chat_model  # langchain-openai takes ~0.9 s to import

    return openai_chat_model(settings)


def _openai_embeddings(settings: Settings) -> Embeddings:
    from clonr.llm.openai_compat import openai_embeddings

    return openai_embeddings(settings)


register_chat_model("openai", _openai_chat_model)
register_embeddings("minilm", lambda settings: MiniLMEmbeddings(settings.home / "models"))
register_embeddings("openai", _openai_embeddings)
