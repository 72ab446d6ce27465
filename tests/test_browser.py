"""The embed snippet in a real browser: a host page on another origin, headless Chromium, a real widget."""

from __future__ import annotations

import dataclasses
import http.server
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import uvicorn

from clonr import Clonr
from tests.conftest import FakeChatModel
from tests.test_widget import free_port
from widget.server import create_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (scripts/setup --test)")]


@pytest.fixture
def served(settings, fake_chat: FakeChatModel, fake_embeddings, tmp_path: Path) -> Iterator[tuple[Clonr, str, int]]:
    widget_port, page_port = free_port(), free_port()
    app = Clonr(dataclasses.replace(settings, widget_url=f"http://127.0.0.1:{widget_port}"),
                chat_model=fake_chat, embeddings=fake_embeddings)
    server = uvicorn.Server(uvicorn.Config(create_server(app), host="127.0.0.1", port=widget_port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    pages = http.server.ThreadingHTTPServer(("127.0.0.1", page_port), handler)
    threading.Thread(target=pages.serve_forever, daemon=True).start()
    yield app, str(tmp_path), page_port
    pages.shutdown()
    server.should_exit = True


def test_a_fan_chats_through_the_embedded_widget(served, fake_chat: FakeChatModel, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    app, folder, page_port = served
    clone = app.clones.publish(app.clones.create("Ada Lovelace", greeting="Good day, friend!").id)
    (Path(folder) / "index.html").write_text(
        f"<!doctype html><html><body><h1>My blog</h1>{app.clones.embed_snippet(clone)}</body></html>")
    fake_chat.enqueue("Poetical science is imagination applied to mathematics.")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{page_port}/index.html")
            widget = page.frame_locator("iframe")
            expect(widget.get_by_text("Good day, friend!")).to_be_visible(timeout=30_000)
            box = widget.locator("textarea").first
            box.fill("What is poetical science?")
            box.press("Enter")
            expect(widget.get_by_text("imagination applied to mathematics")).to_be_visible(timeout=30_000)
            page.screenshot(path=str(tmp_path / "widget.png"))
        finally:
            browser.close()
    history = app.chat.history(clone.id, _only_fan(app, clone.id))
    assert [m.content for m in history][-1] == "Poetical science is imagination applied to mathematics."


def _only_fan(app: Clonr, clone_id: str) -> str:
    """The browser got a fresh fan id of its own; find it through the records."""
    import sqlalchemy as sa

    from clonr.store.schema import messages

    with app.store.engine.connect() as connection:
        fans = connection.execute(sa.select(messages.c.fan_id).where(messages.c.clone_id == clone_id)
                                  .distinct()).scalars().all()
    assert len(fans) == 1 and len(fans[0]) == 32, fans
    return fans[0]
