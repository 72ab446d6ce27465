"""A long chat import with its memory work, beside the embedding floor: is it still bound by embedding?

    .venv/bin/python benchmarks/memory_import.py [--lines 10000] [--updates rules]

The chat is knowledge_currency.py's year of chat (benchmarks/data/knowledge_currency.json), its first fan's year
told again year after year (new days, new repeats) until it has `--lines` lines. Timed in one run, on a fresh
CLONR_HOME:
1. embedding floor: MiniLM alone embedding the very texts the import embeds (each line with the line before it),
   in the import's batches of 32;
2. the import, as `clonr memory … import` does it (messages, memories, vectors, people; the model's work held);
3. the memory work it queued, as a server starting does it (`catch_up`): importance, and with `--updates` the
   knowledge updates (each fan line against its 8 nearest older ones).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import tempfile
import time
from datetime import timedelta

os.environ.setdefault("GOMP_SPINCOUNT", "1000")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--updates", default="rules", help="CLONR_KNOWLEDGE_UPDATES: rules or off")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="clonr-import-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ.update(CLONR_HOME=home, CLONR_IMPORTANCE="heuristic", CLONR_REFLECTION_THRESHOLD="0",
                      CLONR_KNOWLEDGE_UPDATES=args.updates)

    from knowledge_currency import DATA, chat  # a script beside this one

    from clonr import Clonr
    from clonr.memory import HeuristicImportanceScorer, TranscriptLine
    from clonr.memory.service import UPDATE_BATCH, embedding_text

    fan = json.loads(DATA.read_text())["fans"][0]
    lines: list[TranscriptLine] = []
    for year in range(100):
        for said in chat(fan, seed=year):
            lines.append(TranscriptLine("fan" if said.by_fan else "clone", said.text,
                                        said.time + timedelta(days=366 * year),
                                        name=fan["name"] if said.by_fan else fan["clone"]))
        if len(lines) >= args.lines:
            break
    lines = lines[:args.lines]
    app = Clonr(importance=HeuristicImportanceScorer())
    clone = app.clones.create(fan["clone"])
    embeddings = app.embeddings
    embeddings.embed_query("warm up")

    texts = [f"{line.name}: {line.text}" for line in lines]
    started = time.perf_counter()
    for start in range(0, len(texts), UPDATE_BATCH):
        embeddings.embed_documents([embedding_text(text, texts[n - 1] if n else None)
                                    for n, text in enumerate(texts[start:start + UPDATE_BATCH], start=start)])
    floor = time.perf_counter() - started

    started = time.perf_counter()
    with app.worker.held():
        app.memory.import_transcript(clone, fan["name"], lines)
    imported = time.perf_counter() - started
    started = time.perf_counter()
    app.memory.catch_up()
    app.worker.drain()
    work = time.perf_counter() - started

    print(f"\n{len(lines):,} lines ({sum(line.speaker == 'fan' for line in lines):,} the fan's); "
          f"CLONR_KNOWLEDGE_UPDATES={args.updates}\n")
    print("| stage | seconds | lines/s | / embedding floor |\n| --- | --- | --- | --- |")
    for stage, seconds in (("embedding floor (MiniLM alone, same texts and batches)", floor),
                           ("import (`clonr memory … import`)", imported),
                           ("memory work it queued (importance, knowledge updates)", work),
                           ("import + memory work", imported + work)):
        print(f"| {stage} | {seconds:.1f} | {len(lines) / seconds:.0f} | {seconds / floor:.2f}x |")


if __name__ == "__main__":
    main()
