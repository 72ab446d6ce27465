"""Memory retrieval quality on LoCoMo: is the evidence inside what recall returns, within a token budget?

    .venv/bin/python benchmarks/memory_recall.py [--data ../shared/data/locomo10.json] [--conversations 10]

Each conversation is fed into one fan's memory by the live-chat path (`MemoryService.import_transcript`:
messages, then observations, embedded with MiniLM); importance comes from the fixed heuristic scorer so the
run needs no chat model. For every question with evidence, each retriever fills a budget of 500, 1,000 and
2,000 tokens (Qwen2.5 tokenizer); recall is the share of the question's evidence turns that made it in.
Baselines over the same memories and budget: BM25 alone (SQLite FTS5), dense alone (MiniLM), and the most
recent turns. A second table splits Clonr's recall over categories 1-4 by odd- and even-numbered conversations:
choose a change on one half, check it on the other. LoCoMo is CC BY-NC 4.0: it is read from shared/data at run
time and never copied here.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("GOMP_SPINCOUNT", "1000")
BUDGETS = (500, 1000, 2000)
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
DIA_ID = re.compile(r"D\d+:\d+")


def session_time(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def transcript(sample: dict) -> list:
    from clonr.memory import TranscriptLine

    conversation = sample["conversation"]
    lines = []
    sessions = sorted(int(k.split("_")[1]) for k in conversation if re.fullmatch(r"session_\d+", k))
    for number in sessions:
        start = session_time(conversation[f"session_{number}_date_time"])
        for n, turn in enumerate(conversation[f"session_{number}"]):
            text = turn["text"]
            if turn.get("blip_caption"):
                text += f" [shares a photo: {turn['blip_caption']}]"
            lines.append(TranscriptLine("fan" if turn["speaker"] == conversation["speaker_a"] else "clone", text,
                                        start + timedelta(seconds=30 * n), name=turn["speaker"], ref=turn["dia_id"]))
    return lines


def fill(ranked: list, budget: int, count: Callable[[str], int]) -> set[str]:
    """Take memories in rank order while they fit, as recall does; the dia_ids of what fits."""
    from clonr.memory import memory_cost, memory_day

    spent, kept, days = 0, set(), set()
    for memory in ranked:
        tokens = memory_cost(memory, days, count)
        if spent + tokens <= budget:
            spent += tokens
            days.add(memory_day(memory))
            kept.add(memory.source.removeprefix("import:"))
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/locomo10.json")
    parser.add_argument("--conversations", type=int, default=10)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="clonr-locomo-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)  # a run leaves gigabytes of index behind otherwise
    os.environ.update(CLONR_HOME=home, CLONR_IMPORTANCE="heuristic",
                      CLONR_REFLECTION_THRESHOLD="0", CLONR_KNOWLEDGE_UPDATES="off")

    from knowledge_currency import token_counter  # a script beside this one

    from clonr import Clonr
    from clonr.memory import HeuristicImportanceScorer

    clock_now = [datetime.now(UTC)]
    app = Clonr(clock=lambda: clock_now[0], importance=HeuristicImportanceScorer())
    name, count = token_counter(app.settings.home)

    data = json.loads(args.data.read_text())[:args.conversations]
    methods = ("clonr", "bm25", "dense", "recent")
    hits: dict[tuple[str, int, int], list[float]] = defaultdict(list)
    by_half: dict[tuple[int, str], list[float]] = defaultdict(list)  # (budget, "odd"/"even"): clonr, cats 1-4
    ingest_seconds, recall_ms = 0.0, []
    for number, sample in enumerate(data, start=1):
        lines = transcript(sample)
        clone = app.clones.create(f"{sample['conversation']['speaker_b']} {number}")
        fan = f"locomo-{number}"
        clock_now[0] = lines[-1].time + timedelta(days=1)
        started = time.perf_counter()
        app.memory.import_transcript(clone, fan, lines)
        app.worker.drain()
        ingest_seconds += time.perf_counter() - started
        everything = app.memory.list(clone.id, fan, limit=100_000)
        recent = sorted(everything, key=lambda m: m.happened_at, reverse=True)
        vectors = app.memory._vectors(clone.id, fan)
        questions = [q for q in sample["qa"] if DIA_ID.findall(" ".join(q.get("evidence", [])))]
        for q in questions:
            evidence = set(DIA_ID.findall(" ".join(q["evidence"])))
            started = time.perf_counter()
            recalled = app.memory.recall(clone.id, fan, q["question"], max(BUDGETS), count, touch=False)
            recall_ms.append((time.perf_counter() - started) * 1000)
            ranked = {
                "clonr": [r.memory for r in recalled],
                "bm25": app.store.get_memories([i for i, _ in app.memory.lexical_search(
                    clone.id, [fan], q["question"], limit=400)]),
                "dense": app.store.get_memories([d.id for d in vectors.similarity_search(q["question"], k=400)]),
                "recent": recent,
            }
            for budget in BUDGETS:
                clonr_kept = {r.memory.source.removeprefix("import:") for r in app.memory.recall(
                    clone.id, fan, q["question"], budget, count, touch=False)} if budget != max(BUDGETS) else \
                    fill(ranked["clonr"], budget, count)
                for method in methods:
                    kept = clonr_kept if method == "clonr" else fill(ranked[method], budget, count)
                    hits[(method, budget, q["category"])].append(len(evidence & kept) / len(evidence))
                if q["category"] in (1, 2, 3, 4):
                    by_half[(budget, "odd" if number % 2 else "even")].append(
                        len(evidence & clonr_kept) / len(evidence))
        print(f"conversation {number}/{len(data)}: {len(lines)} turns, {len(questions)} questions", file=sys.stderr)

    def mean(method: str, budget: int, categories: tuple[int, ...]) -> float:
        values = [v for c in categories for v in hits[(method, budget, c)]]
        return statistics.fmean(values) if values else float("nan")

    turns = sum(len(transcript(s)) for s in data)
    print(f"\nLoCoMo, {len(data)} conversations, {turns} turns; importance from the fixed heuristic; "
          f"tokens counted with the {name} tokenizer\n")
    print("| budget | method | " + " | ".join(CATEGORIES.values()) + " | cats 1-4 |")
    print("| --- | --- |" + " --- |" * (len(CATEGORIES) + 1))
    for budget in BUDGETS:
        for method in methods:
            cells = [f"{mean(method, budget, (c,)):.3f}" for c in CATEGORIES]
            overall = mean(method, budget, (1, 2, 3, 4))
            print(f"| {budget} | {method} | " + " | ".join(cells) + f" | **{overall:.3f}** |")
    print("\nClonr by half (conversations 1, 3, 5, ... and 2, 4, 6, ...), cats 1-4: choose a change on one half, "
          "check it on the other\n")
    print("| budget | method | odd | even | all |\n| --- | --- | --- | --- | --- |")
    for budget in BUDGETS:
        odd, even = by_half[(budget, "odd")], by_half[(budget, "even")]
        cells = [f"{statistics.fmean(v):.3f}" if v else "nan" for v in (odd, even, odd + even)]
        print(f"| {budget} | clonr | " + " | ".join(cells) + " |")
    counts = {c: len(hits[("clonr", 500, c)]) for c in CATEGORIES}
    print(f"\nquestions per category: {counts}")
    print(f"ingest: {turns / ingest_seconds:.1f} turns/s; recall p50 {statistics.median(recall_ms):.1f} ms, "
          f"p95 {statistics.quantiles(recall_ms, n=20)[18]:.1f} ms (budget 2,000)")


if __name__ == "__main__":
    main()
