"""Fixtures the contract suites share."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from langchain_core.vectorstores import VectorStore


@pytest.fixture
def weaviate_index() -> Iterator[Callable[..., VectorStore]]:
    """Indexes on the test's Weaviate server, in collections named for this test alone (runs never collide),
    removed afterwards."""
    url = os.environ.get("CLONR_TEST_WEAVIATE_URL", "").strip()
    if not url:
        pytest.skip("needs a Weaviate server: set CLONR_TEST_WEAVIATE_URL")
    from clonr.vectors import WeaviateVectorStore

    prefix, made = f"test-{uuid.uuid4().hex[:12]}-", {}

    def make(embedding, collection: str = "c") -> VectorStore:
        store = WeaviateVectorStore(embedding, prefix + collection, url=url,
                                    grpc_port=int(os.environ.get("CLONR_TEST_WEAVIATE_GRPC_PORT", "50051")),
                                    api_key=os.environ.get("CLONR_TEST_WEAVIATE_API_KEY", ""))
        made.setdefault(collection, store)
        return store

    yield make
    for store in made.values():
        store.delete_collection()
