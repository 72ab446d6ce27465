"""Vector indexes: LangChain `VectorStore`s looked up by name (CLONR_VECTORS), one collection per clone."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from clonr.config import Settings
from clonr.errors import ConfigError
from clonr.store import SqlStore
from clonr.vectors.embedded import EmbeddedVectorStore
from clonr.vectors.pgvector import PgVectorStore

if TYPE_CHECKING:
    from clonr.vectors.weaviate import WeaviateVectorStore

__all__ = ["EmbeddedVectorStore", "PgVectorStore", "WeaviateVectorStore", "open_index", "register_index"]

IndexFactory = Callable[[Settings, SqlStore, Embeddings, str], VectorStore]
_INDEXES: dict[str, IndexFactory] = {}


def register_index(name: str, factory: IndexFactory) -> None:
    _INDEXES[name] = factory


def open_index(settings: Settings, store: SqlStore, embeddings: Embeddings, collection: str) -> VectorStore:
    return _INDEXES[settings.vector_backend](settings, store, embeddings, collection)


def _pgvector(settings: Settings, store: SqlStore, embeddings: Embeddings, collection: str) -> VectorStore:
    if not settings.is_postgres:
        raise ConfigError("CLONR_VECTORS=pgvector needs DATABASE_URL to point at Postgres: set DATABASE_URL, or "
                          "use CLONR_VECTORS=embedded.")
    return PgVectorStore(embeddings, store.engine, collection, ef_search=settings.pgvector_ef_search)


register_index("embedded", lambda settings, _store, embeddings, collection:
               EmbeddedVectorStore(embeddings, settings.home / "vectors", collection))
register_index("pgvector", _pgvector)


def _weaviate(settings: Settings, _store: SqlStore, embeddings: Embeddings, collection: str) -> VectorStore:
    from clonr.vectors.weaviate import WeaviateVectorStore  # the client is slow to import: only when chosen

    return WeaviateVectorStore(embeddings, collection, url=settings.weaviate_url,
                               grpc_port=settings.weaviate_grpc_port, api_key=settings.weaviate_api_key)


register_index("weaviate", _weaviate)


def __getattr__(name: str) -> Any:
    """`WeaviateVectorStore` is imported on first use, with the Weaviate client."""
    if name == "WeaviateVectorStore":
        from clonr.vectors.weaviate import WeaviateVectorStore

        return WeaviateVectorStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
