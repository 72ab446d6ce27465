"""The widget server, launched for real on loopback and driven with gradio_client."""

from __future__ import annotations

import gc
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from gradio_client import Client

from clonr import Clonr
from tests.conftest import FakeChatModel
from widget.server import create_server, main


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def widget_url(app: Clonr) -> Iterator[str]:
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


def test_a_published_clone_chats_and_remembers_each_fan(app: Clonr, fake_chat: FakeChatModel,
                                                         widget_url: str) -> None:
    clone = app.clones.create("Ada Lovelace", greeting="Good day!")
    app.clones.publish(clone.id)
    fake_chat.enqueue("I adore mathematics.")
    client = Client(f"{widget_url}/c/ada-lovelace/", verbose=False)
    reply = client.predict("What do you love?", "fan-42", api_name="/chat")
    assert reply == "I adore mathematics."
    assert [m.content for m in app.chat.history(clone.id, "fan-42")] == ["What do you love?", "I adore mathematics."]
    assert app.chat.history(clone.id, "someone-else") == []


def test_bad_messages_come_back_as_errors(app: Clonr, widget_url: str) -> None:
    app.clones.publish(app.clones.create("Ada").id)
    client = Client(f"{widget_url}/c/ada/", verbose=False)
    with pytest.raises(Exception, match="limit is 4,000"):
        client.predict("x" * 5000, "fan-1", api_name="/chat")


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
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A full garbage collection walked the ~270k objects of start-up (150 ms, inside some fan's turn)."""
    at_start: dict[str, int] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: at_start.update(
        frozen=gc.get_freeze_count(), tracked=len(gc.get_objects())))
    try:
        main()
    finally:
        gc.unfreeze()
    assert at_start["frozen"] > 50_000
    assert at_start["tracked"] < 5_000
