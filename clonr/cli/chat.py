"""`clonr chat`: talk with a clone in the terminal, or script it through stdin."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from clonr.app import Clonr
from clonr.cli.context import app_from
from clonr.errors import InvalidInputError


def _reply(app: Clonr, clone: str, fan: str, message: str, name: str) -> None:
    turn = app.chat.start_turn(clone, message, fan_id=fan, channel="cli")
    click.secho(f"{name}: ", fg="cyan", nl=False)
    for piece in turn:
        click.echo(piece, nl=False)
    click.echo()


def converse(ctx: click.Context, label: str, answer: Callable[[str], None]) -> None:
    """The input loop shared by `clonr chat` and `clonr group chat`: a prompt in a terminal (/exit or Ctrl-D
    leaves; a bad message is reported and the chat goes on), else one message per stdin line (a bad message
    ends the run with exit 1; Ctrl-C with 130)."""
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = click.prompt(click.style(label, fg="green"), prompt_suffix="> ") if interactive \
                else sys.stdin.readline()
        except (EOFError, click.exceptions.Abort):
            break
        if not interactive and not line:
            break
        line = line.strip()
        if line in {"/exit", "/quit"}:
            break
        if not line:
            continue
        try:
            answer(line)
        except InvalidInputError as exc:
            if not interactive:
                raise
            click.secho(f"Error: {exc}", fg="red", err=True)
        except KeyboardInterrupt:
            click.echo()
            if not interactive:
                ctx.exit(130)


@click.command()
@click.argument("clone")
@click.option("--fan", default="me", show_default=True, help="Whose conversation this is; history is per fan.")
@click.option("-m", "--message", help="Send one message, print the reply and exit.")
@click.pass_context
def chat(ctx: click.Context, clone: str, fan: str, message: str | None) -> None:
    """Chat with CLONE. History is kept between runs.

    Interactive in a terminal (type /exit or press Ctrl-D to leave); otherwise each line of stdin is one
    message and each reply is printed, so conversations can be scripted.
    """
    app = app_from(ctx)
    record = app.clones.get(clone)
    app.chat.validate_fan(fan)
    if message is not None:
        _reply(app, record.id, fan, message, record.name)
        return
    interactive = sys.stdin.isatty()
    if interactive:
        history = app.chat.history(record.id, fan, limit=6)
        for past in history:
            speaker = record.name if past.role == "assistant" else "you"
            click.secho(f"{speaker}: {past.content}{' … (interrupted)' if past.interrupted else ''}", dim=True)
        if not history and record.greeting:
            click.secho(f"{record.name}: ", fg="cyan", nl=False)
            click.echo(record.greeting)
    converse(ctx, "you", lambda line: _reply(app, record.id, fan, line, record.name))


COMMANDS = (chat,)
