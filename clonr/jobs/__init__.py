"""Background work off the reply path.

`JobQueue` is the port services use: `defer(name, **arguments)` queues a named task with JSON arguments (work that
must not be lost: ingestion, memory work), `submit(callable)` runs process-local bookkeeping on a thread. The
embedded default runs named tasks on that thread too; `clonr.jobs.postgres` queues them in Postgres with
procrastinate, for any number of `clonr worker` processes (CLONR_JOBS).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from clonr.config import Settings
from clonr.errors import ConfigError

__all__ = ["BackgroundWorker", "Foreground", "JobQueue", "Task", "open_jobs", "process_gone", "this_process"]

log = logging.getLogger(__name__)


class Foreground:
    """Counts replies in progress, so background work that needs the same local model waits for a quiet moment."""

    def __init__(self) -> None:
        self._active = 0
        self._condition = threading.Condition()

    def enter(self) -> None:
        with self._condition:
            self._active += 1

    def leave(self) -> None:
        with self._condition:
            self._active -= 1
            self._condition.notify_all()

    def __enter__(self) -> Foreground:
        self.enter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.leave()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block while a reply is being made (at most `timeout` seconds, so background work never starves)."""
        with self._condition:
            self._condition.wait_for(lambda: self._active == 0, timeout=timeout)


class BackgroundWorker:
    """Runs submitted callables one at a time on a daemon thread; a failing job is logged, never fatal.

    Before each job it waits until no reply is in progress: fans come first.
    """

    def __init__(self, name: str = "clonr-worker", foreground: Foreground | None = None) -> None:
        self.foreground = foreground or Foreground()
        self._name = name
        self._queue: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, job: Callable[..., Any], *args: Any) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        self._queue.put((job, args))

    def _run(self) -> None:
        while True:
            job, args = self._queue.get()
            try:
                self.foreground.wait_idle()
                job(*args)
            except Exception:
                log.exception("background job %s failed", getattr(job, "__name__", job))
            finally:
                self._queue.task_done()

    def drain(self) -> None:
        """Wait until every job submitted so far has run (tests, benchmarks, and clean shutdown)."""
        self._queue.join()

    @property
    def busy(self) -> bool:
        return self._queue.unfinished_tasks > 0


Task = Callable[..., Any]


class JobQueue:
    """Named tasks, registered by the services that own them and deferred by name with JSON arguments, so a
    queue in a database can hold them and another process can run them. This one runs them in this process: each
    group of tasks (the name's part before the dot) on its own thread, so a long crawl never delays memory work;
    memory tasks share the thread of `submit`.

    `lock`: tasks with the same lock never run at the same time; `once`: deferring is skipped while a task with
    the same key waits to start (scoring a fan's memories once covers every memory added meanwhile).
    """

    durable = False  # whether deferred work outlives this process

    def __init__(self, worker: BackgroundWorker | None = None) -> None:
        self.local = worker or BackgroundWorker("clonr-memory")
        self.tasks: dict[str, Task] = {}
        self._threads = {"memory": self.local}
        self._held: list[str] | None = None

    @property
    def foreground(self) -> Foreground:
        return self.local.foreground

    def register(self, name: str, task: Task) -> None:
        self.tasks[name] = task

    def defer(self, name: str, *, lock: str | None = None, once: str | None = None, **arguments: Any) -> None:
        """Queue `tasks[name](**arguments)`; each thread runs its tasks one at a time, so locks hold."""
        if self._held is not None:
            self._held.append(name)
            return
        group = name.partition(".")[0]
        thread = self._threads.setdefault(group, BackgroundWorker(f"clonr-{group}", self.foreground))
        thread.submit(functools.partial(self.tasks[name], **arguments))

    @contextlib.contextmanager
    def held(self) -> Iterator[list[str]]:
        """Tasks deferred inside are not run here: a short-lived command (an import) leaves them to the next start
        of a server, which makes up the work (`MemoryService.catch_up`: only work it makes up may be held); the
        process then exits at once, never inside the model. Yields the names held; a durable queue holds none."""
        self._held = held = []
        try:
            yield held
        finally:
            self._held = None

    def submit(self, job: Callable[..., Any], *args: Any) -> None:
        """Process-local work that may be lost with the process (bookkeeping, or work a restart makes up)."""
        self.local.submit(job, *args)

    def describe(self) -> str:
        """One line for `clonr doctor`."""
        return "in this process (work lost with it is made up at the next start)"

    def start_running(self, stop: threading.Event) -> None:
        """Also run queued tasks in this process until `stop` is set: nothing to start here, whose own threads
        run them; a durable queue starts a worker thread."""

    def close(self) -> None:
        """Let go of connections (a durable queue's); a stopped runner is waited for."""

    def drain(self) -> None:
        """Wait until the work queued so far, and the work it queued in turn, has run."""
        while any(thread.busy for thread in list(self._threads.values())):
            for thread in list(self._threads.values()):
                thread.drain()


def open_jobs(settings: Settings) -> JobQueue:
    """The queue CLONR_JOBS names: in this process, or procrastinate's in the DATABASE_URL Postgres."""
    if settings.job_queue != "postgres":
        return JobQueue()
    if not settings.is_postgres:
        raise ConfigError("CLONR_JOBS=postgres needs DATABASE_URL to point at Postgres: set DATABASE_URL, or use "
                          "CLONR_JOBS=in-process.")
    from clonr.jobs.postgres import PostgresQueue  # procrastinate loads only where it is used

    return PostgresQueue(settings.database_url, stalled_seconds=settings.worker_stalled_seconds)


def this_process() -> str:
    """host:pid, what a claim on work records."""
    return f"{socket.gethostname()}:{os.getpid()}"


def process_gone(claim: str | None) -> bool:
    """Whether the process that claimed some work (host:pid) has ended; only a process on this host can be known."""
    host, _, pid = (claim or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
