"""What every vector index shares: the embedding model id kept with the vectors."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from clonr.errors import StorageError


def index_model_id(embedding: Embeddings) -> str:
    from clonr.llm import embedding_model_id

    return embedding_model_id(embedding)


def check_model(stored: str, current: str) -> None:
    """Vectors from two embedding models live in different spaces: refuse to mix them."""
    if stored and stored != current:
        raise StorageError(f"This index holds vectors from the embedding model {stored!r}, not {current!r}: set "
                           "CLONR_EMBEDDINGS back, or embed the clone's notes, dialogues and memories again with "
                           "`clonr reindex <clone>`.")


class CosineVectorStore(VectorStore):
    """The search methods every Clonr index shares; an adapter implements the by-vector search only.

    Scores are cosine similarities (higher is closer), which are also the relevance scores, clamped to [0, 1].
    """

    @abstractmethod
    def similarity_search_with_score_by_vector(self, embedding: list[float], k: int = 4,
                                               **kwargs: Any) -> list[tuple[Document, float]]: ...

    @abstractmethod
    def replace_all(self, texts: list[str], metadatas: list[dict], ids: list[str]) -> None:
        """Make the collection exactly these texts, embedded with the current model, all at once."""

    def nearest_ids(self, embedding: list[float], k: int) -> list[tuple[str, float]]:
        """(id, score) of the k nearest, best first, for callers that need no text; an adapter may answer
        without building Documents."""
        return [(doc.id or "", score) for doc, score in self.similarity_search_with_score_by_vector(embedding, k)]

    def similarity_search_with_score(self, query: str, k: int = 4,
                                     **kwargs: Any) -> list[tuple[Document, float]]:
        return self.similarity_search_with_score_by_vector(self.embeddings.embed_query(query), k)

    def similarity_search_by_vector(self, embedding: list[float], k: int = 4, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score_by_vector(embedding, k)]

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k)]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return lambda score: max(0.0, min(1.0, score))


def nearest_ids(index: VectorStore, embedding: list[float], k: int) -> list[tuple[str, float]]:
    """(id, score) of the k nearest in any LangChain VectorStore, best first; cheaper from Clonr's own indexes
    (memory recall ranks hundreds of candidates a turn, and building a Document for each showed in the turn time)."""
    if isinstance(index, CosineVectorStore):
        return index.nearest_ids(embedding, k)
    return [(doc.id or "", score) for doc, score in index.similarity_search_with_score_by_vector(embedding, k)]


def replace_all(index: VectorStore, texts: list[str], metadatas: list[dict], ids: list[str]) -> None:
    """Re-embed a whole collection: atomically in Clonr's indexes (even across embedding models); any other
    VectorStore gets the ids deleted and added again."""
    if isinstance(index, CosineVectorStore):
        index.replace_all(texts, metadatas, ids)
        return
    index.delete(ids)
    index.add_texts(texts, metadatas, ids=ids)


def unit_vectors(vectors: np.ndarray | list[list[float]]) -> np.ndarray:
    """Vectors L2-normalised, so that a dot product is their cosine similarity."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.clip(norms, 1e-12, None)
