"""The creator reads a fan's conversation and steps in: the reply is stored as theirs, shown so to the fan (widget,
API, export), remembered like any other line, and never charged."""

from __future__ import annotations

import pytest

from clonr import Clonr
from clonr.access import LOCAL_CREATOR, Creator
from clonr.api.rest import _message_out
from clonr.errors import ForbiddenError, InvalidInputError, NotFoundError
from tests.conftest import FakeChatModel


@pytest.fixture
def ada(app: Clonr):
    return app.clones.publish(app.clones.create("Ada Lovelace").id)


def test_a_creator_steps_in_and_the_fan_sees_it_as_theirs(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    app.billing.set_price(ada.id, "anonymous", 1, 0)
    quiet, fan = (app.fans.visit(ada.id, None).fan for _ in range(2))
    fake_chat.enqueue("I am the clone.")
    "".join(app.fans.turn(fan, ada.id, fan.fan_id, "Are you really Ada?"))
    "".join(app.chat.start_turn(ada.id, "Testing", fan_id="studio"))  # the creator's own: never listed
    assert [(f.fan_id, f.messages, f.signed_in) for f in app.fans.fans_of(LOCAL_CREATOR, ada.id)] == [
        (fan.fan_id, 2, False)]
    written = app.fans.step_in(LOCAL_CREATOR, ada.id, fan.fan_id, "This one is me, not the clone. Hello!")
    app.worker.drain()
    *_, last = app.fans.history(fan, ada.id, fan.fan_id)
    assert (last.id, last.role, last.by_creator, last.content) == (
        written.id, "assistant", True, "This one is me, not the clone. Hello!")
    assert app.fans.export(fan, ada.id, fan.fan_id)["messages"][-1]["written_by"] == "creator"
    assert _message_out(last).written_by_creator and not _message_out(app.fans.history(
        fan, ada.id, fan.fan_id)[1]).written_by_creator
    assert any(m.message_id == written.id and m.text == "Ada Lovelace: This one is me, not the clone. Hello!"
               for m in app.fans.memories(fan, ada.id, fan.fan_id))
    assert len(app.store.usage_rows()) == 2, "no ledger row, no charge: no model ran"
    assert quiet.fan_id not in [f.fan_id for f in app.fans.fans_of(LOCAL_CREATOR, ada.id)]


def test_the_widget_signs_a_creators_reply_with_their_name(app: Clonr, ada) -> None:
    from widget.app import _shown

    visit = app.fans.visit(ada.id, None)
    app.fans.step_in(LOCAL_CREATOR, ada.id, visit.fan.fan_id, "Thank you for writing!")
    shown = _shown(app.fans.history(visit.fan, ada.id, visit.fan.fan_id), ada.name)
    assert shown == [{"role": "assistant", "content": "Thank you for writing!\n\n*— Ada Lovelace, in person*"}]


def test_only_the_owner_steps_in_and_only_in_a_real_fans_conversation(app: Clonr, ada) -> None:
    fan = app.fans.visit(ada.id, None).fan
    for stranger in (fan, Creator("someone-else")):
        with pytest.raises(ForbiddenError):
            app.fans.step_in(stranger, ada.id, fan.fan_id, "I am Ada.")
    with pytest.raises(NotFoundError, match="no fan 'studio'"):
        app.fans.step_in(LOCAL_CREATOR, ada.id, "studio", "Into my own test chat?")
    with pytest.raises(InvalidInputError):
        app.fans.step_in(LOCAL_CREATOR, ada.id, fan.fan_id, "   ")
    assert app.fans.history(LOCAL_CREATOR, ada.id, fan.fan_id) == []
