"""A clone's Discord bot (discord.py 2), and the host that runs every connected bot in one process.

- Direct messages: each Discord user is a fan of the clone (`discord:<user id>`, audience "discord"), with
  memory across conversations.
- Servers on the bot's allow-list: the clone answers when mentioned or replied to; each speaker is their own
  fan. In the channels it joined, it takes part as a member of the channel's group chat (the group engine:
  named, it answers; otherwise it speaks at its talkativeness). Anywhere else it stays silent.
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
import io
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator

import discord
from discord import app_commands

from clonr.access import Fan
from clonr.chat import GroupChatService, Turn
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
from clonr.voice import encode

log = logging.getLogger(__name__)

__all__ = ["CloneBot", "DiscordHost", "intents"]


def intents() -> discord.Intents:
    """The least the bot needs: servers, direct and server messages, and their content (privileged)."""
    chosen = discord.Intents.none()
    chosen.guilds = chosen.dm_messages = chosen.guild_messages = chosen.message_content = True
    return chosen


class CloneBot(discord.Client):
    def __init__(self, clone: Clone, bot: BotRecord, fans: FanService, groups: GroupChatService, return_url: str,
                 **options: object) -> None:
        super().__init__(intents=intents(), **options)  # type: ignore[arg-type]
        self.clone = clone
        self.guild_ids = frozenset(bot.guild_ids)
        self.joined_channels = frozenset(bot.joined_channels)
        self.talkativeness = bot.talkativeness
        self.speaks = bot.speaks
        self._fans = fans
        self._groups = groups
        self._return_url = return_url
        self._channels: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)  # a joined channel's lines in order
        self.tree = app_commands.CommandTree(self)
        self._commands()

    async def setup_hook(self) -> None:
        await self.tree.sync()

    # -- messages -------------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.user is None:
            return
        if message.guild is not None and message.guild.id not in self.guild_ids:
            return
        if message.guild is not None and message.channel.id in self.joined_channels:
            await self._take_part(message)
            return
        if message.guild is not None and not self._addressed(message):
            return
        text = re.sub(rf"<@!?{self.user.id}>", "", message.content).strip()
        if not text:
            return
        async with message.channel.typing():
            reply, fan = await asyncio.to_thread(self._reply, message.author.id, text)
        await self._send(message, reply)
        if self.speaks and fan is not None:
            await self._send_spoken(message, fan)

    async def _send_spoken(self, message: discord.Message, fan: Fan) -> None:
        """The reply just sent, as an MP3 in the clone's voice; when speech fails the text stands, and it is logged."""
        try:
            audio = await asyncio.to_thread(self._spoken, fan)
        except Exception as exc:  # the text reply has been sent: the fan loses only the audio
            log.warning("no audio for %s's reply on Discord: %s", self.clone.slug, exc)
            return
        await message.channel.send(file=discord.File(io.BytesIO(audio), filename=f"{self.clone.slug}.mp3"))

    def _spoken(self, fan: Fan) -> bytes:
        speeches = self._fans.speak(fan, self.clone.id, fan.fan_id, 1, channel="discord",
                                    conversation_id=self._current(fan))
        return b"".join(encode(speeches, "mp3"))

    async def _send(self, message: discord.Message, reply: str) -> None:
        """The reply in as many messages as it takes; in a server, the first answers the fan's message."""
        for n, chunk in enumerate(split_message(reply)):
            if n == 0 and message.guild is not None:
                await message.reply(chunk, mention_author=False)
            else:
                await message.channel.send(chunk)

    async def _take_part(self, message: discord.Message) -> None:
        """A channel the clone joined: every line goes into the channel's group chat, whose engine decides if the
        clone speaks (named or mentioned: always; otherwise at its talkativeness). A fan who cannot pay, or who
        writes too fast, is told only when they addressed the clone; otherwise it stays silent."""
        assert self.user is not None
        addressed = self._addressed(message)
        first_name = self.clone.name.split()[0]
        text = re.sub(rf"<@!?{self.user.id}>", f"@{first_name}", message.content).strip()
        if addressed and f"@{first_name}" not in text:
            text = f"@{first_name} {text}"
        if not text:
            return
        async with self._channels[message.channel.id]:  # each line stored, and answered, in the order it came
            await self._speak_in_group(message, text, addressed)

    async def _speak_in_group(self, message: discord.Message, text: str, addressed: bool) -> None:
        try:
            turns = await asyncio.to_thread(self._group_turns, message, text)
            while (turn := await asyncio.to_thread(next, turns, None)) is not None:
                async with message.channel.typing():
                    reply = await asyncio.to_thread("".join, turn)
                await self._send(message, reply)
        except Exception as exc:  # told as one friendly line when the fan spoke to the clone; else silence
            line = self._failure(exc)
            if addressed:
                await self._send(message, line)

    def _group_turns(self, message: discord.Message, text: str) -> Iterator[Turn]:
        group = self._groups.ensure(f"Discord channel {message.channel.id} · {self.clone.slug}"[:120],
                                    [self.clone.id], {self.clone.id: self.talkativeness})
        fan = self._fans.discord_user(self.clone.id, message.author.id)
        return iter(self._fans.group_post(fan, group, self.clone.id, fan.fan_id, message.author.display_name, text))

    def _addressed(self, message: discord.Message) -> bool:
        """Mentioned, or replied to."""
        replied = message.reference.resolved if message.reference else None
        return self.user in message.mentions or (isinstance(replied, discord.Message) and replied.author == self.user)

    def _reply(self, user_id: int, text: str) -> tuple[str, Fan | None]:
        """The clone's whole reply to the Discord user and the fan it answered, or the one line that says why there
        is none (and no fan)."""
        try:
            fan = self._fans.discord_user(self.clone.id, user_id)
            return "".join(self._fans.turn(fan, self.clone.id, fan.fan_id, text, channel="discord",
                                           conversation_id=self._current(fan))), fan
        except Exception as exc:  # every failure reaches the fan as one line
            return self._failure(exc), None

    def _current(self, fan: Fan) -> str:
        """The fan's conversation: the last they started with /new, or their first."""
        started = self._fans.conversations(fan, self.clone.id, fan.fan_id)
        return started[-1].id if started else ""

    def _told(self, act: Callable[[Fan], str], user_id: int) -> str:
        try:
            return act(self._fans.discord_user(self.clone.id, user_id))
        except Exception as exc:  # every failure reaches the fan as one line
            return self._failure(exc)

    def _failure(self, exc: Exception) -> str:
        """What a fan is told when there is no reply: their own mistake or limit as it is, anything else as one
        friendly line whose reference finds the details in the log."""
        if isinstance(exc, PaymentRequiredError):
            return f"{exc}" + (" Use /buy to see what you can buy." if exc.offers else "")
        if isinstance(exc, InvalidInputError | RateLimitedError):
            return str(exc)
        if isinstance(exc, NotFoundError | ForbiddenError):
            return f"{self.clone.name} is not available right now."
        if isinstance(exc, PaymentError):
            return "Payments are not available right now: try again later."
        reference = uuid.uuid4().hex[:8]
        log.error("discord error %s for %s", reference, self.clone.name, exc_info=exc)
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

    def __init__(self, discord_service: DiscordService, clones: CloneService, fans: FanService,
                 groups: GroupChatService) -> None:
        self._connections = discord_service
        self._clones = clones
        self._fans = fans
        self._groups = groups

    def bots(self, **options: object) -> list[tuple[CloneBot, str]]:
        """A bot and its token for each connected, published clone; a missing token is a one-line error."""
        made = []
        for clone, record in self._connections.bots():
            if not clone.published:
                log.warning("%s is not published: its Discord bot is not started", clone.name)
                continue
            made.append((CloneBot(clone, record, self._fans, self._groups, self._clones.widget_url(clone), **options),
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
