"""all-MiniLM-L6-v2 embeddings from an int8 ONNX file, with no torch: tokenizers + onnxruntime."""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from clonr.llm.files import MINILM_ONNX, MINILM_TOKENIZER, locate

_BATCH = 4  # measured fastest on two cores


class MiniLMEmbeddings(Embeddings):
    """Sentence embeddings (384 dims, L2-normalised) that match the fp32 model at cosine >= 0.998."""

    model_id = "all-MiniLM-L6-v2"

    def __init__(self, cache_dir: Path, max_tokens: int = 256) -> None:
        self._cache_dir = cache_dir
        self._max_tokens = max_tokens
        self._lock = threading.Lock()

    @cached_property
    def _session(self) -> Any:  # an onnxruntime.InferenceSession, imported lazily
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 2
        # no spin-waiting after a run: the spinning thread took a core from the reply path (turns 2x slower)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return onnxruntime.InferenceSession(str(locate(MINILM_ONNX, self._cache_dir)), options,
                                            providers=["CPUExecutionProvider"])

    @cached_property
    def _tokenizer(self) -> Any:  # a tokenizers.Tokenizer, imported lazily
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(locate(MINILM_TOKENIZER, self._cache_dir)))
        tokenizer.enable_truncation(self._max_tokens)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pads to the longest in the batch
        return tokenizer

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        with self._lock:
            (hidden,) = self._session.run(["last_hidden_state"], {
                "input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Batches of similar length (less padding, so faster on chunks of mixed length), returned in input order."""
        if not texts:
            return []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.concatenate([self._embed_batch([texts[i] for i in order[start:start + _BATCH]])
                                  for start in range(0, len(order), _BATCH)])
        result = np.empty_like(vectors)
        result[order] = vectors
        return result.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._embed_batch([text])[0].tolist()
