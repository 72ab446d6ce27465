"""Time to the first word of a reply in real conversations, on the default model, with background memory work.

    .venv/bin/python benchmarks/first_token.py [--baseline PATH] [--turns 10] [--reply-tokens 64]

A clone of realistic size (benchmarks/data/qa_clone: a 686-word long description, 3,476 words of notes, 14
example dialogues, 242 earlier lines for each fan) answers 10-turn conversations: one fan alone, then two
fans taking turns. Between turns the background memory work runs to the end on the same model (importance
scored by the model, knowledge updates; reflections off, or the 242 imported lines would set one off), as
it does while a fan types; it is not timed. Per turn: prompt
tokens, tokens llama.cpp had to read before the first word, first-word time and total time.

`--baseline PATH` runs the same conversations on another checkout of Clonr (e.g. a git worktree of an earlier
commit) in a subprocess, and prints both side by side; scenarios alternate between the two to share the noise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GOMP_SPINCOUNT", "1000")
DATA = Path(__file__).resolve().parent / "data" / "qa_clone"
SCENARIOS = {"alone": ["jonas"], "interleaved": ["jonas", "kim"]}


def build_clone(app, data: Path = DATA):
    """Marta's clone with notes, examples and each fan's earlier conversation (importance: heuristic)."""
    from clonr.memory import read_transcript

    clone = app.clones.create("Marta Quist", "Ceramicist and open-water swimmer.",
                              (data / "long_description.txt").read_text(), "Right then. What's on your mind?")
    for note in sorted((data / "notes").glob("*.md")):
        app.ingest.add_text(clone.id, note.read_text(), note.stem)
    examples = json.loads((data / "examples.json").read_text())
    app.dialogues.add_many(clone.id, [(e["fan"], e["clone"], "general") for e in examples], origin="manual")
    lines = read_transcript(data / "memories.json", 10_000_000)
    return clone, lines


def run(turns: int, scenario: str) -> list[dict]:
    """One scenario in this process: a fresh home, the clone, then the timed conversation."""
    home = tempfile.mkdtemp(prefix="clonr-first-token-")
    os.environ.update(CLONR_HOME=home, CLONR_IMPORTANCE="heuristic", CLONR_REFLECTION_THRESHOLD="0")
    import llama_cpp

    from clonr import Clonr
    from clonr.memory import ModelImportanceScorer

    read: list[int] = []
    evaluate = llama_cpp.Llama.eval

    def counting(self, tokens):
        read.append(len(tokens))
        return evaluate(self, tokens)

    llama_cpp.Llama.eval = counting
    app = Clonr()
    clone, lines = build_clone(app)
    fans = SCENARIOS[scenario]
    for fan in fans:
        app.memory.import_transcript(clone, fan, lines)
    app.worker.drain()
    app._importance = ModelImportanceScorer(app.chat_model)  # from now on, as in live chat with this model
    questions = [q["question"] for q in json.loads((DATA / "qa.json").read_text())]
    rows = []
    for n in range(turns * len(fans)):
        fan = fans[n % len(fans)]
        message = questions[(n // len(fans)) * 3 % len(questions)] if fan == "jonas" else \
            questions[((n // len(fans)) * 3 + 1) % len(questions)]
        read.clear()
        started = time.perf_counter()
        turn = app.chat.start_turn(clone.id, message, fan_id=fan)
        first = None
        for _ in turn:
            if first is None:
                first = time.perf_counter() - started
                before_first = sum(read)
        total = time.perf_counter() - started
        rows.append({"fan": fan, "turn": n // len(fans) + 1, "prompt": turn.usage.get("input_tokens", 0),
                     "read": before_first, "first": first or total, "total": total})
        app.worker.drain()  # the fan reads and types; memory work runs on the same model meanwhile
    shutil.rmtree(home, ignore_errors=True)
    return rows


def summary(rows: list[dict]) -> tuple[float, float, float, float]:
    later = [r for r in rows if r["turn"] >= 2]
    return (statistics.median(r["first"] for r in later), max(r["first"] for r in later),
            statistics.median(r["read"] for r in later), statistics.median(r["prompt"] for r in later))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another Clonr checkout to measure in the same run")
    parser.add_argument("--turns", type=int, default=10, help="turns per fan")
    parser.add_argument("--reply-tokens", type=int, default=64, help="most tokens in a reply (CLONR_REPLY_TOKENS)")
    parser.add_argument("--one", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)  # a child process's scenario
    args = parser.parse_args()
    os.environ["CLONR_REPLY_TOKENS"] = str(args.reply_tokens)
    if args.one:
        print(json.dumps(run(args.turns, args.one)))
        return
    sides = {"now": Path(__file__).resolve().parent.parent}
    if args.baseline:
        sides = {"baseline": args.baseline.resolve(), **sides}
    results: dict[tuple[str, str], list[dict]] = {}
    for scenario in SCENARIOS:
        for side, root in sides.items():
            env = {**os.environ, "PYTHONPATH": str(root)}
            out = subprocess.run([sys.executable, __file__, "--one", scenario, "--turns", str(args.turns),
                                  "--reply-tokens", str(args.reply_tokens)], env=env, cwd=root,
                                 capture_output=True, text=True, check=True)
            results[side, scenario] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{side} {scenario} done", file=sys.stderr)
    print(f"\n{args.turns} turns per fan, replies up to {args.reply_tokens} tokens, {os.cpu_count()} cores\n")
    print("| code | scenario | fan | turn | prompt tokens | read before first word | first word, s | total, s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for (side, scenario), rows in results.items():
        for r in rows:
            print(f"| {side} | {scenario} | {r['fan']} | {r['turn']} | {r['prompt']} | {r['read']} | "
                  f"{r['first']:.2f} | {r['total']:.2f} |")
    print("\nTurns 2 onwards:\n")
    print("| code | scenario | first word p50, s | first word max, s | tokens read p50 | prompt tokens p50 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (side, scenario), rows in results.items():
        p50, worst, read, prompt = summary(rows)
        print(f"| {side} | {scenario} | {p50:.2f} | {worst:.2f} | {read:.0f} | {prompt:.0f} |")
    if args.baseline:
        for scenario in SCENARIOS:
            ratio = summary(results["baseline", scenario])[0] / summary(results["now", scenario])[0]
            print(f"\n{scenario}: first word p50, baseline / now = {ratio:.1f}x")


if __name__ == "__main__":
    main()
