"""Group chats: who speaks next, each clone's point of view, memories per fan, and the CLI."""

from __future__ import annotations

import random

import pytest
from click.testing import CliRunner

from clonr import Clonr
from clonr.cli import LazyApp, cli
from clonr.errors import InvalidInputError, NotFoundError
from tests.conftest import FakeChatModel


@pytest.fixture
def clones(app: Clonr):
    return app.clones.create("Ada Lovelace"), app.clones.create("Charles Babbage")


def test_named_clones_answer_in_the_order_named(app: Clonr, clones) -> None:
    group = app.groups.create("Engines", ["ada-lovelace", "charles-babbage"], {"ada-lovelace": 0.0,
                                                                                "charles-babbage": 0.0})
    assert [c.name for c in app.groups.next_speakers(group, "@charles-babbage and Ada, what do you think?")] == [
        "Charles Babbage", "Ada Lovelace"]
    assert [c.name for c in app.groups.next_speakers(group, "Charles?")] == ["Charles Babbage"]
    assert [c.name for c in app.groups.next_speakers(group, "An adagio, Charles")] == ["Charles Babbage"], \
        "a name inside another word is no mention"


def test_when_nobody_is_named_talkativeness_decides_and_someone_always_answers(app: Clonr, clones) -> None:
    group = app.groups.create("Engines", ["ada-lovelace", "charles-babbage"], {"ada lovelace": 1.0,
                                                                                "charles-babbage": 0.0})
    assert [c.name for c in app.groups.next_speakers(group, "hello all")] == ["Ada Lovelace"]
    quiet = app.groups.create("Quiet", ["ada-lovelace", "charles-babbage"], {"ada-lovelace": 0.0,
                                                                              "charles-babbage": 0.1})
    app.groups._rng = random.Random(1)
    counts = {"Ada Lovelace": 0, "Charles Babbage": 0}
    for _ in range(200):
        for clone in app.groups.next_speakers(quiet, "hello"):
            counts[clone.name] += 1
    assert counts["Ada Lovelace"] == 0 and counts["Charles Babbage"] == 200, "the most talkative answers a silence"


def test_each_clone_answers_from_its_own_point_of_view(app: Clonr, clones, fake_chat: FakeChatModel) -> None:
    app.groups.create("Engines", ["ada-lovelace", "charles-babbage"], {"ada-lovelace": 1.0, "charles-babbage": 1.0})
    fake_chat.enqueue("Poetry in numbers.", "Gears and cranks.")
    turns = app.groups.post("engines", "sam", "Sam", "What is an engine?")
    replies = [(turn.clone.name, turn.text()) for turn in turns]
    assert replies == [("Ada Lovelace", "Poetry in numbers."), ("Charles Babbage", "Gears and cranks.")]
    charles_prompt = fake_chat.calls[-1]
    assert "You are Charles Babbage" in charles_prompt[0].text
    assert "Sam: What is an engine?\nAda Lovelace: Poetry in numbers." in charles_prompt[-1].text
    app.worker.drain()  # the memories of those lines are made: recall must not repeat what the window shows
    fake_chat.enqueue("Still gears.")
    list(turn.text() for turn in app.groups.post("engines", "sam", "Sam", "Charles, again?"))
    history = fake_chat.calls[-1][1:-1]
    assert [m.text for m in history] == ["Sam: What is an engine?", "Ada Lovelace: Poetry in numbers.",
                                         "Gears and cranks."], "its own lines are its history; others carry names"
    app.worker.drain()
    assert any("in the group 'Engines'" in m.text for m in app.memory.list(clones[1].id, "sam"))
    assert [m.speaker_name for m in app.groups.history("engines")] == [
        "Sam", "Ada Lovelace", "Charles Babbage", "Sam", "Charles Babbage"]


def test_bad_groups_are_refused(app: Clonr, clones) -> None:
    with pytest.raises(InvalidInputError):
        app.groups.create("", ["ada-lovelace"])
    with pytest.raises(InvalidInputError):
        app.groups.create("Twice", ["ada-lovelace", "Ada Lovelace"])
    with pytest.raises(InvalidInputError, match="from 0 to 1"):
        app.groups.create("Loud", ["ada-lovelace"], {"ada-lovelace": 3})
    with pytest.raises(NotFoundError):
        list(app.groups.post("nope", "sam", "Sam", "hi"))


def test_group_chat_from_the_cli(app: Clonr, clones, fake_chat: FakeChatModel) -> None:
    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, list(args), obj=LazyApp(app), input=input)

    assert run("group", "create", "Engines", "ada-lovelace", "charles-babbage", "--talk", "ada-lovelace=1",
               "--talk", "charles-babbage=0").exit_code == 0
    fake_chat.enqueue("Hello Sam.", "Babbage here.")
    result = run("group", "chat", "engines", "--fan", "sam", "--name", "Sam", input="hi all\nCharles?\n")
    assert result.exit_code == 0 and result.output == "Ada Lovelace: Hello Sam.\nCharles Babbage: Babbage here.\n"
    bad = run("group", "create", "X", "ada-lovelace", "--talk", "ada=loud")
    assert bad.exit_code == 2 and "CLONE=NUMBER" in bad.output


def test_a_group_turn_has_examples_and_entities_and_no_other_fans_private_memory(app: Clonr, clones,
                                                                                  fake_chat: FakeChatModel) -> None:
    from datetime import UTC, datetime

    ada = clones[0]
    app.dialogues.add(ada.id, "Do you like music?", "The harp, above all.")
    app.memory.remember(ada.id, "alice", ["Fan: my secret code word is heron", "Fan: my sister Margaret is ill"])
    app.store.set_summary(ada.id, "alice", "Alice, a spy who trusts Ada with secrets.", datetime.now(UTC))
    app.store.save_entities(ada.id, "alice", {"Margaret": "Alice's sister, ill"}, datetime.now(UTC))
    app.store.save_entities(ada.id, "bob", {"Margaret": "Bob's neighbour, a baker"}, datetime.now(UTC))
    app.groups.create("Salon", ["ada-lovelace"], {"ada-lovelace": 1.0})
    list(turn.text() for turn in app.groups.post("salon", "alice", "Alice", "Hello everyone"))
    list(turn.text() for turn in app.groups.post("salon", "bob", "Bob", "Ada, what is the code word? How is Margaret?"))
    prompt = fake_chat.prompt()
    assert "Fan: Do you like music?\nAda Lovelace: The harp, above all." in prompt, "example dialogues"
    assert "Margaret (Bob's neighbour, a baker)" in prompt, "what the clone knows of the speaker's people"
    assert "heron" not in prompt and "spy" not in prompt and "Alice's sister" not in prompt, \
        "nothing Alice told Ada privately reaches a reply Bob reads"
    assert "Alice: Hello everyone" in prompt, "what was said in the group is shared"


def test_each_clones_reply_in_a_group_is_one_row_of_the_usage_ledger(app: Clonr, clones, fake_chat) -> None:
    group = app.groups.create("Engines", ["ada-lovelace", "charles-babbage"])
    fake_chat.enqueue("Ada here.", "Charles here.")
    for turn in app.groups.post(group.id, "me", "Grace", "@Ada and @Charles, hello"):
        "".join(turn)
    rows = app.store.usage_rows()
    replies = [m for m in app.groups.history(group.id) if m.speaker_kind == "clone"]
    assert [(r["channel"], r["clone_id"], r["message_id"], r["fan_id"]) for r in rows] == \
        [("group", m.speaker_id, m.id, "me") for m in replies]
