"""The embed snippet in a real browser: a host page on another origin, headless Chromium, a real widget."""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import uvicorn

from clonr import Clonr
from clonr.api import create_server
from tests.conftest import ROOT, FakeChatModel, FixtureSite
from tests.stripe_local import SECRET_KEY, WEBHOOK_SECRET, LocalStripe, local_stripe, signed_event
from tests.test_sign_in import ISSUER, jwk
from tests.test_sign_in import KEY as SIGNING_KEY
from tests.test_sign_in import token as signed_token
from tests.test_widget import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (scripts/setup --test)")]


@pytest.fixture
def served_changes(request: pytest.FixtureRequest, site: FixtureSite) -> dict[str, object]:
    """Settings a test changes for its widget server (parametrize this name, indirectly, to change them);
    "sign-in" serves a JWKS on loopback and points the sign-in settings at it."""
    changes = getattr(request, "param", {})
    if changes == "sign-in":
        site.add("/jwks.json", json.dumps({"keys": [jwk(SIGNING_KEY, "k1")]}), content_type="application/json")
        return {"auth_jwks_url": site.url("/jwks.json"), "auth_issuer": ISSUER}
    if changes == "stripe":
        stripe: LocalStripe = request.getfixturevalue("stripe_server")
        return {"stripe_secret_key": SECRET_KEY, "stripe_webhook_secret": WEBHOOK_SECRET,
                "stripe_api_base": stripe.api_base}
    return changes


@pytest.fixture
def stripe_server() -> Iterator[LocalStripe]:
    with local_stripe() as server:
        yield server


@pytest.fixture
def served(settings, fake_chat: FakeChatModel, fake_embeddings, tmp_path: Path,
           served_changes: dict[str, object]) -> Iterator[tuple[Clonr, str, int]]:
    widget_port, page_port = free_port(), free_port()
    app = Clonr(dataclasses.replace(settings, widget_url=f"http://127.0.0.1:{widget_port}", **served_changes),
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
    from playwright.sync_api import expect

    app, folder, page_port = served
    clone = app.clones.publish(app.clones.create("Ada Lovelace", greeting="Good day, friend!").id)
    (Path(folder) / "index.html").write_text(
        f"<!doctype html><html><body><h1>My blog</h1>{app.clones.embed_snippet(clone)}</body></html>")
    fake_chat.enqueue("Poetical science is imagination applied to mathematics.")

    with browser_page() as page:
        page.goto(f"http://127.0.0.1:{page_port}/index.html")
        widget = page.frame_locator("iframe")
        expect(widget.get_by_text("Good day, friend!")).to_be_visible(timeout=30_000)
        box = widget.locator("textarea").first
        box.fill("What is poetical science?")
        box.press("Enter")
        expect(widget.get_by_text("imagination applied to mathematics")).to_be_visible(timeout=30_000)
        page.screenshot(path=str(tmp_path / "widget.png"))
    history = app.chat.history(clone.id, _only_fan(app, clone.id))
    assert [m.content for m in history][-1] == "Poetical science is imagination applied to mathematics."


@pytest.mark.parametrize("served_changes", [{"fan_message_limit": "2/minute"}], indirect=True)
def test_the_widget_says_it_is_an_ai_keeps_the_fan_after_a_reload_and_errors_in_one_friendly_line(
        served, fake_chat: FakeChatModel) -> None:
    from playwright.sync_api import expect

    app, _folder, _port = served
    clone = app.clones.publish(app.clones.create("Inês Duarte", greeting="Olá!").id)
    fake_chat.enqueue("I remember Lisbon well.")
    with browser_page() as page:
        page.goto(f"{app.settings.widget_url}/c/{clone.slug}/")
        expect(page.get_by_text("AI clone of Inês Duarte")).to_be_visible(timeout=30_000)
        box = page.locator("textarea").first
        box.fill("Do you remember Lisbon?")
        box.press("Enter")
        expect(page.get_by_text("I remember Lisbon well.")).to_be_visible(timeout=30_000)
        fake_chat.fail_with(ConnectionError("upstream 10.0.0.5:8000 refused"))
        box.fill("And Porto?")
        box.press("Enter")
        expect(page.get_by_text("Inês Duarte cannot answer right now")).to_be_visible(timeout=30_000)
        assert "10.0.0.5" not in page.content()
        box.fill("Hello again?")
        box.press("Enter")
        expect(page.get_by_text("Too many messages from this conversation")).to_be_visible(timeout=30_000)
        page.reload()
        expect(page.get_by_text("I remember Lisbon well.")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("AI clone of Inês Duarte")).to_be_visible()
    assert len(_fans(app, clone.id)) == 1, "the reload kept the same fan"


@pytest.mark.parametrize("served_changes", ["sign-in"], indirect=True)
def test_a_fan_signed_in_by_the_host_page_gets_their_conversation_back(served, fake_chat: FakeChatModel) -> None:
    from playwright.sync_api import expect

    app, folder, page_port = served
    clone = app.clones.publish(app.clones.create("Ada Lovelace", greeting="Good day, friend!").id)
    earlier = app.fans.sign_in(clone.id, None, signed_token("grace"))  # on another device, last week
    fake_chat.enqueue("Of course, Grace: the Analytical Engine.")
    "".join(app.fans.turn(earlier.fan, clone.id, earlier.fan.fan_id, "Remember what we talked about?"))
    src = f"{app.clones.widget_url(clone)}#id_token={signed_token('grace')}"
    (Path(folder) / "index.html").write_text(
        f'<!doctype html><html><body><h1>My blog</h1><iframe src="{src}" width="400" height="600"></iframe>'
        "</body></html>")
    with browser_page() as page:
        page.goto(f"http://127.0.0.1:{page_port}/index.html")
        widget = page.frame_locator("iframe")
        expect(widget.get_by_text("Of course, Grace: the Analytical Engine.")).to_be_visible(timeout=30_000)
        assert "id_token" not in page.frames[1].url, "the token leaves the address once read"


def test_a_fan_sees_what_is_remembered_and_is_forgotten_from_the_widget(served, fake_chat: FakeChatModel) -> None:
    from playwright.sync_api import expect

    app, _folder, _port = served
    clone = app.clones.publish(app.clones.create("Ada Lovelace", greeting="Good day, friend!").id)
    fake_chat.enqueue("Bees are wonderful.")
    with browser_page() as page:
        page.goto(f"{app.settings.widget_url}/c/{clone.slug}/")
        box = page.locator("textarea").first
        expect(page.get_by_text("Good day, friend!")).to_be_visible(timeout=30_000)
        box.fill("I keep bees in Sintra.")
        box.press("Enter")
        expect(page.get_by_text("Bees are wonderful.")).to_be_visible(timeout=30_000)
        app.worker.drain()  # the memories of the exchange are written after the reply
        page.get_by_text("Your data").click()
        page.get_by_role("button", name="Show what is remembered").click()
        expect(page.get_by_text("Ada Lovelace remembers 2 thing(s) about you")).to_be_visible(timeout=30_000)
        page.get_by_label("I want to be forgotten: my messages and memories").check()
        page.get_by_role("button", name="Forget me").click()
        expect(page.get_by_text("has forgotten you")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("I keep bees in Sintra.")).to_have_count(0)
    assert _fans(app, clone.id) == [] and app.memory.fans(clone.id) == [], "no message or memory of the fan is left"


@pytest.mark.parametrize("served_changes", ["stripe"], indirect=True)
def test_a_fan_uses_the_free_message_pays_through_checkout_and_keeps_chatting(
        served, stripe_server: LocalStripe, fake_chat: FakeChatModel) -> None:
    from playwright.sync_api import expect

    app, _folder, _port = served
    clone = app.clones.publish(app.clones.create("Ada Lovelace", greeting="Good day, friend!").id)
    app.billing.set_price(clone.id, "anonymous", 1, 0)
    app.billing.add_pack(clone.id, 3, 99)
    fake_chat.default_reply = "The free one."  # (memory work asks the model too: no queue to consume)
    with browser_page() as page:
        page.goto(f"{app.settings.widget_url}/c/{clone.slug}/")
        expect(page.get_by_text("Good day, friend!")).to_be_visible(timeout=30_000)
        box = page.locator("textarea").first
        box.fill("Hello!")
        box.press("Enter")
        expect(page.get_by_text("The free one.")).to_be_visible(timeout=30_000)
        box.fill("One more?")
        box.press("Enter")
        expect(page.get_by_text("You have used your 1 message free with Ada Lovelace this month")).to_be_visible(
            timeout=30_000)
        page.get_by_role("button", name="Messages").click()
        page.get_by_role("button", name="Refresh").click()
        expect(page.get_by_text("0 of 1 free messages left this month.")).to_be_visible(timeout=30_000)
        page.get_by_label("3 messages for $0.99").check()
        page.get_by_role("button", name="Pay with Stripe").click()
        link = page.get_by_role("link", name="Continue to payment (Stripe)")
        expect(link).to_be_visible(timeout=30_000)
        session = stripe_server.pay(link.get_attribute("href").rsplit("/", 1)[1])  # the fan pays on Stripe's page
        payload, signature = signed_event("checkout.session.completed", session)
        delivered = httpx.post(f"{app.settings.widget_url}/webhooks/stripe", content=payload,
                               headers={"Stripe-Signature": signature, "Content-Type": "application/json"})
        assert delivered.json() == {"received": True, "outcome": "handled"}
        page.get_by_role("button", name="Refresh").click()
        expect(page.get_by_text("3 bought messages left")).to_be_visible(timeout=30_000)
        fake_chat.default_reply = "The paid one."
        box.fill("One more?")
        box.press("Enter")
        expect(page.get_by_text("The paid one.")).to_be_visible(timeout=30_000)
    assert [r["charge"] for r in app.store.usage_rows()] == ["free", "pack"]


@contextlib.contextmanager
def browser_page() -> Iterator[Page]:
    """A page in headless Chromium, closed with the browser afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def _fans(app: Clonr, clone_id: str) -> list[str]:
    import sqlalchemy as sa

    from clonr.store.schema import messages

    with app.store.engine.connect() as connection:
        return list(connection.execute(sa.select(messages.c.fan_id).where(messages.c.clone_id == clone_id)
                                       .distinct()).scalars().all())


def _only_fan(app: Clonr, clone_id: str) -> str:
    """The server made the browser a fan of its own; find it through the records."""
    fans = _fans(app, clone_id)
    assert len(fans) == 1 and fans[0].startswith("f_"), fans
    return fans[0]


@pytest.fixture
def studio_url(settings) -> Iterator[str]:
    """The real studio (`streamlit run`) over the test's CLONR_HOME, with the bundled MiniLM."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "studio" / "streamlit_app.py"), "--server.headless",
         "true", "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "the studio did not start"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def test_the_studio_shows_what_fans_wrote_as_text_never_as_markup(settings, studio_url: str) -> None:
    from playwright.sync_api import expect

    app = Clonr(settings)
    clone = app.clones.create("Ada Lovelace")
    said = ("Fan: ![x](http://127.0.0.1:9/pixel.png) <img src=x onerror=\"document.title='pwned'\"> **bold** "
            "[click](javascript:alert(1))")
    app.memory.remember(clone.id, "fan-1", [said], importance=5)
    with browser_page() as page:
        page.goto(f"{studio_url}/memories")
        page.get_by_role("tab", name="Fans").click(timeout=30_000)
        expect(page.get_by_test_id("stText").get_by_text(said, exact=True)).to_be_visible(timeout=30_000)
        page.wait_for_timeout(500)  # an onerror handler would have run by now
        assert page.title() != "pwned"
        main = page.locator("section.main, [data-testid='stMain']").first
        assert main.locator("img").count() == 0, "no image, so nothing loaded from anywhere"
        assert main.locator("strong", has_text="bold").count() == 0
        assert main.locator("a", has_text="click").count() == 0


def test_the_widget_shows_the_clone_writing_at_once_and_keeps_a_reply_the_fan_left_marked(
        served, fake_chat: FakeChatModel) -> None:
    from playwright.sync_api import expect

    app, _folder, _port = served
    clone = app.clones.publish(app.clones.create("Ada Lovelace", greeting="Good day, friend!").id)
    fake_chat.first_word_delay_s, fake_chat.word_delay_s = 3.0, 0.15
    fake_chat.enqueue("Numbers " + "and more numbers " * 20 + "the end.")
    with browser_page() as page:
        page.goto(f"{app.settings.widget_url}/c/{clone.slug}/")
        expect(page.get_by_text("Good day, friend!")).to_be_visible(timeout=30_000)
        box = page.locator("textarea").first
        box.fill("Tell me about numbers")
        sent = time.monotonic()
        box.press("Enter")
        expect(page.get_by_text("Ada Lovelace is writing…")).to_be_visible(timeout=2_000)
        assert time.monotonic() - sent < 2.5, "the sign shows before the first word (3 s)"
        expect(page.get_by_text("Numbers and more")).to_be_visible(timeout=30_000)
        page.close()  # the fan leaves mid-reply
    deadline = time.monotonic() + 60  # stored when the server notices the fan left, or when the reply ends
    while not _fans(app, clone.id):
        assert time.monotonic() < deadline, "the exchange was never stored"
        time.sleep(0.2)
    asked, reply = app.chat.history(clone.id, _only_fan(app, clone.id))
    assert asked.content == "Tell me about numbers"
    assert reply.interrupted or reply.content.endswith("the end."), "a fragment is never passed off as a reply"
    assert reply.content.startswith("Numbers and more")


FETCH_BLOB = """async (src) => {
  const bytes = new Uint8Array(await (await fetch(src)).arrayBuffer());
  return [bytes.length, Array.from(bytes.slice(0, 2))];
}"""


def test_a_fan_presses_the_speaker_on_a_reply_and_hears_it(served, fake_chat: FakeChatModel) -> None:
    from playwright.sync_api import expect

    app, _folder, _port = served
    clone = app.clones.publish(app.clones.create("Inês Duarte", greeting="Olá! Ask me about my kiln.").id)
    fake_chat.enqueue("I just named my new kiln Brasa. It means ember in Portuguese.")
    with browser_page() as page:
        page.goto(f"{app.settings.widget_url}/c/{clone.slug}/")
        expect(page.get_by_text("Olá! Ask me about my kiln.")).to_be_visible(timeout=30_000)
        box = page.locator("textarea").first
        box.fill("What is new?")
        box.press("Enter")
        expect(page.get_by_text("It means ember in Portuguese.")).to_be_visible(timeout=30_000)
        speakers = page.locator(".message-row.bot-row .clonr-speak")
        expect(speakers).to_have_count(2, timeout=10_000)  # the greeting's and the reply's
        assert page.locator("#clonr-speak-go").is_hidden(), "only the speaker buttons show"
        speakers.last.click()
        audio = page.locator("#clonr-heard [data-testid^='waveform'] audio")
        expect(audio).to_have_attribute("src", re.compile("^blob:"), timeout=30_000)
        size, start = page.evaluate(FETCH_BLOB, audio.get_attribute("src"))
        assert start in ([0xFF, 0xF3], [0xFF, 0xFB]) and size > 20_000, "seconds of MP3 (a frame sync first)"
        first = audio.get_attribute("src")
        speakers.first.click()  # the greeting, shorter
        expect(audio).not_to_have_attribute("src", first, timeout=30_000)
        greeting, _ = page.evaluate(FETCH_BLOB, audio.get_attribute("src"))
        assert 0 < greeting < size
        page.get_by_label("Speak replies aloud").check()
        fake_chat.enqueue("Its first firing is tonight, wish me luck!")
        shown = audio.get_attribute("src")
        box.fill("Good luck!")
        box.press("Enter")
        expect(page.get_by_text("wish me luck!")).to_be_visible(timeout=30_000)
        expect(audio).not_to_have_attribute("src", shown, timeout=30_000)  # spoken unasked, once whole
    [line] = app.usage.summary("clone")
    assert line.speech_seconds > 2, "the speech is counted in the ledger"
