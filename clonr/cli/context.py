"""The app behind a CLI run: opened on first use and shared by every command through the Click context."""

from __future__ import annotations

import click

from clonr.app import Clonr


class LazyApp:
    """Opens the store on first use, so `--help` works even when the settings are broken.

    Tests pass `obj=LazyApp(app)` to run commands over an app built with test doubles.
    """

    def __init__(self, app: Clonr | None = None) -> None:
        self._app = app

    def finish(self) -> None:
        """Let queued background work (memories of the last replies) finish before the process exits."""
        if self._app is None:
            return
        if self._app.worker.durable:  # its queued tasks wait in Postgres for the workers: leave at once
            self._app.worker.local.drain()
        else:
            self._app.worker.drain()

    def get(self) -> Clonr:
        if self._app is None:
            self._app = Clonr()
        return self._app


def app_from(ctx: click.Context) -> Clonr:
    return ctx.find_object(LazyApp).get()
