"""Turn overhead — everything but generation — as one fan's memory grows to 1k, 10k and 100k memories.

    .venv/bin/python benchmarks/turn_overhead.py [--sizes 1000 10000 100000] [--turns 100]

Embedded stack (SQLite + the embedded vector index + MiniLM), tokens counted with the local model's tokenizer.
Per turn it times `ChatService.start_turn` (the conversation window, note and memory recall, prompt assembly)
plus storing the exchange with what its turn was given, and reports p50/p95; the memory write that follows a
reply (and marking the recalled memories used) runs on the background worker once the reply is stored, and is
timed separately; memory work that asks the model (reflections, knowledge updates) is off, as it runs after
replies, not in them. Memories are templated sentences; to fill 100k quickly, each distinct sentence is
embedded once (the per-memory suffix is not embedded), so the index holds realistic MiniLM vectors. Also
prints the prompt's size as the conversation grows (10 to 1,000 turns): it must stay flat, in budget."""

from __future__ import annotations

import argparse
import atexit
import itertools
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

os.environ.setdefault("GOMP_SPINCOUNT", "1000")

from langchain_core.embeddings import Embeddings

from clonr import Clonr, freeze_startup_objects, load_settings
from clonr.llm import MiniLMEmbeddings
from clonr.memory import HeuristicImportanceScorer

PEOPLE = ["my sister", "my boss", "Grandpa Joe", "my best friend Lina", "the neighbours", "my coach", "Dr. Patel"]
DOINGS = ["went hiking", "baked bread", "argued about politics", "watched a horror film", "planted tomatoes",
          "ran a half marathon", "visited a museum", "fixed the old bike", "learned a chess opening",
          "booked flights", "painted the kitchen", "adopted a rescue dog"]
PLACES = ["in Lisbon", "at the lake", "downtown", "in the mountains", "at home", "near the harbour", "in Berlin"]
FEELINGS = ["and loved it", "and it was exhausting", "and felt proud", "but it rained", "and laughed a lot"]


def sentences() -> list[str]:
    combos = itertools.product(PEOPLE, DOINGS, PLACES, FEELINGS)
    return [f"Fan: I {doing} with {person} {place} {feeling}." for person, doing, place, feeling in combos]


class OncePerSentence(Embeddings):
    """Embeds each distinct sentence once; the benchmark's memories differ only by a numbered suffix."""

    def __init__(self, inner: MiniLMEmbeddings) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.cache: dict[str, list[float]] = {}

    def _base(self, text: str) -> str:
        return text.split(" #", 1)[0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = sorted({self._base(t) for t in texts} - self.cache.keys())
        for base, vector in zip(missing, self.inner.embed_documents(missing), strict=True):
            self.cache[base] = vector
        return [self.cache[self._base(t)] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--turns", type=int, default=100)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="clonr-overhead-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)  # a run leaves gigabytes of index behind otherwise
    os.environ.update(CLONR_HOME=home, CLONR_IMPORTANCE="heuristic",
                      CLONR_REFLECTION_THRESHOLD="0", CLONR_KNOWLEDGE_UPDATES="off")
    settings = load_settings()
    embeddings = OncePerSentence(MiniLMEmbeddings(settings.home / "models"))
    app = Clonr(settings, embeddings=embeddings, importance=HeuristicImportanceScorer())
    embeddings.embed_query("warm up")
    freeze_startup_objects()  # as the widget and the studio do once started
    templates = sentences()
    rng = random.Random(7)
    questions = ["What did I do with my sister in Lisbon?", "Do you remember the dog I adopted?",
                 "How was the half marathon?", "What happened at the lake?", "Who fixed the old bike?"]
    print("| memories | turn overhead p50, ms | p95, ms | background memory write p50, ms | prompt tokens |")
    print("| --- | --- | --- | --- | --- |")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for size in args.sizes:
        clone = app.clones.create(f"Bench {size}", greeting="Hi!")
        fan = "fan-bench"
        for offset in range(0, size, 2000):
            n = min(2000, size - offset)
            app.memory.remember(clone.id, fan, [f"{rng.choice(templates)} #{offset + i}" for i in range(n)],
                                happened_at=[start + timedelta(minutes=offset + i) for i in range(n)],
                                importance=5)
        print(f"filled {size} memories", file=sys.stderr)
        overhead, writes, tokens = [], [], []
        for turn_number in range(args.turns + 3):
            with app.worker.foreground:  # as in a real turn: background jobs wait until the reply is stored
                began = time.perf_counter()
                turn = app.chat.start_turn(clone.id, questions[turn_number % len(questions)], fan_id=fan)
                ids = app.store.add_exchange(clone.id, fan, turn.message, "That was a day to remember.",
                                             context=turn.context.to_json())
                elapsed = time.perf_counter() - began
            began = time.perf_counter()
            app.memory.remember_exchange(clone, fan, turn.message, "That was a day to remember.", ids)
            app.worker.drain()  # importance scoring runs between turns, as it does when fans pause to read
            if turn_number >= 3:  # the first turns warm the caches
                overhead.append(elapsed * 1000)
                writes.append((time.perf_counter() - began) * 1000)
                tokens.append(turn.plan.tokens)
        print(f"| {size:,} | {statistics.median(overhead):.1f} | {pct(overhead, 95):.1f} | "
              f"{statistics.median(writes):.1f} | {statistics.median(tokens):.0f} |")

    print("\n| conversation turns | prompt tokens | budget |")
    print("| --- | --- | --- |")
    clone = app.clones.create("Growing", greeting="Hi!")
    checkpoints = {10, 100, 1000}
    for turn_number in range(1, 1001):
        message = f"{rng.choice(templates)} Tell me more about turn {turn_number}."
        turn = app.chat.start_turn(clone.id, message, fan_id="grower")
        ids = app.store.add_exchange(clone.id, "grower", turn.message, "I remember it well; " * 8,
                                     context=turn.context.to_json())
        app.memory.remember_exchange(clone, "grower", turn.message, "I remember it well; " * 8, ids)
        if turn_number in checkpoints:
            print(f"| {turn_number} | {turn.plan.tokens} | {turn.plan.budget} |")


if __name__ == "__main__":
    main()
