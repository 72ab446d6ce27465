"""Which clones have a Discord bot, and its token: read from the environment (`token_env`) or stored encrypted
with a key derived from CLONR_SECRET_KEY. A token is never logged, never shown back, never in an error."""

from __future__ import annotations

import base64
import re

from cryptography.fernet import Fernet, InvalidToken

from clonr.access import Operation, allowed, derived_key
from clonr.clones import CloneService
from clonr.clones.acting import ActsFor
from clonr.config import named_secret
from clonr.errors import ConfigError, InvalidInputError, NotFoundError
from clonr.store import BotRecord, Clone, SqlStore

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,119}")
_TOKEN = re.compile(r"[A-Za-z0-9._-]{50,100}")  # Discord bot tokens: three base64url parts joined by dots


class DiscordService(ActsFor):
    """The creator connects, lists and disconnects their clones' bots."""

    def __init__(self, store: SqlStore, clones: CloneService, secret: bytes) -> None:
        self._store = store
        self._clones = clones
        self._fernet = Fernet(base64.urlsafe_b64encode(derived_key(secret, "discord-bot-tokens")))

    def connect(self, clone_ref: str, *, token_env: str | None = None, token: str | None = None,
                guild_ids: tuple[int, ...] = (), joined_channels: tuple[int, ...] = (),
                talkativeness: float = 0.3, speaks: bool = False) -> BotRecord:
        """Give the clone a bot: its token in environment variable `token_env` (read when the bot starts), or
        `token` itself, stored encrypted. `guild_ids`: the servers it may answer in when mentioned or replied to
        (direct messages always); `joined_channels`: channels of those servers where it takes part in the
        conversation as a group member, speaking unasked with `talkativeness` as the chance; `speaks`: each reply
        to a fan (in direct messages and when mentioned) also comes as an audio file in the clone's voice."""
        clone = self._owned(clone_ref)
        if not 0.0 <= talkativeness <= 1.0:
            raise InvalidInputError(f"Talkativeness {talkativeness} is out of range: use a number from 0 to 1.")
        if (token_env is None) == (token is None):
            raise InvalidInputError("Give the bot's token either as an environment variable's name or itself.")
        if token_env is not None and not _ENV_NAME.fullmatch(token_env):
            raise InvalidInputError(f"{token_env!r} is not an environment variable's name: use letters, digits and "
                                    "underscores, e.g. ADA_DISCORD_TOKEN.")
        if token is not None and not _TOKEN.fullmatch(token.strip()):
            raise InvalidInputError("That does not look like a Discord bot token: copy it from the Bot page of your "
                                    "application in the Discord developer portal.")
        secret = self._fernet.encrypt(token.strip().encode()).decode() if token is not None else None
        return self._store.set_bot(clone.id, token_env, secret, tuple(guild_ids), tuple(joined_channels),
                                   talkativeness, speaks)

    def disconnect(self, clone_ref: str) -> None:
        clone = self._owned(clone_ref)
        if not self._store.delete_bot(clone.id):
            raise NotFoundError(f"{clone.name} has no Discord bot: nothing to disconnect.")

    def bots(self) -> list[tuple[Clone, BotRecord]]:
        """The bots of the clones this actor may manage (the system: every clone's)."""
        found = []
        for bot in self._store.list_bots():
            clone = self._store.get_clone(bot.clone_id)
            if allowed(self._clones.actor, Operation.READ_CLONE, clone):
                found.append((clone, bot))
        return found

    def token(self, clone: Clone, bot: BotRecord) -> str:
        """The bot's token, for the process that runs it; `ConfigError` says what to set when it is missing."""
        if bot.token_env is not None:
            value = named_secret(bot.token_env)
            if not value:
                raise ConfigError(f"{clone.name}'s Discord bot reads its token from {bot.token_env}, which is not "
                                  f"set: export {bot.token_env}=<the bot's token> before `clonr discord`.")
            return value
        try:
            return self._fernet.decrypt((bot.token_secret or "").encode()).decode()
        except InvalidToken:
            raise ConfigError(f"{clone.name}'s stored Discord token cannot be read with this CLONR_SECRET_KEY: connect "
                              "the bot again (`clonr discord connect`).") from None
