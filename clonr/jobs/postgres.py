"""Named tasks queued in Postgres with procrastinate: any number of `clonr worker` processes, on any host, run
them; a task whose worker died (no heartbeat for CLONR_WORKER_STALLED_SECONDS) goes back in the queue, and one
that finds its work still held by a live process (`ConflictError`: a worker that only seemed dead, its heartbeat
late on a busy host) is tried again after as long, until that process finishes or dies.

procrastinate's tables come with Clonr's migrations (0024); `run` is the worker loop of `clonr worker` and of a
server's background thread (CLONR_SERVER_JOBS).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import procrastinate
from procrastinate import exceptions
from procrastinate.manager import JobManager
from sqlalchemy.engine import make_url

from clonr.errors import ConfigError, ConflictError, StorageError
from clonr.jobs import BackgroundWorker, JobQueue

__all__ = ["PostgresQueue", "conninfo"]

log = logging.getLogger(__name__)


def conninfo(database_url: str) -> str:
    """libpq's form of a SQLAlchemy URL (`postgresql+psycopg://…` → `postgresql://…`)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresQueue(JobQueue):
    """Defers named tasks into procrastinate's queue; `run` executes them."""

    durable = True

    def __init__(self, database_url: str, worker: BackgroundWorker | None = None,
                 stalled_seconds: float = 30.0) -> None:
        super().__init__(worker)
        self._conninfo = conninfo(database_url)
        # Deferring is synchronous, from any thread; running is asyncio, on a connector of its own (`_worker_app`)
        self._app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=self._conninfo,
                                                                                   min_size=1, max_size=4))
        self._opened = False
        self._open_lock = threading.Lock()
        self.stalled_seconds = stalled_seconds
        self._deferred = False
        self._runner: threading.Thread | None = None

    def register(self, name: str, task: Any) -> None:
        super().register(name, task)
        self._add_task(self._app, name, task)

    def _worker_app(self) -> procrastinate.App:
        app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=self._conninfo, min_size=1,
                                                                         max_size=3))
        for name, task in self.tasks.items():
            self._add_task(app, name, task)
        return app

    def _add_task(self, app: procrastinate.App, name: str, task: Any) -> None:
        """Each group of tasks (the name's part before the dot) has its queue: `drain` runs the memory queue alone.
        A task that finds its work held by a live process (`ConflictError`) is tried again after
        CLONR_WORKER_STALLED_SECONDS."""
        held_elsewhere = procrastinate.RetryStrategy(wait=max(1, round(self.stalled_seconds)),
                                                     retry_exceptions=[ConflictError])
        app.task(name=name, queue=name.partition(".")[0], retry=held_elsewhere)(task)

    def defer(self, name: str, *, lock: str | None = None, once: str | None = None, **arguments: Any) -> None:
        if name not in self.tasks:
            raise ConfigError(f"No task {name!r} is registered: a service must register it before deferring.")
        json.dumps(arguments)  # a TypeError here, in the caller, rather than in the queue
        self._open()
        self._deferred = True
        try:
            self._app.configure_task(name, lock=lock, queueing_lock=once).defer(**arguments)
        except exceptions.AlreadyEnqueued:
            pass  # the waiting task will do this work too
        except exceptions.ConnectorException as error:
            raise StorageError(f"Could not queue {name} in Postgres ({type(error.__cause__).__name__}): check "
                               "DATABASE_URL and that the database is up.") from error

    def _open(self) -> None:
        with self._open_lock:
            if not self._opened:
                self._app.open()
                self._opened = True

    def close(self) -> None:
        if self._runner is not None:
            self._runner.join(30)
        with self._open_lock:
            if self._opened:
                self._app.close()
                self._opened = False

    def describe(self) -> str:
        counts = self.pending()
        return (f"queued in Postgres, run by `clonr worker`: {counts['todo']} waiting, {counts['doing']} running, "
                f"{counts['failed']} failed")

    @contextlib.contextmanager
    def held(self) -> Iterator[list[str]]:
        yield []  # queued in Postgres, the workers run them

    def start_running(self, stop: threading.Event) -> None:
        self._runner = threading.Thread(target=self.run, kwargs={"stop": stop, "in_main_thread": False},
                                        name="clonr-jobs", daemon=True)
        self._runner.start()

    def drain(self) -> None:
        """Run the memory work waiting in the queue here, until none is left (a CLI command before it exits, a
        creator's correction that needs an exchange's memories to exist). Ingestion is left to the workers."""
        super().drain()
        if self._deferred:
            self._deferred = False
            self.run(queues=["memory"], until_empty=True, in_main_thread=False)

    def pending(self) -> dict[str, int]:
        """Tasks waiting or running, by status (what `clonr worker --status` shows)."""
        self._open()
        counts = dict.fromkeys(("todo", "doing", "failed"), 0)
        for queue in self._app.job_manager.list_queues():
            for status in counts:
                counts[status] += int(queue.get(status) or 0)
        return counts

    def run(self, concurrency: int = 1, stop: threading.Event | None = None, *, queues: list[str] | None = None,
            until_empty: bool = False, in_main_thread: bool = True) -> None:
        """Run queued tasks (of `queues`, or all) until stopped (Ctrl-C/SIGTERM in the main thread, or `stop`), or
        until none is left with `until_empty`. A running task finishes before the worker stops."""
        asyncio.run(self._run(concurrency, stop, queues, until_empty, in_main_thread))

    async def _run(self, concurrency: int, stop: threading.Event | None, queues: list[str] | None,
                   until_empty: bool, in_main_thread: bool) -> None:
        app = self._worker_app()
        async with app.open_async():
            worker = app.run_worker_async(
                queues=queues, concurrency=concurrency, wait=not until_empty, install_signal_handlers=in_main_thread,
                update_heartbeat_interval=self.stalled_seconds / 3, stalled_worker_timeout=self.stalled_seconds,
                listen_notify=True, fetch_job_polling_interval=5, delete_jobs="successful")
            tasks = [asyncio.create_task(worker, name="procrastinate worker"),
                     asyncio.create_task(self._requeue_stalled(app.job_manager), name="requeue stalled")]
            if stop is not None:
                tasks.append(asyncio.create_task(_stopped(stop), name="stop"))
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _requeue_stalled(self, manager: JobManager) -> None:
        """Put back the tasks of workers that stopped sending heartbeats (killed, or their host lost)."""
        while True:
            for job in await manager.get_stalled_jobs(seconds_since_heartbeat=self.stalled_seconds):
                with contextlib.suppress(exceptions.ProcrastinateException):  # another worker requeued it first
                    await manager.retry_job(job)
                    log.warning("requeued %s (job %s): its worker stopped responding", job.task_name, job.id)
            await asyncio.sleep(self.stalled_seconds / 3)


async def _stopped(stop: threading.Event) -> None:
    while not stop.is_set():
        await asyncio.sleep(0.25)
