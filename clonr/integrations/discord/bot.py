"""A clone's Discord bot (discord.py 2), and the host that runs every connected bot in one process.

- Direct messages: each Discord user is a fan of the clone (`discord:<user id>`, audience "discord"), with
  memory across conversations.
- Servers on the bot's allow-list: the clone answers when mentioned or replied to; each speaker is their own
  fan. Anywhere else it stays silent.
- Slash commands: `/usage` (what is left this month), `/buy` (Checkout links), `/link` (use the signed-in
  account a one-time code from the chat page names: its balance and purchases), `/new` (a new conversation;
  the clone still remembers you), `/forget` (delete my data, once confirmed).
- The typing indicator runs while the reply is written; replies are split at Discord's 2,000 characters; the
  fan's rate limits, allowances and the paywall are the same as on the widget. A fan sees one friendly line for
  any failure; the details go to the log with a reference.

Gateway intents: guilds, direct and server messages, and message content, which is *privileged*: turn on
"Message Content Intent" on the Bot page of the application in Discord's developer portal.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable

import discord
from discord import app_commands

from clonr.access import Fan
from clonr.clones import CloneService
from clonr.errors import (
    ClonrError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PaymentError,
    PaymentRequiredError,
    RateLimitedError,
)
from clonr.fans import FanService
from clonr.integrations.discord.connections import DiscordService
from clonr.integrations.discord.split import split_message
from clonr.store import BotRecord, Clone

log = logging.getLogger(__name__)

__all__ = ["CloneBot", "DiscordHost", "intents"]


def intents() -> discord.Intents:
    """The least the bot needs: servers, direct and server messages, and their content (privileged)."""
    chosen = discord.Intents.none()
    chosen.guilds = chosen.dm_messages = chosen.guild_messages = chosen.message_content = True
    return chosen


class CloneBot(discord.Client):
    def __init__(self, clone: Clone, bot: BotRecord, fans: FanService, return_url: str, **options: object) -> None:
        super().__init__(intents=intents(), **options)  # type: ignore[arg-type]
        self.clone = clone
        self.guild_ids = frozenset(bot.guild_ids)
        self._fans = fans
        self._return_url = return_url
        self.tree = app_commands.CommandTree(self)
        self._commands()

    async def setup_hook(self) -> None:
        await self.tree.sync()

    # -- messages -------------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.user is None:
            return
        if message.guild is not None and not (message.guild.id in self.guild_ids and self._addressed(message)):
            return
        text = re.sub(rf"<@!?{self.user.id}>", "", message.content).strip()
        if not text:
            return
        async with message.channel.typing():
            reply = await asyncio.to_thread(self._reply, message.author.id, text)
        for n, chunk in enumerate(split_message(reply)):
            if n == 0 and message.guild is not None:
                await message.reply(chunk, mention_author=False)
            else:
                await message.channel.send(chunk)

    def _addressed(self, message: discord.Message) -> bool:
        """Mentioned, or replied to."""
        replied = message.reference.resolved if message.reference else None
        return self.user in message.mentions or (isinstance(replied, discord.Message) and replied.author == self.user)

    def _reply(self, user_id: int, text: str) -> str:
        """The clone's whole reply to the Discord user, or the one line that says why there is none."""
        return self._told(lambda fan: "".join(self._fans.turn(
            fan, self.clone.id, fan.fan_id, text, channel="discord", conversation_id=self._current(fan))), user_id)

    def _current(self, fan: Fan) -> str:
        """The fan's conversation: the last they started with /new, or their first."""
        started = self._fans.conversations(fan, self.clone.id, fan.fan_id)
        return started[-1].id if started else ""

    def _told(self, act: Callable[[Fan], str], user_id: int) -> str:
        try:
            return act(self._fans.discord_user(self.clone.id, user_id))
        except PaymentRequiredError as exc:
            return f"{exc}" + (" Use /buy to see what you can buy." if exc.offers else "")
        except (InvalidInputError, RateLimitedError) as exc:
            return str(exc)
        except (NotFoundError, ForbiddenError):
            return f"{self.clone.name} is not available right now."
        except PaymentError:
            return "Payments are not available right now: try again later."
        except Exception:  # every other failure reaches the fan as one friendly line, the details go to the log
            reference = uuid.uuid4().hex[:8]
            log.exception("discord error %s for %s", reference, self.clone.name)
            return f"{self.clone.name} cannot answer right now. Please try again in a moment (reference {reference})."

    # -- slash commands -------------------------------------------------------------------------

    def _commands(self) -> None:
        name = self.clone.name

        @self.tree.command(name="usage", description=f"Your messages with {name} this month")
        async def usage(interaction: discord.Interaction) -> None:
            await self._ephemeral(interaction, self._standing)

        @self.tree.command(name="buy", description=f"Buy messages with {name}")
        async def buy(interaction: discord.Interaction) -> None:
            await self._ephemeral(interaction, self._offers)

        @self.tree.command(name="new", description=f"Start a new conversation with {name} (it still remembers you)")
        async def new(interaction: discord.Interaction) -> None:
            await self._ephemeral(interaction, self._new)

        @self.tree.command(name="link", description=f"Use your {name} account (balance, purchases) here")
        @app_commands.describe(code="The code from the chat page: Your data → Link Discord, while signed in.")
        async def link(interaction: discord.Interaction, code: str) -> None:
            await self._ephemeral(interaction, lambda fan: self._link(interaction.user.id, code))

        @self.tree.command(name="forget", description=f"Delete your messages and what {name} remembers of you")
        @app_commands.describe(confirm="True: yes, delete everything. It cannot be undone.")
        async def forget(interaction: discord.Interaction, confirm: bool = False) -> None:
            await self._ephemeral(interaction, lambda fan: self._forget(fan, confirm))

    async def _ephemeral(self, interaction: discord.Interaction, act: Callable[[Fan], str]) -> None:
        """Answer a slash command only its user sees, if it came from a direct message or an allowed server."""
        if interaction.guild_id is not None and interaction.guild_id not in self.guild_ids:
            await interaction.response.send_message(f"{self.clone.name} does not answer in this server.",
                                                    ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        answer = await asyncio.to_thread(self._told, act, interaction.user.id)
        await interaction.followup.send(split_message(answer)[0], ephemeral=True)

    def _standing(self, fan: Fan) -> str:
        standing = self._fans.standing(fan, self.clone.id, fan.fan_id)
        return standing.summary() if standing else "Messages are free."

    def _offers(self, fan: Fan) -> str:
        standing = self._fans.standing(fan, self.clone.id, fan.fan_id)
        if standing is None or not standing.offers:
            return f"{self.clone.name} sells nothing: your messages are free or come with the monthly allowance."
        links = [f"{offer.label}: <{self._fans.checkout(fan, self.clone.id, fan.fan_id, offer.id, self._return_url)}>"
                 for offer in standing.offers]
        return "Pay on Stripe's page, then come back here:\n" + "\n".join(links)

    def _link(self, user_id: int, code: str) -> str:
        self._fans.link_discord(self.clone.id, user_id, code)
        return (f"Linked: on Discord you are now your signed-in self with {self.clone.name}, with your balance and "
                "what you bought.")

    def _new(self, fan: Fan) -> str:
        self._fans.start_conversation(fan, self.clone.id, fan.fan_id)
        return f"A new conversation with {self.clone.name}: it still remembers what you told it before."

    def _forget(self, fan: Fan, confirm: bool) -> str:
        if not confirm:
            return (f"This deletes your messages and everything {self.clone.name} remembers of you, for good. To go "
                    "ahead, run /forget confirm:True.")
        self._fans.forget(fan, self.clone.id, fan.fan_id)
        return f"{self.clone.name} has forgotten you."


class DiscordHost:
    """Runs the bots of every connected clone in one process until stopped; each reconnects on its own."""

    def __init__(self, discord_service: DiscordService, clones: CloneService, fans: FanService) -> None:
        self._connections = discord_service
        self._clones = clones
        self._fans = fans

    def bots(self, **options: object) -> list[tuple[CloneBot, str]]:
        """A bot and its token for each connected, published clone; a missing token is a one-line error."""
        made = []
        for clone, record in self._connections.bots():
            if not clone.published:
                log.warning("%s is not published: its Discord bot is not started", clone.name)
                continue
            made.append((CloneBot(clone, record, self._fans, self._clones.widget_url(clone), **options),
                         self._connections.token(clone, record)))
        return made

    async def run(self, **options: object) -> None:
        """Start every bot; a refused token or a missing intent stops that bot with a one-line error."""
        started = self.bots(**options)
        if not started:
            raise ClonrError("No published clone has a Discord bot: connect one with `clonr discord connect`.")
        await asyncio.gather(*(self._run_one(bot, token) for bot, token in started))

    async def _run_one(self, bot: CloneBot, token: str) -> None:
        try:
            async with bot:
                await bot.start(token, reconnect=True)
        except discord.LoginFailure:
            log.error("Discord refused the token of %s's bot: reset it on the Bot page of the application in the "
                      "Discord developer portal, then run `clonr discord connect %s` again.", bot.clone.name,
                      bot.clone.slug)
        except discord.PrivilegedIntentsRequired:
            log.error("%s's bot needs the Message Content intent: turn it on on the Bot page of the application "
                      "in the Discord developer portal.", bot.clone.name)
