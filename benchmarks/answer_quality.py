"""Does the clone answer from its notes, memories and example dialogues? The share answered correctly.

    .venv/bin/python benchmarks/answer_quality.py [--baseline PATH] [--questions 60] [--per-conversation 10]

Marta's clone (benchmarks/data/qa_clone, our own data) is asked the questions of qa.json, each answerable only
from one source: her notes, her example dialogues, or what the fan told her in 242 earlier lines. They are
asked as a fan would, several per conversation (each conversation a fan with those earlier lines), on the
default model with greedy decoding. A reply is correct when it contains one of the expected keywords.

`--baseline PATH` asks the same questions of another checkout (e.g. a git worktree of an earlier commit), in a
subprocess, and prints both.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from first_token import DATA, build_clone

os.environ.setdefault("GOMP_SPINCOUNT", "1000")


def mixed(questions: list[dict]) -> list[dict]:
    """Sources taken in turn, so each conversation asks about notes, memories and examples alike."""
    by_source: dict[str, list[dict]] = {}
    for question in questions:
        by_source.setdefault(question["source"], []).append(question)
    queues = list(by_source.values())
    return [queue[n] for n in range(max(map(len, queues))) for queue in queues if n < len(queue)]


def ask(questions: list[dict], per_conversation: int) -> list[dict]:
    home = tempfile.mkdtemp(prefix="clonr-answers-")
    os.environ.update(CLONR_HOME=home, CLONR_IMPORTANCE="heuristic", CLONR_KNOWLEDGE_UPDATES="off",
                      CLONR_REFLECTION_THRESHOLD="0")
    from clonr import Clonr

    app = Clonr()
    app.chat_model.temperature = 0.0
    clone, lines = build_clone(app)
    rows = []
    for n, question in enumerate(questions):
        fan = f"jonas-{n // per_conversation}"
        if n % per_conversation == 0:
            app.memory.import_transcript(clone, fan, lines)
            app.worker.drain()
        reply = app.chat.start_turn(clone.id, question["question"], fan_id=fan).text()
        app.worker.drain()
        right = any(answer.casefold() in reply.casefold() for answer in question["answers"])
        rows.append({"id": question["id"], "source": question["source"], "right": right, "reply": reply})
        print(f"{question['id']} {'right' if right else 'wrong'}", file=sys.stderr)
    shutil.rmtree(home, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another Clonr checkout to ask in the same run")
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--per-conversation", type=int, default=10)
    parser.add_argument("--reply-tokens", type=int, default=96)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args()
    os.environ["CLONR_REPLY_TOKENS"] = str(args.reply_tokens)
    questions = mixed(json.loads((DATA / "qa.json").read_text()))[:args.questions]
    if args.one:
        print(json.dumps(ask(questions, args.per_conversation)))
        return
    sides = {"now": Path(__file__).resolve().parent.parent}
    if args.baseline:
        sides = {"baseline": args.baseline.resolve(), **sides}
    results = {}
    for side, root in sides.items():
        out = subprocess.run([sys.executable, __file__, "--one", "--questions", str(args.questions),
                              "--per-conversation", str(args.per_conversation), "--reply-tokens",
                              str(args.reply_tokens)], env={**os.environ, "PYTHONPATH": str(root)}, cwd=root,
                             capture_output=True, text=True, check=True)
        results[side] = json.loads(out.stdout.strip().splitlines()[-1])
    sources = sorted({q["source"] for q in questions})
    print(f"\n{len(questions)} questions, {args.per_conversation} per conversation, greedy, replies up to "
          f"{args.reply_tokens} tokens\n")
    print("| code | " + " | ".join(sources) + " | all |")
    print("| --- |" + " --- |" * (len(sources) + 1))
    for side, rows in results.items():
        shares = [sum(r["right"] for r in rows if r["source"] == s) / sum(r["source"] == s for r in rows)
                  for s in sources]
        overall = sum(r["right"] for r in rows) / len(rows)
        print(f"| {side} | " + " | ".join(f"{v:.3f}" for v in shares) + f" | {overall:.3f} |")
    if args.baseline:
        changed = [(r["id"], a["right"], r["right"]) for a, r in zip(results["baseline"], results["now"], strict=True)
                   if a["right"] != r["right"]]
        print("\nchanged: " + ", ".join(f"{i} {'gained' if now else 'lost'}" for i, _, now in changed))


if __name__ == "__main__":
    main()
