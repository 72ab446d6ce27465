"""The embedded vector index: rows in one SQLite file under CLONR_HOME, searched exactly in memory with numpy.

SQLite gives durable, concurrent writes (the studio and the widget are separate processes) without a server.
Each process keeps one in-memory matrix per collection and catches up incrementally: every write stamps its
rows with a rising sequence number, so a reader loads only rows newer than it has seen. Deletes bump the
collection's generation and make readers reload it whole. Search is exact cosine up to 20,000 vectors; above
that, a shortlist by Hamming distance over the vectors' sign bits (10x the results asked for) is rescored
exactly, which halves the time at 100k vectors and finds the same top 100 on MiniLM embeddings.
"""

from __future__ import annotations

import json
import sqlite3
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

from clonr.vectors.base import CosineVectorStore, check_model, index_model_id, unit_vectors

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    collection TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, model TEXT NOT NULL,
    text TEXT NOT NULL, metadata TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (collection, id));
CREATE INDEX IF NOT EXISTS vectors_by_seq ON vectors (collection, seq);
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY, seq INTEGER NOT NULL, generation INTEGER NOT NULL, model TEXT NOT NULL);
"""


_BINARY_FROM = 20_000  # vectors in a collection from which search shortlists by sign bits first
_SHORTLIST_FACTOR = 10  # shortlist size: this many times the results asked for (at least 100 of them)


def _signs(vector: np.ndarray) -> np.ndarray:
    """A vector's sign bits packed into 64-bit words: similar vectors differ in few bits."""
    bits = np.packbits(vector > 0)
    return np.pad(bits, (0, -len(bits) % 8)).view(np.uint64)


def _nearest_by_signs(signs: np.ndarray, query: np.ndarray, at_least: int) -> np.ndarray:
    """Rows (ascending) of the vectors whose signs differ least from the query's: every row up to the Hamming
    distance that reaches `at_least` of them, ties included. Summing the words' bit counts column by column
    and cutting at a histogram's quantile is faster than a row-wise sum and an argpartition; ascending rows
    make the gather of the shortlist faster too (benchmarks/RESULTS.md, turn overhead)."""
    counts = np.bitwise_count(signs ^ query)
    distance = counts[:, 0].astype(np.uint16)
    for word in range(1, counts.shape[1]):
        distance += counts[:, word]
    reached = np.cumsum(np.bincount(distance))
    return np.flatnonzero(distance <= np.searchsorted(reached, at_least))


@dataclass
class _Cache:
    """One collection as this process last saw it."""

    generation: int = -1
    seq: int = 0
    model: str = ""
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metadatas: list[dict[str, Any]] = field(default_factory=list)
    position: dict[str, int] = field(default_factory=dict)
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    signs: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.uint64))  # sign bits, packed
    size: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, item: str, text: str, metadata: dict[str, Any], vector: np.ndarray) -> None:
        if item in self.position:
            n = self.position[item]
            self.texts[n], self.metadatas[n], self.matrix[n], self.signs[n] = text, metadata, vector, _signs(vector)
            return
        if self.size == len(self.matrix):  # grow by doubling: appends stay amortised O(1)
            grown = np.zeros((max(64, 2 * self.size), len(vector)), dtype=np.float32)
            grown_signs = np.zeros((len(grown), len(_signs(vector))), dtype=np.uint64)
            if self.size:
                grown[:self.size] = self.matrix[:self.size]
                grown_signs[:self.size] = self.signs[:self.size]
            self.matrix, self.signs = grown, grown_signs
        self.matrix[self.size] = vector
        self.signs[self.size] = _signs(vector)
        self.position[item] = self.size
        self.ids.append(item)
        self.texts.append(text)
        self.metadatas.append(metadata)
        self.size += 1


_CACHES: dict[tuple[str, str], _Cache] = {}
_CACHES_LOCK = threading.Lock()
_OPENING = threading.Lock()
_CONNECTIONS = threading.local()  # one SQLite connection per index file per thread, reused across calls


class EmbeddedVectorStore(CosineVectorStore):
    """A LangChain `VectorStore` in `folder/index.sqlite`; ids given by the caller make `add_*` an upsert."""

    def __init__(self, embedding: Embeddings, folder: Path, collection: str) -> None:
        self._embedding = embedding
        self._model_id = index_model_id(embedding)
        self._path = folder / "index.sqlite"
        self._collection = collection
        with _CACHES_LOCK:
            self._cache = _CACHES.setdefault((str(self._path), collection), _Cache())

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection to the index file: opening one per search showed in every recall."""
        opened: dict[str, sqlite3.Connection] = getattr(_CONNECTIONS, "opened", None) or {}
        _CONNECTIONS.opened = opened
        connection = opened.get(str(self._path))
        if connection is None or not self._path.exists():
            if len(opened) >= 16:  # many index files (tests, many homes): keep file handles bounded
                for stale in opened.values():
                    stale.close()
                opened.clear()
            self._path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            with _OPENING:  # threads opening a new file at once: switching it to WAL failed with "locked"
                if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    connection.execute("PRAGMA journal_mode=WAL")  # stays set in the file
                connection.executescript(_SCHEMA)
            opened[str(self._path)] = connection
        yield connection

    @contextmanager
    def _write(self) -> Iterator[tuple[sqlite3.Connection, int, int, str]]:
        """A write transaction with the collection's (seq, generation, model), created if new."""
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                row = connection.execute("SELECT seq, generation, model FROM collections WHERE name = ?",
                                         (self._collection,)).fetchone()
                if row is None:
                    row = (0, 0, "")
                    connection.execute("INSERT INTO collections VALUES (?, 0, 0, '')", (self._collection,))
                yield connection, *row
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

    def _sync(self) -> _Cache:
        """Bring this process's copy up to date: new rows only, or a full reload after deletes."""
        cache = self._cache
        with self._connect() as connection:
            state = connection.execute("SELECT seq, generation, model FROM collections WHERE name = ?",
                                       (self._collection,)).fetchone()
            if state is None:
                return cache
            seq, generation, model = state
            if generation == cache.generation and seq == cache.seq:
                return cache
            with cache.lock:
                if generation != cache.generation:
                    fresh = _Cache(lock=cache.lock)
                    cache.__dict__.update(fresh.__dict__)
                    since = 0
                else:
                    since = cache.seq
                rows = connection.execute(
                    "SELECT id, text, metadata, vector FROM vectors WHERE collection = ? AND seq > ? AND seq <= ? "
                    "ORDER BY seq", (self._collection, since, seq))
                for item, text, metadata, blob in rows:
                    cache.put(item, text, json.loads(metadata), np.frombuffer(blob, dtype=np.float32))
                cache.generation, cache.seq, cache.model = generation, seq, model
        return cache

    def _embed(self, texts: list[str]) -> np.ndarray:
        return unit_vectors(np.asarray(self._embedding.embed_documents(texts)).reshape(len(texts), -1))

    def _put(self, connection: sqlite3.Connection, seq: int, texts: list[str], metadatas: list[dict],
             ids: list[str], vectors: np.ndarray) -> None:
        """Upsert rows stamped after `seq`; the collection records the new seq and this model."""
        rows = [(self._collection, item, seq + n + 1, self._model_id, text, json.dumps(meta), vector.tobytes())
                for n, (item, text, meta, vector) in enumerate(zip(ids, texts, metadatas, vectors, strict=True))]
        connection.executemany(
            "INSERT INTO vectors VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (collection, id) DO UPDATE SET "
            "seq = excluded.seq, model = excluded.model, text = excluded.text, metadata = excluded.metadata, "
            "vector = excluded.vector", rows)
        connection.execute("UPDATE collections SET seq = ?, model = ? WHERE name = ?",
                           (seq + len(rows), self._model_id, self._collection))

    def add_texts(self, texts: Iterable[str], metadatas: list[dict] | None = None, *,
                  ids: list[str] | None = None, **kwargs: Any) -> list[str]:
        texts = list(texts)
        ids = [item or uuid.uuid4().hex for item in ids] if ids else [uuid.uuid4().hex for _ in texts]
        metadatas = [dict(m) for m in metadatas] if metadatas else [{} for _ in texts]
        if not texts:
            return []
        vectors = self._embed(texts)
        with self._write() as (connection, seq, _generation, model):
            check_model(model, self._model_id)
            self._put(connection, seq, texts, metadatas, ids, vectors)
        return ids

    def replace_all(self, texts: list[str], metadatas: list[dict], ids: list[str]) -> None:
        """The collection becomes exactly these texts, embedded with the current model (which may differ from
        the one that made it). Everything is embedded first, then swapped in one transaction: a failure
        leaves the collection as it was. Readers reload it whole (a new generation)."""
        vectors = self._embed(texts)
        with self._write() as (connection, seq, _generation, _model):
            connection.execute("DELETE FROM vectors WHERE collection = ?", (self._collection,))
            connection.execute("UPDATE collections SET generation = generation + 1 WHERE name = ?",
                               (self._collection,))
            self._put(connection, seq, texts, metadatas, ids, vectors)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        if not ids:
            return False
        with self._write() as (connection, _seq, _generation, _model):
            connection.executemany("DELETE FROM vectors WHERE collection = ? AND id = ?",
                                   [(self._collection, item) for item in ids])
            connection.execute("UPDATE collections SET generation = generation + 1 WHERE name = ?",
                               (self._collection,))
        return True

    def get_by_ids(self, ids: list[str], /) -> list[Document]:
        cache = self._sync()
        with cache.lock:
            return [self._document(cache, cache.position[item]) for item in ids if item in cache.position]

    @staticmethod
    def _document(cache: _Cache, n: int) -> Document:
        return Document(id=cache.ids[n], page_content=cache.texts[n], metadata=dict(cache.metadatas[n]))

    def similarity_search_with_score_by_vector(self, embedding: list[float], k: int = 4,
                                               **kwargs: Any) -> list[tuple[Document, float]]:
        cache = self._sync()
        with cache.lock:
            return [(self._document(cache, row), score) for row, score in self._nearest(cache, embedding, k)]

    def nearest_ids(self, embedding: list[float], k: int) -> list[tuple[str, float]]:
        cache = self._sync()
        with cache.lock:
            return [(cache.ids[row], score) for row, score in self._nearest(cache, embedding, k)]

    def _nearest(self, cache: _Cache, embedding: list[float], k: int) -> list[tuple[int, float]]:
        """(row, cosine) of the k nearest, best first (ties by row); the caller holds the cache's lock."""
        if not cache.size or k <= 0:
            return []
        check_model(cache.model, self._model_id)
        query = unit_vectors(embedding)
        k = min(k, cache.size)
        shortlist = _SHORTLIST_FACTOR * max(k, 100)
        if cache.size >= _BINARY_FROM and shortlist < cache.size:
            # Sign bits first (Hamming distance over 48 bytes a vector), then exact cosine on the shortlist.
            rows = _nearest_by_signs(cache.signs[:cache.size], _signs(query), shortlist)
            scores = np.take(cache.matrix, rows, axis=0) @ query
        else:
            rows = np.arange(cache.size)
            scores = cache.matrix[:cache.size] @ query  # a view: no copy of the matrix
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.lexsort((rows[best], -scores[best]))]
        return [(int(rows[n]), float(scores[n])) for n in best]

    @classmethod
    def from_texts(cls, texts: list[str], embedding: Embeddings, metadatas: list[dict] | None = None, *,
                   ids: list[str] | None = None, folder: Path | None = None, collection: str = "default",
                   **kwargs: Any) -> EmbeddedVectorStore:
        store = cls(embedding, folder or Path(tempfile.mkdtemp(prefix="clonr-vectors-")), collection)
        store.add_texts(texts, metadatas, ids=ids)
        return store
