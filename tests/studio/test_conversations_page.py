"""The "Conversations" studio page: a fan's conversation shown as plain text, and the creator stepping in."""

from __future__ import annotations

from clonr import Clonr
from clonr.access import LOCAL_CREATOR
from tests.conftest import FakeChatModel
from tests.studio.test_api_usage_page import ada, open_page, page_text, studio  # noqa: F401 (fixtures)


def test_the_creator_reads_a_fans_conversation_and_replies_as_themselves(studio, app: Clonr, ada,  # noqa: F811
                                                                          fake_chat: FakeChatModel) -> None:
    studio.run()
    open_page(studio, "conversations")
    assert "No fan has talked" in studio.info[0].value
    fan = app.fans.visit(ada.id, None).fan
    fake_chat.enqueue("Hello from the clone.")
    "".join(app.fans.turn(fan, ada.id, fan.fan_id, "**bold** ![x](https://tracker.example/p.png)"))
    open_page(studio, "conversations")
    assert [t.value for t in studio.text] == ["**bold** ![x](https://tracker.example/p.png)", "Hello from the clone."]
    studio.text_area(key="conversations_text").input("It is me, really.")
    next(b for b in studio.button if b.label == "Send as yourself").click().run()
    assert not studio.exception
    *_, last = app.fans.history(LOCAL_CREATOR, ada.id, fan.fan_id)
    assert (last.content, last.by_creator) == ("It is me, really.", True)
    assert "You, in person" in page_text(studio) and studio.text[-1].value == "It is me, really."
    studio.text_area(key="conversations_text").input("   ")
    next(b for b in studio.button if b.label == "Send as yourself").click().run()
    assert studio.error and "\n" not in studio.error[0].value
