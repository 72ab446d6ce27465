"""Jobs queued in Postgres (procrastinate) and run by `clonr worker` processes: deduplicated, run once, and
picked up by another worker when theirs is killed; the embedded queue makes up lost memory work at the next
start."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from clonr import Clonr
from clonr.cli import LazyApp, cli
from clonr.config import load_settings
from clonr.errors import ConfigError
from clonr.jobs import open_jobs
from clonr.jobs.postgres import PostgresQueue, conninfo
from tests.conftest import FixtureSite


def wait_until(condition: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds:.0f} s for {what}"
        time.sleep(0.2)


@contextlib.contextmanager
def workers(environment: dict[str, str], count: int) -> Iterator[list[subprocess.Popen]]:
    """`count` `clonr worker` processes; stopped (SIGTERM, then SIGKILL) at the end."""
    processes = [subprocess.Popen([sys.executable, "-m", "clonr", "worker"], env={**os.environ, **environment},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(count)]
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_queued_task_runs_once_in_a_worker_and_a_waiting_duplicate_is_skipped(postgres_url: str) -> None:
    Clonr(load_settings({"DATABASE_URL": postgres_url}, env_file=None)).store.close()  # migrations: the queue
    queue = PostgresQueue(postgres_url)
    done: list[str] = []
    queue.register("memory.note", lambda text: done.append(text))
    queue.defer("memory.note", text="first", once="k")
    queue.defer("memory.note", text="again", once="k")  # the first still waits: it covers this one
    queue.defer("memory.note", text="other")
    assert queue.pending()["todo"] == 2
    queue.run(until_empty=True, in_main_thread=False)
    assert sorted(done) == ["first", "other"] and queue.pending()["todo"] == 0
    with pytest.raises(TypeError):
        queue.defer("memory.note", text=object())  # not JSON: refused in the caller, not in a worker
    queue.close()


def test_jobs_on_postgres_need_postgres_and_clonr_worker_says_so(isolated_env: Path) -> None:
    with pytest.raises(ConfigError, match="CLONR_JOBS=postgres needs DATABASE_URL"):
        open_jobs(load_settings({"CLONR_JOBS": "postgres"}, env_file=None))
    result = CliRunner().invoke(cli, ["worker"], obj=LazyApp())
    assert result.exit_code == 2 and "Jobs are queued in Postgres only" in result.output


def queue_attempts(postgres_url: str) -> int:
    """How many times the queue has started its one task."""
    with psycopg.connect(conninfo(postgres_url)) as connection:
        return connection.execute("SELECT coalesce(max(attempts), 0) FROM procrastinate_jobs").fetchone()[0]


def test_a_worker_killed_mid_ingestion_leaves_the_job_to_another(postgres_url: str, isolated_env: Path,
                                                                 site: FixtureSite) -> None:
    def page(n: int) -> str:
        text = f"The analytical engine weaves algebraic patterns, note {n}. " * 20
        return f"<html><body><article><h1>Engine note {n}</h1><p>{text}</p></article></body></html>"

    pages = [site.add(f"/p{n}", page(n)) for n in range(8)]
    environment = {"DATABASE_URL": postgres_url, "CLONR_HOME": str(isolated_env), "CLONR_ALLOW_PRIVATE_URLS": "on",
                   "CLONR_CRAWL_DELAY": "1", "CLONR_WORKER_STALLED_SECONDS": "3", "CLONR_SERVER_JOBS": "off"}
    app = Clonr(load_settings(environment, env_file=None))
    ada = app.clones.create("Ada Lovelace")
    job = app.ingest.start_job(ada.id, [(url, {}) for url in pages])
    app.ingest.submit_job(job.id)
    with workers(environment, 2) as processes:
        by_pid = {str(p.pid): p for p in processes}
        wait_until(lambda: sum(i.status == "done" for i in app.ingest.job(job.id).items) >= 2, 90,
                   "the first pages to be ingested")
        claimed = app.ingest.job(job.id).claimed_by or ""
        victim = by_pid[claimed.rpartition(":")[2]]
        victim.send_signal(signal.SIGSTOP)  # its heartbeat late, as on a busy host: the other takes the task,
        wait_until(lambda: queue_attempts(postgres_url) >= 2, 60, "the other worker to try the task")
        victim.send_signal(signal.SIGCONT)  # finds the job still held by a live process, and tries again later
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        wait_until(lambda: app.ingest.job(job.id).status == "done", 120, "the other worker to finish the job")
        finished = app.ingest.job(job.id)
    assert finished.claimed_by != claimed, "another process finished it"
    assert [item.status for item in finished.items] == ["done"] * len(pages)
    sources = app.ingest.list_sources(ada.id)
    assert sorted(s.title for s in sources) == sorted(f"Engine note {n}" for n in range(8)), "each page once"
    app.worker.close()
    app.store.close()


def test_memory_work_lost_with_an_embedded_process_is_done_at_the_next_start(app: Clonr) -> None:
    ada = app.clones.create("Ada")
    made = app.memory.remember(ada.id, "f_1", ["Fan: I keep bees in Kent."], score_later=False)  # then died
    assert app.store.get_memories([made[0].id])[0].importance is None
    assert app.memory.catch_up() == 1
    app.worker.drain()
    assert app.store.get_memories([made[0].id])[0].importance is not None
    assert app.memory.catch_up() == 0, "nothing left to make up"


def test_a_server_on_postgres_runs_the_jobs_it_queues_unless_told_not_to(postgres_url: str, fake_chat,
                                                                         fake_embeddings, clock) -> None:
    def make(server_jobs: str) -> Clonr:
        settings = load_settings({"DATABASE_URL": postgres_url, "CLONR_SERVER_JOBS": server_jobs,
                                  "CLONR_WORKER_STALLED_SECONDS": "3", "CLONR_KNOWLEDGE_UPDATES": "off"},
                                 env_file=None)
        return Clonr(settings, chat_model=fake_chat, embeddings=fake_embeddings, clock=clock)

    leaving, serving = make("off"), make("on")
    ada = leaving.clones.create("Ada")
    fake_chat.enqueue("How lovely!")
    leaving.chat.start_turn(ada.id, "I keep bees in Kent.", fan_id="f_1").text()
    stop = leaving.start_background()
    [asked] = [m.id for m in leaving.store.recent_messages(ada.id, "f_1", 2) if m.role == "user"]
    time.sleep(1)
    assert leaving.store.memories_of_message(asked) == [], "queued in Postgres, not run by this process"
    stop.set()
    stop = serving.start_background()  # another process on the same database, running jobs
    try:
        wait_until(lambda: leaving.store.memories_of_message(asked), 30, "the serving process to remember")
        wait_until(lambda: all(m.importance is not None for m in leaving.store.memories_of_message(asked)), 30,
                   "the memory to be scored")
    finally:
        stop.set()
        serving.worker.close()
    assert "bees in Kent" in leaving.store.memories_of_message(asked)[0].text
    for app in (leaving, serving):
        app.worker.close()
        app.store.close()
