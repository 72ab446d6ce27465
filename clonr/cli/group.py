"""`clonr group`: chats with several clones (and fans) at once."""

from __future__ import annotations

import click

from clonr.cli.chat import converse
from clonr.cli.context import app_from


def _talkativeness(values: tuple[str, ...]) -> dict[str, float]:
    parsed = {}
    for value in values:
        clone, _, number = value.partition("=")
        try:
            parsed[clone.strip()] = float(number)
        except ValueError:
            raise click.BadParameter(f"{value!r}: write CLONE=NUMBER, e.g. ada=0.8") from None
    return parsed


@click.group()
def group() -> None:
    """Group chats: several clones and fans in one conversation."""


@group.command()
@click.argument("name")
@click.argument("clones", nargs=-1, required=True)
@click.option("--talk", "talk", multiple=True, metavar="CLONE=0..1",
              help="How likely a clone answers when nobody is named (default 0.5).")
@click.pass_context
def create(ctx: click.Context, name: str, clones: tuple[str, ...], talk: tuple[str, ...]) -> None:
    """Create a group chat NAME with CLONES."""
    made = app_from(ctx).groups.create(name, list(clones), _talkativeness(talk))
    click.echo(f"Created the group chat {made.name} with {len(made.members)} clones.")


@group.command()
@click.argument("group_ref", metavar="GROUP")
@click.option("--fan", default="me", show_default=True, help="Your fan id.")
@click.option("--name", "fan_name", default="Fan", show_default=True, help="Your name in the group.")
@click.option("-m", "--message", help="Send one message, print the replies and exit.")
@click.pass_context
def chat(ctx: click.Context, group_ref: str, fan: str, fan_name: str, message: str | None) -> None:
    """Chat in GROUP: name a clone to ask it; otherwise the talkative ones answer. Reads stdin lines when it
    is not a terminal."""
    app = app_from(ctx)
    app.groups.get(group_ref)

    def answer(line: str) -> None:
        for turn in app.groups.post(group_ref, fan, fan_name, line):
            click.secho(f"{turn.clone.name}: ", fg="cyan", nl=False)
            for piece in turn:
                click.echo(piece, nl=False)
            click.echo()

    if message is not None:
        answer(message)
    else:
        converse(ctx, fan_name, answer)


COMMANDS = (group,)
