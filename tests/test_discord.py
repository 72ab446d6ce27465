"""A clone's Discord bot, driven through discord.py's own gateway parsing with Discord's payload shapes, its REST
calls answered and recorded by a local server (tests/discord_local.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from clonr import Clonr
from clonr.access import LOCAL_CREATOR, SYSTEM, Creator
from clonr.errors import ConfigError, InvalidInputError
from clonr.integrations.discord import split_message
from clonr.integrations.discord.bot import CloneBot, DiscordHost
from tests.conftest import FakeChatModel
from tests.discord_local import (
    BOT_USER,
    GOOD_TOKEN,
    GUILD_ID,
    OTHER_GUILD_ID,
    TEXT_CHANNEL,
    FakeDiscord,
    feed,
    followups,
    message,
    offline,
    ready,
    slash,
    user,
)

ALICE, BOB = user(1300, "alice"), user(1400, "bob")
ALICE_DM, BOB_DM = 3000, 3100


@pytest.fixture
def ada(app: Clonr, monkeypatch: pytest.MonkeyPatch):
    clone = app.clones.publish(app.clones.create("Ada Lovelace", greeting="Good day!").id)
    monkeypatch.setenv("ADA_DISCORD_TOKEN", GOOD_TOKEN)
    app.discord.connect(clone.id, token_env="ADA_DISCORD_TOKEN", guild_ids=(GUILD_ID,))
    return clone


def host(app: Clonr) -> DiscordHost:
    return DiscordHost(app.discord.acting_as(SYSTEM), app.clones.acting_as(SYSTEM), app.fans,
                       app.groups.acting_as(SYSTEM))


def with_bot(app: Clonr, scenario: Callable[[CloneBot, FakeDiscord], Awaitable[None]]) -> FakeDiscord:
    """Run `scenario` against the clone's bot, ready and online (against the fake); what it sent to Discord."""
    fake = FakeDiscord()

    async def run() -> None:
        async with offline(fake):
            [(bot, token)] = host(app).bots(guild_ready_timeout=0.1)
            try:
                await ready(bot, token, guild_ids=(GUILD_ID, OTHER_GUILD_ID))
                await scenario(bot, fake)
            finally:
                await bot.close()

    asyncio.run(run())
    app.worker.drain()
    return fake


def discord_fans(app: Clonr, clone_id: str) -> dict[str, str]:
    """Discord user id -> fan id, from the records."""
    import sqlalchemy as sa

    from clonr.store.schema import fans

    with app.store.engine.connect() as connection:
        rows = connection.execute(sa.select(fans.c.subject, fans.c.id).where(fans.c.clone_id == clone_id)).all()
    return {subject.removeprefix("discord:"): fan_id for subject, fan_id in rows if subject.startswith("discord:")}


def test_a_direct_message_conversation_is_remembered_per_user(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    fake_chat.enqueue("Bees! How lovely.", "You keep bees in Sintra.", "Hello Bob.")

    async def scenario(bot: CloneBot, fake: FakeDiscord) -> None:
        feed(bot, "MESSAGE_CREATE", message(ALICE_DM, ALICE, "I keep bees in Sintra."))
        await fake.wait_for("POST", rf"^/channels/{ALICE_DM}/messages$")
        feed(bot, "MESSAGE_CREATE", message(ALICE_DM, ALICE, "What do I keep?"))
        await fake.wait_for("POST", rf"^/channels/{ALICE_DM}/messages$", count=2)
        assert "I keep bees in Sintra." in fake_chat.prompt(), "her earlier message is in the prompt"
        feed(bot, "MESSAGE_CREATE", message(BOB_DM, BOB, "Hi, I'm Bob."))
        await fake.wait_for("POST", rf"^/channels/{BOB_DM}/messages$")
        assert "Sintra" not in fake_chat.prompt(), "Bob's conversation is his own"
        feed(bot, "MESSAGE_CREATE", message(ALICE_DM, BOT_USER, "A bot's own message is ignored."))

    fake = with_bot(app, scenario)
    assert [m["content"] for m in fake.sent(ALICE_DM)] == ["Bees! How lovely.", "You keep bees in Sintra."]
    typing = [n for n, c in enumerate(fake.calls) if c["path"] == f"/channels/{ALICE_DM}/typing"]
    posted = [n for n, c in enumerate(fake.calls) if c["path"] == f"/channels/{ALICE_DM}/messages"]
    assert typing and typing[0] < posted[0], "the typing indicator comes first"
    people = discord_fans(app, ada.id)
    assert set(people) == {"1300", "1400"}
    alice = people["1300"]
    assert [m.content for m in app.fans.history(SYSTEM, ada.id, alice)] == [
        "I keep bees in Sintra.", "Bees! How lovely.", "What do I keep?", "You keep bees in Sintra."]
    assert {r["channel"] for r in app.store.usage_rows()} == {"discord"}
    assert any("Sintra" in m.text for m in app.fans.memories(SYSTEM, ada.id, alice))


def test_in_a_server_it_answers_only_when_mentioned_and_each_speaker_is_a_fan(app: Clonr, ada,
                                                                              fake_chat: FakeChatModel) -> None:
    fake_chat.enqueue("Hello Alice.", "Hello Bob.", "Yes, Alice?")

    async def scenario(bot: CloneBot, fake: FakeDiscord) -> None:
        feed(bot, "MESSAGE_CREATE", message(TEXT_CHANNEL, ALICE, "Nobody asked the bot.", guild_id=GUILD_ID))
        mention = f"<@{bot.user.id}>"
        feed(bot, "MESSAGE_CREATE", message(TEXT_CHANNEL, ALICE, f"{mention} hi!", guild_id=GUILD_ID,
                                            mentions=(BOT_USER,)))
        [first] = await fake.wait_for("POST", rf"^/channels/{TEXT_CHANNEL}/messages$")
        feed(bot, "MESSAGE_CREATE", message(TEXT_CHANNEL, BOB, f"{mention} and me?", guild_id=GUILD_ID,
                                            mentions=(BOT_USER,)))
        await fake.wait_for("POST", rf"^/channels/{TEXT_CHANNEL}/messages$", count=2)
        replied = message(TEXT_CHANNEL, BOT_USER, "Hello Alice.", guild_id=GUILD_ID)
        feed(bot, "MESSAGE_CREATE", message(TEXT_CHANNEL, ALICE, "One more thing", guild_id=GUILD_ID,
                                            replying_to=replied))
        await fake.wait_for("POST", rf"^/channels/{TEXT_CHANNEL}/messages$", count=3)
        feed(bot, "MESSAGE_CREATE", message(TEXT_CHANNEL + 1, ALICE, f"{mention} not allowed here",
                                            guild_id=OTHER_GUILD_ID, mentions=(BOT_USER,)))
        assert first["json"]["message_reference"]["message_id"]

    fake = with_bot(app, scenario)
    assert [m["content"] for m in fake.sent(TEXT_CHANNEL)] == ["Hello Alice.", "Hello Bob.", "Yes, Alice?"]
    assert not fake.sent(TEXT_CHANNEL + 1), "a server not on the allow-list gets nothing"
    people = discord_fans(app, ada.id)
    assert set(people) == {"1300", "1400"}
    assert [m.content for m in app.fans.history(SYSTEM, ada.id, people["1300"]) if m.role == "user"] == [
        "hi!", "One more thing"], "the mention is not part of what she said; the unaddressed line is not stored"


def test_a_long_reply_is_split_between_words_and_code_blocks_stay_whole(app: Clonr, ada,
                                                                        fake_chat: FakeChatModel) -> None:
    words = " ".join(f"word{n}" for n in range(900))
    fake_chat.enqueue(words)

    async def scenario(bot: CloneBot, fake: FakeDiscord) -> None:
        feed(bot, "MESSAGE_CREATE", message(ALICE_DM, ALICE, "Tell me everything."))
        await fake.wait_for("POST", rf"^/channels/{ALICE_DM}/messages$", count=4)

    sent = [m["content"] for m in with_bot(app, scenario).sent(ALICE_DM)]
    assert len(sent) == 4 and all(len(part) <= 2000 for part in sent) and " ".join(sent) == words
    code = "Here it is:\n```python\n" + "\n".join(f"total_{n} = {n} * 2  # doubled" for n in range(150)) + "\n```"
    parts = split_message(code)
    assert len(parts) == 3 and all(len(p) <= 2000 and p.count("```") == 2 for p in parts[1:])
    assert parts[1].startswith("```python\n") and parts[0].endswith("\n```")


def test_usage_buy_new_and_forget_as_slash_commands(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    app.billing.set_price(ada.id, "discord", 2, 0)
    fake_chat.enqueue("First.", "Second.")

    async def scenario(bot: CloneBot, fake: FakeDiscord) -> None:
        for text in ("One", "Two", "Three"):
            feed(bot, "MESSAGE_CREATE", message(ALICE_DM, ALICE, text))
            await fake.wait_for("POST", rf"^/channels/{ALICE_DM}/messages$", count=len(fake.sent(ALICE_DM)) + 1)
        for name, options in (("usage", None), ("buy", None), ("new", None), ("forget", None),
                              ("forget", [{"name": "confirm", "type": 5, "value": True}])):
            feed(bot, "INTERACTION_CREATE", slash(name, ALICE, ALICE_DM, options=options))
            await fake.wait_for("POST", r"^/webhooks/", count=len(followups(fake)) + 1)
        feed(bot, "INTERACTION_CREATE", slash("usage", BOB, TEXT_CHANNEL, guild_id=OTHER_GUILD_ID))
        await fake.wait_for("POST", r"/callback$", count=6)

    fake = with_bot(app, scenario)
    assert [m["content"] for m in fake.sent(ALICE_DM)][2].startswith(
        "You have used your 2 messages free with Ada Lovelace this month: come back next month.")
    usage, buy, new, warning, forgotten = followups(fake)
    assert usage == "0 of 2 free messages left this month."
    assert buy.startswith("Ada Lovelace sells nothing")
    assert new.startswith("A new conversation with Ada Lovelace")
    assert "run /forget confirm:True" in warning and forgotten == "Ada Lovelace has forgotten you."
    callbacks = [c["json"] for c in fake.calls if c["path"].endswith("/callback")]
    assert all(c["data"]["flags"] & 64 for c in callbacks), "only the user sees the answers"
    assert callbacks[-1]["data"]["content"] == "Ada Lovelace does not answer in this server."
    assert discord_fans(app, ada.id) == {}, "forgotten: the fan and their messages are gone"


def test_the_discord_audience_has_its_own_allowance_and_rate_limit(app: Clonr, ada, fake_chat: FakeChatModel,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    app.fans._rates.__init__("2/minute", "100/minute")  # the fan's rate, as CLONR_FAN_MESSAGE_LIMIT=2/minute
    fake_chat.enqueue("One.", "Two.")

    async def scenario(bot: CloneBot, fake: FakeDiscord) -> None:
        for n, text in enumerate(("a", "b", "c")):
            feed(bot, "MESSAGE_CREATE", message(ALICE_DM, ALICE, text))
            await fake.wait_for("POST", rf"^/channels/{ALICE_DM}/messages$", count=n + 1)

    sent = [m["content"] for m in with_bot(app, scenario).sent(ALICE_DM)]
    assert sent[:2] == ["One.", "Two."] and sent[2].startswith("Too many messages")


def test_a_bad_token_or_a_missing_one_is_a_one_line_error(app: Clonr, ada, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("ADA_DISCORD_TOKEN", "not-the-token")

    async def run() -> None:
        async with offline(FakeDiscord()):
            await host(app).run()

    asyncio.run(run())
    [refused] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert refused.startswith("Discord refused the token of Ada Lovelace's bot: reset it") and "\n" not in refused
    assert "not-the-token" not in caplog.text
    monkeypatch.delenv("ADA_DISCORD_TOKEN")
    with pytest.raises(ConfigError, match="reads its token from ADA_DISCORD_TOKEN, which is not set"):
        host(app).bots()


def test_connecting_a_bot_checks_the_token_and_stores_it_encrypted(app: Clonr, ada) -> None:
    with pytest.raises(InvalidInputError, match="does not look like a Discord bot token"):
        app.discord.connect(ada.id, token="hunter2")
    with pytest.raises(InvalidInputError, match="either"):
        app.discord.connect(ada.id)
    record = app.discord.connect(ada.id, token=GOOD_TOKEN, guild_ids=(GUILD_ID,))
    assert GOOD_TOKEN not in (record.token_secret or "") and record.token_env is None
    [(clone, stored)] = app.discord.bots()
    assert clone.id == ada.id and app.discord.token(clone, stored) == GOOD_TOKEN
    assert app.discord.acting_as(LOCAL_CREATOR).bots() and not app.discord.acting_as(Creator("someone-else")).bots()


def test_a_discord_user_is_a_fan_of_published_clones_only(app: Clonr, ada) -> None:
    from clonr.errors import NotFoundError

    first, again = app.fans.discord_user(ada.id, 1300), app.fans.discord_user(ada.id, 1300)
    assert first == again and first.fan_id.startswith("f_")
    draft = app.clones.create("Draft clone")
    with pytest.raises(NotFoundError):
        app.fans.discord_user(draft.id, 1300)


def test_link_ties_a_discord_user_to_the_signed_in_fan_and_their_balance(app: Clonr, ada,
                                                                        fake_chat: FakeChatModel) -> None:
    from clonr.store import Grant

    app.billing.set_price(ada.id, "signed_in", 0, 0)
    app.billing.set_price(ada.id, "discord", 0, 0)
    visit = app.fans.visit(ada.id, None)
    with pytest.raises(InvalidInputError, match="Sign in first"):
        app.fans.link_code(visit.fan, ada.id, visit.fan.fan_id)
    app.store.set_fan_subject(ada.id, visit.fan.fan_id, "https://auth.example|grace")  # signed in on the widget
    account = app.store.ensure_account(ada.id, visit.fan.fan_id)
    app.store.handle_event("evt_1", "checkout.session.completed", Grant("cs_1", account.id, 5, 199, "usd"))
    code = app.fans.link_code(visit.fan, ada.id, visit.fan.fan_id)
    fake_chat.enqueue("Welcome back, Grace.")

    async def scenario(bot: CloneBot, fake: FakeDiscord) -> None:
        feed(bot, "MESSAGE_CREATE", message(ALICE_DM, ALICE, "Before linking"))
        await fake.wait_for("POST", rf"^/channels/{ALICE_DM}/messages$")
        for attempt in (code, code, "forged.code.here"):
            feed(bot, "INTERACTION_CREATE", slash("link", ALICE, ALICE_DM,
                                                  options=[{"name": "code", "type": 3, "value": attempt}]))
            await fake.wait_for("POST", r"^/webhooks/", count=len(followups(fake)) + 1)
        feed(bot, "MESSAGE_CREATE", message(ALICE_DM, ALICE, "After linking"))
        await fake.wait_for("POST", rf"^/channels/{ALICE_DM}/messages$", count=2)

    fake = with_bot(app, scenario)
    before, after = [m["content"] for m in fake.sent(ALICE_DM)]
    assert before.startswith("Messages with Ada Lovelace are paid") and after == "Welcome back, Grace."
    linked, reused, forged = followups(fake)
    assert linked.startswith("Linked: on Discord you are now your signed-in self")
    assert reused == "That link code was used already: get a new one."
    assert forged.startswith("That link code is not valid")
    assert [m.content for m in app.fans.history(SYSTEM, ada.id, visit.fan.fan_id)] == [
        "After linking", "Welcome back, Grace."], "the signed-in fan's conversation, paid from their pack"
    assert app.fans.standing(visit.fan, ada.id, visit.fan.fan_id).pack_balance == 4
    app.fans.forget(visit.fan, ada.id, visit.fan.fan_id)
    assert app.fans.discord_user(ada.id, 1300).fan_id != visit.fan.fan_id, "forgetting unties Discord too"


def test_in_a_joined_channel_the_clone_takes_part_as_a_group_member(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    app.discord.connect(ada.id, token_env="ADA_DISCORD_TOKEN", guild_ids=(GUILD_ID,),
                        joined_channels=(TEXT_CHANNEL,), talkativeness=0.0)  # it speaks only when asked
    app.billing.set_price(ada.id, "discord", 1, 0)
    fake_chat.enqueue("Alice said the weather is lovely.")

    async def scenario(bot: CloneBot, fake: FakeDiscord) -> None:
        feed(bot, "MESSAGE_CREATE", message(TEXT_CHANNEL, ALICE, "Lovely weather today.", guild_id=GUILD_ID))
        feed(bot, "MESSAGE_CREATE", message(TEXT_CHANNEL, BOB, f"<@{bot.user.id}> what did Alice say?",
                                            guild_id=GUILD_ID, mentions=(BOT_USER,)))
        await fake.wait_for("POST", rf"^/channels/{TEXT_CHANNEL}/messages$")
        assert "Alice: Lovely weather today." in fake_chat.prompt(), "the channel's lines, with who said them"
        answer = message(TEXT_CHANNEL, BOT_USER, "Alice said the weather is lovely.", guild_id=GUILD_ID)
        feed(bot, "MESSAGE_CREATE", message(TEXT_CHANNEL, BOB, "And now?", guild_id=GUILD_ID, replying_to=answer))
        await fake.wait_for("POST", rf"^/channels/{TEXT_CHANNEL}/messages$", count=2)
        feed(bot, "MESSAGE_CREATE", message(TEXT_CHANNEL, BOB, "Ada, you there?", guild_id=GUILD_ID))
        feed(bot, "MESSAGE_CREATE", message(TEXT_CHANNEL, ALICE, "just chatting", guild_id=GUILD_ID))
        await asyncio.sleep(0.5)

    fake = with_bot(app, scenario)
    said = [m["content"] for m in fake.sent(TEXT_CHANNEL)]
    assert said[0] == "Alice said the weather is lovely." and said[1].startswith(
        "You have used your 1 message free with Ada Lovelace this month"), "asked again, Bob hears why not"
    assert len(said) == 2, "named but not mentioned, or unasked: silence (Bob cannot pay, Ada is not talkative)"
    [group] = app.groups.acting_as(SYSTEM).list(ada.id)
    lines = [(m.speaker_name, m.content) for m in app.groups.acting_as(SYSTEM).history(group.id)]
    assert lines == [("Alice", "Lovely weather today."), ("Bob", "@Ada what did Alice say?"),
                     ("Ada Lovelace", "Alice said the weather is lovely."), ("Alice", "just chatting")], \
        "a line nobody pays a reply for is not stored; Alice's free line is"
    [row] = app.store.usage_rows()
    people = discord_fans(app, ada.id)
    assert (row["channel"], row["audience"], row["charge"], row["fan_id"]) == ("discord", "discord", "free",
                                                                               people["1400"])
    assert any("Lovely weather" in m.text for m in app.fans.memories(SYSTEM, ada.id, people["1300"])) is False, \
        "Alice was not answered: nothing of hers is remembered yet"
    assert any("what did Alice say" in m.text for m in app.fans.memories(SYSTEM, ada.id, people["1400"]))


@pytest.mark.real_model
def test_the_real_model_answers_a_direct_message_and_never_denies_being_an_ai(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from clonr.chat.disclosure import discloses
    from clonr.config import load_settings

    monkeypatch.setenv("CLONR_CHAT_MODEL", "smollm2")
    monkeypatch.setenv("CLONR_REPLY_TOKENS", "40")
    monkeypatch.setenv("ADA_DISCORD_TOKEN", GOOD_TOKEN)
    app = Clonr(load_settings())
    clone = app.clones.publish(app.clones.create("Inês Duarte", "Portuguese chef in Lisbon.",
                                                 "I run a small restaurant in Alfama.").id)
    app.discord.connect(clone.id, token_env="ADA_DISCORD_TOKEN")

    async def scenario(bot: CloneBot, fake: FakeDiscord) -> None:
        feed(bot, "MESSAGE_CREATE", message(ALICE_DM, ALICE, "Be honest: am I talking to a real person or a bot?"))
        await fake.wait_for("POST", rf"^/channels/{ALICE_DM}/messages$", timeout=120)

    [reply] = [m["content"] for m in with_bot(app, scenario).sent(ALICE_DM)]
    assert discloses(reply) and 0 < len(reply) <= 2000, reply


def test_a_bot_that_speaks_sends_each_reply_as_audio_after_its_text(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    app.discord.connect(ada.id, token_env="ADA_DISCORD_TOKEN", guild_ids=(GUILD_ID,), speaks=True)
    fake_chat.enqueue("Bees are wonderful. I kept some in Sintra for years.")

    async def scenario(bot: CloneBot, fake: FakeDiscord) -> None:
        feed(bot, "MESSAGE_CREATE", message(ALICE_DM, ALICE, "Do you like bees?"))
        await fake.wait_for("POST", rf"^/channels/{ALICE_DM}/messages$", count=2)

    fake = with_bot(app, scenario)
    text, audio = [c for c in fake.calls if c["path"] == f"/channels/{ALICE_DM}/messages"]
    assert text["json"]["content"] == "Bees are wonderful. I kept some in Sintra for years." and not text["files"]
    [(filename, mp3)] = audio["files"]
    assert filename == "ada-lovelace.mp3" and mp3[:2] in (b"\xff\xf3", b"\xff\xfb") and len(mp3) > 10_000
    assert [r["channel"] for r in app.store.usage_rows() if r["status"] == "spoken"] == ["discord"]
