"""A LangChain chat model over llama-cpp-python, running a bundled GGUF file on the CPU.

One `Llama` per model file per process, shared by every caller and used under a lock: llama.cpp is not
thread-safe, and keeping one warm instance lets it reuse the KV cache of a shared prompt prefix.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult

from clonr.errors import ModelError

_INSTANCES: dict[tuple[str, int, int], tuple[Any, threading.Lock]] = {}
_INSTANCES_LOCK = threading.Lock()
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def _load(path: str, n_ctx: int, n_threads: int) -> tuple[Any, threading.Lock]:
    key = (path, n_ctx, n_threads)
    with _INSTANCES_LOCK:
        if key not in _INSTANCES:
            # Without this, OpenMP spin-waits and generation slows ~10x when any other process uses a core.
            os.environ.setdefault("GOMP_SPINCOUNT", "1000")
            import llama_cpp

            try:
                llama = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_batch=512, n_threads=n_threads or None,
                                        verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise ModelError(f"llama.cpp cannot load {path} ({exc}): reinstall the model package.") from None
            _INSTANCES[key] = (llama, threading.Lock())
        return _INSTANCES[key]


@atexit.register
def _close_all() -> None:
    """Free models before interpreter teardown, when llama.cpp's own finaliser would fail noisily."""
    with _INSTANCES_LOCK:
        for llama, _lock in _INSTANCES.values():
            llama.close()
        _INSTANCES.clear()


class LlamaCppChatModel(BaseChatModel):
    """Streams replies from a local GGUF model; every reply carries `usage_metadata`."""

    model_path: str
    model_name: str
    n_ctx: int = 4096
    n_threads: int = 0
    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 0.9
    repeat_penalty: float = 1.1

    @property
    def _llm_type(self) -> str:
        return "llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "n_ctx": self.n_ctx, "max_tokens": self.max_tokens,
                "temperature": self.temperature}

    @property
    def context_tokens(self) -> int:
        return self.n_ctx

    def _llama(self) -> tuple[Any, threading.Lock]:
        return _load(self.model_path, self.n_ctx, self.n_threads)

    def get_num_tokens(self, text: str) -> int:
        """Tokenising only reads the vocabulary, so it does not wait for a generation holding the lock."""
        llama, _lock = self._llama()
        return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        payload = [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages]
        llama, lock = self._llama()
        with lock:
            parts = llama.create_chat_completion(
                messages=payload, stream=True, stop=stop, max_tokens=kwargs.get("max_tokens", self.max_tokens),
                temperature=kwargs.get("temperature", self.temperature), top_p=self.top_p,
                repeat_penalty=self.repeat_penalty, response_format=kwargs.get("response_format"))
            output_tokens, finish_reason = 0, None
            for part in parts:
                choice = part["choices"][0]
                finish_reason = choice.get("finish_reason") or finish_reason
                delta = choice["delta"].get("content") or ""
                if not delta:
                    continue
                output_tokens += 1
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                if run_manager:
                    run_manager.on_llm_new_token(delta, chunk=chunk)
                yield chunk
            input_tokens = max(0, llama.n_tokens - output_tokens)
        yield ChatGenerationChunk(message=AIMessageChunk(
            content="",
            usage_metadata={"input_tokens": input_tokens, "output_tokens": output_tokens,
                            "total_tokens": input_tokens + output_tokens},
            response_metadata={"model_name": self.model_name, "finish_reason": finish_reason}))

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop=stop, run_manager=run_manager, **kwargs))
