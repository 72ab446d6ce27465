"""The `clonr` command: a thin shell over the `Clonr` services. Known errors print one line and exit 1."""

from __future__ import annotations

import logging
from typing import Any

import click

from clonr import __version__
from clonr.cli import (
    billing,
    chat,
    clone,
    discord,
    doctor,
    feed,
    group,
    ingest,
    keys,
    memory,
    persona,
    serve,
    usage,
    voice,
)
from clonr.cli.context import LazyApp
from clonr.errors import ClonrError

__all__ = ["LazyApp", "cli"]


class _ClonrGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClonrError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            ctx.exit(1)


@click.group(cls=_ClonrGroup)
@click.version_option(__version__, prog_name="clonr")
@click.option("-v", "--verbose", is_flag=True, help="Log what Clonr does, to stderr.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Clonr: make an AI clone of a person from their own data, and chat with it."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if ctx.obj is None:
        ctx.obj = LazyApp()
    ctx.call_on_close(ctx.obj.finish)


for _module in (clone, ingest, persona, chat, group, memory, feed, voice, keys, usage, billing, discord, serve,
                doctor):
    for _command in _module.COMMANDS:
        cli.add_command(_command)
