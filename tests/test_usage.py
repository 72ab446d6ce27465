"""The usage ledger: one row per reply attempt, written with the stored reply, on every surface."""

from __future__ import annotations

import json

import openai
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from clonr import Clonr
from clonr.access import LOCAL_CREATOR, Creator
from clonr.cli import LazyApp, cli
from clonr.errors import ForbiddenError, ModelError
from tests.conftest import FakeChatModel
from tests.test_widget import serve


@pytest.fixture
def ada(app: Clonr):
    return app.clones.publish(app.clones.create("Ada Lovelace").id)


def test_each_reply_attempt_is_one_row_with_its_status(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    fake_chat.enqueue("Hello there, friend.", "Numbers and more numbers and more.")
    fan = app.fans.visit(ada.id, None).fan
    "".join(app.fans.turn(fan, ada.id, fan.fan_id, "Hi"))
    stream = iter(app.fans.turn(fan, ada.id, fan.fan_id, "Tell me about numbers"))
    next(stream)
    stream.close()  # the fan left mid-reply
    fake_chat.fail_with(ConnectionError("down"))
    with pytest.raises(ModelError):
        "".join(app.fans.turn(fan, ada.id, fan.fan_id, "Still there?"))
    complete, interrupted, failed = app.store.usage_rows()
    replies = [m for m in app.chat.history(ada.id, fan.fan_id) if m.role == "assistant"]
    assert (complete["status"], interrupted["status"], failed["status"]) == ("complete", "interrupted", "failed")
    assert [complete["message_id"], interrupted["message_id"], failed["message_id"]] == [*[m.id for m in replies],
                                                                                          None]
    assert complete["channel"] == "widget" and complete["owner_id"] == "local" and complete["fan_id"] == fan.fan_id
    assert complete["completion_tokens"] == 3 and complete["prompt_tokens"] > 0
    assert complete["total_ms"] >= complete["first_token_ms"] >= 0


def test_a_reply_and_its_ledger_row_are_stored_together_or_not_at_all(app: Clonr, ada, fake_chat: FakeChatModel,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from clonr.chat import service

    monkeypatch.setattr(service, "ledger_row", lambda turn: {"no_such_column": 1})
    with pytest.raises(sa.exc.CompileError, match="no_such_column"):  # the ledger row cannot be written
        "".join(app.chat.start_turn(ada.id, "Hi", fan_id="studio"))
    assert app.chat.history(ada.id, "studio") == [] and app.store.usage_rows() == []


def test_the_api_records_its_key_and_the_cli_sums_usage_per_creator(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    secret = app.keys.create(LOCAL_CREATOR, "app").secret
    with serve(app) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=secret)
        for user in ("1", "2", "1"):
            client.chat.completions.create(model=ada.slug, user=user, messages=[{"role": "user", "content": "Hi"}])
    "".join(app.chat.start_turn(ada.id, "Hi", fan_id="studio"))
    theirs = app.clones.acting_as(Creator("someone-else"))
    bob = theirs.publish(theirs.create("Bob").id)
    "".join(app.chat.acting_as(Creator("someone-else")).start_turn(bob.id, "Hi", fan_id="studio"))
    by_key = json.loads(CliRunner().invoke(cli, ["usage", "--by", "key", "--json"], obj=LazyApp(app)).output)
    api_key = app.keys.list(LOCAL_CREATOR)[0].id
    assert {line["group"]: (line["replies"], line["fans"]) for line in by_key} == {api_key: (3, 2), "-": (1, 1)}, \
        "the other creator's reply is not in the local creator's usage"
    by_clone = CliRunner().invoke(cli, ["usage", "--by", "clone"], obj=LazyApp(app)).output
    assert "ada-lovelace" in by_clone and "bob" not in by_clone
    with pytest.raises(ForbiddenError):
        app.usage.acting_as(app.fans.end_user(app.keys.authenticate(secret), ada.id, "1")).summary()
    by_user = app.usage.acting_as(app.keys.authenticate(secret)).summary("user")
    assert sorted(line.replies for line in by_user) == [1, 2], "a key sees its own end users' replies only"
