"""LangChain's own standard suites, run against Clonr's adapters."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import ChatModelIntegrationTests, VectorStoreIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from clonr.llm import LOCAL_CHAT_MODELS, LlamaCppChatModel, locate
from clonr.store import SqlStore
from clonr.vectors import EmbeddedVectorStore, PgVectorStore


class TestEmbeddedVectorStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, tmp_path: Path) -> VectorStore:
        return EmbeddedVectorStore(self.get_embeddings(), tmp_path, "standard")


class TestPgVectorStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, postgres_url: str) -> VectorStore:
        return PgVectorStore(self.get_embeddings(), SqlStore(postgres_url).engine, "standard")


class TestWeaviateVectorStoreStandard(VectorStoreIntegrationTests):
    """Where CLONR_TEST_WEAVIATE_URL names a server (tests/contracts/test_vectors.py says how)."""

    @pytest.fixture
    def vectorstore(self, weaviate_index) -> VectorStore:
        return weaviate_index(self.get_embeddings(), "standard")


def _smollm2_params() -> dict:
    path = locate(LOCAL_CHAT_MODELS["smollm2"], Path(tempfile.gettempdir()) / "clonr-tests")
    return {"model_path": str(path), "model_name": "smollm2", "n_ctx": 2048, "max_tokens": 48, "temperature": 0.0}


class _LlamaCppCapabilities:
    """What our adapter offers: streaming and usage, no tool calling or structured output (yet)."""

    @property
    def chat_model_class(self) -> type[LlamaCppChatModel]:
        return LlamaCppChatModel

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False


class TestLlamaCppChatModelUnit(_LlamaCppCapabilities, ChatModelUnitTests):
    @property
    def chat_model_params(self) -> dict:
        return {"model_path": "/nonexistent.gguf", "model_name": "smollm2"}


@pytest.mark.real_model
class TestLlamaCppChatModelIntegration(_LlamaCppCapabilities, ChatModelIntegrationTests):
    @property
    def chat_model_params(self) -> dict:
        return _smollm2_params()

    @property
    def returns_usage_metadata(self) -> bool:
        return True
