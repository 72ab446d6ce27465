"""The chat turn: prompt budget, persistence, and bad input."""

from __future__ import annotations

import itertools
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from clonr import Clonr
from clonr.chat import truncate_to_tokens
from clonr.chat.prompt import fixed_prefix
from clonr.errors import InvalidInputError, ModelError, NotFoundError
from clonr.memory import MemoryService
from tests.conftest import FakeChatModel


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture
def ada(app: Clonr):
    return app.clones.create("Ada Lovelace", "Mathematician and first programmer.",
                             "I was born in 1815. I worked with Charles Babbage.", "Hello, I am Ada.")


def test_a_message_that_cannot_be_embedded_fails_its_turn_with_the_embeddings_error(
        app: Clonr, ada, fake_embeddings, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(self: object, text: str) -> list[float]:
        raise ModelError("The embeddings endpoint did not answer: check OPENAI_BASE_URL.")

    monkeypatch.setattr(type(fake_embeddings), "embed_query", unreachable)
    with pytest.raises(ModelError, match="did not answer"):
        app.chat.start_turn("ada-lovelace", "What did you write?", fan_id="fan-1")
    assert app.chat.history("ada-lovelace", "fan-1") == [], "nothing half-stored"


def test_a_turn_streams_the_reply_and_stores_both_messages(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    fake_chat.enqueue("I wrote notes on the Analytical Engine.")
    turn = app.chat.start_turn("ada-lovelace", "What did you write?", fan_id="fan-1")
    pieces = list(turn)
    assert len(pieces) > 1, "the reply arrives in pieces"
    assert "".join(pieces) == "I wrote notes on the Analytical Engine."
    history = app.chat.history("ada-lovelace", "fan-1")
    assert [(m.role, m.content) for m in history] == [("user", "What did you write?"),
                                                      ("assistant", "I wrote notes on the Analytical Engine.")]
    assert turn.usage["output_tokens"] == 7


def test_background_work_waits_while_a_reply_is_prepared_and_stored(app: Clonr, ada, fake_chat: FakeChatModel,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory jobs queued during a turn start once the fan has the reply: they never slow it down."""
    events: list[str] = []

    def slowly(step: Callable[..., Any], job: str, done: str) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            app.worker.submit(events.append, job)
            time.sleep(0.2)  # ample time for the worker to run the job, were it allowed to
            events.append(done)
            return step(*args)
        return run

    monkeypatch.setattr(MemoryService, "summaries", slowly(MemoryService.summaries, "job queued while preparing",
                                                           "turn prepared"))  # every instance: the chat's too
    monkeypatch.setattr(app.chat, "_finish", slowly(app.chat._finish, "job queued while storing", "reply stored"))
    app.chat.start_turn(ada.id, "Hello", fan_id="fan-1").text()
    app.worker.drain()
    assert events.index("turn prepared") < events.index("job queued while preparing")
    assert events.index("reply stored") < events.index("job queued while storing")


def test_the_prompt_carries_the_persona_notes_and_earlier_conversation(app: Clonr, ada, fake_chat) -> None:
    app.ingest.add_text("ada-lovelace", "Ada kept a pet horse called Shakespeare. She also liked opera.", "pets")
    app.chat.start_turn("ada-lovelace", "Hi!", fan_id="fan-1").text()
    app.chat.start_turn("ada-lovelace", "Tell me about your horse.", fan_id="fan-1").text()
    system, *rest = fake_chat.calls[-1]
    assert isinstance(system, SystemMessage)
    assert "You are Ada Lovelace" in system.text and "I worked with Charles Babbage" in system.text
    assert [type(m) for m in rest] == [AIMessage, SystemMessage, HumanMessage, AIMessage, HumanMessage]
    assert rest[0].text == "Hello, I am Ada." and rest[2].text == "Hi!" and rest[-1].text == "Tell me about your horse."
    assert rest[1].text.startswith("Facts for your next reply") and "Shakespeare" in rest[1].text, \
        "the note given with the first message stays where it was put"
    assert fake_chat.prompt().count("Shakespeare") == 1, "and is not given again"


def test_consecutive_turns_share_the_whole_prompt_up_to_what_is_new(app: Clonr, ada, fake_chat) -> None:
    """llama.cpp reuses the longest common prefix: each prompt must begin with the whole previous one."""
    app.ingest.add_text("ada-lovelace", "I kept a horse called Shakespeare. I loved opera and the harp. "
                        "My mother was Lady Byron. I studied mathematics with Mary Somerville.", "life")
    app.dialogues.add("ada-lovelace", "Do you like music?", "The harp, above all.")
    app.dialogues.add("ada-lovelace", "What about your mother?", "Mother kept me at my sums.")
    app.memory.remember(ada.id, "fan-1", ["Fan: my cat is called Pixel", "Fan: I play the violin"])
    messages = ["Hi!", "Tell me about your horse.", "Who taught you mathematics?", "Do you like music?",
                "My cat Pixel says hello", "What about your mother?"]
    for message in messages:
        app.chat.start_turn("ada-lovelace", message, fan_id="fan-1").text()
        app.worker.drain()
    for before, after in zip(fake_chat.calls, fake_chat.calls[1:], strict=False):
        assert after[:len(before)] == before, "the earlier prompt is the start of the next one"
        new = after[len(before):]
        assert new[0].type == "ai" and new[-1].type == "human", "only the reply, new information and the message"
        assert len(new) <= 3
    given = [m.text for m in fake_chat.calls[-1] if m.type == "system"][1:]
    assert any("Pixel" in text for text in given) and any("Somerville" in text for text in given)
    assert sum(text.count("my cat is called Pixel") for text in given) == 1, "a memory is given once"


def test_a_long_conversation_is_trimmed_in_blocks(app: Clonr, ada, fake_chat) -> None:
    fake_chat.default_reply = " ".join(["word"] * 60)
    fake_chat.context_tokens = 1200
    budget = app.chat.prompt_budget(fake_chat)
    firsts = []
    for n in range(40):
        turn = app.chat.start_turn("ada-lovelace", f"Message number {n} " + "blah " * 30, fan_id="talker")
        turn.text()
        assert turn.plan.tokens <= budget
        assert sum(words(m.text) + 8 for m in fake_chat.calls[-1]) <= budget
        firsts.append(next(m.text for m in fake_chat.calls[-1][1:] if m.type == "human"))
    assert fake_chat.calls[-1][-1].text.startswith("Message number 39")
    trims = sum(a != b for a, b in itertools.pairwise(firsts))
    assert 3 <= trims <= 14, "the oldest turns are dropped several at a time, not one per turn"
    assert firsts[-1] != firsts[0], "old history was dropped to stay in budget"

def test_each_fan_has_their_own_conversation(app: Clonr, ada, fake_chat) -> None:
    app.chat.start_turn("ada-lovelace", "I am fan one", fan_id="one").text()
    app.chat.start_turn("ada-lovelace", "I am fan two", fan_id="two").text()
    sent = " ".join(m.text for m in fake_chat.calls[-1])
    assert "fan one" not in sent
    assert app.chat.history("ada-lovelace", "one")[0].content == "I am fan one"


def test_the_greeting_opens_a_new_conversation(app: Clonr, ada, fake_chat) -> None:
    app.chat.start_turn("ada-lovelace", "Hi", fan_id="new").text()
    assert fake_chat.calls[-1][1] == AIMessage("Hello, I am Ada.")


def test_the_prompt_leaves_room_for_the_reply_in_a_small_context(app: Clonr, settings, fake_chat) -> None:
    fake_chat.context_tokens = 600
    assert app.chat.prompt_budget(fake_chat) == 600 - settings.reply_tokens - 16


def test_a_huge_long_description_is_cut_to_fit() -> None:
    from datetime import UTC, datetime

    from clonr.store import Clone

    now = datetime.now(UTC)
    clone = Clone("c", "x", "X", "short", "trait " * 2000, "", False, now, now)
    prefix = fixed_prefix(clone, "", [("d1", ("Hi?", "Hello " * 100))], 400, words)
    assert prefix.persona_tokens <= 0.45 * 400 and prefix.example_ids == frozenset()
    assert "Stay in character" in prefix.text, "instructions survive the cut"


def test_truncate_to_tokens_cuts_at_a_word() -> None:
    assert truncate_to_tokens("one two three four five", 3, words) == "one two…"
    assert truncate_to_tokens("short", 3, words) == "short"


@pytest.mark.parametrize("message, error", [
    ("", "empty"), ("   \n ", "empty"), ("x" * 4001, "limit is 4,000"),
])
def test_bad_messages_are_refused_and_nothing_is_stored(app: Clonr, ada, message: str, error: str) -> None:
    with pytest.raises(InvalidInputError, match=error):
        app.chat.start_turn("ada-lovelace", message)
    assert app.chat.history("ada-lovelace") == []


def test_a_message_too_long_for_the_model_is_refused(app: Clonr, ada, fake_chat) -> None:
    fake_chat.context_tokens = 700
    with pytest.raises(InvalidInputError, match="shorten it"):
        app.chat.start_turn("ada-lovelace", "word " * 500)


def test_bad_fan_ids_and_unknown_clones_are_refused(app: Clonr, ada) -> None:
    with pytest.raises(InvalidInputError, match="Fan id"):
        app.chat.start_turn("ada-lovelace", "hi", fan_id="../../etc/passwd")
    with pytest.raises(NotFoundError):
        app.chat.start_turn("nobody", "hi")


def test_an_interrupted_reply_keeps_what_the_fan_saw(app: Clonr, ada, fake_chat) -> None:
    fake_chat.enqueue("one two three four five")
    turn = app.chat.start_turn("ada-lovelace", "Count", fan_id="f")
    stream = iter(turn)
    next(stream), next(stream)
    stream.close()
    history = app.chat.history("ada-lovelace", "f")
    assert [m.content for m in history] == ["Count", "one two"]
    assert history[-1].interrupted and not history[0].interrupted, "a fragment is never passed off as a reply"


def test_a_failing_model_gives_a_clear_error(app: Clonr, ada, fake_chat, monkeypatch) -> None:
    from clonr.errors import ModelError

    def broken(*args, **kwargs):
        raise ConnectionError("endpoint down")
        yield

    monkeypatch.setattr(type(fake_chat), "_stream", broken)
    with pytest.raises(ModelError, match="clonr doctor"):
        app.chat.start_turn("ada-lovelace", "hi").text()
    assert app.chat.history("ada-lovelace") == []


def test_a_creator_corrects_a_reply_and_keeps_it_as_an_example(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    fake_chat.enqueue("I am a robot.")
    app.chat.start_turn("ada-lovelace", "Who are you?", fan_id="studio").text()
    app.worker.drain()
    reply = app.chat.history("ada-lovelace", "studio")[-1]
    app.chat.correct_reply("ada-lovelace", "studio", reply.id, "I am Ada, a poet of numbers.", save_as_example=True)
    assert app.chat.history("ada-lovelace", "studio")[-1].content == "I am Ada, a poet of numbers."
    assert "Ada Lovelace: I am Ada, a poet of numbers." in [m.text for m in app.memory.list(ada.id, "studio")]
    [example] = app.dialogues.list(ada.id)
    assert (example.user_text, example.char_text, example.origin) == (
        "Who are you?", "I am Ada, a poet of numbers.", "correction")
    app.chat.start_turn("ada-lovelace", "Hello", fan_id="someone").text()
    system = fake_chat.calls[-1][0].text
    assert "---\nFan: Who are you?\nAda Lovelace: I am Ada, a poet of numbers." in system


def test_only_the_clones_own_replies_in_that_conversation_can_be_corrected(app: Clonr, ada) -> None:
    app.chat.start_turn("ada-lovelace", "Hi", fan_id="alice").text()
    user_message, reply = app.chat.history("ada-lovelace", "alice")
    for fan, message_id in (("alice", user_message.id), ("bob", reply.id), ("alice", 999_999)):
        with pytest.raises(NotFoundError):
            app.chat.correct_reply("ada-lovelace", fan, message_id, "hacked")
    with pytest.raises(InvalidInputError):
        app.chat.correct_reply("ada-lovelace", "alice", reply.id, "   ")
    assert app.chat.history("ada-lovelace", "alice")[-1].content == reply.content


def test_an_inner_monologue_shapes_the_reply_but_is_never_stored(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    fake_chat.enqueue("They seem curious; I will be warm.", "Welcome, curious friend!")
    turn = app.chat.start_turn("ada-lovelace", "Hello?", fan_id="studio", think=True)
    assert turn.text() == "Welcome, curious friend!"
    assert turn.thought == "They seem curious; I will be warm."
    reply_prompt = fake_chat.calls[-1]
    assert "Your private thought before replying (never say it aloud): They seem curious" in reply_prompt[-2].text
    assert reply_prompt[-1].text == "Hello?"
    assert [m.content for m in app.chat.history("ada-lovelace", "studio")] == ["Hello?", "Welcome, curious friend!"]


def test_the_creator_rewrites_the_thought_and_the_clone_answers_again(app: Clonr, ada,
                                                                     fake_chat: FakeChatModel) -> None:
    fake_chat.enqueue("They are rude.", "Go away.")
    turn = app.chat.start_turn("ada-lovelace", "Hey you", fan_id="studio", think=True)
    turn.text()
    app.worker.drain()
    reply = app.chat.history("ada-lovelace", "studio")[-1]
    fake_chat.enqueue("Welcome, friend!")
    again = app.chat.answer_again("ada-lovelace", "studio", reply.id, "They are shy; be welcoming.")
    assert again.text() == "Welcome, friend!" and again.thought == "They are shy; be welcoming."
    assert "They are shy; be welcoming." in fake_chat.calls[-1][-2].text, "no model call made a new thought"
    app.worker.drain()
    assert [m.content for m in app.chat.history("ada-lovelace", "studio")] == ["Hey you", "Welcome, friend!"]
    assert sorted(m.text for m in app.memory.list(ada.id, "studio")) == ["Ada Lovelace: Welcome, friend!",
                                                                        "Fan: Hey you"]


def test_only_the_last_reply_can_be_answered_again(app: Clonr, ada) -> None:
    app.chat.start_turn("ada-lovelace", "one", fan_id="f").text()
    app.chat.start_turn("ada-lovelace", "two", fan_id="f").text()
    first_reply = app.chat.history("ada-lovelace", "f")[1]
    last_reply = app.chat.history("ada-lovelace", "f")[-1]
    with pytest.raises(InvalidInputError, match="Only the last reply"):
        app.chat.answer_again("ada-lovelace", "f", first_reply.id, "a thought")
    with pytest.raises(InvalidInputError, match="thought is empty"):
        app.chat.answer_again("ada-lovelace", "f", last_reply.id, "  ")
    assert len(app.chat.history("ada-lovelace", "f")) == 4


def test_a_streaming_reply_is_saved_as_it_goes_and_stored_if_its_process_dies(app: Clonr,
                                                                                fake_chat: FakeChatModel) -> None:
    """What the fan has been sent is saved from the first words on; the finished exchange replaces the save. A
    save left by a dead process becomes an interrupted exchange, charged nothing; a live process's is left."""
    ada = app.clones.create("Ada")
    fake_chat.enqueue("one two three four")
    turn = app.chat.start_turn(ada.id, "Count for me", fan_id="f_1")
    pieces = iter(turn)
    first = next(pieces)
    next(pieces)  # the first words were sent: they are saved as the stream goes on
    [draft] = app.store.reply_drafts()
    assert (draft.message, draft.reply, draft.fan_id) == ("Count for me", first, "f_1")
    assert app.chat.recover_interrupted() == 0, "its process is alive: left alone"
    list(pieces)
    assert app.store.reply_drafts() == [], "the stored exchange replaced it"

    dead = subprocess.Popen(["true"])
    dead.wait()  # a process that has ended, as one killed mid-reply has
    app.store.save_draft(replace(draft, id="cut", message="Go on", reply="five",
                                 claimed_by=f"{socket.gethostname()}:{dead.pid}"))
    assert app.chat.recover_interrupted() == 1 and app.chat.recover_interrupted() == 0, "stored once"
    *_, asked, reply = app.store.recent_messages(ada.id, "f_1", 10)
    assert (asked.content, reply.content, reply.status) == ("Go on", "five", "interrupted")
    assert app.store.usage_rows()[-1]["status"] == "interrupted" and app.store.usage_rows()[-1]["charge"] is None
