"""Knowledge that stays current: after a year of chat, does recall put a fan's current facts first, and count a
repeated line once?

    .venv/bin/python benchmarks/knowledge_currency.py [--updates rules|on|off] [--model smollm2] [--budget 1000]

Data: benchmarks/data/knowledge_currency.json, written for this benchmark: two fans, 35 facts each (22 of them
change, in varied words, 4 change back; about a third are about other people), small talk, three lines each fan
says 6 to 12 times, and the clone's short replies. Each fan's year is laid out as a chat (the facts on their
days, small talk around them, the repeated lines on random days with small variations, each line answered by the
clone) and imported with `clonr memory … import`'s path, `MemoryService.import_transcript`; the memory work
queued by the import (knowledge updates with `--updates`) runs before the questions are asked.

Each fact's "now" question is asked of `MemoryService.recall` within `--budget` tokens (Qwen2.5 tokenizer):
- recall: a statement of the current state is inside the budget;
- current first (changing facts): the best-ranked statement of the current state ranks above every statement of
  an earlier, different state (absent ones count as below);
- before: the "before" questions find a statement of the previous state;
- repeats: the share of the budget spent on a line whose origin (a repeated line, a small-talk line, a reply)
  is already in it, over all questions and over the repeated lines asked back.
The script reads only APIs older versions have, so the same command run against a worktree of an earlier commit
(`PYTHONPATH=<worktree>`) gives the baseline of RESULTS.md.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("GOMP_SPINCOUNT", "1000")
DATA = Path(__file__).parent / "data" / "knowledge_currency.json"
VARIATIONS = ("{}", "{}!", "ugh, {}", "so {}", "{}...", "{} :(")  # how a repeated line comes back


@dataclass(frozen=True)
class Said:
    """A line of the generated chat and where it comes from (its `ref`, kept as the memory's source)."""

    ref: str  # fact:<id>:<n>, talk:<n>, repeat:<n>:<time>, reply:<n>:<place>
    text: str
    time: datetime
    by_fan: bool


def chat(fan: dict, seed: int) -> list[Said]:
    """A year of chat: each fact's statements on their days, two or three small-talk lines on those and on 120
    other days, each repeated line on `times` random days; every fan line gets one of the clone's replies."""
    rng = random.Random(seed)
    start = datetime.fromisoformat(fan["start"]).replace(hour=19, tzinfo=UTC)
    days: dict[int, list[tuple[str, str]]] = {}
    for fact in fan["facts"]:
        for n, statement in enumerate(fact["statements"]):
            days.setdefault(statement["day"], []).append((f"fact:{fact['id']}:{n}", statement["text"]))
    for day in rng.sample(range(365), 120):
        days.setdefault(day, [])
    for n, repeated in enumerate(fan["repeated"]):
        for time_said, day in enumerate(sorted(rng.sample(sorted(days), repeated["times"]))):
            days[day].append((f"repeat:{n}:{time_said}", rng.choice(VARIATIONS).format(repeated["text"])))
    lines: list[Said] = []
    for day in sorted(days):
        said = days[day] + [(f"talk:{n}", fan["small_talk"][n])
                            for n in rng.sample(range(len(fan["small_talk"])), rng.randint(2, 3))]
        rng.shuffle(said)
        when = start + timedelta(days=day)
        for ref, text in said:
            reply = rng.randrange(len(fan["clone_replies"]))
            lines.append(Said(ref, text, when, True))
            lines.append(Said(f"reply:{reply}:{len(lines)}", fan["clone_replies"][reply], when + timedelta(minutes=1),
                              False))
            when += timedelta(minutes=3)
    return lines


def origin(ref: str) -> str:
    """What a line repeats: the same repeated line, small-talk line or reply, whatever the day."""
    kind, number, *_ = ref.split(":")
    return f"{kind}:{number}" if kind in ("repeat", "talk", "reply") else ref


def token_counter(home: Path) -> tuple[str, Callable[[str], int]]:
    """(name, counter) of the best installed local model's tokenizer, counts cached (also memory_recall.py's)."""
    import llama_cpp

    from clonr.llm import LOCAL_CHAT_MODELS, is_installed, locate

    name = next(n for n in ("qwen2.5-1.5b", "qwen2.5-0.5b", "smollm2") if is_installed(LOCAL_CHAT_MODELS[n]))
    vocab = llama_cpp.Llama(model_path=str(locate(LOCAL_CHAT_MODELS[name], home / "models")), vocab_only=True,
                            verbose=False)
    cache: dict[str, int] = {}

    def count(text: str) -> int:
        if text not in cache:
            cache[text] = len(vocab.tokenize(text.encode(), add_bos=False))
        return cache[text]

    return name, count


def states(fact: dict) -> tuple[set[int], set[int], set[int]]:
    """(current, outdated, previous) statement numbers: the current state's statements since it last began; every
    statement of another state; the previous state's statements just before that."""
    told = [s["state"] for s in fact["statements"]]
    began = len(told) - 1
    while began > 0 and told[began - 1] == told[-1]:
        began -= 1
    current = set(range(began, len(told)))
    outdated = {n for n, state in enumerate(told) if state != told[-1]}
    previous = {n for n in outdated if told[n] == told[began - 1]} if began else set()
    return current, outdated, previous


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", default="rules", help="CLONR_KNOWLEDGE_UPDATES: rules, on or off")
    parser.add_argument("--model", default="smollm2", help="CLONR_CHAT_MODEL (the one confirming with --updates on)")
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="clonr-currency-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ.update(CLONR_HOME=str(home), CLONR_IMPORTANCE="heuristic", CLONR_REFLECTION_THRESHOLD="0",
                      CLONR_KNOWLEDGE_UPDATES=args.updates, CLONR_CHAT_MODEL=args.model)

    from clonr import Clonr
    from clonr.memory import HeuristicImportanceScorer, TranscriptLine

    data = json.loads(DATA.read_text())
    clock = [datetime.now(UTC)]
    app = Clonr(clock=lambda: clock[0], importance=HeuristicImportanceScorer())
    tokenizer, count = token_counter(app.settings.home)
    rows, recall_ms, spent, repeat_asked = [], [], [0, 0], [0, 0]
    imported_s, lines_total = 0.0, 0
    for number, fan in enumerate(data["fans"]):
        lines = chat(fan, args.seed + number)
        lines_total += len(lines)
        clone = app.clones.create(f"{fan['clone']} {number}")
        clock[0] = lines[-1].time + timedelta(days=1)
        started = time.perf_counter()
        app.memory.import_transcript(clone, fan["name"], [
            TranscriptLine("fan" if line.by_fan else "clone", line.text, line.time,
                           name=fan["name"] if line.by_fan else fan["clone"], ref=line.ref) for line in lines])
        app.worker.drain()
        imported_s += time.perf_counter() - started

        def ask(question: str, tally: list[int], clone_id: str = clone.id, fan_id: str = fan["name"]) -> list[str]:
            started = time.perf_counter()
            recalled = app.memory.recall(clone_id, fan_id, question, args.budget, count, touch=False)
            recall_ms.append((time.perf_counter() - started) * 1000)
            refs = [r.memory.source.removeprefix("import:") for r in recalled]
            seen = set()
            for ref, item in zip(refs, recalled, strict=True):
                tally[1] += item.tokens
                if origin(ref) in seen:
                    tally[0] += item.tokens
                seen.add(origin(ref))
            return refs

        for fact in fan["facts"]:
            current, outdated, previous = states(fact)
            ranked = ask(fact["now"], spent)
            places = {int(ref.split(":")[2]): place for place, ref in enumerate(ranked)
                      if ref.startswith(f"fact:{fact['id']}:")}
            best_current = min((places[n] for n in current if n in places), default=None)
            first = best_current is not None and all(best_current < places.get(n, 10**9) for n in outdated)
            before = None
            if fact.get("before") and previous:
                before_refs = ask(fact["before"], spent)
                before = any(f"fact:{fact['id']}:{n}" in before_refs for n in previous)
            rows.append({"fan": fan["name"], "changing": bool(outdated), "recall": best_current is not None,
                         "first": first, "before": before, "about": fact["about"]})
        for repeated in fan["repeated"]:
            ask(repeated["text"], repeat_asked)

    def share(values: list[bool | None]) -> str:
        kept = [v for v in values if v is not None]
        return f"{statistics.fmean(kept):.2f} ({sum(kept)}/{len(kept)})" if kept else "-"

    changing = [r for r in rows if r["changing"]]
    print(f"\n{len(data['fans'])} fans, {lines_total} lines imported ({lines_total / imported_s:.0f} lines/s with "
          f"the memory work), {len(rows)} facts ({len(changing)} changing); CLONR_KNOWLEDGE_UPDATES={args.updates}, "
          f"model {args.model}; budget {args.budget} tokens ({tokenizer} tokenizer)\n")
    print("| facts | recall | current first | before | repeats, all questions | repeats, repeated lines asked |")
    print("| --- | --- | --- | --- | --- | --- |")
    names = [fan["name"] for fan in data["fans"]]
    for label, group in (("all", rows), ("about the fan", [r for r in rows if r["about"] == "self"]),
                         ("about others", [r for r in rows if r["about"] != "self"]),
                         *((f"{name}'s", [r for r in rows if r["fan"] == name]) for name in names)):
        print(f"| {label} | {share([r['recall'] for r in group])} | "
              f"{share([r['first'] for r in group if r['changing']])} | {share([r['before'] for r in group])} | "
              + (f"{spent[0] / spent[1]:.1%} | {repeat_asked[0] / repeat_asked[1]:.1%} |" if label == "all" else
                 " | |"))
    print(f"\nrecall p50 {statistics.median(recall_ms):.1f} ms, p95 {statistics.quantiles(recall_ms, n=20)[18]:.1f} ms")


if __name__ == "__main__":
    main()
