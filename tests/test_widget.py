"""The widget server, launched for real on loopback and driven with gradio_client."""

from __future__ import annotations

import contextlib
import gc
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
import uvicorn
from click.testing import CliRunner
from gradio_client import Client
from langchain_core.embeddings import DeterministicFakeEmbedding

from clonr import Clonr, Settings, load_settings
from clonr.access import FanTokens, secret_key
from clonr.api import create_server
from clonr.cli import LazyApp, cli
from tests.conftest import FakeChatModel
from widget.server import BUSY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def widget_url(app: Clonr) -> Iterator[str]:
    with serve(app) as url:
        yield url


@contextlib.contextmanager
def serve(app: Clonr) -> Iterator[str]:
    """The widget server of `app`, running on a free loopback port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_server(app), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "widget server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def queue_call(base: str, fn_name: str, data: list) -> list:
    """Call one of the page's functions the way a raw client can, private ones included: by index, through
    Gradio's queue, with whatever inputs the caller chooses."""
    base = base.rstrip("/")
    config = httpx.get(f"{base}/config").json()
    fn_index = next(d["id"] for d in config["dependencies"] if d["api_name"] == fn_name)
    session = uuid.uuid4().hex
    joined = httpx.post(f"{base}/gradio_api/queue/join", json={
        "data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None})
    assert joined.status_code == 200, joined.text
    with httpx.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}, timeout=30) as events:
        for line in events.iter_lines():
            if line.startswith("data:") and (event := json.loads(line[5:]))["msg"] == "process_completed":
                assert event["success"], event
                return event["output"]["data"]
    raise AssertionError("the queue never completed the call")


def said(shown: list[dict]) -> list[str]:
    """The texts of the chat messages a call returned."""
    return [" ".join(part["text"] for part in m["content"]) for m in shown]


def test_a_published_clone_chats_and_remembers_each_fan(app: Clonr, fake_chat: FakeChatModel,
                                                         widget_url: str) -> None:
    clone = app.clones.create("Ada Lovelace", greeting="Good day!")
    app.clones.publish(clone.id)
    fake_chat.enqueue("I adore mathematics.")
    page = f"{widget_url}/c/ada-lovelace/"
    token, shown = queue_call(page, "start", [None, None])  # what the page does on load
    assert said(shown) == ["Good day!"]
    reply = Client(page, verbose=False).predict("What do you love?", token, api_name="/chat")
    assert reply == "I adore mathematics."
    fan = app.fans.known(clone.id, token)
    assert [m.content for m in app.fans.history(fan, clone.id, fan.fan_id)] == ["What do you love?",
                                                                                 "I adore mathematics."]
    again, shown = queue_call(page, "start", [token, None])
    assert again == token and said(shown) == ["What do you love?", "I adore mathematics."]
    other, shown = queue_call(page, "start", [None, None])
    assert other != token and said(shown) == ["Good day!"], "a new visitor is a new fan"


@pytest.mark.parametrize("claimed", [None, "", "anonymous", "studio", "me", "fidelity-check", "f_" + "0" * 32])
def test_a_caller_cannot_name_a_fan_or_reach_the_creators_conversations(
        app: Clonr, fake_chat: FakeChatModel, widget_url: str, claimed: str | None) -> None:
    clone = app.clones.create("Ada", greeting="Good day!")
    app.clones.publish(clone.id)
    for creator_conversation in ("studio", "me", "fidelity-check"):
        app.store.add_exchange(clone.id, creator_conversation, "The secret code word is Parsnip.", "Noted.")
    page = f"{widget_url}/c/ada/"
    reply = Client(page, verbose=False).predict("What was the secret code word?", claimed, api_name="/chat")
    assert "reload the page" in reply and "Parsnip" not in reply
    token, shown = queue_call(page, "start", [claimed, None])
    assert "Parsnip" not in json.dumps(shown) and app.fans.known(clone.id, token).fan_id.startswith("f_")
    assert fake_chat.calls == [], "the model never saw the message"


def test_a_forged_altered_expired_or_other_clones_token_names_nobody(app: Clonr, widget_url: str) -> None:
    ada, bob = app.clones.create("Ada"), app.clones.create("Bob")
    app.clones.publish(ada.id)
    app.clones.publish(bob.id)
    visit = app.fans.visit(ada.id, None)
    header, _claims, signature = visit.token.split(".")
    other_fan = app.fans.visit(ada.id, None).fan.fan_id
    altered = ".".join([header, jwt.utils.base64url_encode(json.dumps({**jwt.decode(
        visit.token, options={"verify_signature": False}), "sub": other_fan}).encode()).decode(), signature])
    forged = jwt.encode({"iss": "clonr", "aud": f"clonr-fan:{ada.id}", "sub": other_fan, "iat": 0,
                         "exp": 2**40}, "a guessed key that is long enough for HS256", algorithm="HS256")
    unsigned = jwt.encode({"iss": "clonr", "aud": f"clonr-fan:{ada.id}", "sub": other_fan, "iat": 0,
                           "exp": 2**40}, None, algorithm="none")
    expired = FanTokens(secret_key(app.settings), timedelta(days=1)).issue(
        ada.id, visit.fan.fan_id, now=datetime.now(UTC) - timedelta(days=2))
    bobs = app.fans.visit(bob.id, None).token
    for token in (altered, forged, unsigned, expired, bobs):
        assert app.fans.known(ada.id, token) is None
        assert app.fans.visit(ada.id, token).fan.fan_id not in (visit.fan.fan_id, other_fan)
    assert app.fans.known(ada.id, visit.token) == visit.fan


def test_the_page_load_returns_only_the_callers_own_history(app: Clonr, fake_chat: FakeChatModel,
                                                             widget_url: str) -> None:
    clone = app.clones.create("Ada")
    app.clones.publish(clone.id)
    first = app.fans.visit(clone.id, None)
    fake_chat.enqueue("Parsnip, got it.")
    "".join(app.fans.turn(first.fan, clone.id, first.fan.fan_id, "My secret code word is Parsnip."))
    second = app.fans.visit(clone.id, None)
    _, shown = queue_call(f"{widget_url}/c/ada/", "start", [second.token, None])
    assert "Parsnip" not in json.dumps(shown)


def test_a_fan_keeps_their_conversation_across_a_restart_and_on_another_process(
        app: Clonr, settings: Settings, fake_chat: FakeChatModel) -> None:
    clone = app.clones.create("Ada")
    app.clones.publish(clone.id)
    visit = app.fans.visit(clone.id, None)
    fake_chat.enqueue("Hello!")
    "".join(app.fans.turn(visit.fan, clone.id, visit.fan.fan_id, "Hi, I am Grace."))
    restarted = Clonr(settings, chat_model=fake_chat, embeddings=DeterministicFakeEmbedding(size=32))
    assert restarted.fans.visit(clone.id, visit.token) == replace(visit, new=False)
    first = restarted.fans.history(visit.fan, clone.id, visit.fan.fan_id)[0]
    assert first.content == "Hi, I am Grace."
    restarted.worker.drain()


def test_a_failing_model_shows_the_fan_one_friendly_line_without_internals(
        app: Clonr, fake_chat: FakeChatModel, widget_url: str, caplog: pytest.LogCaptureFixture) -> None:
    clone = app.clones.create("Ada")
    app.clones.publish(clone.id)
    token = app.fans.visit(clone.id, None).token
    fake_chat.fail_with(ConnectionError("upstream 10.0.0.5:8000 refused"))
    reply = Client(f"{widget_url}/c/ada/", verbose=False).predict("Hello?", token, api_name="/chat")
    assert re.fullmatch(r"\*Ada cannot answer right now\. Please try again in a moment \(reference [0-9a-f]{8}\)\.\*",
                        reply), reply
    reference = re.search(r"reference ([0-9a-f]{8})", reply).group(1)
    assert any(reference in r.getMessage() and r.exc_info for r in caplog.records), "the details are in the log"


def test_bad_messages_come_back_as_errors(app: Clonr, widget_url: str) -> None:
    app.clones.publish(app.clones.create("Ada").id)
    token = app.fans.visit("ada", None).token
    reply = Client(f"{widget_url}/c/ada/", verbose=False).predict("x" * 5000, token, api_name="/chat")
    assert "limit is 4,000" in reply


def test_the_page_says_it_is_an_ai_clone(app: Clonr, widget_url: str) -> None:
    app.clones.publish(app.clones.create("Inês Duarte").id)
    config = json.dumps(httpx.get(f"{widget_url}/c/ines-duarte/config").json(), ensure_ascii=False)
    assert "AI clone of Inês Duarte" in config


def test_a_hostile_name_and_description_are_shown_as_text(app: Clonr, widget_url: str) -> None:
    hostile = "Ada <img src=x onerror=alert(1)>\n\n![x](https://evil.example/t.png)"
    clone = app.clones.create(hostile, short_description=hostile)
    app.clones.publish(clone.id)
    config = httpx.get(f"{widget_url}/c/{clone.slug}/config").json()
    markdown = [c["props"]["value"] for c in config["components"]
                if c.get("type") == "markdown" and isinstance(c["props"].get("value"), str)]
    assert sum("&lt;img src=x" in value for value in markdown) == 2, "the title and the description, escaped"
    assert not any("<img" in value or "\n\n" in value for value in markdown), "one line: Markdown stays out"


def test_unpublished_and_unknown_clones_are_not_served(app: Clonr, widget_url: str) -> None:
    app.clones.create("Draft")
    assert httpx.get(f"{widget_url}/c/draft/").status_code == 404
    assert httpx.get(f"{widget_url}/c/nobody/").status_code == 404
    assert httpx.get(f"{widget_url}/c/../etc/passwd").status_code == 404


def test_publishing_goes_live_without_a_restart_and_unpublishing_hides_it(app: Clonr, widget_url: str) -> None:
    clone = app.clones.create("Ada")
    assert httpx.get(f"{widget_url}/c/ada/").status_code == 404
    time.sleep(2.1)  # the published flag is cached for two seconds
    app.clones.publish(clone.id)
    page = httpx.get(f"{widget_url}/c/ada", follow_redirects=True)
    assert page.status_code == 200 and "gradio" in page.text.lower()
    app.clones.publish(clone.id, published=False)
    time.sleep(2.1)
    assert httpx.get(f"{widget_url}/c/ada/").status_code == 404


def test_the_index_lists_published_clones_with_names_escaped(app: Clonr, widget_url: str) -> None:
    app.clones.publish(app.clones.create("<img src=x onerror=alert(1)> Ada").id)
    page = httpx.get(widget_url + "/").text
    assert "<img" not in page and "&lt;img" in page


def test_the_server_starts_with_its_start_up_objects_out_of_the_collectors_sight(
        app: Clonr, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full garbage collection walked the ~270k objects of start-up (150 ms, inside some fan's turn)."""
    at_start: dict[str, int] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: at_start.update(
        frozen=gc.get_freeze_count(), tracked=len(gc.get_objects())))
    try:
        result = CliRunner().invoke(cli, ["serve", "--port", "8123"], obj=LazyApp(app))
    finally:
        gc.unfreeze()
    assert result.exit_code == 0 and "http://127.0.0.1:8123" in result.output
    assert at_start["frozen"] > 50_000
    assert at_start["tracked"] < 5_000


def test_beyond_its_queue_a_clone_says_it_is_busy(fake_chat: FakeChatModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLONR_WIDGET_QUEUE", "1")
    app = Clonr(load_settings(), chat_model=fake_chat, embeddings=DeterministicFakeEmbedding(size=32))
    app.clones.publish(app.clones.create("Ada").id)
    fake_chat.first_word_delay_s = 1.5
    with serve(app) as url:
        page = f"{url}/c/ada"
        config = httpx.get(f"{page}/config", follow_redirects=True).json()
        chat = next(d["id"] for d in config["dependencies"] if d["api_name"] == "chat")
        tokens = [app.fans.visit("ada", None).token for _ in range(4)]
        answers = [httpx.post(f"{page}/gradio_api/queue/join", json={
            "data": ["Hello?", [], token], "fn_index": chat, "session_hash": uuid.uuid4().hex,
            "event_data": None, "trigger_id": None}) for token in tokens]
    busy = [a for a in answers if a.status_code == 503]
    assert busy and all(a.json()["detail"] == BUSY and a.headers["retry-after"] for a in busy)
    assert answers[0].status_code == 200, "the first fan is served"
    app.worker.drain()


def test_messages_from_one_address_are_limited_over_every_fan(fake_chat: FakeChatModel,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLONR_ADDRESS_MESSAGE_LIMIT", "1/minute")
    app = Clonr(load_settings(), chat_model=fake_chat, embeddings=DeterministicFakeEmbedding(size=32))
    app.clones.publish(app.clones.create("Ada").id)
    with serve(app) as url:
        client = Client(f"{url}/c/ada/", verbose=False)
        client.predict("Hello?", app.fans.visit("ada", None).token, api_name="/chat")
        reply = client.predict("Hello?", app.fans.visit("ada", None).token, api_name="/chat")
        assert "Too many messages from your network: please wait" in reply
    app.worker.drain()


def test_a_fan_keeps_their_conversation_on_another_widget_process(app: Clonr, settings: Settings,
                                                                  fake_chat: FakeChatModel) -> None:
    """Two widget servers on one database (as behind a load balancer): a token from one works on the other."""
    app.clones.publish(app.clones.create("Ada").id)
    other = Clonr(settings, chat_model=fake_chat, embeddings=DeterministicFakeEmbedding(size=32))
    fake_chat.enqueue("Hello, Grace.")
    with serve(app) as first, serve(other) as second:
        token, _ = queue_call(f"{first}/c/ada/", "start", [None, None])
        Client(f"{first}/c/ada/", verbose=False).predict("I am Grace.", token, api_name="/chat")
        again, shown = queue_call(f"{second}/c/ada/", "start", [token, None])
    assert again == token and said(shown) == ["I am Grace.", "Hello, Grace."]
    other.worker.drain()
