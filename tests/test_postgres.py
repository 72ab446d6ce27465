"""The scaled-out stack: every Clonr process on one Postgres + pgvector behaves as one service."""

from __future__ import annotations

import dataclasses

from clonr import Clonr, load_settings
from tests.conftest import FakeChatModel


def test_two_processes_on_one_postgres_share_clones_notes_and_conversations(
        postgres_url: str, fake_embeddings, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    settings = load_settings()
    assert settings.vector_backend == "pgvector"
    studio_chat, widget_chat = FakeChatModel(), FakeChatModel()
    studio = Clonr(settings, chat_model=studio_chat, embeddings=fake_embeddings)
    widget = Clonr(dataclasses.replace(settings), chat_model=widget_chat, embeddings=fake_embeddings)

    clone = studio.clones.create("Ada Lovelace", greeting="Good day!")
    studio.ingest.add_text(clone.id, "Ada's horse was called Shakespeare.", "Horses")
    studio.clones.publish(clone.id)

    assert widget.clones.get("ada-lovelace").published
    widget_chat.enqueue("Shakespeare, of course.")
    assert widget.chat.start_turn("ada-lovelace", "Your horse?", fan_id="fan-1").text() == "Shakespeare, of course."
    assert "Shakespeare" in widget_chat.calls[-1][0].text, "the note ingested by the other process is retrieved"

    studio.chat.start_turn("ada-lovelace", "And your father?", fan_id="fan-1").text()
    assert [m.content for m in studio_chat.calls[-1][1:3]] == ["Your horse?", "Shakespeare, of course."]
    assert len(widget.chat.history("ada-lovelace", "fan-1")) == 4
