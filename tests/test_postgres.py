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
    assert "Shakespeare" in widget_chat.information(), "the note ingested by the other process is retrieved"

    studio.chat.start_turn("ada-lovelace", "And your father?", fan_id="fan-1").text()
    said = [m.content for m in studio_chat.calls[-1] if m.type != "system"]
    assert said == ["Good day!", "Your horse?", "Shakespeare, of course.", "And your father?"]
    assert len(widget.chat.history("ada-lovelace", "fan-1")) == 4


def test_memory_thinking_and_group_chats_on_postgres(postgres_url: str, fake_embeddings, monkeypatch) -> None:
    import json

    from clonr.memory import HeuristicImportanceScorer

    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.setenv("CLONR_REFLECTION_THRESHOLD", "5")
    chat = FakeChatModel()
    app = Clonr(load_settings(), chat_model=chat, embeddings=fake_embeddings, importance=HeuristicImportanceScorer())
    app.memory.policy = dataclasses.replace(app.memory.policy, fan_summary_threshold=5)
    ada = app.clones.create("Ada")
    app.clones.create("Charles")
    chat.enqueue(json.dumps({"questions": ["Who is Sam?"]}),
                 json.dumps({"insights": [{"insight": "Sam grieves and works hard.", "because_of": [1]}]}),
                 "They are Sam, a nurse in Lisbon.")
    app.memory.remember(ada.id, "sam", ["Fan: my father died; I moved to Lisbon for my job as a nurse."])
    app.worker.drain()
    assert [m.kind for m in app.memory.list(ada.id, "sam")].count("reflection") == 1
    assert app.memory.summaries(ada.id, "sam")[1] == "They are Sam, a nurse in Lisbon."
    assert app.store.importance_since(ada.id, "sam", "reflected_at", ("observation",)) == 0

    app.groups.create("Salon", ["ada", "charles"], {"ada": 1.0, "charles": 0.0})
    chat.enqueue("Welcome to the salon.")
    assert [t.text() for t in app.groups.post("salon", "sam", "Sam", "Hello!")] == ["Welcome to the salon."]
    assert [m.speaker_name for m in app.groups.history("salon")] == ["Sam", "Ada"]
    app.worker.drain()
    app.memory.forget_fan(ada.id, "sam")
    assert app.memory.summaries(ada.id, "sam") == ("", "") and app.memory.list(ada.id, "sam") == []
