"""What Clonr's OpenAI-compatible API adds to a remote model server, under 1, 10 and 50 concurrent streams.

    .venv/bin/python benchmarks/api_load.py [--streams 1,10,50] [--requests-per-stream 3] [--rounds 2]
                                            [--max-tokens 32] [--memory-work]

The model server is llama-cpp-python's own OpenAI-compatible server (`python -m llama_cpp.server`, SmolLM2;
installed by scripts/setup). Clonr's server (`SERVER_COMMAND`) runs in front of it with
`CLONR_CHAT_MODEL=openai`, in a temporary CLONR_HOME holding one published clone and one API key. For each
number of streams N, N clients each send `--requests-per-stream` streaming requests one after another, either
(a) straight to the model server or (b) through Clonr's /v1/chat/completions, timing each request's first
word and end. (a) and (b) alternate as whole phases, in the order a b b a ..., so drift and noise hit both.

The same prompt: every request through Clonr comes from a new end user (`user`), so Clonr builds the first
turn of a conversation each time: persona, greeting, message. That prompt is captured before the servers start,
by the call the API route makes (`app.fans.turn(...)` for an end user of the key, never run), and sent as it is
to the model server with `max_tokens` = `--max-tokens`, which is also Clonr's CLONR_REPLY_TOKENS. Each message
ends with a request tag, on both sides. (A returning end user's turns, with memory recall and a longer
history, are not measured here.)

Where the time goes: llama_cpp.server generates one reply at a time, so with many streams most of a request's
time is its wait in the model server's queue, and comparing percentiles end to end mostly compares queue
positions. Both sides therefore reach the model server through a pass-through relay in this process that
reads each request's tag and times the model server's own part of it (from the request reaching the relay to
its first word and its end: queue included). "Outside the model server" is a request's time at the client
less that part: for (a) the relay's hop, for (b) the hop plus all of Clonr. Clonr's added time is the
difference. A request waiting for one of Clonr's reply slots counts as Clonr's time, though it would otherwise
have waited in the model server's queue: set CLONR_API_CONCURRENCY to at least the largest stream count to see
Clonr's own work alone, and read the end-to-end table for what clients get.

Clonr runs as the README says to run it in front of llama.cpp's server, which generates one reply at a time:
CLONR_API_CONCURRENCY=1 (override it in the environment). llama_cpp.server slows down as requests pile up in
its own queue (measured: 10 streams straight at it, 1.00 requests/s; through Clonr's one slot, 1.36).

Model-driven memory work (importance asked of the model, knowledge updates, reflection) is off unless
`--memory-work`: it runs after the replies, on the same model server, and would land in the next phase.
Other CLONR_* settings in the environment pass through to Clonr's server; its rate limits are lifted. The
model server runs with `--interrupt_requests False`: by default it cuts a streaming reply short whenever
another request waits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # measure the checkout this script is in

SERVER_COMMAND = [sys.executable, "-m", "clonr", "serve"]  # listens on CLONR_WIDGET_PORT
MODEL_ALIAS = "smollm2"
MESSAGE = "Hello! What do you like to do on a rainy afternoon?"
_TAG = re.compile(r"\[(q[\w-]+)\]$")
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}
_UNLIMITED = {"CLONR_KEY_REQUEST_LIMIT": "1000000/minute", "CLONR_KEY_TOKEN_LIMIT": "1000000000/minute",
              "CLONR_FAN_MESSAGE_LIMIT": "1000000/minute", "CLONR_ADDRESS_MESSAGE_LIMIT": "1000000/minute"}
_NO_MODEL_MEMORY_WORK = {"CLONR_IMPORTANCE": "heuristic", "CLONR_KNOWLEDGE_UPDATES": "off",
                         "CLONR_REFLECTION_THRESHOLD": "0"}


@dataclass
class Result:
    tag: str
    first_ms: float | None = None
    total_ms: float = 0.0
    words: int = 0
    error: str = ""
    model_first_ms: float | None = None  # the model server's own part (the relay's view), queue included
    model_total_ms: float | None = None


@dataclass
class Side:
    results: list[Result] = field(default_factory=list)
    wall_s: float = 0.0

    def ok(self) -> list[Result]:
        return [r for r in self.results if not r.error and r.first_ms is not None]


# -- processes -----------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as output:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)


def wait_for(url: str, process: subprocess.Popen, log: Path, what: str, headers: dict | None = None) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    sys.exit(f"{what} did not answer {url} in 120 s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def prepare(env: dict[str, str]) -> tuple[str, str, list[dict[str, str]]]:
    """A published clone and an API key in env's CLONR_HOME, and the prompt Clonr sends for a new end user's
    message: (clone slug, key, messages)."""
    from clonr import Clonr, load_settings
    from clonr.access import LOCAL_CREATOR

    app = Clonr(load_settings(env, env_file=None))
    clone = app.clones.publish(app.clones.create(
        "Ada Lovelace", "Mathematician and writer, the first computer programmer.",
        "I was born in London in 1815. I translated and annotated Menabrea's paper on Charles Babbage's Analytical "
        "Engine, and my notes hold what is called the first computer program. I call my way of thinking poetical "
        "science. I love horses, music and mathematics.", greeting="Good day! What shall we talk about?").id)
    secret = app.keys.create(LOCAL_CREATOR, "api_load").secret
    actor = app.keys.authenticate(secret)
    prompts = []
    for user in ("capture-1", "capture-2"):  # the same API route call; the turns are never run
        fan = app.fans.end_user(actor, clone.id, user)
        turn = app.fans.turn(actor, clone.id, fan.fan_id, f"{MESSAGE} [q-capture]", channel="api")
        prompts.append([{"role": _ROLES[m.type], "content": m.text} for m in turn.plan.messages])
        turn.abandon()
    assert prompts[0] == prompts[1], "two new end users should get the same prompt"
    assert prompts[0][-1] == {"role": "user", "content": f"{MESSAGE} [q-capture]"}, "the message comes last"
    app.worker.drain()
    app.store.close()
    return clone.slug, secret, prompts[0]


# -- the timing relay ---------------------------------------------------------------------------------

class Relay:
    """Passes requests to the model server unchanged and times, per tagged chat request, the model server's
    part: from the request reaching the relay to the first word, and to the end."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.times: dict[str, tuple[float, float | None, float]] = {}
        self.client = httpx.AsyncClient(timeout=None, limits=httpx.Limits(max_connections=None))

    async def __call__(self, scope: dict, receive, send) -> None:  # a bare ASGI app
        if scope["type"] != "http":
            return
        received = time.perf_counter()
        body = await read_body(receive)
        tag = None
        with contextlib.suppress(ValueError, KeyError, TypeError, IndexError):
            match = _TAG.search(json.loads(body)["messages"][-1]["content"])
            tag = match.group(1) if match else None
        path = scope["path"].removeprefix("/v1")
        request = self.client.build_request(scope["method"], self.upstream + path, content=body,
                                            headers={"content-type": "application/json"})
        response = await self.client.send(request, stream=True)
        await send({"type": "http.response.start", "status": response.status_code, "headers": [
            (b"content-type", response.headers.get("content-type", "application/json").encode())]})
        first = None
        try:
            async for line in self._lines(response, tag):
                if first is None and tag and _has_words(line):
                    first = time.perf_counter()
                await send({"type": "http.response.body", "body": line.encode(), "more_body": True})
        finally:
            await response.aclose()
            if tag:
                self.times[tag] = (received, first, time.perf_counter())
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    async def _lines(response: httpx.Response, tag: str | None) -> AsyncIterator[str]:
        if tag is None:  # pass anything else through as it comes
            async for text in response.aiter_text():
                yield text
            return
        async for line in response.aiter_lines():
            yield line + "\n"


async def read_body(receive) -> bytes:
    """An ASGI request's whole body."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


def _has_words(line: str) -> bool:
    """Whether a line of a streamed chat completion carries reply text."""
    if not line.startswith("data:") or line[5:].strip() == "[DONE]":
        return False
    with contextlib.suppress(ValueError):
        return any(choice.get("delta", {}).get("content") for choice in json.loads(line[5:]).get("choices") or [])
    return False


@contextlib.asynccontextmanager
async def relay_server(relay: Relay, port: int) -> AsyncIterator[None]:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(relay, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        await task
        await relay.client.aclose()


# -- clients ------------------------------------------------------------------------------------------

async def one_request(client: httpx.AsyncClient, target: dict, tag: str) -> Result:
    result = Result(tag)
    body = json.loads(json.dumps(target["body"]))
    body["messages"][-1]["content"] += f" [{tag}]"
    if target["clonr"]:
        body["user"] = tag  # a new end user each time: the same prompt each time
    started = time.perf_counter()
    try:
        async with client.stream("POST", target["url"], headers=target["headers"], json=body) as response:
            if response.status_code != 200:
                text = (await response.aread()).decode(errors="replace")
                result.error = f"HTTP {response.status_code}: {text[:160]}"
                return result
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                event = json.loads(data)
                if "error" in event:
                    result.error = f"error event: {str(event['error'])[:160]}"
                if _has_words(line):
                    if result.first_ms is None:
                        result.first_ms = (time.perf_counter() - started) * 1000
                    result.words += 1
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:200]
    finally:
        result.total_ms = (time.perf_counter() - started) * 1000
    if not result.error and result.first_ms is None:
        result.error = "no words streamed"
    return result


async def phase(target: dict, streams: int, per_stream: int, label: str, relay: Relay) -> Side:
    """`streams` clients, each sending `per_stream` requests one after another, to one side."""
    out = Side()
    limits = httpx.Limits(max_connections=streams + 4, max_keepalive_connections=streams + 4)
    async with httpx.AsyncClient(timeout=httpx.Timeout(900, connect=30), limits=limits) as client:

        async def stream(i: int) -> None:
            for j in range(per_stream):
                out.results.append(await one_request(client, target, f"q{label}-{i}-{j}"))

        started = time.perf_counter()
        await asyncio.gather(*(stream(i) for i in range(streams)))
        out.wall_s = time.perf_counter() - started
    for result in out.results:
        if result.tag in relay.times:
            received, first, end = relay.times.pop(result.tag)
            result.model_first_ms = (first - received) * 1000 if first else None
            result.model_total_ms = (end - received) * 1000
    return out


# -- the tables ---------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")


def summarise(n: int, sides: dict[str, Side]) -> dict:
    row: dict = {"streams": n}
    for name, side in sides.items():
        ok = side.ok()
        timed = [r for r in ok if r.model_first_ms is not None and r.model_total_ms is not None]
        first_outside = [r.first_ms - r.model_first_ms for r in timed]
        total_outside = [r.total_ms - r.model_total_ms for r in timed]
        row[name] = {
            "requests": len(side.results), "failed": len(side.results) - len(ok),
            "first_p50": percentile([r.first_ms for r in ok], 0.5),
            "first_p95": percentile([r.first_ms for r in ok], 0.95),
            "total_p50": percentile([r.total_ms for r in ok], 0.5),
            "total_p95": percentile([r.total_ms for r in ok], 0.95),
            "out_first_p50": percentile(first_outside, 0.5), "out_first_p95": percentile(first_outside, 0.95),
            "out_total_p50": percentile(total_outside, 0.5), "out_total_p95": percentile(total_outside, 0.95),
            "words_p50": percentile([r.words for r in ok], 0.5),
            "words_per_s": sum(r.words for r in ok) / side.wall_s if side.wall_s else float("nan"),
            "requests_per_s": len(ok) / side.wall_s if side.wall_s else float("nan"),
        }
    return row


def tables(rows: list[dict], max_tokens: int) -> str:
    def pair(row: dict, key: str, digits: int = 0) -> str:
        return f"{row['direct'][key]:.{digits}f} / {row['clonr'][key]:.{digits}f}"

    def added(row: dict, *keys: str) -> str:
        return " / ".join(f"{row['clonr'][key] - row['direct'][key]:+.0f}" for key in keys)

    def ratio(row: dict) -> float:
        return row["clonr"]["words_per_s"] / row["direct"]["words_per_s"]

    lines = [
        f"Streaming replies of at most {max_tokens} tokens. Each cell: direct to the model server / through "
        "Clonr; ms. Words: streamed chunks (llama.cpp streams a token each). Throughput: words per second of "
        "wall time over a side's phases.", "",
        "End to end, as a client sees it:", "",
        "| streams | requests | first word p50 | first word p95 | total p50 | total p95 | words per reply p50 | "
        "words/s | Clonr ÷ direct | requests/s | failed |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {row['streams']} | {pair(row, 'requests')} | {pair(row, 'first_p50')} | {pair(row, 'first_p95')} | "
              f"{pair(row, 'total_p50')} | {pair(row, 'total_p95')} | {pair(row, 'words_p50')} | "
              f"{pair(row, 'words_per_s', 1)} | {ratio(row):.2f} | {pair(row, 'requests_per_s', 2)} | "
              f"{pair(row, 'failed')} |" for row in rows]
    lines += [
        "", "Outside the model server, per request (the client's time less the model server's own part of that "
        "request, its queue included; a wait for one of Clonr's reply slots counts as Clonr's):", "",
        "| streams | first word p50 | first word p95 | Clonr adds p50 / p95 | total p50 | total p95 | "
        "Clonr adds p50 / p95 |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {row['streams']} | {pair(row, 'out_first_p50')} | {pair(row, 'out_first_p95')} | "
              f"{added(row, 'out_first_p50', 'out_first_p95')} | {pair(row, 'out_total_p50')} | "
              f"{pair(row, 'out_total_p95')} | {added(row, 'out_total_p50', 'out_total_p95')} |" for row in rows]
    top = rows[-1]
    added_p95 = top["clonr"]["first_p95"] - top["direct"]["first_p95"]
    outside_p95 = top["clonr"]["out_first_p95"] - top["direct"]["out_first_p95"]
    lines += ["", f"Targets at {top['streams']} streams: first word p95 added end to end {added_p95:+.0f} ms "
              f"(target ≤ 50: {'met' if added_p95 <= 50 else 'NOT met'}); throughput {ratio(top):.2f} × direct "
              f"(target ≥ 0.9: {'met' if ratio(top) >= 0.9 else 'NOT met'}). Outside the model server, Clonr's own "
              f"part of a request adds {outside_p95:+.0f} ms at p95 (much of it while the request would have "
              "waited in the model server's queue anyway)."]
    longer = [r["streams"] for r in rows if r["clonr"]["words_p50"] > max_tokens + 1]
    if longer:
        lines.append(f"Clonr's replies ran past {max_tokens} tokens at {longer} streams: its reply cap did not "
                     "reach the model server, so its times are for longer replies.")
    return "\n".join(lines)


def failures(label: str, side: Side) -> list[str]:
    seen: dict[str, int] = {}
    for r in side.results:
        if r.error:
            seen[r.error] = seen.get(r.error, 0) + 1
    return [f"  {label}: {count} × {error}" for error, count in seen.items()]


# -- main ---------------------------------------------------------------------------------------------

async def measure(args: argparse.Namespace, counts: list[int], targets: dict, relay: Relay,
                  relay_port: int) -> list[dict]:
    async with relay_server(relay, relay_port):
        for name in ("direct", "clonr", "clonr", "direct"):  # warm up: Clonr loads its embeddings on a first turn
            await phase(targets[name], 1, 1, f"warm-{name}", relay)
        rows = []
        for n in counts:
            sides = {"direct": Side(), "clonr": Side()}
            for r in range(args.rounds):
                for name in (("direct", "clonr") if r % 2 == 0 else ("clonr", "direct")):
                    done = await phase(targets[name], n, args.requests_per_stream, f"{n}-{r}-{name}", relay)
                    sides[name].results += done.results
                    sides[name].wall_s += done.wall_s
                    print(f"  {n} streams, round {r + 1}, {name}: {len(done.results)} requests in "
                          f"{done.wall_s:.1f} s", file=sys.stderr, flush=True)
            problems = failures("direct", sides["direct"]) + failures("Clonr", sides["clonr"])
            if problems:
                print(f"Failures at {n} streams:\n" + "\n".join(problems), file=sys.stderr, flush=True)
            rows.append(summarise(n, sides))
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", default="1,10,50", help="concurrent streaming clients, comma-separated")
    parser.add_argument("--requests-per-stream", type=int, default=3, help="requests each client sends in turn")
    parser.add_argument("--rounds", type=int, default=2, help="phases per side and stream count (a b b a ...)")
    parser.add_argument("--max-tokens", type=int, default=32, help="reply tokens (CLONR_REPLY_TOKENS too)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="model server threads")
    parser.add_argument("--memory-work", action="store_true", help="keep Clonr's model-driven memory work on")
    args = parser.parse_args()
    counts = [int(n) for n in args.streams.split(",") if n.strip()]

    from clonr.llm import LOCAL_CHAT_MODELS, locate

    with tempfile.TemporaryDirectory(prefix="clonr-api-load-") as folder:
        home = Path(folder)
        gguf = locate(LOCAL_CHAT_MODELS["smollm2"], home / "models")
        model_port, relay_port, clonr_port = free_port(), free_port(), free_port()
        model_base, relay_base = f"http://127.0.0.1:{model_port}/v1", f"http://127.0.0.1:{relay_port}/v1"
        model_log, clonr_log = home / "llama_server.log", home / "clonr_server.log"
        model = start([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", MODEL_ALIAS,
                       "--host", "127.0.0.1", "--port", str(model_port), "--n_ctx", "2048",
                       "--n_threads", str(args.threads), "--n_threads_batch", str(args.threads),
                       "--interrupt_requests", "False", "--verbose", "False"], dict(os.environ), model_log)
        clonr = None
        try:
            wait_for(f"{model_base}/models", model, model_log, "llama_cpp.server")
            # Clonr as the README says to run it in front of llama.cpp's server, which answers one request at a
            # time: one reply slot (CLONR_API_CONCURRENCY=1), unless the environment says otherwise.
            env = {"CLONR_API_CONCURRENCY": "1", **os.environ, "CLONR_HOME": str(home / "clonr"),
                   "CLONR_CHAT_MODEL": "openai",
                   "OPENAI_BASE_URL": relay_base, "OPENAI_API_KEY": "no-key-needed",
                   "CLONR_OPENAI_MODEL": MODEL_ALIAS, "CLONR_EMBEDDINGS": "minilm",
                   "CLONR_REPLY_TOKENS": str(args.max_tokens), "CLONR_CONTEXT_TOKENS": "2048",
                   "CLONR_WIDGET_PORT": str(clonr_port), "GRADIO_ANALYTICS_ENABLED": "False",
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                   **_UNLIMITED, **({} if args.memory_work else _NO_MODEL_MEMORY_WORK)}
            slug, secret, messages = prepare(env)
            messages[-1]["content"] = MESSAGE
            clonr = start(SERVER_COMMAND, env, clonr_log)
            auth = {"Authorization": f"Bearer {secret}"}
            wait_for(f"http://127.0.0.1:{clonr_port}/v1/models", clonr, clonr_log, "Clonr's server", auth)
            targets = {
                "direct": {"clonr": False, "url": f"{relay_base}/chat/completions", "headers": {},
                           "body": {"model": MODEL_ALIAS, "messages": messages, "max_tokens": args.max_tokens,
                                    "stream": True}},
                "clonr": {"clonr": True, "url": f"http://127.0.0.1:{clonr_port}/v1/chat/completions",
                          "headers": auth, "body": {"model": slug, "messages": [{"role": "user", "content": MESSAGE}],
                                                    "max_tokens": args.max_tokens, "stream": True}}}
            server = " ".join(Path(a).name if a == sys.executable else a for a in SERVER_COMMAND)
            print(f"Clonr: {server}; model server: llama_cpp.server, SmolLM2-135M, {args.threads} threads; "
                  f"prompt: {sum(len(m['content']) for m in messages)} characters in {len(messages)} messages; "
                  f"{args.requests_per_stream} requests per stream, {args.rounds} rounds", flush=True)
            rows = asyncio.run(measure(args, counts, targets, Relay(model_base), relay_port))
            print()
            print(tables(rows, args.max_tokens))
        finally:
            if clonr is not None:
                stop(clonr)
            stop(model)


if __name__ == "__main__":
    main()
