"""Generation speed of a Clonr turn against raw llama-cpp-python, same prompt, same model, same process.

    .venv/bin/python benchmarks/turn_speed.py [--model qwen2.5-1.5b] [--runs 5] [--tokens 96]

Both sides use one warm `Llama` and greedy decoding, so they produce the same tokens. Each run resets the
KV cache first (a cold prompt, as for a new fan), then measures a second, warm run of the same prompt (as in a
continuing conversation, where llama.cpp reuses the cached prefix). Sides alternate to share the noise.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass

os.environ.setdefault("GOMP_SPINCOUNT", "1000")


@dataclass
class Sample:
    first_token_s: float
    tokens: int
    generation_s: float

    @property
    def tokens_per_s(self) -> float:
        return (self.tokens - 1) / self.generation_s if self.generation_s > 0 else 0.0


def timed(stream: Iterable[object]) -> Sample:
    start = time.perf_counter()
    first = None
    tokens = 0
    for _ in stream:
        tokens += 1
        if first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    return Sample(first_token_s=(first or end) - start, tokens=tokens, generation_s=end - (first or end))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="auto", help="CLONR_CHAT_MODEL to measure (default: best installed)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=96, help="reply length in tokens")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="clonr-bench-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ.update(CLONR_HOME=home, CLONR_CHAT_MODEL=args.model,
                      CLONR_REPLY_TOKENS=str(args.tokens))
    from clonr import Clonr
    from clonr.llm import resolve_chat_model_name

    app = Clonr()
    model = app.chat_model
    model.temperature = 0.0  # greedy: both sides generate the same tokens
    runtime = model.runtime()
    llama, lock = runtime.llama, runtime.lock
    clone = app.clones.create(
        "Ada Lovelace", "Mathematician, writer of the first published computer program.",
        "I was born in London in 1815, the only legitimate child of Lord Byron. My mother raised me on "
        "mathematics to keep me from my father's poetry; I kept both and called it poetical science. I worked "
        "with Charles Babbage on his Analytical Engine and wrote the notes that contain the first algorithm.",
        "Good day! Shall we talk about engines, or poetry?")
    app.ingest.add_text(clone.id, "My horse was called Shakespeare. I loved music and gambling on horses. "
                        "In 1843 I translated Menabrea's paper and added notes A to G; note G computes "
                        "Bernoulli numbers.", "Biography")
    question = "What did you write in note G, and why does it matter?"
    roles = {"system": "system", "human": "user", "ai": "assistant"}

    def clonr_turn(fan: str):
        return (piece for piece in app.chat.start_turn(clone.id, question, fan_id=fan))

    def raw_turn(messages):
        with lock:
            for part in llama.create_chat_completion(messages=messages, stream=True, max_tokens=args.tokens,
                                                     temperature=0.0, top_p=model.top_p,
                                                     repeat_penalty=model.repeat_penalty):
                if part["choices"][0]["delta"].get("content"):
                    yield part

    plan = app.chat.start_turn(clone.id, question, fan_id="plan").plan  # not iterated: nothing stored
    messages = [{"role": roles[m.type], "content": m.text} for m in plan.messages]
    overhead = []
    results: dict[str, list[Sample]] = {"clonr cold": [], "raw cold": [], "clonr warm": [], "raw warm": []}
    timed(clonr_turn("warmup"))  # load and page in the model once
    for run in range(args.runs):
        order = ["clonr", "raw"] if run % 2 == 0 else ["raw", "clonr"]
        for side in order:
            for phase in ("cold", "warm"):
                if phase == "cold":
                    with lock:
                        llama.reset()
                        runtime.states.clear()  # a saved state of an earlier fan would make it warm
                start = time.perf_counter()
                stream = clonr_turn(f"bench-{run}-{phase}") if side == "clonr" else raw_turn(messages)
                if side == "clonr":
                    overhead.append(time.perf_counter() - start)
                results[f"{side} {phase}"].append(timed(stream))
        print(f"run {run + 1}/{args.runs} done", file=sys.stderr)

    name = resolve_chat_model_name(app.settings)
    print(f"\nmodel {name}, {args.runs} runs, reply {args.tokens} tokens max, prompt {plan.tokens} tokens "
          f"(budget {plan.budget}), {os.cpu_count()} cores\n")
    print("| path | phase | gen tok/s (median) | time to first token, s (median) | tokens |")
    print("| --- | --- | --- | --- | --- |")
    for key, samples in results.items():
        side, phase = key.split()
        print(f"| {side} | {phase} | {statistics.median(s.tokens_per_s for s in samples):.1f} | "
              f"{statistics.median(s.first_token_s for s in samples):.3f} | "
              f"{statistics.median(s.tokens for s in samples):.0f} |")
    for phase in ("cold", "warm"):
        ratio = statistics.median(s.tokens_per_s for s in results[f"clonr {phase}"]) / statistics.median(
            s.tokens_per_s for s in results[f"raw {phase}"])
        print(f"\nclonr / raw generation speed, {phase}: {ratio:.3f}")
    print(f"turn set-up before generation (retrieve + assemble), median: {statistics.median(overhead) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
