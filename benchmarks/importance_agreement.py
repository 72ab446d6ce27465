"""Importance scoring: how well each scorer's 1-10 follows hand labels, and how long it takes a line.

    .venv/bin/python benchmarks/importance_agreement.py [--models qwen2.5-1.5b smollm2]

Two sets of 16 hand-labelled conversation lines (greetings to births and deaths): "tuning" was used to choose
the model's prompt, "held out" was not. Agreement is Spearman's rank correlation (1: the same order, 0: none).
The heuristic is the model-free baseline; each local model that is installed is asked through
`ModelImportanceScorer`, as the background memory work asks it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

TUNING = [("Fan: hi, how are you?", 1), ("Ada Lovelace: Hello! Lovely to hear from you.", 1), ("Fan: lol ok", 1),
          ("Fan: I had a sandwich for lunch.", 2), ("Fan: It's raining here today.", 2),
          ("Fan: I watched a movie last night, it was fine.", 3), ("Fan: My favourite colour is teal.", 4),
          ("Fan: I have a dog called Biscuit.", 5), ("Fan: I'm learning to play the cello.", 5),
          ("Fan: I moved to Berlin last month.", 7), ("Fan: I started a new job as a nurse.", 7),
          ("Fan: My sister is getting married in June.", 7), ("Fan: I just got engaged!", 8),
          ("Fan: I was diagnosed with diabetes yesterday.", 9),
          ("Fan: My mother died last year and I still miss her.", 9), ("Fan: My son was born this morning!", 10)]
HELD_OUT = [("Fan: hey there", 1), ("Ada Lovelace: Ha, that's funny!", 1), ("Fan: ok cool, thanks", 1),
            ("Fan: The bus was late again this morning.", 2), ("Fan: I'm drinking a coffee right now.", 2),
            ("Fan: I think jazz is a bit boring.", 3), ("Fan: I read a good book about space last week.", 3),
            ("Fan: I'm allergic to cats.", 5), ("Fan: I grew up in a small town in Scotland.", 6),
            ("Fan: I run every morning before work.", 5), ("Fan: We bought our first house!", 8),
            ("Fan: I lost my job today.", 8), ("Fan: My best friend and I stopped talking after a big fight.", 7),
            ("Fan: My grandmother passed away on Sunday.", 9), ("Fan: I'm pregnant with our first child.", 10),
            ("Fan: I was in a car accident and broke my leg.", 8)]


def ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    result = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for n in order[start:end + 1]:
            result[n] = (start + end) / 2 + 1
        start = end + 1
    return result


def spearman(got: list[int], wanted: list[int]) -> float:
    a, b = ranks([float(v) for v in got]), ranks([float(v) for v in wanted])
    mean_a, mean_b = statistics.mean(a), statistics.mean(b)
    covariance = sum((x - mean_a) * (y - mean_b) for x, y in zip(a, b, strict=True))
    spread = (sum((x - mean_a) ** 2 for x in a) * sum((y - mean_b) ** 2 for y in b)) ** 0.5
    return covariance / spread if spread else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-1.5b", "smollm2"])
    args = parser.parse_args()
    os.environ["CLONR_HOME"] = tempfile.mkdtemp(prefix="clonr-importance-")

    from clonr import load_settings
    from clonr.llm import LOCAL_CHAT_MODELS, get_chat_model, is_installed
    from clonr.memory import HeuristicImportanceScorer, ImportanceScorer, ModelImportanceScorer

    scorers: list[tuple[str, ImportanceScorer]] = [("heuristic (baseline)", HeuristicImportanceScorer())]
    for name in args.models:
        if not is_installed(LOCAL_CHAT_MODELS[name]):
            print(f"skipping {name}: not installed")
            continue
        os.environ["CLONR_CHAT_MODEL"] = name
        scorers.append((f"model: {name}", ModelImportanceScorer(get_chat_model(load_settings()))))
    print("| scorer | agreement, tuning set | agreement, held out | seconds per line |")
    print("| --- | --- | --- | --- |")
    for label, scorer in scorers:
        scorer.score(["Fan: hello"])  # loads the model
        began = time.perf_counter()
        tuning = scorer.score([line for line, _ in TUNING])
        held_out = scorer.score([line for line, _ in HELD_OUT])
        per_line = (time.perf_counter() - began) / (len(TUNING) + len(HELD_OUT))
        print(f"| {label} | {spearman(tuning, [v for _, v in TUNING]):.2f} | "
              f"{spearman(held_out, [v for _, v in HELD_OUT]):.2f} | {per_line:.2f} |")


if __name__ == "__main__":
    main()
