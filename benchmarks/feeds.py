"""What a live feed costs: a poll when nothing changed (answered 304 to the last poll's ETag, or read and parsed
again when the server ignores validators), a poll that finds one new post (stored and embedded as an event), and
what the clone's life lately adds to building every turn's prompt (`MemoryService.summaries`, one more query).

    .venv/bin/python benchmarks/feeds.py [--items 50] [--polls 30] [--events 1000]

A feed of `--items` posts (a 2 KB body each, as a blog's full-text feed) served from loopback; one clone in a fresh
CLONR_HOME with the embedded defaults (SQLite, the MiniLM embeddings), the heuristic importance scorer and no
reflection, so no chat model runs. Series alternate poll by poll, so drift and noise hit them alike. Life lately is
timed with no events (the baseline, as before feeds) and with `--events`.
"""

from __future__ import annotations

import argparse
import http.server
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # measure the checkout this script is in

from benchmarks.billing_overhead import pct  # noqa: E402  (after the path)


def feed(items: int) -> bytes:
    start = datetime(2026, 11, 30, 12, tzinfo=UTC)
    entries = "".join(
        f"<item><title>Post {n}</title><link>https://blog.example/{n}</link><guid>https://blog.example/{n}</guid>"
        f"<pubDate>{format_datetime(start - timedelta(hours=n))}</pubDate><description>"
        f"{'Glaze notes and kiln logs. ' * 75}</description></item>" for n in range(items))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bench blog</title><link>https://blog.example'
            f"</link>{entries}</channel></rss>").encode()


class Server:
    """One feed on loopback; `etag` on means it answers 304 to a request naming its current ETag."""

    def __init__(self) -> None:
        self.body, self.version, self.etag = b"", 0, True
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                tag = f'"v{server.version}"'
                if server.etag and self.headers.get("If-None-Match") == tag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(server.body)))
                if server.etag:
                    self.send_header("ETag", tag)
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args: object) -> None:
                pass

        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/feed.xml"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def publish(self, items: int) -> None:
        self.body, self.version = feed(items), self.version + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--polls", type=int, default=30)
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    home = tempfile.mkdtemp()
    os.environ.update(CLONR_HOME=home, CLONR_ALLOW_PRIVATE_URLS="on", CLONR_CRAWL_DELAY="0",
                      CLONR_FEED_CHECK_SECONDS="0", CLONR_IMPORTANCE="heuristic", CLONR_REFLECTION_THRESHOLD="0")
    from clonr import Clonr
    from clonr.store import SHARED_FAN

    app = Clonr()
    clone = app.clones.create("Bench")
    server = Server()
    server.publish(args.items)
    started = time.perf_counter()
    feed_id = app.feeds.add(clone.id, server.url).feed.id
    added_s = time.perf_counter() - started
    times: dict[str, list[float]] = {"unchanged, 304 to its ETag": [], "unchanged, read again (no ETag)": [],
                                     "one new post": []}
    items = args.items
    for _ in range(args.polls):
        for label in times:
            server.etag = label != "unchanged, read again (no ETag)"
            if label == "one new post":
                items += 1
                server.publish(items)
            started = time.perf_counter()
            [result] = app.feeds.poll(clone.id, feed_id)
            times[label].append((time.perf_counter() - started) * 1000)
            assert result.error is None and len(result.new) == (label == "one new post"), result
    baseline = statistics.median(times["unchanged, 304 to its ETag"])
    print(f"\nA feed of {args.items} posts ({len(feed(args.items)) // 1024} KB); adding it read and learnt them all "
          f"in {added_s:.1f} s. {args.polls} polls of each:")
    print(f"{'poll':<34} {'p50 ms':>8} {'p95 ms':>8} {'p50 vs 304':>11}")
    for label, values in times.items():
        print(f"{label:<34} {statistics.median(values):>8.1f} {pct(values, 95):>8.1f} "
              f"{statistics.median(values) / baseline:>11.2f}")

    other = app.clones.create("Bench without events")
    now = datetime.now(UTC)
    texts = [f"I posted on Mastodon: kiln log {n}, a cone 10 reduction firing." for n in range(args.events)]
    app.memory.remember(clone.id, SHARED_FAN, texts, kind="event", score_later=False, importance=3,
                        happened_at=[now - timedelta(hours=n) for n in range(args.events)])
    lately: dict[str, list[float]] = {"no events (baseline)": [], f"{args.events + items} events": []}
    for _ in range(200):
        for label, clone_id in zip(lately, (other.id, clone.id), strict=True):
            started = time.perf_counter()
            app.memory.summaries(clone_id, "fan-1")
            lately[label].append((time.perf_counter() - started) * 1000)
    base = statistics.median(lately["no events (baseline)"])
    print("\nThe clone's life lately, read for every turn (200 reads each):")
    print(f"{'clone':<34} {'p50 ms':>8} {'p95 ms':>8} {'extra p50 ms':>13}")
    for label, values in lately.items():
        print(f"{label:<34} {statistics.median(values):>8.2f} {pct(values, 95):>8.2f} "
              f"{statistics.median(values) - base:>13.2f}")
    app.worker.drain()


if __name__ == "__main__":
    main()
