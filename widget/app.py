"""`build_app(clonr, clone_id)`: the Gradio chat app of one clone, streaming from the shared chat service.

The page never names a fan: on load the server makes one (or finds the one its token names) and the browser
keeps the signed token in its own storage. Every call then hands the token back, and `clonr.fans` decides
what it may reach. A fan sees errors as one friendly line; the details go to the server log only.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
import logging
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ParamSpec, TypeVar

import gradio as gr

from clonr import Clonr
from clonr.access import NOBODY, derived_key, secret_key
from clonr.access import Fan as FanActor
from clonr.billing import Standing
from clonr.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PaymentError,
    PaymentRequiredError,
    RateLimitedError,
    SignInError,
)
from clonr.store import Clone, Message
from clonr.voice import encode

log = logging.getLogger(__name__)

HISTORY_SHOWN = 40
INTERRUPTED = " … *(interrupted)*"  # after a reply the fan left before it was finished
ENDED = "This conversation has ended: reload the page to start a new one."
# A host page that signed the fan in hands the token over in the address's fragment, which never reaches a
# server log: `…/c/<slug>/#id_token=<JWT>`. The page reads it once and removes it from the address.
READ_SIGN_IN = """(token, idToken) => {
  const signIn = new URLSearchParams(window.location.hash.slice(1)).get("id_token");
  if (signIn) history.replaceState(null, "", window.location.pathname + window.location.search);
  return [token, signIn || null];
}"""
SPEAKER_BUTTONS = """() => {
  // A speaker button on each of the clone's replies: it asks for that reply (counted back from the last) to be
  // spoken, through the hidden Listen button; the text itself never leaves the server. With "Speak replies
  // aloud" on, each new reply is spoken once it is whole (the chat quiet for a moment, not "writing").
  const hide = () => ["clonr-speak-which", "clonr-speak-go"].forEach((id) => {
    const element = document.getElementById(id);
    if (element) element.style.display = "none";
  });
  const replies = () => [...document.querySelectorAll(".message-row.bot-row")];
  const aloud = () => document.querySelector("#clonr-aloud input")?.checked;
  const speak = (row) => {
    const all = replies();
    const box = document.querySelector("#clonr-speak-which input");
    box.value = String(all.length - all.indexOf(row));
    box.dispatchEvent(new Event("input", {bubbles: true}));
    row.dataset.spoken = "yes";
    setTimeout(() => document.getElementById("clonr-speak-go").click(), 100);
  };
  let settled = null;
  const decorate = () => {
    hide();
    for (const row of replies()) {
      if (row.querySelector(".clonr-speak")) continue;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "clonr-speak";
      button.textContent = String.fromCodePoint(0x1F50A);
      button.title = "Listen";
      button.setAttribute("aria-label", "Listen to this reply");
      button.onclick = () => speak(row);
      if (!aloud()) row.dataset.spoken = "yes";  // only replies that come while it is on are spoken unasked
      row.appendChild(button);
    }
    clearTimeout(settled);
    settled = setTimeout(() => {
      const last = replies().at(-1);
      if (aloud() && last && !last.dataset.spoken && !last.textContent.includes("is writing")) speak(last);
    }, 1200);
  };
  new MutationObserver(decorate).observe(document.body, {childList: true, subtree: true, characterData: true});
  decorate();
}"""
P = ParamSpec("P")
R = TypeVar("R")


def _shown(messages: list[Message], creator: str) -> list[dict[str, str]]:
    """The conversation as the chat shows it: a reply cut short says so, and one the creator wrote themselves is
    signed with their name (the rest is the AI clone's, as the page's label says)."""
    return [{"role": m.role, "content": m.content + (INTERRUPTED if m.interrupted else "")
             + (f"\n\n*— {creator}, in person*" if m.by_creator else "")} for m in messages]


def _friendly(exc: Exception, clone_name: str) -> str:
    """The fan's own mistake (a message too long, too many messages) as it is; anything else as one line with a
    reference id that finds the details in the server log."""
    if isinstance(exc, InvalidInputError | RateLimitedError | PaymentRequiredError):
        return str(exc)
    if isinstance(exc, PaymentError):
        return f"Payments are not available right now: {clone_name} cannot sell messages at the moment."
    if isinstance(exc, NotFoundError | ForbiddenError):
        return ENDED
    reference = uuid.uuid4().hex[:8]
    log.error("widget error %s for %s", reference, clone_name, exc_info=exc)
    return f"{clone_name} cannot answer right now. Please try again in a moment (reference {reference})."


def _as_text(outside: str) -> str:
    """A name or description (a hostile card's, perhaps) for Gradio's Markdown, which the title and description go
    through inside an HTML block: escaped, and on one line, so no blank line ends the block and lets Markdown in."""
    return html.escape(" ".join(outside.split()))


def _standing_text(standing: Standing | None) -> str:
    return standing.summary() if standing else ""


def other_years(app: Clonr, clone: Clone) -> str:
    """Links to the same person in other years: the published clones as of a date made from this clone, or from
    the one this clone was made from (and that one), read when the page opens so a new one shows at once."""
    family = clone.variant_of or clone.id
    others = sorted((c for c in app.clones.acting_as(NOBODY).published()
                     if c.id != clone.id and (c.id == family or c.variant_of == family)),
                    key=lambda c: c.as_of or dt.date.max)
    links = " · ".join(f'<a href="/c/{html.escape(c.slug)}/">{html.escape(c.name)}</a>' for c in others)
    return f'<p role="navigation">Talk to them in another year: {links}</p>' if links else ""


def build_app(app: Clonr, clone_id: str) -> gr.Blocks:
    """A chat page for one published clone. Each browser keeps the token of its own fan."""
    clone = app.clones.acting_as(NOBODY).public(clone_id)
    app.worker.submit(app.chat.warm, clone)  # the model reads the persona before the first fan arrives
    fans = app.fans
    exports = Path(tempfile.mkdtemp(prefix=f"clonr-export-{clone.slug}-"))
    writing = f"*{clone.name} is writing…*"
    greeting = [{"role": "assistant", "content": clone.greeting}] if clone.greeting else []

    def fan_facing(outputs: int) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Whatever goes wrong reaches the fan as one friendly line (see `_friendly`) in a notice, and the page
        stays as it was: an exception would leave Gradio's outputs disabled."""
        def decorate(handler: Callable[P, R]) -> Callable[P, R]:
            @functools.wraps(handler)
            def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
                try:
                    return handler(*args, **kwargs)
                except Exception as exc:  # every failure reaches the fan as one friendly line
                    gr.Warning(_friendly(exc, clone.name))
                    return gr.skip() if outputs == 1 else tuple(gr.skip() for _ in range(outputs))
            return guarded
        return decorate

    def known(token: str | None) -> FanActor:
        fan = fans.known(clone.id, token)
        if fan is None:
            raise ForbiddenError(ENDED)
        return fan

    @fan_facing(outputs=2)
    def start(token: str | None, id_token: str | None = None) -> tuple[str, list[dict[str, str]]]:
        """The page's fan and their conversation; signed in when the host page handed over a sign-in token."""
        visit = fans.visit(clone.id, token)
        if id_token:
            try:
                visit = fans.sign_in(clone.id, visit.token, id_token)
            except SignInError as exc:
                gr.Warning(str(exc))
        past = _shown(fans.history(visit.fan, clone.id, visit.fan.fan_id, HISTORY_SHOWN), clone.name)
        return visit.token, past or greeting

    def respond(message: str, history: list, token: str | None,
                request: gr.Request | None = None) -> Iterator[str]:
        """The reply as it comes; a failure ends it as one friendly line in italics, so the fan can go on."""
        yield writing  # at once: the first word may take a few seconds on a small machine
        reply = ""
        try:
            fan = known(token)
            address = request.client.host if request and request.client else None
            for piece in fans.turn(fan, clone.id, fan.fan_id, message, address=address):
                reply += piece
                yield reply
        except PaymentRequiredError as exc:  # the paywall: what to buy is under "Messages" below the chat
            yield f"*{exc}*" + ("\n\nOpen **Messages** below the chat to buy more." if exc.offers else "")
        except Exception as exc:  # every failure reaches the fan as one friendly line
            yield (reply + "\n\n" if reply else "") + f"*{_friendly(exc, clone.name)}*"

    @fan_facing(outputs=1)
    def listen(token: str | None, which: float | None) -> str:
        """One of the clone's replies in its voice (`which` counts back from the last, 1), as an MP3 to play."""
        fan = known(token)
        folder = exports / fan.fan_id
        folder.mkdir(exist_ok=True)
        path = folder / "reply.mp3"  # replaced by their next listen: Gradio serves a copy, kept by its content
        path.write_bytes(b"".join(encode(fans.speak(fan, clone.id, fan.fan_id, int(which or 1)), "mp3")))
        return str(path)

    @fan_facing(outputs=2)
    def standing(token: str | None) -> tuple[str, gr.Radio]:
        """This month's free messages left, bought ones, and what can be bought."""
        fan = known(token)
        found = fans.standing(fan, clone.id, fan.fan_id)
        offers = found.offers if found else ()
        return _standing_text(found), gr.Radio(choices=[(o.label, o.id) for o in offers], value=None,
                                               visible=bool(offers))

    @fan_facing(outputs=1)
    def buy(token: str | None, offer: str | None) -> str:
        """A Stripe Checkout link for the chosen offer; the fan comes back to this page once paid."""
        if not offer:
            raise InvalidInputError("Choose what to buy first.")
        fan = known(token)
        url = fans.checkout(fan, clone.id, fan.fan_id, offer, app.clones.widget_url(clone))
        return (f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener">Continue to payment '
                "(Stripe)</a>, then come back and press Refresh.")

    @fan_facing(outputs=1)
    def remembered(token: str | None) -> gr.Dropdown:
        fan = known(token)
        memories = fans.memories(fan, clone.id, fan.fan_id)
        return gr.Dropdown(choices=[(m.text, m.id) for m in memories], value=None,
                           label=f"{clone.name} remembers {len(memories)} thing(s) about you")

    @fan_facing(outputs=1)
    def forget_one(token: str | None, memory_id: str | None) -> gr.Dropdown:
        fan = known(token)
        if memory_id:
            fans.forget_memory(fan, clone.id, fan.fan_id, memory_id)
        return remembered(token)

    @fan_facing(outputs=4)
    def forget_me(token: str | None, sure: bool) -> tuple[str, list[dict[str, str]], gr.Dropdown, bool]:
        if not sure:
            raise InvalidInputError("Tick the box first: forgetting you cannot be undone.")
        fan = known(token)
        fans.forget(fan, clone.id, fan.fan_id)
        visit = fans.visit(clone.id, None)
        gr.Info(f"{clone.name} has forgotten you: this is a new conversation.")
        return visit.token, greeting, gr.Dropdown(choices=[], value=None), False

    @fan_facing(outputs=1)
    def discord_code(token: str | None) -> str:
        """A one-time code for `/link` in Discord (signed-in fans only)."""
        fan = known(token)
        code = fans.link_code(fan, clone.id, fan.fan_id)
        return (f"In Discord, send {clone.name}'s bot `/link` with this code within 15 minutes (it works once):"
                f"\n\n```\n{code}\n```")

    @fan_facing(outputs=1)
    def download(token: str | None) -> str:
        fan = known(token)
        folder = exports / fan.fan_id  # one file per fan, replaced by their next download (Gradio serves a copy)
        folder.mkdir(exist_ok=True)
        path = folder / f"conversation-with-{clone.slug}.json"
        path.write_text(json.dumps(fans.export(fan, clone.id, fan.fan_id), ensure_ascii=False, indent=2))
        return str(path)

    # Gradio sends this key to the browser, which scrambles its storage with it: the same key on every process
    # and after a restart lets a browser read its token again. Only the token's own signature is a protection.
    secret = derived_key(secret_key(app.settings), "widget-browser-state").hex()
    with gr.Blocks(title=f"Chat with {clone.name}", analytics_enabled=False) as blocks:
        token = gr.BrowserState(None, storage_key=f"clonr-fan-{clone.slug}", secret=secret)
        gr.HTML(f'<p id="clonr-ai-label" role="note">AI clone of {html.escape(clone.name)}</p>')
        years = gr.HTML(elem_id="clonr-other-years")
        chatbot = gr.Chatbot(value=greeting, label=clone.name, height=460, sanitize_html=True)
        gr.ChatInterface(respond, chatbot=chatbot, additional_inputs=[token], title=_as_text(clone.name),
                         description=f"<p>{_as_text(clone.short_description)}</p>" if clone.short_description
                         else None, api_name="chat", autofocus=False,
                         flagging_mode="never")
        with gr.Row(equal_height=True):
            gr.Checkbox(label="Speak replies aloud", value=False, elem_id="clonr-aloud", scale=1)  # read by the JS
            heard = gr.Audio(label=f"{clone.name}'s voice", autoplay=True, interactive=False, type="filepath",
                             elem_id="clonr-heard", scale=3)
        which = gr.Number(value=1, precision=0, elem_id="clonr-speak-which", container=False)
        speak = gr.Button("Listen", elem_id="clonr-speak-go", size="sm")
        with gr.Accordion("Messages", open=False):
            balance = gr.Markdown()
            offers = gr.Radio(choices=[], label="Buy messages", visible=False)
            with gr.Row():
                refresh = gr.Button("Refresh", size="sm")
                pay = gr.Button("Pay with Stripe", variant="primary", size="sm")
            paying = gr.HTML()
        with gr.Accordion("Your data", open=False):
            memories = gr.Dropdown(choices=[], label=f"What {clone.name} remembers about you")
            with gr.Row():
                show = gr.Button("Show what is remembered", size="sm")
                delete = gr.Button("Delete the chosen memory", size="sm")
            with gr.Row():
                sure = gr.Checkbox(label="I want to be forgotten: my messages and memories", value=False)
                forget = gr.Button("Forget me", variant="stop", size="sm")
            export = gr.Button("Download my conversation (JSON)", size="sm")
            link_discord = gr.Button("Link Discord", size="sm")
            linking = gr.Markdown()
            exported = gr.File(label="Your conversation", interactive=False)
        private = {"api_visibility": "private"}
        show.click(remembered, [token], [memories], **private)
        delete.click(forget_one, [token, memories], [memories], **private)
        forget.click(forget_me, [token, sure], [token, chatbot, memories, sure], **private)
        export.click(download, [token], [exported], **private)
        link_discord.click(discord_code, [token], [linking], **private)
        refresh.click(standing, [token], [balance, offers], **private)
        pay.click(buy, [token, offers], [paying], **private)
        speak.click(listen, [token, which], [heard], **private)
        blocks.load(None, js=SPEAKER_BUTTONS)
        blocks.load(functools.partial(other_years, app, clone), outputs=[years], **private)
        id_token = gr.Textbox(visible=False)
        blocks.load(start, inputs=[token, id_token], outputs=[token, chatbot], js=READ_SIGN_IN, **private).then(
            standing, [token], [balance, offers], **private)
    return blocks
