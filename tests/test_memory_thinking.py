"""Reflections and knowledge updates: the background memory work that asks the chat model."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from clonr import Clonr, load_settings
from clonr.memory import HeuristicImportanceScorer, TranscriptLine, told
from clonr.store import SHARED_FAN
from tests.conftest import FakeChatModel, FixedClock


@pytest.fixture
def thinking_app(settings, fake_chat: FakeChatModel, fake_embeddings, clock: FixedClock):
    settings = dataclasses.replace(settings, reflection_threshold=20)
    app = Clonr(settings, chat_model=fake_chat, embeddings=fake_embeddings, clock=clock,
                importance=HeuristicImportanceScorer())
    yield app
    app.worker.drain()


def test_a_reflection_cites_the_memories_it_rests_on(thinking_app: Clonr, fake_chat: FakeChatModel,
                                                      clock: FixedClock) -> None:
    app = thinking_app
    ada = app.clones.create("Ada")
    lines = [TranscriptLine("fan", text, clock.now, ref=str(n)) for n, text in enumerate([
        "I love hiking in the Alps.", "My father died last spring and I miss him.", "I moved to Berlin for a job.",
        "I adopted a dog named Biscuit.", "Hiking with Biscuit is my favourite thing."])]
    fake_chat.enqueue(json.dumps({"questions": ["What does the fan love?"]}),
                      json.dumps({"insights": [
                          {"insight": "The fan finds joy outdoors with their dog.", "because_of": [1, 2]},
                          {"insight": "Invented, cites nothing shown.", "because_of": [99]},
                          {"insight": "the fan finds joy outdoors with their dog", "because_of": [2]},
                          {"insight": "I adopted a dog named Biscuit.", "because_of": [4]},
                          {"insight": "1. [2026-01-01] Fan: I love hiking in the Alps.", "because_of": [1]}]}))
    app.memory.import_transcript(ada, "fan-1", lines)
    app.worker.drain()
    reflections = [m for m in app.memory.list(ada.id, "fan-1") if m.kind == "reflection"]
    assert [m.text for m in reflections] == ["The fan finds joy outdoors with their dog."]
    cited = app.store.get_memories(list(reflections[0].evidence))
    assert len(cited) == 2 and all(m.kind == "observation" for m in cited)
    assert reflections[0].importance is not None
    prompt = fake_chat.calls[0][0].text
    assert "Biscuit" in prompt and "questions" in prompt


def test_reflection_waits_for_enough_new_importance(thinking_app: Clonr, fake_chat: FakeChatModel) -> None:
    app = thinking_app
    ada = app.clones.create("Ada")
    app.memory.remember(ada.id, "fan-1", ["Fan: ok"])
    app.worker.drain()
    assert fake_chat.calls == [], "2 points of importance are below the threshold of 20"


def test_a_model_that_answers_out_of_shape_is_asked_once(thinking_app: Clonr, fake_chat: FakeChatModel,
                                                        clock: FixedClock) -> None:
    app = thinking_app
    ada = app.clones.create("Ada")
    fake_chat.default_reply = "I cannot do JSON, sorry"
    app.memory.remember(ada.id, "fan-1", ["Fan: my father died and I moved to Berlin for a new job"] * 4)
    app.worker.drain()
    calls = len(fake_chat.calls)
    app.memory.remember(ada.id, "fan-1", ["Fan: ok"])
    app.worker.drain()
    assert calls == 1 and len(fake_chat.calls) == 1
    assert all(m.kind == "observation" for m in app.memory.list(ada.id, "fan-1"))


def test_a_newer_fact_supersedes_the_older_one_without_erasing_it(settings, fake_chat: FakeChatModel,
                                                                  clock: FixedClock) -> None:
    from langchain_core.embeddings import FakeEmbeddings

    class SameDirection(FakeEmbeddings):
        """Every text points the same way, so every old memory counts as similar."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[1.0] + [0.0] * (self.size - 1) for _ in texts]

        def embed_query(self, text: str) -> list[float]:
            return [1.0] + [0.0] * (self.size - 1)

    app = Clonr(dataclasses.replace(settings, knowledge_updates="on"), chat_model=fake_chat,
                embeddings=SameDirection(size=8), clock=clock, importance=HeuristicImportanceScorer())
    app.memory.policy = dataclasses.replace(app.memory.policy, confirm_updates=True)  # as with Qwen2.5
    ada = app.clones.create("Ada")
    paris, = app.memory.remember(ada.id, "fan-1", ["Fan: I live in Paris."])
    clock.advance(days=30)
    fake_chat.enqueue("Noted, Berlin!", json.dumps({"still_true": False}))
    app.chat.start_turn(ada.id, "I moved to Berlin.", fan_id="fan-1").text()
    app.worker.drain()
    asked = [call[-1].text for call in fake_chat.calls if call[-1].text.startswith("Older memory:")]
    assert asked[0] == "Older memory: Fan: I live in Paris.\nNew memory: Fan: I moved to Berlin.", "one pair a time"
    old = app.store.get_memories([paris.id])[0]
    assert old.superseded_by is not None, "kept, but marked as replaced"
    assert app.store.get_memories([old.superseded_by])[0].text == "Fan: I moved to Berlin."
    def recalled(question: str) -> list[str]:  # each line as the prompt tells it
        return [told(r.memory)
                for r in app.memory.recall(ada.id, "fan-1", question, 500, lambda t: len(t.split()))]

    now = recalled("Where do I live now?")
    assert now.index("Fan: I moved to Berlin.") < now.index("Fan: I live in Paris. (since changed)"), "current first"
    assert recalled("Where did I live before?")[0] == "Fan: I live in Paris. (since changed)", "history is kept"
    app.memory.restore(ada.id, "fan-1", paris.id)  # the creator says it is still true
    assert "Fan: I live in Paris." in recalled("Where do I live?")


@pytest.mark.real_model
def test_a_real_model_conversation_triggers_a_reflection(monkeypatch) -> None:
    monkeypatch.setenv("CLONR_CHAT_MODEL", "smollm2")
    monkeypatch.setenv("CLONR_REFLECTION_THRESHOLD", "15")
    monkeypatch.setenv("CLONR_IMPORTANCE", "heuristic")
    monkeypatch.setenv("CLONR_REPLY_TOKENS", "32")
    app = Clonr(load_settings())
    ada = app.clones.create("Ada Lovelace", "Mathematician.")
    for message in ["Hi Ada! I'm Sam.", "My mother died last year and I still miss her.",
                    "I moved to Lisbon for a new job as a nurse.", "I love my dog Biscuit, we hike every weekend.",
                    "My favourite thing is the ocean at dawn."]:
        app.chat.start_turn(ada.id, message, fan_id="sam").text()
    app.worker.drain()
    state = app.store.importance_since(ada.id, "sam", "reflected_at", ("observation",))
    reflections = [m for m in app.memory.list(ada.id, "sam", limit=100) if m.kind == "reflection"]
    assert state < 15, "the threshold was reached and the fan was reflected on"
    for reflection in reflections:  # a small model may find nothing; whatever it wrote must cite real memories
        cited = app.store.get_memories(list(reflection.evidence))
        assert cited and all(m.fan_id == "sam" for m in cited)


@pytest.mark.real_model
def test_the_rest_of_the_memory_work_with_a_real_model(monkeypatch) -> None:
    """Importance, the clone's state from an event, the fan's summary and knowledge updates, on SmolLM2: a
    model this small may judge poorly, but every answer must arrive in shape and be stored where it belongs."""
    monkeypatch.setenv("CLONR_CHAT_MODEL", "smollm2")
    monkeypatch.setenv("CLONR_IMPORTANCE", "model")
    monkeypatch.setenv("CLONR_KNOWLEDGE_UPDATES", "on")
    app = Clonr(load_settings())
    ada = app.clones.create("Ada Lovelace", "Mathematician.")
    paris, = app.memory.remember(ada.id, "sam", ["Fan: I live in Paris with my dog Biscuit."])
    berlin, = app.memory.remember(ada.id, "sam", ["Fan: I moved to Berlin last month."])
    app.memory.post_event(ada.id, "Ada Lovelace: I just finished my notes on the Analytical Engine.")
    app.worker.drain()
    scored = [*app.memory.list(ada.id, "sam"), *app.memory.list(ada.id, SHARED_FAN)]
    assert all(1 <= m.importance <= 10 for m in scored), "the model scored every memory, 1-10"
    state = app.memory.summarize(ada.id, SHARED_FAN)
    about_sam = app.memory.summarize(ada.id, "sam")
    assert state.strip() and about_sam.strip()
    lately, known = app.memory.summaries(ada.id, "sam")
    assert known == about_sam and lately.startswith(state), "stored for the next prompts"
    assert lately.endswith("- Ada Lovelace: I just finished my notes on the Analytical Engine."), "its latest events"
    assert all(name.strip() and about.strip() for name, about in app.memory.entities(ada.id, "sam").items())
    retired = app.memory.update_knowledge(berlin)
    assert all(m.id == paris.id for m in retired), "only an older memory of the same fan can be retired"
    assert {m.id for m in app.memory.list(ada.id, "sam")} == {paris.id, berlin.id}, "history is kept"


def test_summaries_refresh_on_their_thresholds_and_reach_the_prompt(thinking_app: Clonr, fake_chat: FakeChatModel,
                                                                    clock: FixedClock) -> None:
    app = thinking_app
    app.memory.policy = dataclasses.replace(app.memory.policy, reflection_threshold=1000, fan_summary_threshold=6,
                                            agent_summary_threshold=3)
    ada = app.clones.create("Ada", long_description="A mathematician.")
    fake_chat.enqueue("I just ran the Berlin marathon and I am proud.")
    app.memory.remember(ada.id, "*", ["Ada: I ran the Berlin marathon and I am proud of it."], kind="event")
    app.worker.drain()
    fake_chat.enqueue("They are Sam, a nurse who moved to Lisbon and loves their dog Biscuit.")
    app.memory.remember(ada.id, "sam", ["Fan: I'm Sam, I moved to Lisbon for my new job as a nurse, I love my dog."])
    app.worker.drain()
    state, about_sam = app.memory.summaries(ada.id, "sam")
    assert state.startswith("I just ran the Berlin marathon") and about_sam.startswith("They are Sam")
    assert app.memory.summaries(ada.id, "other-fan") == (state, ""), "a fan's summary is theirs alone"
    fake_chat.enqueue("Hello Sam!")
    turn = app.chat.start_turn(ada.id, "Hi!", fan_id="sam")
    turn.text()
    system = fake_chat.prompt()
    assert "Your life lately:\nI just ran the Berlin marathon" in system
    assert "About this fan: They are Sam" in system
    app.memory.forget_fan(ada.id, "sam")
    assert app.memory.summaries(ada.id, "sam") == (state, "")


def test_people_a_fan_mentions_are_known_when_named_again(thinking_app: Clonr, fake_chat: FakeChatModel) -> None:
    app = thinking_app
    app.memory.policy = dataclasses.replace(app.memory.policy, reflection_threshold=1000, fan_summary_threshold=4)
    ada = app.clones.create("Ada")
    fake_chat.enqueue("They are Sam, a nurse.", json.dumps({"entities": [
        {"name": "Margaret", "about": "their sister, lives in Lisbon"},
        {"name": "Zeus", "about": "invented: never mentioned"}]}))
    app.memory.remember(ada.id, "sam", ["Fan: I love my sister Margaret; she moved to Lisbon."])
    app.worker.drain()
    assert app.memory.entities(ada.id, "sam") == {"Margaret": "their sister, lives in Lisbon"}
    assert app.memory.entities(ada.id, "other") == {}
    fake_chat.enqueue("She sounds lovely.")
    app.chat.start_turn(ada.id, "Should I visit margaret?", fan_id="sam").text()
    assert "People and things they mention: Margaret (their sister, lives in Lisbon)" in fake_chat.information()
    fake_chat.enqueue("Sure.")
    app.chat.start_turn(ada.id, "What about the weather?", fan_id="sam").text()
    assert "Margaret" not in fake_chat.information(), "only people named now, and not given before, are brought up"
    app.worker.drain()
    app.memory.forget_fan(ada.id, "sam")
    assert app.memory.entities(ada.id, "sam") == {}


def test_a_hundred_long_events_are_summarised_in_a_prompt_that_fits_a_small_context(thinking_app: Clonr,
                                                                                     fake_chat: FakeChatModel,
                                                                                     clock: FixedClock) -> None:
    """A blog's feed makes events of 500 characters: the summary of a hundred of them (8,000 tokens whole) is
    asked with each cut short and the oldest left out, the newest kept."""
    ada = thinking_app.clones.create("Ada")
    posts = [f"I wrote on my blog: post {n:03d}. " + "Glaze notes and kiln logs. " * 18 for n in range(100)]
    thinking_app.memory.remember(ada.id, SHARED_FAN, posts, kind="event", score_later=False, importance=5,
                                 happened_at=[clock.now + timedelta(minutes=n) for n in range(100)])
    fake_chat.enqueue("Busy with glazes and kilns.")
    assert thinking_app.memory.summarize(ada.id, SHARED_FAN) == "Busy with glazes and kilns."
    prompt = fake_chat.prompt()
    assert len(prompt) < 8000 and "100. [" in prompt and "post 099" in prompt and "post 000" not in prompt
