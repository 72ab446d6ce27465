"""`kill -9` mid-stream: the server process dies while five replies stream. After it, no half-written exchange and
no ledger row without its reply; the restarted server stores each cut-off reply with what its fan was sent
(interrupted, charged nothing), answers the next request, and tells a retry of a dead request's
Idempotency-Key to wait rather than charging it twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from clonr import Clonr, load_settings
from clonr.access import LOCAL_CREATOR
from tests.conftest import ROOT
from tests.test_widget import free_port

pytestmark = pytest.mark.timeout(180)

# The server process: the real `clonr serve` app, over a fake model that streams a word every 0.2 s (or, with
# "quick", answers at once), scoring importance by a fixed rule, or 30 s per batch with "slow-memory".
SERVER = """
import sys
import time
import uvicorn
from langchain_core.embeddings import DeterministicFakeEmbedding
from clonr import Clonr, load_settings
from clonr.api import create_server
from clonr.memory import HeuristicImportanceScorer
from tests.conftest import FakeChatModel

class SlowScorer(HeuristicImportanceScorer):
    def score(self, texts):
        time.sleep(30)
        return super().score(texts)

model = FakeChatModel(default_reply=" ".join(f"word{n}" for n in range(40)),
                      word_delay_s=0.0 if "quick" in sys.argv else 0.2)
app = Clonr(load_settings(), chat_model=model, embeddings=DeterministicFakeEmbedding(size=32),
            importance=SlowScorer() if "slow-memory" in sys.argv else HeuristicImportanceScorer())
app.start_background()
uvicorn.run(create_server(app), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def start_server(port: int, *options: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CLONR_API_CONCURRENCY": "8", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port), *options], cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return process
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)


def test_a_killed_server_leaves_no_half_written_rows_and_the_next_request_works(isolated_env: Path) -> None:
    app = Clonr(load_settings())
    app.clones.publish(app.clones.create("Ada Lovelace").id)
    headers = {"Authorization": f"Bearer {app.keys.create(LOCAL_CREATOR, 'crash').secret}"}
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    server = start_server(port)
    done = httpx.post(f"{url}/chat/completions", headers=headers, timeout=30, json={
        "model": "ada-lovelace", "user": "before", "messages": [{"role": "user", "content": "Hi"}]})
    assert done.status_code == 200
    started = threading.Barrier(6)
    seen: dict[int, str] = {}

    def stream(n: int) -> None:
        seen[n] = ""
        try:
            with httpx.stream("POST", f"{url}/chat/completions", json={
                    "model": "ada-lovelace", "user": f"u{n}", "stream": True,
                    "messages": [{"role": "user", "content": f"Hello {n}"}]},
                    headers={**headers, "Idempotency-Key": f"crash-{n}"}, timeout=30) as answer:
                for count, line in enumerate(answer.iter_lines()):
                    if line.startswith("data: {"):
                        seen[n] += json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                    if count == 8:
                        started.wait(20)  # every reply has sent its first words
        except (httpx.HTTPError, threading.BrokenBarrierError):
            pass  # the server died under it

    clients = [threading.Thread(target=stream, args=(n,)) for n in range(5)]
    for client in clients:
        client.start()
    try:
        started.wait(30)  # every reply is streaming
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
    finally:
        server.kill()
    for client in clients:
        client.join(10)

    with app.store._transaction() as connection:
        rows = connection.exec_driver_sql("SELECT fan_id, role FROM messages").all()
        orphans = connection.exec_driver_sql(
            "SELECT COUNT(*) FROM usage_events WHERE message_id IS NOT NULL AND message_id NOT IN "
            "(SELECT id FROM messages)").scalar()
    per_fan: dict[str, list[str]] = {}
    for fan_id, role in rows:
        per_fan.setdefault(fan_id, []).append(role)
    assert all(roles == ["user", "assistant"] for roles in per_fan.values()), "no message without its reply"
    assert len(per_fan) == 1, "the finished exchange is kept; the five cut off left nothing half-written"
    assert orphans == 0 and len(app.store.usage_rows()) == 1, "one ledger row, for the stored reply"

    server = start_server(port)
    try:
        deadline = time.monotonic() + 30
        while len(app.store.usage_rows()) < 6:  # the restarted server stores the cut-off replies as it starts
            assert time.monotonic() < deadline, "the cut-off replies were not stored"
            time.sleep(0.2)
        key = app.keys.authenticate(headers["Authorization"].removeprefix("Bearer "))
        for n in range(5):
            fan = app.fans.end_user(key, "ada-lovelace", f"u{n}").fan_id
            asked, reply = [m for m in _messages(app) if m.fan_id == fan]
            assert (asked.content, reply.status) == (f"Hello {n}", "interrupted")
            assert reply.content and seen[n].startswith(reply.content), "what the fan was sent, up to the last save"
        rows = [row for row in app.store.usage_rows() if row["status"] == "interrupted"]
        assert len(rows) == 5 and all(row["charge"] is None for row in rows), "counted, charged nothing"
        retry = httpx.post(f"{url}/chat/completions", headers={**headers, "Idempotency-Key": "crash-0"}, json={
            "model": "ada-lovelace", "user": "u0", "messages": [{"role": "user", "content": "Hello 0"}]})
        assert retry.status_code == 409, "a dead request's key waits 10 minutes, never charged twice"
        after = httpx.post(f"{url}/chat/completions", headers=headers, timeout=30, json={
            "model": "ada-lovelace", "user": "u9", "messages": [{"role": "user", "content": "Still there?"}]})
        assert after.status_code == 200 and after.json()["choices"][0]["message"]["content"].startswith("word0")
    finally:
        server.kill()
        server.wait(10)



def test_memory_work_killed_with_the_server_is_done_after_a_restart_once(isolated_env: Path) -> None:
    """The server dies (`kill -9`) with the memory work of five exchanges waiting behind a slow importance
    score: the next server makes every exchange's memories, each once, and scores them."""
    app = Clonr(load_settings())
    app.clones.publish(app.clones.create("Ada Lovelace").id)
    headers = {"Authorization": f"Bearer {app.keys.create(LOCAL_CREATOR, 'crash').secret}"}
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    server = start_server(port, "quick", "slow-memory")
    try:
        for n in range(5):
            answer = httpx.post(f"{url}/chat/completions", headers=headers, timeout=30, json={
                "model": "ada-lovelace", "user": f"u{n}", "messages": [{"role": "user", "content": f"Hello {n}"}]})
            assert answer.status_code == 200
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
    asked = [m.id for m in _messages(app) if m.role == "user"]
    remembered = [bool(app.store.memories_of_message(i)) for i in asked]
    assert len(asked) == 5 and not all(remembered), "the kill came before the memory work was done"

    server = start_server(port, "quick")
    try:
        deadline = time.monotonic() + 60
        while not all(app.store.memories_of_message(i) and all(m.importance is not None for m in
                                                              app.store.memories_of_message(i)) for i in asked):
            assert time.monotonic() < deadline, "the restarted server did not make up the memory work"
            time.sleep(0.3)
    finally:
        server.kill()
        server.wait(10)
    assert [len(app.store.memories_of_message(i)) for i in asked] == [1] * 5, "each exchange remembered once"


def _messages(app: Clonr) -> list:
    with app.store._transaction() as connection:
        ids = [row[0] for row in connection.exec_driver_sql("SELECT id FROM messages ORDER BY id")]
    return [app.store.get_message(i) for i in ids]
