"""Vectors in the records' Postgres, with pgvector: one table, one row per chunk, cosine distance.

A collection below `HNSW_FROM` vectors is searched exactly (its rows are found by the primary key, and exact
is as fast as an index there); a larger one through the HNSW index for its embedding size (migration 0023),
with pgvector's iterative scan, so the collection filter still gets `k` results, at `ef_search` candidates.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from sqlalchemy.engine import Engine

from clonr.vectors.base import CosineVectorStore, check_model, index_model_id

_UPSERT = sa.text(
    "INSERT INTO clonr_vectors (collection, id, embedding_model, text, metadata, embedding) "
    "VALUES (:c, :id, :m, :t, CAST(:meta AS jsonb), CAST(:e AS vector)) "
    "ON CONFLICT (collection, id) DO UPDATE SET embedding_model = EXCLUDED.embedding_model, "
    "text = EXCLUDED.text, metadata = EXCLUDED.metadata, embedding = EXCLUDED.embedding")


HNSW_SIZES = (384, 1536)  # the sizes migration 0023 indexes
HNSW_FROM = 20_000  # vectors in a collection from which its searches use the HNSW index
_SIZE_TTL_S = 60.0  # how long a collection's counted size is trusted
_SIZES: dict[tuple[str, str], tuple[float, int]] = {}  # (database, collection) -> (when counted, vectors)


def _literal(vector: Iterable[float]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def nearest_by_hnsw(size: int) -> str:
    """The search through the HNSW index for vectors of `size` (parameters :c, :q, :k). `collection || ''`: the
    primary key cannot serve this filter, so the planner walks the HNSW index instead of sorting the collection."""
    distance = f"embedding::vector({size}) <=> CAST(:q AS vector({size}))"
    return (f"SELECT id, text, metadata, 1 - distance AS score FROM (SELECT id, text, metadata, {distance} AS "
            f"distance FROM clonr_vectors WHERE collection || '' = :c AND vector_dims(embedding) = {size} "
            f"ORDER BY {distance} LIMIT :k) AS nearest ORDER BY distance, id")


class PgVectorStore(CosineVectorStore):
    """A LangChain `VectorStore` over the `clonr_vectors` table that the Alembic migration creates."""

    def __init__(self, embedding: Embeddings, engine: Engine, collection: str, ef_search: int = 100,
                 hnsw_from: int = HNSW_FROM) -> None:
        self._embedding = embedding
        self._engine = engine
        self._collection = collection
        self._model_id = index_model_id(embedding)
        self._ef_search = ef_search
        self._hnsw_from = hnsw_from

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    def _stored_model(self, connection: sa.Connection) -> str:
        row = connection.execute(sa.text("SELECT embedding_model FROM clonr_vectors WHERE collection = :c LIMIT 1"),
                                 {"c": self._collection}).first()
        return row[0] if row else ""

    def _rows(self, texts: list[str], metadatas: list[dict], ids: list[str]) -> list[dict[str, Any]]:
        vectors = self._embedding.embed_documents(texts)
        return [{"c": self._collection, "id": item, "m": self._model_id, "t": text, "meta": json.dumps(meta),
                 "e": _literal(vector)}
                for item, text, meta, vector in zip(ids, texts, metadatas, vectors, strict=True)]

    def add_texts(self, texts: Iterable[str], metadatas: list[dict] | None = None, *,
                  ids: list[str] | None = None, **kwargs: Any) -> list[str]:
        texts = list(texts)
        ids = [item or uuid.uuid4().hex for item in ids] if ids else [uuid.uuid4().hex for _ in texts]
        rows = self._rows(texts, metadatas or [{} for _ in texts], ids)
        with self._engine.begin() as connection:
            check_model(self._stored_model(connection), self._model_id)
            if rows:
                connection.execute(_UPSERT, rows)
        return ids

    def replace_all(self, texts: list[str], metadatas: list[dict], ids: list[str]) -> None:
        """The collection becomes exactly these texts, embedded with the current model; embedded first, then
        swapped in one transaction."""
        rows = self._rows(texts, metadatas, ids)
        with self._engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM clonr_vectors WHERE collection = :c"), {"c": self._collection})
            if rows:
                connection.execute(_UPSERT, rows)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        if not ids:
            return False
        with self._engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM clonr_vectors WHERE collection = :c AND id = ANY(:ids)"),
                               {"c": self._collection, "ids": list(ids)})
        return True

    def get_by_ids(self, ids: list[str], /) -> list[Document]:
        with self._engine.begin() as connection:
            rows = connection.execute(sa.text(
                "SELECT id, text, metadata FROM clonr_vectors WHERE collection = :c AND id = ANY(:ids)"),
                {"c": self._collection, "ids": list(ids)}).all()
        found = {row.id: Document(id=row.id, page_content=row.text, metadata=row.metadata) for row in rows}
        return [found[item] for item in ids if item in found]

    def similarity_search_with_score_by_vector(self, embedding: list[float], k: int = 4,
                                               **kwargs: Any) -> list[tuple[Document, float]]:
        parameters = {"c": self._collection, "q": _literal(embedding), "k": k}
        with self._engine.begin() as connection:
            check_model(self._stored_model(connection), self._model_id)
            if len(embedding) in HNSW_SIZES and self._count(connection) >= self._hnsw_from:
                rows = self._approximate(connection, len(embedding), parameters)
            else:
                rows = connection.execute(sa.text(
                    "SELECT id, text, metadata, 1 - (embedding <=> CAST(:q AS vector)) AS score FROM clonr_vectors "
                    "WHERE collection = :c ORDER BY embedding <=> CAST(:q AS vector), id LIMIT :k"), parameters).all()
        return [(Document(id=r.id, page_content=r.text, metadata=r.metadata), float(r.score)) for r in rows]

    def _approximate(self, connection: sa.Connection, size: int, parameters: dict[str, Any]) -> list[Any]:
        """The nearest through the HNSW index of this size; the iterative scan keeps looking past rows of other
        collections until `k` are found (relaxed order, so the few found are sorted again)."""
        self.tune_for_hnsw(connection)
        return connection.execute(sa.text(nearest_by_hnsw(size)), parameters).all()

    def tune_for_hnsw(self, connection: sa.Connection) -> None:
        """This transaction's HNSW settings: candidates per search, the iterative scan, and no sequential scan."""
        connection.execute(sa.text(f"SET LOCAL hnsw.ef_search = {int(self._ef_search)}"))
        connection.execute(sa.text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
        connection.execute(sa.text("SET LOCAL enable_seqscan = off"))

    def _count(self, connection: sa.Connection) -> int:
        """The collection's size, counted at most once a minute (only which way it falls of `hnsw_from`
        matters)."""
        now, key = time.monotonic(), (str(self._engine.url), self._collection)
        known = _SIZES.get(key)
        if known is None or now - known[0] > _SIZE_TTL_S:
            counted = connection.execute(sa.text("SELECT count(*) FROM clonr_vectors WHERE collection = :c"),
                                         {"c": self._collection}).scalar_one()
            known = _SIZES[key] = (now, int(counted))
        return known[1]


    @classmethod
    def from_texts(cls, texts: list[str], embedding: Embeddings, metadatas: list[dict] | None = None, *,
                   ids: list[str] | None = None, engine: Engine | None = None, collection: str = "default",
                   **kwargs: Any) -> PgVectorStore:
        if engine is None:
            raise ValueError("PgVectorStore.from_texts needs engine=<a SQLAlchemy engine on Postgres>")
        store = cls(embedding, engine, collection)
        store.add_texts(texts, metadatas, ids=ids)
        return store
