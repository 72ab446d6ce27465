"""What knowing who is asking costs a fan's turn: the creator's path against the widget's, in one run.

    .venv/bin/python benchmarks/fan_turn.py [--memories 10000] [--turns 200]

Embedded stack (SQLite + the embedded vector index + MiniLM), the local model's tokenizer, no generation.
Three ways to prepare the same turn, interleaved so the machine's noise falls on all three alike:
- `creator`: `ChatService.start_turn` as the studio's test chat calls it (the baseline);
- `fan`: `FanService.turn` with the fan's actor (the policy's check, the message rates, then the same turn);
- `widget`: as the widget does, the fan's token checked first (`FanService.known`: the JWT and the fan's row).
Reports p50/p95 in ms and the ratio of each median to the baseline's."""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable

os.environ.setdefault("GOMP_SPINCOUNT", "1000")

from clonr import Clonr, freeze_startup_objects, load_settings
from clonr.memory import HeuristicImportanceScorer

QUESTIONS = ["What did I do with my sister in Lisbon?", "Do you remember the dog I adopted?",
             "How was the half marathon?", "What happened at the lake?", "Who fixed the old bike?"]


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=10000)
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="clonr-fan-turn-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ.update(CLONR_HOME=home, CLONR_IMPORTANCE="heuristic", CLONR_REFLECTION_THRESHOLD="0",
                      CLONR_KNOWLEDGE_UPDATES="off", CLONR_FAN_MESSAGE_LIMIT="1000000/minute",
                      CLONR_ADDRESS_MESSAGE_LIMIT="1000000/minute")
    app = Clonr(load_settings(), importance=HeuristicImportanceScorer())
    clone = app.clones.publish(app.clones.create("Bench", greeting="Hi!").id)
    visit = app.fans.visit(clone.id, None)
    fan = visit.fan
    for offset in range(0, args.memories, 2000):
        count = min(2000, args.memories - offset)
        app.memory.remember(clone.id, fan.fan_id, [f"Fan: I went hiking with my sister, trip {offset + n}."
                                                   for n in range(count)], importance=5)
    freeze_startup_objects()

    ways: dict[str, Callable[[str], object]] = {
        "creator": lambda message: app.chat.start_turn(clone.id, message, fan_id=fan.fan_id),
        "fan": lambda message: app.fans.turn(fan, clone.id, fan.fan_id, message, address="10.0.0.1"),
        "widget": lambda message: app.fans.turn(app.fans.known(clone.id, visit.token), clone.id, fan.fan_id,
                                                message, address="10.0.0.1"),
    }
    timings: dict[str, list[float]] = {name: [] for name in ways}
    for number in range(args.turns + 3):
        for name, prepare in ways.items():
            message = QUESTIONS[number % len(QUESTIONS)]
            with app.worker.foreground:
                began = time.perf_counter()
                prepare(message)
                elapsed = (time.perf_counter() - began) * 1000
            if number >= 3:  # the first turns warm the caches
                timings[name].append(elapsed)
    baseline = statistics.median(timings["creator"])
    print(f"{args.memories:,} memories, {args.turns} turns each, interleaved\n")
    print("| path | p50, ms | p95, ms | p50 / creator's |")
    print("| --- | --- | --- | --- |")
    for name, values in timings.items():
        print(f"| {name} | {statistics.median(values):.2f} | {pct(values, 95):.2f} | "
              f"{statistics.median(values) / baseline:.3f} |")
    app.worker.drain()


if __name__ == "__main__":
    main()
