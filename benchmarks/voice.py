"""Speech on two cores: how long after a reply's first token its first audio is ready (the reply streamed into
the sentence splitter and Piper, as the API and Discord speak), the real-time factor, and what speaking adds to a
turn, side by side with the same turns as text only.

    .venv/bin/python benchmarks/voice.py [--model smollm2] [--turns 8] [--reply-tokens 96]

Marta's clone (benchmarks/data/qa_clone) on the chosen local model answers the same questions twice, each to a new
fan (so one odd reply does not set the tone of the next), alternating turn by turn: text only (the baseline), and
spoken as it streams (`VoiceService.speak` over the token stream, the
default offline voice). Per turn: first token, first audio, end; the audio's length, and Piper's time per second
of audio (the real-time factor).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # measure the checkout this script is in

from benchmarks.billing_overhead import pct  # noqa: E402  (after the path)
from benchmarks.first_token import build_clone  # noqa: E402

QUESTIONS = ["What got you into ceramics?", "How was your swim this morning?", "What are you making this week?",
             "Tell me about your studio.", "What do you do when a kiln firing goes wrong?",
             "Which glaze do you like best, and why?", "What would you tell someone starting out?",
             "What is the hardest part of your work?"]


def timed(pieces: Iterable[str], started: float, marks: dict[str, float]) -> Iterator[str]:
    """The pieces, noting when the first came."""
    for piece in pieces:
        marks.setdefault("first_token", time.perf_counter() - started)
        yield piece


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--reply-tokens", type=int, default=96)
    args = parser.parse_args()
    os.environ.update(CLONR_HOME=tempfile.mkdtemp(prefix="clonr-voice-"), CLONR_CHAT_MODEL=args.model,
                      CLONR_IMPORTANCE="heuristic", CLONR_REFLECTION_THRESHOLD="0",
                      CLONR_REPLY_TOKENS=str(args.reply_tokens), CLONR_FEED_CHECK_SECONDS="0")
    from clonr import Clonr

    app = Clonr()
    clone, _ = build_clone(app)
    list(app.voice.speak(clone, ["Warming up the voice."], fan_id="warm", channel="cli"))  # load it once
    "".join(app.chat.start_turn(clone.id, "Hello!", fan_id="warm"))  # and the model
    rows: dict[str, list[dict[str, float]]] = {"text only": [], "spoken": []}
    for n in range(args.turns):
        question = QUESTIONS[n % len(QUESTIONS)]
        for kind in (("text only", "spoken") if n % 2 == 0 else ("spoken", "text only")):
            marks: dict[str, float] = {}
            started = time.perf_counter()
            fan = f"{kind.replace(' ', '-')}-{n}"
            pieces = timed(app.chat.start_turn(clone.id, question, fan_id=fan), started, marks)
            audio = 0.0
            if kind == "text only":
                "".join(pieces)
            else:
                for speech in app.voice.speak(clone, pieces, fan_id=fan, channel="cli"):
                    if "first_audio" not in marks:
                        marks["first_audio"] = time.perf_counter() - started
                        marks["first_chars"] = len(speech.text)
                    audio += speech.seconds
            marks["end"] = time.perf_counter() - started
            marks["audio"] = audio
            rows[kind].append(marks)
            app.worker.drain()
    spoken = rows["spoken"]
    rtf = []  # Piper alone, one sentence at a time
    for sentence in QUESTIONS * 2:
        started = time.perf_counter()
        spoken_seconds = sum(s.seconds for s in app.voice.speak(clone, [sentence], fan_id="rtf", channel="cli"))
        rtf.append((time.perf_counter() - started) / spoken_seconds)
    gap = [m["first_audio"] - m["first_token"] for m in spoken if "first_audio" in m]
    print(f"\n{args.turns} turns each on {args.model}, {args.reply_tokens}-token replies, alternating:")
    print(f"{'turn':<10} {'first token s':>14} {'first audio s':>14} {'end s':>7} {'audio s':>8} "
          f"{'end vs text':>12}")
    text_end = statistics.median(m["end"] for m in rows["text only"])
    for kind, marks in rows.items():
        first_audio = [m["first_audio"] for m in marks if "first_audio" in m]
        print(f"{kind:<10} {statistics.median(m['first_token'] for m in marks):>14.2f} "
              f"{statistics.median(first_audio) if first_audio else float('nan'):>14.2f} "
              f"{statistics.median(m['end'] for m in marks):>7.2f} "
              f"{statistics.median(m['audio'] for m in marks):>8.1f} "
              f"{statistics.median(m['end'] for m in marks) / text_end:>12.2f}")
    print("first token -> first audio per turn: " + ", ".join(
        f"{m['first_audio'] - m['first_token']:.2f} s ({m['first_chars']:.0f} chars)" for m in spoken))
    print(f"\nfirst token -> first audio: p50 {statistics.median(gap):.2f} s, p95 {pct(gap, 95):.2f} s "
          f"(target <= 1 s); Piper's real-time factor on single sentences: p50 {statistics.median(rtf):.3f}, "
          f"p95 {pct(rtf, 95):.3f}")


if __name__ == "__main__":
    main()
