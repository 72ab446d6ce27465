"""A LangChain chat model over llama-cpp-python, running a bundled GGUF file on the CPU.

One `Llama` per model file per process, shared by every caller and used under a lock: llama.cpp is not
thread-safe, and keeping one warm instance lets it reuse the KV cache of a shared prompt prefix.

A warm context holds one prompt: when fans take turns, or background memory work runs between two turns,
each would make the next fan's model read the whole conversation again. Chat turns (calls started
inside `keep_prompt_state()`) therefore save the context's state after the reply, and before a tagged call the saved
state that shares the longest prefix with the new prompt is restored when it beats what the context holds.
A new fan starts from another fan's state of the same clone: the persona is read once for all of them.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult

from clonr.errors import ModelError

_RESUMING: ContextVar[bool] = ContextVar("clonr_keep_prompt_state", default=False)
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}
_WORTH_RESTORING = 32  # tokens a saved state must add over the live context to be worth loading


@dataclass(frozen=True)
class PromptState:
    """A llama.cpp context's state (its KV cache) and the tokens it holds."""

    tokens: np.ndarray
    data: Any  # a ctypes byte array
    size: int


@contextmanager
def keep_prompt_state() -> Iterator[None]:
    """Model calls started inside continue a conversation that is worth resuming later: a local model keeps
    their state. (LangChain does not hand run tags to a model's `_stream`, so a context variable says it.)"""
    token = _RESUMING.set(True)
    try:
        yield
    finally:
        _RESUMING.reset(token)


def _common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    n = min(len(a), len(b))
    different = np.flatnonzero(a[:n] != b[:n])
    return int(different[0]) if len(different) else n


class PromptStates:
    """Saved prompt states, least recently used dropped first once they pass `capacity_bytes`. A state whose
    tokens begin another's (the same conversation, one turn earlier) is dropped when the longer one comes."""

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self._states: OrderedDict[int, PromptState] = OrderedDict()
        self._next = 0

    def __len__(self) -> int:
        return len(self._states)

    @property
    def size(self) -> int:
        return sum(state.size for state in self._states.values())

    def best(self, tokens: np.ndarray) -> tuple[PromptState | None, int]:
        """The state sharing the longest prefix with `tokens`, and that length."""
        found, longest = None, 0
        for key, state in self._states.items():
            shared = _common_prefix(state.tokens, tokens)
            if shared > longest:
                found, longest = key, shared
        if found is None:
            return None, 0
        self._states.move_to_end(found)
        return self._states[found], longest

    def clear(self) -> None:
        self._states.clear()

    def keep(self, state: PromptState) -> None:
        if state.size > self.capacity_bytes:
            return
        for key in [k for k, old in self._states.items()
                    if _common_prefix(old.tokens, state.tokens) == len(old.tokens)]:
            del self._states[key]  # superseded: the new state holds all of it
        self._states[self._next] = state
        self._next += 1
        while self.size > self.capacity_bytes:
            self._states.popitem(last=False)


class _Runtime:
    """One loaded model: the `Llama`, its lock and its saved prompt states."""

    def __init__(self, llama: Any, capacity_bytes: int) -> None:
        self.llama = llama
        self.lock = threading.Lock()
        self.states = PromptStates(capacity_bytes)
        self.resuming = False  # set for a tagged call, under the lock
        self.restored = 0  # tokens the last restore brought back (for tests and benchmarks)
        generate = llama.generate

        def generate_resuming(tokens: Any, *args: Any, **kwargs: Any) -> Any:
            """llama.cpp's own generate, after loading the saved state that best fits this prompt."""
            if self.resuming and len(self.states):
                self._restore_best(np.asarray(tokens, dtype=np.intc))
            return generate(tokens, *args, **kwargs)

        llama.generate = generate_resuming

    def _restore_best(self, tokens: np.ndarray) -> None:
        import llama_cpp

        llama = self.llama
        state, shared = self.states.best(tokens)
        live = _common_prefix(np.asarray(llama.input_ids[:llama.n_tokens]), tokens)
        self.restored = 0
        if state is None or shared < live + _WORTH_RESTORING:
            return
        if llama_cpp.llama_state_set_data(llama.ctx, state.data, state.size) != state.size:
            return  # the context is left as it was: the prompt is read again, only slower
        llama.input_ids[:len(state.tokens)] = state.tokens
        llama.n_tokens = len(state.tokens)
        llama._requires_eval = True  # logits are not part of what was saved
        self.restored = shared

    def save(self) -> None:
        import llama_cpp

        llama = self.llama
        if not self.states.capacity_bytes or not llama.n_tokens:
            return
        size = llama_cpp.llama_state_get_size(llama.ctx)
        data = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_get_data(llama.ctx, data, size)
        self.states.keep(PromptState(np.array(llama.input_ids[:llama.n_tokens], dtype=np.intc), data, int(written)))


_INSTANCES: dict[tuple[str, int, int], _Runtime] = {}
_INSTANCES_LOCK = threading.Lock()


def _load(path: str, n_ctx: int, n_threads: int, cache_mb: int) -> _Runtime:
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
            _INSTANCES[key] = _Runtime(llama, cache_mb * 1024 * 1024)
        return _INSTANCES[key]


@atexit.register
def _close_all() -> None:
    """Free models before interpreter teardown, when llama.cpp's own finaliser would fail noisily."""
    with _INSTANCES_LOCK:
        for runtime in _INSTANCES.values():
            runtime.llama.close()
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
    kv_cache_mb: int = 1024
    keeps_prompt_state: bool = True  # calls inside `keep_prompt_state()` save their state for later ones

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

    def runtime(self) -> _Runtime:
        return _load(self.model_path, self.n_ctx, self.n_threads, self.kv_cache_mb)

    def get_num_tokens(self, text: str) -> int:
        """Tokenising only reads the vocabulary, so it does not wait for a generation holding the lock."""
        return len(self.runtime().llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        payload = [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages]
        runtime = self.runtime()
        llama = runtime.llama
        resuming = _RESUMING.get()
        with runtime.lock:
            runtime.resuming = resuming
            try:
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
                if resuming:
                    runtime.save()
            finally:
                runtime.resuming = False
        yield ChatGenerationChunk(message=AIMessageChunk(
            content="",
            usage_metadata={"input_tokens": input_tokens, "output_tokens": output_tokens,
                            "total_tokens": input_tokens + output_tokens},
            response_metadata={"model_name": self.model_name, "finish_reason": finish_reason}))

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop=stop, run_manager=run_manager, **kwargs))
