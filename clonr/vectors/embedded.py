"""The embedded vector index: one `.npz` file per collection under CLONR_HOME/vectors.

Exact cosine search over a float32 matrix, which is fast enough for one creator's notes (tens of thousands of
chunks). Writes take an exclusive file lock, re-read the file and replace it atomically, so the studio and
the widget (separate processes) never lose each other's writes; readers reload when the file changes.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from clonr.vectors.base import CosineVectorStore, check_model, index_model_id


def _unit(vectors: np.ndarray) -> np.ndarray:
    """Stored and query vectors are L2-normalised, so a dot product is the cosine similarity."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.clip(norms, 1e-12, None)


@dataclass
class _Table:
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metadatas: list[dict[str, Any]] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    model_id: str = ""


class EmbeddedVectorStore(CosineVectorStore):
    """A LangChain `VectorStore` persisted in one file; ids given by the caller make `add_*` an upsert."""

    def __init__(self, embedding: Embeddings, folder: Path, collection: str) -> None:
        self._embedding = embedding
        self._model_id = index_model_id(embedding)
        self._path = folder / f"{collection}.npz"
        self._lock_path = folder / f"{collection}.lock"
        self._thread_lock = threading.Lock()
        self._cached: _Table | None = None
        self._stamp: tuple[int, int] | None = None

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, self._lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> _Table:
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            return _Table()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if self._cached is None or stamp != self._stamp:
            with np.load(self._path, allow_pickle=False) as data:
                self._cached = _Table(ids=data["ids"].tolist(), texts=data["texts"].tolist(),
                                      metadatas=[json.loads(m) for m in data["metadatas"].tolist()],
                                      vectors=data["vectors"], model_id=str(data["model_id"]))
            self._stamp = stamp
        return self._cached

    def _write(self, table: _Table) -> None:
        with tempfile.NamedTemporaryFile(dir=self._path.parent, prefix=".tmp-", suffix=".npz", delete=False) as out:
            np.savez(out, ids=np.array(table.ids, dtype=str), texts=np.array(table.texts, dtype=str),
                     metadatas=np.array([json.dumps(m) for m in table.metadatas], dtype=str),
                     vectors=table.vectors.astype(np.float32), model_id=np.array(table.model_id))
            out.flush()
            os.fsync(out.fileno())
        os.replace(out.name, self._path)

    def add_texts(self, texts: Iterable[str], metadatas: list[dict] | None = None, *,
                  ids: list[str] | None = None, **kwargs: Any) -> list[str]:
        texts = list(texts)
        ids = [item or uuid.uuid4().hex for item in ids] if ids else [uuid.uuid4().hex for _ in texts]
        metadatas = [dict(m) for m in metadatas] if metadatas else [{} for _ in texts]
        vectors = _unit(np.asarray(self._embedding.embed_documents(texts), dtype=np.float32).reshape(len(texts), -1))
        with self._exclusive():
            table = self._read()
            if table.ids:
                check_model(table.model_id, self._model_id)
            position = {item: n for n, item in enumerate(table.ids)}
            new_ids, new_texts, new_metas = list(table.ids), list(table.texts), list(table.metadatas)
            matrix = table.vectors if table.ids else np.zeros((0, vectors.shape[1]), dtype=np.float32)
            appended = []
            for item, text, meta, vector in zip(ids, texts, metadatas, vectors, strict=True):
                if item in position:
                    n = position[item]
                    new_texts[n], new_metas[n] = text, meta
                    matrix = matrix.copy() if matrix is table.vectors else matrix
                    matrix[n] = vector
                else:
                    position[item] = len(new_ids)
                    new_ids.append(item)
                    new_texts.append(text)
                    new_metas.append(meta)
                    appended.append(vector)
            if appended:
                matrix = np.vstack([matrix, np.stack(appended)])
            self._write(_Table(new_ids, new_texts, new_metas, matrix, self._model_id))
        return ids

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        if not ids:
            return False
        doomed = set(ids)
        with self._exclusive():
            table = self._read()
            keep = [n for n, item in enumerate(table.ids) if item not in doomed]
            if len(keep) != len(table.ids):
                self._write(_Table([table.ids[n] for n in keep], [table.texts[n] for n in keep],
                                   [table.metadatas[n] for n in keep], table.vectors[keep], table.model_id))
        return True

    def get_by_ids(self, ids: list[str], /) -> list[Document]:
        table = self._read()
        position = {item: n for n, item in enumerate(table.ids)}
        return [self._document(table, position[item]) for item in ids if item in position]

    @staticmethod
    def _document(table: _Table, n: int) -> Document:
        return Document(id=table.ids[n], page_content=table.texts[n], metadata=table.metadatas[n])

    def similarity_search_with_score_by_vector(self, embedding: list[float], k: int = 4,
                                               **kwargs: Any) -> list[tuple[Document, float]]:
        table = self._read()
        if not table.ids or k <= 0:
            return []
        check_model(table.model_id, self._model_id)
        scores = table.vectors @ _unit(np.asarray(embedding, dtype=np.float32))
        best = np.argsort(-scores, kind="stable")[:k]
        return [(self._document(table, int(n)), float(scores[n])) for n in best]


    @classmethod
    def from_texts(cls, texts: list[str], embedding: Embeddings, metadatas: list[dict] | None = None, *,
                   ids: list[str] | None = None, folder: Path | None = None, collection: str = "default",
                   **kwargs: Any) -> EmbeddedVectorStore:
        store = cls(embedding, folder or Path(tempfile.mkdtemp(prefix="clonr-vectors-")), collection)
        store.add_texts(texts, metadatas, ids=ids)
        return store
