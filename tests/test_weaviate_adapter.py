"""The Weaviate index without a Weaviate server: its settings, its names for collections and ids, and the errors a
person sees when the server is missing, old, or refuses the key (a loopback site plays its REST API). The index
itself is tested against a real server by the vector contract suite (tests/contracts/test_vectors.py)."""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import Iterator

import pytest

from clonr.config import load_settings
from clonr.errors import ConfigError, StorageError
from clonr.vectors import WeaviateVectorStore, open_index
from clonr.vectors.weaviate import collection_name, object_uuid

KEY = "wv-secret-key-123"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A loopback port that accepts connections: the gRPC port's reachability check passes (nothing answers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_the_weaviate_index_needs_its_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLONR_VECTORS", "weaviate")
    with pytest.raises(ConfigError, match="CLONR_VECTORS=weaviate needs WEAVIATE_URL: set it") as raised:
        load_settings()
    assert "\n" not in str(raised.value)
    monkeypatch.setenv("WEAVIATE_URL", "localhost:8080")
    with pytest.raises(ConfigError, match="not a Weaviate address: write it like http://localhost:8080"):
        load_settings()


def test_the_weaviate_settings_are_read_and_the_key_stays_out_of_logs(monkeypatch: pytest.MonkeyPatch,
                                                                       fake_embeddings) -> None:
    monkeypatch.setenv("CLONR_VECTORS", "Weaviate")
    monkeypatch.setenv("WEAVIATE_URL", "http://weaviate.internal:8080/")
    monkeypatch.setenv("WEAVIATE_GRPC_PORT", "50052")
    monkeypatch.setenv("WEAVIATE_API_KEY", KEY)
    settings = load_settings()
    assert (settings.vector_backend, settings.weaviate_url, settings.weaviate_grpc_port) == (
        "weaviate", "http://weaviate.internal:8080", 50052)
    assert KEY not in repr(settings)
    index = open_index(settings, None, fake_embeddings, "clone_abc")  # type: ignore[arg-type]  (no records needed)
    assert isinstance(index, WeaviateVectorStore) and KEY not in repr(index)


def test_collection_names_are_valid_weaviate_names_one_per_clonr_name() -> None:
    names = ["clone_abc123", "memory_abc_0123456789abcdef0123", "a-b", "a_b", "A-b", "dialogues_x", "",
             "é/ü " * 100]
    mapped = [collection_name(name) for name in names]
    assert all(re.fullmatch(r"Clonr_[_0-9A-Za-z]*_[0-9a-f]{12}", m) for m in mapped), mapped
    assert len({m.lower() for m in mapped}) == len(names), "distinct even ignoring case"
    assert all(len(m) + 9 <= 255 for m in mapped), "room for the collection's suffix behind the alias"
    assert collection_name("clone_abc123") == collection_name("clone_abc123")
    assert collection_name("clone_abc123").startswith("Clonr_clone_abc123_")


def test_clonr_ids_map_to_fixed_uuids() -> None:
    assert object_uuid("src1:0") == object_uuid("src1:0")
    assert object_uuid("src1:0") != object_uuid("src1:1")
    assert object_uuid("x").version == 5 and isinstance(object_uuid(""), uuid.UUID)


def test_an_unreachable_server_is_a_one_line_storage_error_without_the_key(fake_embeddings) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    index = WeaviateVectorStore(fake_embeddings, "clone_abc", url=url, api_key=KEY)
    for attempt in (lambda: index.add_texts(["hello"], ids=["a"]), lambda: index.similarity_search("hello"),
                    lambda: index.get_by_ids(["a"]), lambda: index.delete(["a"])):
        with pytest.raises(StorageError) as raised:
            attempt()
        assert str(raised.value) == f"Weaviate at {url} is not reachable: start it or fix WEAVIATE_URL."


def test_a_closed_grpc_port_is_named(site, fake_embeddings) -> None:
    site.add("/v1/meta", json.dumps({"version": "1.32.0"}), "application/json")
    index = WeaviateVectorStore(fake_embeddings, "clone_abc", url=site.base, grpc_port=closed_port())
    with pytest.raises(StorageError, match=r"not its gRPC port \d+ on 127.0.0.1: fix WEAVIATE_GRPC_PORT"):
        index.similarity_search("hello")


def test_a_refused_key_is_named_and_not_shown(site, fake_embeddings) -> None:
    site.add("/v1/meta", json.dumps({"error": [{"message": "anonymous access not enabled"}]}), "application/json",
             status=401)
    index = WeaviateVectorStore(fake_embeddings, "clone_abc", url=site.base, api_key=KEY)
    with pytest.raises(StorageError, match="refused the API key: fix WEAVIATE_API_KEY") as raised:
        index.get_by_ids(["a"])
    assert KEY not in str(raised.value)


def test_a_server_older_than_1_32_is_asked_to_upgrade(site, listening_port: int, fake_embeddings) -> None:
    site.add("/v1/meta", json.dumps({"version": "1.31.2"}), "application/json")
    index = WeaviateVectorStore(fake_embeddings, "clone_abc", url=site.base, grpc_port=listening_port)
    with pytest.raises(StorageError, match=r"upgrade it to 1\.32 or later"):
        index.similarity_search("hello")


def test_a_collection_never_written_finds_nothing_without_touching_grpc(site, listening_port: int,
                                                                        fake_embeddings) -> None:
    """No alias (404) means no collection: reads answer empty and deletes do nothing."""
    site.add("/v1/meta", json.dumps({"version": "1.32.0"}), "application/json")
    index = WeaviateVectorStore(fake_embeddings, "clone_abc", url=site.base, grpc_port=listening_port)
    assert index.similarity_search("hello") == []
    assert index.nearest_ids(fake_embeddings.embed_query("hello"), 5) == []
    assert index.get_by_ids(["a", "b"]) == []
    assert index.delete(["a"]) is True
    assert f"/v1/aliases/{collection_name('clone_abc')}" in site.paths()
