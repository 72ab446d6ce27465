"""`build_app(clonr, clone_id)`: the Gradio chat app of one clone, streaming from the shared chat service."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import gradio as gr

from clonr import Clonr, ClonrError

HISTORY_SHOWN = 40
INTERRUPTED = " … *(interrupted)*"  # after a reply the fan left before it was finished


def build_app(app: Clonr, clone_id: str) -> gr.Blocks:
    """A chat page for one clone. Each browser keeps its own fan id, so each fan has their own history."""
    clone = app.clones.get(clone_id)
    app.worker.submit(app.chat.warm, clone.id)  # the model reads the persona before the first fan arrives

    writing = f"*{clone.name} is writing…*"

    def start(fan_id: str | None) -> tuple[str, list[dict[str, str]]]:
        fan_id = fan_id or uuid.uuid4().hex
        past = [{"role": m.role, "content": m.content + (INTERRUPTED if m.interrupted else "")}
                for m in app.chat.history(clone.id, fan_id, HISTORY_SHOWN)]
        if not past and clone.greeting:
            past = [{"role": "assistant", "content": clone.greeting}]
        return fan_id, past

    def respond(message: str, history: list, fan_id: str | None) -> Iterator[str]:
        yield writing  # at once: the first word may take a few seconds on a small machine
        try:
            turn = app.chat.start_turn(clone.id, message, fan_id=fan_id or "anonymous")
            reply = ""
            for piece in turn:
                reply += piece
                yield reply
        except ClonrError as exc:
            raise gr.Error(str(exc)) from None

    greeting = [{"role": "assistant", "content": clone.greeting}] if clone.greeting else []
    with gr.Blocks(title=f"Chat with {clone.name}", analytics_enabled=False) as blocks:
        fan = gr.BrowserState(None, storage_key=f"clonr-fan-{clone.slug}")
        chatbot = gr.Chatbot(value=greeting, label=clone.name, height=460, sanitize_html=True)
        gr.ChatInterface(respond, chatbot=chatbot, additional_inputs=[fan], title=clone.name,
                         description=clone.short_description or None, api_name="chat", autofocus=False,
                         flagging_mode="never")
        blocks.load(start, inputs=[fan], outputs=[fan, chatbot], api_visibility="private")
    return blocks
