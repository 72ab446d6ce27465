"""Clones on Discord: `DiscordService` connects a clone's bot (its token from the environment or stored
encrypted); `clonr.integrations.discord.bot` runs them (imported only by the process that does, since it loads
discord.py)."""

from clonr.integrations.discord.connections import DiscordService
from clonr.integrations.discord.split import DISCORD_LIMIT, split_message

__all__ = ["DISCORD_LIMIT", "DiscordService", "split_message"]
