"""What every vector index shares: the embedding model id kept with the vectors."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from clonr.errors import StorageError


def index_model_id(embedding: Embeddings) -> str:
    from clonr.llm import embedding_model_id

    return embedding_model_id(embedding)


def check_model(stored: str, current: str) -> None:
    """Vectors from two embedding models live in different spaces: refuse to mix them."""
    if stored and stored != current:
        raise StorageError(f"This index holds vectors from the embedding model {stored!r}, not {current!r}: set "
                           "CLONR_EMBEDDINGS back, or delete and re-ingest the clone's sources.")
