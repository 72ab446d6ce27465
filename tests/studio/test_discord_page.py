"""The "Discord" studio page: a bot connected with its token stored encrypted (never shown back) or read from an
environment variable, the servers it answers in, and disconnected."""

from __future__ import annotations

from clonr import Clonr
from tests.discord_local import GOOD_TOKEN
from tests.studio.test_api_usage_page import ada, open_page, page_text, studio  # noqa: F401 (fixtures)


def connect(studio, **fields: str) -> None:  # noqa: F811
    for key, value in fields.items():
        studio.text_input(key=f"discord_{key}").input(value)
    next(b for b in studio.button if b.label == "Connect").click().run()
    assert not studio.exception


def test_a_creator_connects_a_bot_and_the_token_is_never_shown(studio, app: Clonr, ada) -> None:  # noqa: F811
    studio.run()
    open_page(studio, "discord")
    connect(studio, token="hunter2")
    assert "does not look like a Discord bot token" in studio.error[0].value and app.discord.bots() == []
    connect(studio, guilds="12, x")
    assert "Server and channel ids are numbers" in studio.error[0].value
    connect(studio, token=GOOD_TOKEN, guilds="2000, 2500", channels="2100")
    [(clone, bot)] = app.discord.bots()
    assert (clone.id, bot.guild_ids, bot.joined_channels, bot.token_env) == (ada.id, (2000, 2500), (2100,), None)
    assert "Connected. The token is read from Clonr's database, encrypted. Servers: 2000, 2500. Joined channels: " \
           "2100 (talkativeness 0.30)." in studio.success[0].value
    assert GOOD_TOKEN not in page_text(studio)
    connect(studio, token_env="ADA_DISCORD_TOKEN")
    assert app.discord.bots()[0][1].token_env == "ADA_DISCORD_TOKEN"
    next(b for b in studio.button if b.label == "Disconnect the bot").click().run()
    assert app.discord.bots() == []
