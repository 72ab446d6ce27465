"""Reading a recall's candidates: a few hundred memories by id from SQLite, as `SqlStore.get_memories` does each
turn, beside the way it read them before (SQLAlchemy's datetime parse, then `replace(tzinfo=UTC)` per column).

    .venv/bin/python benchmarks/row_reads.py [--memories 10000] [--candidates 280] [--reads 400]

Both ways read the same random ids in the same run, alternating which goes first; prints medians and their ratio.
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import shutil
import statistics
import tempfile
import time

import sqlalchemy as sa
from langchain_core.embeddings import DeterministicFakeEmbedding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--candidates", type=int, default=280, help="about what a recall reads (200 + 60 + pinned)")
    parser.add_argument("--reads", type=int, default=400)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="clonr-rows-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["CLONR_HOME"] = home

    from clonr import Clonr
    from clonr.store.memories import _memory
    from clonr.store.schema import UtcDateTime, memories

    app = Clonr(embeddings=DeterministicFakeEmbedding(size=384))
    clone = app.clones.create("Rows")
    ids = [m.id for m in app.memory.remember(clone.id, "fan", [f"Fan: line {n} about the lake" for n in range(
        args.memories)], score_later=False)]
    # Before: each timestamp parsed by SQLAlchemy as naive, then made aware by `_memory` (`_aware`).
    before_columns = [sa.type_coerce(c, sa.DateTime(timezone=True)).label(c.name)
                      if isinstance(c.type, UtcDateTime) else c for c in memories.c]

    def before(chosen: list[str]) -> list:
        with app.store._transaction() as connection:
            rows = connection.execute(sa.select(*before_columns).where(memories.c.id.in_(chosen))).all()
        found = {row.id: _memory(row) for row in rows}
        return [found[i] for i in chosen if i in found]

    rng = random.Random(1)
    times: dict[str, list[float]] = {"before": [], "now": []}
    for n in range(args.reads):
        chosen = rng.sample(ids, args.candidates)
        ways = [("before", before), ("now", app.store.get_memories)]
        for name, read in ways if n % 2 else reversed(ways):
            started = time.perf_counter()
            read_back = read(chosen)
            times[name].append((time.perf_counter() - started) * 1000)
            assert [m.id for m in read_back] == chosen and read_back[0].happened_at.tzinfo is not None
    print(f"\n{args.candidates} of {args.memories:,} memories read by id, {args.reads} times each way\n")
    print("| way | p50, ms | p95, ms |")
    print("| --- | --- | --- |")
    for name, values in times.items():
        values.sort()
        print(f"| {name} | {statistics.median(values):.2f} | {values[int(len(values) * 0.95)]:.2f} |")
    print(f"\nnow / before at the median: {statistics.median(times['now']) / statistics.median(times['before']):.2f}x")


if __name__ == "__main__":
    main()
