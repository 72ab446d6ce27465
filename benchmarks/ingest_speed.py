"""Ingestion speed end to end, and where the time goes, beside the embedding floor measured in the same run.

    .venv/bin/python benchmarks/ingest_speed.py [--pages 60] [--messages 10000] [--runs 3]

1. Web pages: a site of generated articles (about 3 KB of text each) served from loopback, ingested as one job
   (fetch → robots.txt → extract with trafilatura → chunk → embed with MiniLM → index → record). The politeness
   delay is 0 here (one loopback host); with the default CLONR_CRAWL_DELAY=1.0 one host is capped at 60 pages
   a minute.
2. A WhatsApp export of N messages between two people, imported with `--chat` (parse → dialogue candidates →
   chunk → embed → index → record).

Each stage is timed by wrapping the functions the service calls. The baseline is the embedding model alone on
the very same chunks in the same batches (`embed_documents` per source), so "Clonr / embed only" says how
much the rest of the pipeline adds.
Medians over --runs fresh CLONR_HOMEs.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import http.server
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("GOMP_SPINCOUNT", "1000")

from clonr import Clonr, load_settings
from clonr.ingest import service, web
from clonr.ingest.fetch import SafeFetcher
from clonr.llm import MiniLMEmbeddings

WORDS = (
    "engine", "poetry", "horse", "number", "science", "London", "mother", "father", "letter", "machine", "music",
    "loom", "card", "weave", "calculation", "Bernoulli", "Babbage", "notes", "theory", "future", "symbol",
    "operation", "algebra", "friend", "travel", "garden", "evening", "morning", "journal", "memory", "idea",
)

TIMINGS: dict[str, float] = defaultdict(float)


def timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            TIMINGS[label] += time.perf_counter() - start
    return wrapper


class TimedEmbeddings(MiniLMEmbeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return timed("embed", super().embed_documents)(texts)


def instrument() -> None:
    """Time each stage where the ingest service calls it."""
    SafeFetcher.get = timed("fetch", SafeFetcher.get)
    web.html_document = timed("extract", web.html_document)
    service.chunk_document = timed("chunk", service.chunk_document)
    service.parse_chat = timed("parse", service.parse_chat)
    service.dialogue_candidates = timed("parse", service.dialogue_candidates)


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def article(rng: random.Random, number: int) -> str:
    paragraphs = "".join(f"<p>{' '.join(sentence(rng, rng.randint(8, 16)) for _ in range(5))}</p>" for _ in range(6))
    return (f"<html><head><title>Post {number}</title></head><body><nav><a href='/'>Home</a></nav><article>"
            f"<h1>Post {number}</h1>{paragraphs}</article><footer>© Ada</footer></body></html>")


def serve(pages: dict[str, bytes]) -> str:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def whatsapp_export(rng: random.Random, messages: int) -> str:
    start, lines = datetime(2023, 1, 1, 8, 0), []
    for n in range(messages):
        when = start + timedelta(minutes=7 * n)
        speaker = "Ada Lovelace" if rng.random() < 0.5 else "Bob"
        lines.append(f"{when:%d/%m/%Y, %H:%M} - {speaker}: {sentence(rng, rng.randint(3, 18))}")
        if rng.random() < 0.05:
            lines.append(sentence(rng, 6))  # a multi-line message
    return "\n".join(lines) + "\n"


def fresh_app(home: Path, embeddings: MiniLMEmbeddings) -> Clonr:
    os.environ.update(CLONR_HOME=str(home), CLONR_ALLOW_PRIVATE_URLS="on", CLONR_CRAWL_DELAY="0")
    app = Clonr(load_settings(env_file=None), embeddings=embeddings)
    app.clones.create("Ada")
    return app


def embed_floor(app: Clonr, embeddings: MiniLMEmbeddings) -> tuple[int, float]:
    """Chunks in the clone's index, and the seconds the embedding model alone takes for exactly those texts,
    in the same batches as ingestion (one call per source)."""
    clone = app.clones.get("ada")
    batches = [[d.page_content for d in app.index_for(clone).get_by_ids([f"{s.id}:{n}" for n in range(s.chunk_count)])]
               for s in app.ingest.list_sources("ada")]
    start = time.perf_counter()
    for texts in batches:
        MiniLMEmbeddings.embed_documents(embeddings, texts)
    return sum(map(len, batches)), time.perf_counter() - start


def run_once(kind: str, args: argparse.Namespace, embeddings: TimedEmbeddings, base: str, export: Path,
             ) -> dict[str, float]:
    TIMINGS.clear()
    with tempfile.TemporaryDirectory() as home:
        app = fresh_app(Path(home), embeddings)
        start = time.perf_counter()
        if kind == "pages":
            job = app.ingest.start_job("ada", [(f"{base}/post/{n}", {}) for n in range(args.pages)])
            job = app.ingest.run_job(job.id)
            assert not job.failures, job.failures[0].detail
        else:
            result = app.ingest.add_chat("ada", export, me="Ada Lovelace")
            TIMINGS["candidates"] = result.candidates
        total = time.perf_counter() - start
        chunks, floor = embed_floor(app, embeddings)
    stages = dict(TIMINGS)
    return {"total": total, "chunks": chunks, "floor": floor, **stages}


def report(title: str, runs: list[dict[str, float]], unit: str, units: int) -> None:
    median = {key: statistics.median(r.get(key, 0.0) for r in runs) for key in runs[0]}
    total, floor = median["total"], median["floor"]
    print(f"\n### {title}\n")
    print("| measure | Clonr end to end | embedding only (baseline) | ratio |\n| --- | --- | --- | --- |")
    print(f"| seconds | {total:.2f} | {floor:.2f} | {total / floor:.2f} |")
    print(f"| {unit} per minute | {units / total * 60:,.0f} | {units / floor * 60:,.0f} | |")
    print(f"| chunks per second | {median['chunks'] / total:.1f} | {median['chunks'] / floor:.1f} | |")
    print(f"\nWhere the time goes ({int(median['chunks'])} chunks; medians of {len(runs)} runs):\n")
    print("| stage | seconds | share |\n| --- | --- | --- |")
    accounted = 0.0
    for stage in ("fetch", "extract", "parse", "chunk", "embed"):
        if stage in median:
            accounted += median[stage]
            print(f"| {stage} | {median[stage]:.2f} | {median[stage] / total:.0%} |")
    print(f"| index write, records, job bookkeeping | {total - accounted:.2f} | {(total - accounted) / total:.0%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(7)
    base = serve({f"/post/{n}": article(rng, n).encode() for n in range(args.pages)} | {"/robots.txt": b""})
    folder = Path(tempfile.mkdtemp())
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    export = folder / "WhatsApp Chat with Bob.txt"
    export.write_text(whatsapp_export(rng, args.messages), encoding="utf-8")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; MiniLM (onnxruntime); {args.runs} runs each")
    embeddings = TimedEmbeddings(load_settings(env_file=None).home / "models")
    instrument()
    embeddings.embed_documents(["warm up"])
    pages = [run_once("pages", args, embeddings, base, export) for _ in range(args.runs)]
    report(f"{args.pages} web pages from loopback", pages, "pages", args.pages)
    chat = [run_once("chat", args, embeddings, base, export) for _ in range(args.runs)]
    report(f"WhatsApp export of {args.messages:,} messages ({export.stat().st_size / 1e6:.1f} MB)", chat,
           "messages", args.messages)
    print(f"\n{int(chat[0]['candidates']):,} dialogue candidates found in the export.")


if __name__ == "__main__":
    main()
