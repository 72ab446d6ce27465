"""Background work off the reply path: one worker thread per process, jobs run in submission order.

In-process is the embedded default; a queue on Postgres (procrastinate) can replace it when work must survive
a restart or spread over machines.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["BackgroundWorker", "Foreground"]

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
