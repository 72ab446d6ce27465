"""`clonr discord`: connect clones to Discord bots, and run every connected bot in one process."""

from __future__ import annotations

import asyncio
import contextlib
import sys

import click

from clonr.access import SYSTEM
from clonr.cli.context import app_from
from clonr.errors import InvalidInputError


@click.group(invoke_without_command=True)
@click.pass_context
def discord(ctx: click.Context) -> None:
    """Clones on Discord. Without a subcommand: run the bot of every connected, published clone until stopped."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(run)


@discord.command()
@click.argument("clone")
@click.option("--token-env", help="The environment variable that holds the bot's token (read when the bot starts).")
@click.option("--token-stdin", is_flag=True, help="Read the token from standard input and store it encrypted.")
@click.option("--guild", "guilds", multiple=True, type=int,
              help="A server (its id) where the clone may answer when mentioned; repeat for more. Direct messages "
                   "always work.")
@click.option("--join-channel", "channels", multiple=True, type=int,
              help="A channel (its id, in one of those servers) where the clone takes part in the conversation, not "
                   "only when mentioned; repeat for more.")
@click.option("--talkativeness", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="In joined channels, its chance to speak when nobody mentions or names it.")
@click.option("--speak", is_flag=True, help="Also send each reply as an MP3 in the clone's voice (`clonr voice`).")
@click.pass_context
def connect(ctx: click.Context, clone: str, token_env: str | None, token_stdin: bool, guilds: tuple[int, ...],
            channels: tuple[int, ...], talkativeness: float, speak: bool) -> None:
    """Give CLONE a Discord bot (made in the Discord developer portal, with the Message Content intent on)."""
    if token_stdin == bool(token_env):
        raise InvalidInputError("Give the token one way: --token-env VAR, or --token-stdin (then paste it).")
    token = sys.stdin.readline().strip() if token_stdin else None
    app = app_from(ctx)
    app.discord.connect(clone, token_env=token_env, token=token, guild_ids=guilds, joined_channels=channels,
                        talkativeness=talkativeness, speaks=speak)
    where = f"in {len(guilds)} server(s) when mentioned, and " if guilds else ""
    click.echo(f"Connected: {app.clones.get(clone).name} answers {where}in direct messages once `clonr discord` "
               "runs.")


@discord.command(name="list")
@click.pass_context
def list_bots(ctx: click.Context) -> None:
    """The clones with a Discord bot."""
    found = app_from(ctx).discord.bots()
    if not found:
        click.echo("No Discord bot yet: `clonr discord connect CLONE --token-env VAR`.")
    for clone, bot in found:
        token = f"token from ${bot.token_env}" if bot.token_env else "token stored encrypted"
        servers = ", ".join(str(g) for g in bot.guild_ids) or "direct messages only"
        click.echo(f"{clone.slug:<28} {token:<32} {servers}" + ("" if clone.published else "  (not published)"))


@discord.command()
@click.argument("clone")
@click.pass_context
def disconnect(ctx: click.Context, clone: str) -> None:
    """Remove CLONE's bot (and its stored token)."""
    app_from(ctx).discord.disconnect(clone)
    click.echo("Disconnected.")


@discord.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run every connected, published clone's bot until stopped (Ctrl-C)."""
    from clonr.integrations.discord.bot import DiscordHost

    app = app_from(ctx)  # the host is infrastructure: it runs every creator's connected bots
    host = DiscordHost(app.discord.acting_as(SYSTEM), app.clones.acting_as(SYSTEM), app.fans,
                       app.groups.acting_as(SYSTEM))
    click.echo("Discord bots starting; Ctrl-C stops them.", err=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(host.run())


COMMANDS = (discord,)
