"""The vector index contract, run against the embedded index, pgvector and Weaviate.

Weaviate runs only where a server is given: CLONR_TEST_WEAVIATE_URL (e.g. http://localhost:8080), with
CLONR_TEST_WEAVIATE_GRPC_PORT (default 50051) and CLONR_TEST_WEAVIATE_API_KEY if it needs them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import VectorStore

from clonr.errors import StorageError
from clonr.store import SqlStore
from clonr.vectors import EmbeddedVectorStore, PgVectorStore
from clonr.vectors.base import nearest_ids
from clonr.vectors.pgvector import nearest_by_hnsw


class OtherEmbedding(DeterministicFakeEmbedding):
    model_id: str = "another-model"


@pytest.fixture(params=["embedded", "pgvector", "weaviate"])
def make_index(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "embedded":
        return lambda embedding, collection="c": EmbeddedVectorStore(embedding, tmp_path / "vectors", collection)
    if request.param == "weaviate":
        return request.getfixturevalue("weaviate_index")
    engine = SqlStore(request.getfixturevalue("postgres_url")).engine
    return lambda embedding, collection="c": PgVectorStore(embedding, engine, collection)


@pytest.fixture
def index(make_index, fake_embeddings) -> VectorStore:
    return make_index(fake_embeddings)


TEXTS = ["Ada wrote the first program.", "Ada loved horses.", "Charles built engines."]


def test_added_texts_come_back_by_id_and_by_similarity(index: VectorStore) -> None:
    index.add_texts(TEXTS, [{"n": n} for n in range(3)], ids=["a", "b", "c"])
    assert [d.page_content for d in index.get_by_ids(["c", "a"])] == [TEXTS[2], TEXTS[0]]
    best, score = index.similarity_search_with_score(TEXTS[1], k=1)[0]
    assert (best.id, best.metadata) == ("b", {"n": 1})
    assert score == pytest.approx(1.0, abs=1e-4)
    assert len(index.similarity_search("anything", k=2)) == 2


def test_nearest_ids_match_the_documents_search(index: VectorStore, fake_embeddings) -> None:
    index.add_texts(TEXTS, ids=["a", "b", "c"])
    query = fake_embeddings.embed_query(TEXTS[2])
    found = index.similarity_search_with_score_by_vector(query, 2)
    by_documents = [(doc.id, pytest.approx(score, abs=1e-6)) for doc, score in found]
    assert nearest_ids(index, query, 2) == by_documents
    assert nearest_ids(index, query, 2)[0][0] == "c"


def test_adding_the_same_ids_again_is_an_upsert(index: VectorStore) -> None:
    index.add_texts(TEXTS, ids=["a", "b", "c"])
    index.add_texts(["Ada changed her mind."], ids=["b"])
    assert len(index.similarity_search("x", k=10)) == 3
    assert index.get_by_ids(["b"])[0].page_content == "Ada changed her mind."


def test_add_documents_keeps_caller_ids_and_does_not_mutate_input(index: VectorStore) -> None:
    documents = [Document(id="x", page_content="one", metadata={"k": 1})]
    assert index.add_documents(documents) == ["x"]
    assert documents[0].metadata == {"k": 1}


def test_delete_removes_vectors_and_missing_ids_do_not_raise(index: VectorStore) -> None:
    index.add_texts(TEXTS, ids=["a", "b", "c"])
    index.delete(["a", "zzz"])
    assert [d.id for d in index.get_by_ids(["a", "b", "c"])] == ["b", "c"]
    assert index.get_by_ids(["missing"]) == []


def test_collections_are_separate(make_index, fake_embeddings) -> None:
    make_index(fake_embeddings, "one").add_texts(["in one"], ids=["a"])
    assert make_index(fake_embeddings, "two").similarity_search("in one") == []


def test_vectors_of_another_embedding_model_are_never_mixed(make_index, fake_embeddings) -> None:
    make_index(fake_embeddings).add_texts(["first"], ids=["a"])
    other = make_index(OtherEmbedding(size=32))
    with pytest.raises(StorageError, match="set CLONR_EMBEDDINGS back"):
        other.add_texts(["second"], ids=["b"])
    with pytest.raises(StorageError):
        other.similarity_search("first")


def test_an_empty_index_finds_nothing(index: VectorStore) -> None:
    assert index.similarity_search("hello") == []


def test_the_embedded_index_persists_and_sees_other_writers(tmp_path: Path, fake_embeddings) -> None:
    writer = EmbeddedVectorStore(fake_embeddings, tmp_path, "c")
    reader = EmbeddedVectorStore(fake_embeddings, tmp_path, "c")
    assert reader.similarity_search("x") == []
    writer.add_texts(["persisted"], ids=["p"])
    assert reader.get_by_ids(["p"])[0].page_content == "persisted"


def test_the_embedded_index_catches_up_with_writes_from_another_process(tmp_path: Path, fake_embeddings) -> None:
    import subprocess
    import sys

    index = EmbeddedVectorStore(fake_embeddings, tmp_path, "c")
    index.add_texts(["one", "two"], ids=["1", "2"])
    assert len(index.similarity_search("x", k=10)) == 2
    script = ("import sys; from pathlib import Path; from langchain_core.embeddings import DeterministicFakeEmbedding;"
              "from clonr.vectors import EmbeddedVectorStore as S;"
              "s = S(DeterministicFakeEmbedding(size=32), Path(sys.argv[1]), 'c');"
              "s.add_texts(['three', 'two again'], ids=['3', '2']); s.delete(['1'])")
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True)
    assert sorted(d.page_content for d in index.similarity_search("x", k=10)) == ["three", "two again"]


def test_a_large_embedded_collection_shortlists_by_sign_bits_and_finds_the_same_top_results(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    from langchain_core.embeddings import Embeddings

    import clonr.vectors.embedded as embedded

    rng = np.random.default_rng(3)
    centers = rng.normal(size=(40, 384))
    vectors = centers[rng.integers(0, 40, 3000)] + 0.6 * rng.normal(size=(3000, 384))

    class Clustered(Embeddings):  # embeddings with structure, as real ones have (random ones have none)
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [vectors[int(t)].tolist() for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return (centers[int(text)] + 0.6 * rng.normal(size=384)).tolist()

    store = embedded.EmbeddedVectorStore(Clustered(), tmp_path, "big")
    store.add_texts([str(n) for n in range(3000)], ids=[str(n) for n in range(3000)])
    query = Clustered().embed_query("7")
    exact = store.similarity_search_with_score_by_vector(query, k=20)
    monkeypatch.setattr(embedded, "_BINARY_FROM", 1000)
    monkeypatch.setattr(embedded, "_SHORTLIST_FACTOR", 3)  # 300 of 3,000 vectors are rescored
    shortlisted = store.similarity_search_with_score_by_vector(query, k=20)
    assert [d.id for d, _ in shortlisted] == [d.id for d, _ in exact]
    assert [s for _, s in shortlisted] == sorted((s for _, s in shortlisted), reverse=True)


class BrokenEmbedding(OtherEmbedding):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise RuntimeError("the embedding server went away")


def test_a_collection_is_replaced_whole_even_by_another_model_and_a_failure_changes_nothing(
        make_index, fake_embeddings) -> None:
    index = make_index(fake_embeddings)
    index.add_texts(["old one", "old two"], ids=["a", "b"])
    other = make_index(OtherEmbedding(size=32))
    with pytest.raises(RuntimeError):
        make_index(BrokenEmbedding(size=32)).replace_all(["new"], [{}], ["c"])
    assert [d.id for d in index.similarity_search("old one", k=5)] == ["a", "b"], "untouched by the failure"
    other.replace_all(["new one", "new two"], [{"n": 1}, {"n": 2}], ["a", "c"])
    assert {d.id: d.page_content for d in other.similarity_search("new one", k=5)} == {"a": "new one",
                                                                                     "c": "new two"}
    assert other.get_by_ids(["c"])[0].metadata == {"n": 2}
    with pytest.raises(StorageError):  # the collection is the new model's now
        make_index(fake_embeddings).similarity_search("old one")


def test_a_collection_is_replaced_by_vectors_of_another_size(make_index, fake_embeddings) -> None:
    """Switching to an embedding model with longer vectors (MiniLM to OpenAI): the whole collection takes them."""
    make_index(fake_embeddings).add_texts(["old one", "old two"], ids=["a", "b"])
    larger = make_index(OtherEmbedding(size=48))
    larger.replace_all(["new one", "new two"], [{}, {}], ["a", "c"])
    best = larger.similarity_search("new two", k=5)[0]
    assert (best.id, best.page_content) == ("c", "new two")
    larger.add_texts(["new three"], ids=["d"])
    assert sorted(d.id for d in larger.get_by_ids(["a", "b", "c", "d"])) == ["a", "c", "d"]
    with pytest.raises(StorageError):
        make_index(fake_embeddings).add_texts(["old again"], ids=["b"])


def test_pgvector_searches_a_large_collection_through_its_hnsw_index(postgres_url: str) -> None:
    """With `hnsw_from=0` the HNSW path serves even this small collection: the index is used (EXPLAIN), the
    collection filter still yields k results from the collection alone, and they are nearly the exact ones."""
    import random

    import sqlalchemy as sa

    engine = SqlStore(postgres_url).engine
    embedding = DeterministicFakeEmbedding(size=384)
    rng = random.Random(7)
    vectors = {name: [[rng.gauss(0, 1) for _ in range(384)] for _ in range(400)] for name in ("mine", "other")}
    for name, rows in vectors.items():
        store = PgVectorStore(embedding, engine, name)
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO clonr_vectors (collection, id, embedding_model, text, metadata, embedding) "
                "VALUES (:c, :id, :m, :t, '{}'::jsonb, CAST(:e AS vector))"),
                [{"c": name, "id": f"{name}{n}", "m": store._model_id, "t": f"text {n}",
                  "e": "[" + ",".join(f"{x:.6f}" for x in row) + "]"} for n, row in enumerate(rows)])
    approximate = PgVectorStore(embedding, engine, "mine", ef_search=40, hnsw_from=0)
    exact = PgVectorStore(embedding, engine, "mine", hnsw_from=10**9)
    recalls = []
    for query in (vectors["mine"][n] for n in range(0, 400, 40)):
        found = [d.id for d in approximate.similarity_search_by_vector(query, k=10)]
        truth = [d.id for d in exact.similarity_search_by_vector(query, k=10)]
        assert len(found) == 10 and all(item.startswith("mine") for item in found)
        recalls.append(len(set(found) & set(truth)) / 10)
    assert sum(recalls) / len(recalls) >= 0.9, recalls
    with engine.begin() as connection:
        approximate.tune_for_hnsw(connection)
        plan = "\n".join(connection.execute(sa.text("EXPLAIN " + nearest_by_hnsw(384)), {
            "c": "mine", "q": "[" + ",".join("0.1" for _ in range(384)) + "]", "k": 10}).scalars())
    assert "ix_clonr_vectors_hnsw_384" in plan, plan
