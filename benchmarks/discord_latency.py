"""How soon a Discord user sees the clone typing, and what the bot adds to a turn.

    .venv/bin/python benchmarks/discord_latency.py [--turns 200]

The bot runs as `clonr discord` runs it, driven offline the way its tests drive it (tests/discord_local.py):
each direct message is a MESSAGE_CREATE payload fed to discord.py's own gateway parser, and Discord's REST API
is a local server that records the bot's calls (typing, sending). Timed per message:
- to typing: from the payload reaching discord.py to the typing call reaching the server;
- bot turn: from the payload to the reply's last message reaching the server;
- direct turn: the same message and reply through `FanService.turn` for the same Discord fan, called directly
  (the baseline: the turn builder, recall, storing; no Discord).
The two ways alternate message by message. The model is langchain-core's fake chat model (a two-word reply),
so only Clonr's and the bot's own work is timed; memory work is drained between messages, outside the timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GOMP_SPINCOUNT", "1000")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the offline Discord of the tests

from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import FakeListChatModel

from clonr import Clonr, load_settings
from clonr.access import SYSTEM
from clonr.integrations.discord.bot import DiscordHost
from clonr.memory import HeuristicImportanceScorer
from tests.discord_local import GOOD_TOKEN, FakeDiscord, feed, message, offline, ready, user

DM_CHANNEL = 3000
ALICE = user(1300, "alice")


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def app_with_bot() -> Clonr:
    home = tempfile.mkdtemp(prefix="clonr-bench-discord-")
    settings = load_settings({"CLONR_HOME": home, "CLONR_REFLECTION_THRESHOLD": "0", "CLONR_KNOWLEDGE_UPDATES": "off",
                              "CLONR_FAN_MESSAGE_LIMIT": "100000/minute"}, env_file=None)
    app = Clonr(settings, chat_model=FakeListChatModel(responses=["Sounds good."]),
                embeddings=DeterministicFakeEmbedding(size=384), importance=HeuristicImportanceScorer())
    clone = app.clones.publish(app.clones.create("Ada Lovelace", greeting="Good day!").id)
    os.environ["BENCH_DISCORD_TOKEN"] = GOOD_TOKEN
    app.discord.connect(clone.id, token_env="BENCH_DISCORD_TOKEN")
    return app


async def measure(app: Clonr, turns: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"to typing": [], "bot turn": [], "direct turn": []}
    fake = FakeDiscord()
    async with offline(fake):
        [(bot, token)] = DiscordHost(app.discord.acting_as(SYSTEM), app.clones.acting_as(SYSTEM), app.fans,
                                     app.groups.acting_as(SYSTEM)).bots(guild_ready_timeout=0.1)
        await ready(bot, token, guild_ids=())
        fan = app.fans.discord_user(bot.clone.id, int(ALICE["id"]))
        loop = asyncio.get_running_loop()

        async def through_bot(n: int) -> None:
            fake.calls.clear()
            started = loop.time()
            feed(bot, "MESSAGE_CREATE", message(DM_CHANNEL, ALICE, f"How was your week? ({n})"))
            [typing] = await fake.wait_for("POST", rf"^/channels/{DM_CHANNEL}/typing$")
            [sent] = await fake.wait_for("POST", rf"^/channels/{DM_CHANNEL}/messages$")
            times["to typing"].append((typing["at"] - started) * 1000)
            times["bot turn"].append((sent["at"] - started) * 1000)

        def direct(n: int) -> None:
            started = time.perf_counter()
            "".join(app.fans.turn(fan, bot.clone.id, fan.fan_id, f"How was your week? ({n})", channel="discord"))
            times["direct turn"].append((time.perf_counter() - started) * 1000)

        await through_bot(-1)  # warm-up
        await asyncio.to_thread(direct, -1)
        for key in times:
            times[key].clear()
        for n in range(turns):
            if n % 2:
                await asyncio.to_thread(direct, n)
                await through_bot(n)
            else:
                await through_bot(n)
                await asyncio.to_thread(direct, n)
            await asyncio.to_thread(app.worker.drain)
        await bot.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    app = app_with_bot()
    times = asyncio.run(measure(app, args.turns))
    base = times["direct turn"]
    print(f"\n{args.turns} direct messages each way, interleaved (ms; the fake model's reply included)")
    print(f"{'what':<14} {'p50':>8} {'p95':>8} {'p50 vs direct':>14} {'p95 vs direct':>14}")
    for what, values in times.items():
        versus = "" if what == "to typing" else (
            f"{statistics.median(values) - statistics.median(base):>+14.2f} {pct(values, 95) - pct(base, 95):>+14.2f}")
        print(f"{what:<14} {statistics.median(values):>8.2f} {pct(values, 95):>8.2f} {versus}")


if __name__ == "__main__":
    main()
