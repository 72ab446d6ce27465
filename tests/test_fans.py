"""Fans made by the server: tokens, their own data (see, delete, forget, export), and message rates."""

from __future__ import annotations

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from clonr import Clonr, load_settings
from clonr.access import SYSTEM
from clonr.errors import RateLimitedError
from clonr.fans import MessageRates
from tests.conftest import FakeChatModel


@pytest.fixture
def ada(app: Clonr):
    clone = app.clones.create("Ada", greeting="Good day!")
    return app.clones.publish(clone.id)


def test_a_fan_sees_deletes_and_exports_only_their_own_data_and_can_be_forgotten(
        app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    grace, alan = app.fans.visit(ada.id, None), app.fans.visit(ada.id, None)
    fake_chat.enqueue("Lovely, Grace.", "Hello Alan.")
    "".join(app.fans.turn(grace.fan, ada.id, grace.fan.fan_id, "I am Grace and I keep bees."))
    "".join(app.fans.turn(alan.fan, ada.id, alan.fan.fan_id, "I am Alan."))
    app.worker.drain()
    app.memory.post_event(ada.id, "I gave a talk on engines.")  # shared with every fan: not Grace's to delete
    mine = app.fans.memories(grace.fan, ada.id, grace.fan.fan_id)
    assert mine and all("Alan" not in m.text and "talk on engines" not in m.text for m in mine)
    exported = app.fans.export(grace.fan, ada.id, grace.fan.fan_id)
    assert [m["content"] for m in exported["messages"]] == ["I am Grace and I keep bees.", "Lovely, Grace."]
    assert {m["id"] for m in exported["memories"]} == {m.id for m in mine}
    app.fans.forget_memory(grace.fan, ada.id, grace.fan.fan_id, mine[0].id)
    assert mine[0].id not in {m.id for m in app.fans.memories(grace.fan, ada.id, grace.fan.fan_id)}
    app.fans.forget(grace.fan, ada.id, grace.fan.fan_id)
    assert app.fans.history(SYSTEM, ada.id, grace.fan.fan_id) == []
    assert app.fans.memories(SYSTEM, ada.id, grace.fan.fan_id) == []
    assert app.fans.known(ada.id, grace.token) is None, "a forgotten fan's token names nobody"
    assert app.fans.visit(ada.id, grace.token).new
    assert len(app.fans.history(alan.fan, ada.id, alan.fan.fan_id)) == 2, "other fans keep theirs"


def test_messages_are_limited_per_fan_and_per_address() -> None:
    rates = MessageRates("2/minute", "3/minute")
    rates.count("ada:grace", "10.0.0.1")
    rates.count("ada:grace", "10.0.0.1")
    with pytest.raises(RateLimitedError, match=r"Too many messages from this conversation: please wait \d+ s"):
        rates.count("ada:grace", "10.0.0.1")
    rates.count("ada:alan", "10.0.0.1")
    with pytest.raises(RateLimitedError, match="from your network") as raised:
        rates.count("ada:alan", "10.0.0.1")
    assert 1 <= raised.value.retry_after <= 60
    rates.count("ada:alan", "10.0.0.2")  # another address is not held back by the first


def test_a_fan_over_the_limit_is_told_to_wait_and_the_model_is_not_asked(
        fake_chat: FakeChatModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLONR_FAN_MESSAGE_LIMIT", "1/minute")
    app = Clonr(load_settings(), chat_model=fake_chat, embeddings=DeterministicFakeEmbedding(size=32))
    ada = app.clones.publish(app.clones.create("Ada").id)
    visit = app.fans.visit(ada.id, None)
    "".join(app.fans.turn(visit.fan, ada.id, visit.fan.fan_id, "Hello"))
    calls = len(fake_chat.calls)
    with pytest.raises(RateLimitedError, match="please wait"):
        app.fans.turn(visit.fan, ada.id, visit.fan.fan_id, "Hello again")
    assert len(fake_chat.calls) == calls
    app.worker.drain()
