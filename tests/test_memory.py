"""Long-term memory: writing, scored recall within a budget, pins, isolation, editing, import."""

from __future__ import annotations

import gc
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from langchain_core.embeddings import DeterministicFakeEmbedding

from clonr import Clonr, load_settings
from clonr.errors import InvalidInputError, NotFoundError, StorageError
from clonr.memory import (
    HeuristicImportanceScorer,
    MemoryLinks,
    ModelImportanceScorer,
    RetrievalWeights,
    TranscriptLine,
    read_transcript,
)
from clonr.store import SHARED_FAN
from tests.conftest import FakeChatModel, FixedClock


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture
def ada(app: Clonr):
    return app.clones.create("Ada Lovelace")


def texts(recalled) -> list[str]:
    return [r.memory.text for r in recalled]


def test_recall_finds_what_matches_and_says_why(app: Clonr, ada) -> None:
    app.memory.remember(ada.id, "fan-1", ["Fan: my dog Biscuit loves the beach", "Fan: I work as a nurse",
                                          "Fan: the weather is grey today"])
    recalled = app.memory.recall(ada.id, "fan-1", "How is Biscuit the dog?", 200, words)
    assert texts(recalled)[0] == "Fan: my dog Biscuit loves the beach"
    assert set(recalled[0].reasons) == {"relevance", "lexical", "recency", "importance", "same_day"}
    assert recalled[0].reasons["lexical"] == 1.0


def test_recall_stays_within_the_token_budget(app: Clonr, ada) -> None:
    app.memory.remember(ada.id, "fan-1", [f"Fan: fact number {n} about gardening and roses" for n in range(50)])
    recalled = app.memory.recall(ada.id, "fan-1", "gardening roses", 60, words)
    assert 0 < len(recalled) < 50
    assert sum(r.tokens for r in recalled) <= 60


def test_times_are_read_back_as_the_same_moment_in_utc_however_sqlite_holds_them(app: Clonr, ada) -> None:
    said = datetime(2024, 5, 1, 10, 0, 7, 250, tzinfo=UTC)
    first, by_hand = app.memory.remember(ada.id, "f_1", ["Fan: I moved to Lyon.", "Fan: The market is close."],
                                         happened_at=[said, said])
    with app.store._transaction() as connection:  # another tool wrote this one with an offset
        connection.execute(sa.text("UPDATE memories SET happened_at = '2024-05-01 12:00:07+02:00' WHERE id = :id"),
                           {"id": by_hand.id})
    read = {m.id: m.happened_at for m in app.store.get_memories([first.id, by_hand.id])}
    assert read[first.id] == said and read[first.id].utcoffset() == timedelta(0)
    assert read[by_hand.id] == said.replace(microsecond=0) and read[by_hand.id].utcoffset() == timedelta(0)


def test_each_fan_recalls_only_their_own_memories_and_shared_ones(app: Clonr, ada) -> None:
    app.memory.remember(ada.id, "alice", ["Fan: my secret password hint is blue heron"])
    app.memory.remember(ada.id, SHARED_FAN, ["Ada Lovelace: I just ran the Berlin marathon"], kind="event")
    bob = texts(app.memory.recall(ada.id, "bob", "blue heron password marathon", 500, words))
    assert bob == ["Ada Lovelace: I just ran the Berlin marathon"]
    alice = texts(app.memory.recall(ada.id, "alice", "blue heron password marathon", 500, words))
    assert "Fan: my secret password hint is blue heron" in alice


def test_pinned_memories_always_come_first(app: Clonr, ada) -> None:
    pinned, *_ = app.memory.remember(ada.id, "fan-1", ["Fan: my name is Grace", "Fan: I like tea",
                                                       "Fan: tea with lemon"])
    app.memory.pin(ada.id, "fan-1", pinned.id)
    recalled = app.memory.recall(ada.id, "fan-1", "tea", 200, words)
    assert texts(recalled)[0] == "Fan: my name is Grace" and recalled[0].reasons == {"pinned": 1.0}


def test_the_pinned_memories_of_a_turn_are_read_through_their_own_index(app: Clonr, ada) -> None:
    """SQLite has no statistics to go by: with another (clone_id, fan_id, ...) index it used to read the fan's
    whole stream for the pinned few (21 ms a turn at 100k memories)."""
    import sqlalchemy as sa

    app.memory.remember(ada.id, "fan-1", ["Fan: my name is Grace"])
    statements: list[tuple[str, object]] = []
    sa.event.listen(app.store.engine, "before_cursor_execute",
                    lambda conn, cursor, sql, params, context, many: statements.append((sql, params)))
    app.memory.recall(ada.id, "fan-1", "name", 200, words)
    sql, params = next((sql, params) for sql, params in statements if "pinned = 1" in sql)
    with app.store.engine.connect() as connection:
        plan = " ".join(row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
    assert "ix_memories_pinned" in plan


def test_the_memories_table_lists_a_memorys_fields_in_order() -> None:
    """Rows become Memory records by position (it halves the cost of loading a recall's candidates)."""
    import dataclasses

    from clonr.store import Memory
    from clonr.store.schema import memories

    assert [column.name for column in memories.c] == [field.name for field in dataclasses.fields(Memory)]


def test_recency_and_importance_break_ties(app: Clonr, ada, clock: FixedClock) -> None:
    old, = app.memory.remember(ada.id, "fan-1", ["Sam: I went hiking"], importance=3)  # two speakers: not a repeat
    clock.advance(hours=24)
    new, = app.memory.remember(ada.id, "fan-1", ["Max: I went hiking"], importance=3)
    assert app.memory.recall(ada.id, "fan-1", "hiking", 100, words, touch=False)[0].memory.id == new.id
    app.memory._store.update_memory(old.id, importance=10)
    assert app.memory.recall(ada.id, "fan-1", "hiking", 100, words)[0].memory.id == old.id


def test_recall_touches_what_it_returns(app: Clonr, ada, clock: FixedClock) -> None:
    memory, = app.memory.remember(ada.id, "fan-1", ["Fan: I play the cello"])
    clock.advance(hours=5)
    app.memory.recall(ada.id, "fan-1", "cello", 100, words)
    app.worker.drain()  # written off the reply path
    assert app.memory.list(ada.id, "fan-1")[0].last_accessed_at == clock.now != memory.last_accessed_at


@pytest.mark.parametrize("query", ['"unbalanced', "NEAR(a b)", "a* OR -b", "'; DROP TABLE memories; --", "", "é ü"])
def test_hostile_queries_are_just_words(app: Clonr, ada, query: str) -> None:
    app.memory.remember(ada.id, "fan-1", ["Fan: a memory"])
    app.memory.recall(ada.id, "fan-1", query, 100, words)
    assert len(app.memory.list(ada.id, "fan-1")) == 1


def test_importance_is_scored_in_the_background(app: Clonr, ada) -> None:
    app.memory.remember(ada.id, "fan-1", ["Fan: ok", "Fan: my father died and I moved to Berlin for a new job"])
    app.worker.drain()
    scores = {m.text: m.importance for m in app.memory.list(ada.id, "fan-1")}
    assert scores["Fan: ok"] < scores["Fan: my father died and I moved to Berlin for a new job"]


def test_the_model_scorer_reads_its_json_and_falls_back(fake_chat: FakeChatModel) -> None:
    fake_chat.enqueue('{"importance": 7}', "ten?", '{"importance": 42}', '{"importance": "9"}')
    assert ModelImportanceScorer(fake_chat).score(["Fan: a", "b", "c", "d"]) == [7, 3, 3, 3]
    asked = fake_chat.calls[0]
    assert "1-10" in asked[0].text and asked[-1].text == "Fan: a", "a rubric, worked examples, then the line"
    assert [m.type for m in asked[1:-1]] == ["human", "ai"] * 5


@pytest.mark.parametrize(("setting", "chat_model", "scorer"), [
    ("auto", "smollm2", HeuristicImportanceScorer), ("auto", "qwen2.5-1.5b", ModelImportanceScorer),
    ("model", "smollm2", ModelImportanceScorer), ("heuristic", "qwen2.5-1.5b", HeuristicImportanceScorer)])
def test_importance_auto_asks_the_model_unless_it_is_too_small(monkeypatch, fake_chat, setting: str,
                                                               chat_model: str, scorer: type) -> None:
    monkeypatch.setenv("CLONR_IMPORTANCE", setting)
    monkeypatch.setenv("CLONR_CHAT_MODEL", chat_model)
    assert isinstance(Clonr(load_settings(), chat_model=fake_chat)._importance_scorer(), scorer)


def test_a_chat_turn_becomes_memories_off_the_reply_path(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    fake_chat.enqueue("What a lovely name for a cat.")
    app.chat.start_turn(ada.id, "My cat is called Pixel.", fan_id="fan-1").text()
    app.worker.drain()
    memories = app.memory.list(ada.id, "fan-1")
    assert sorted(m.text for m in memories) == ["Ada Lovelace: What a lovely name for a cat.",
                                                 "Fan: My cat is called Pixel."]
    assert all(m.source == "chat" and m.message_id and m.importance for m in memories)


def test_old_conversations_are_recalled_into_the_prompt(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    lines = [TranscriptLine("fan" if n % 2 == 0 else "clone", f"small talk number {n}", start) for n in range(120)]
    lines[3] = TranscriptLine("fan", "My sister Margaret lives in Lisbon.", start, ref="L3")
    assert app.memory.import_transcript(ada, "fan-1", lines) == 120
    turn = app.chat.start_turn(ada.id, "Where does Margaret live?", fan_id="fan-1")
    turn.text()
    system = fake_chat.information()
    assert "On 1 Mar 2025:" in system and "\n- Fan: My sister Margaret lives in Lisbon." in system
    assert any(r.memory.source == "import:L3" for r in turn.recalled)
    recent = {m.content for m in app.chat.history(ada.id, "fan-1", 60)}
    assert not any(line.split("] ", 1)[1].split(": ", 1)[1] in recent for line in turn.plan.memories), \
        "messages already in the recent history are not repeated as memories"


def test_edit_re_embeds_and_delete_removes_everywhere(app: Clonr, ada) -> None:
    memory, = app.memory.remember(ada.id, "fan-1", ["Fan: I live in Paris"])
    app.memory.edit(ada.id, "fan-1", memory.id, "Fan: I live in Berlin now")
    assert texts(app.memory.recall(ada.id, "fan-1", "Berlin", 100, words)) == ["Fan: I live in Berlin now"]
    app.memory.delete(ada.id, "fan-1", memory.id)
    assert app.memory.recall(ada.id, "fan-1", "Berlin", 100, words) == []
    with pytest.raises(NotFoundError):
        app.memory.delete(ada.id, "fan-1", memory.id)


def indexed(app: Clonr, clone_id: str, fan_id: str, memory) -> str:
    """What the vector index holds for a memory: the text it was embedded as."""
    return app.memory._vectors(clone_id, fan_id).get_by_ids([memory.id])[0].page_content


def test_a_line_is_embedded_with_the_line_it_answers_in_the_same_conversation(app: Clonr, ada, clock) -> None:
    asked, answered = app.memory.remember(ada.id, "fan-1", ["Ada Lovelace: Do you still paint?",
                                                             "Fan: Yep, every weekend."])
    clock.advance(hours=1)
    follow_up, = app.memory.remember(ada.id, "fan-1", ["Fan: Mostly foxes."])
    clock.advance(hours=4)
    new_day, = app.memory.remember(ada.id, "fan-1", ["Fan: Good morning!"])
    assert indexed(app, ada.id, "fan-1", asked) == "Ada Lovelace: Do you still paint?"
    assert indexed(app, ada.id, "fan-1", answered) == "Fan: Yep, every weekend.\nAda Lovelace: Do you still paint?"
    assert indexed(app, ada.id, "fan-1", follow_up) == "Fan: Mostly foxes.\nFan: Yep, every weekend."
    assert indexed(app, ada.id, "fan-1", new_day) == "Fan: Good morning!"  # hours later: a new conversation
    app.memory.edit(ada.id, "fan-1", asked.id, "Ada Lovelace: Do you still sculpt?")
    assert indexed(app, ada.id, "fan-1", answered) == "Fan: Yep, every weekend.\nAda Lovelace: Do you still sculpt?"
    app.memory.edit(ada.id, "fan-1", follow_up.id, "Fan: Mostly owls.")
    assert indexed(app, ada.id, "fan-1", follow_up) == "Fan: Mostly owls.\nFan: Yep, every weekend."
    assert indexed(app, ada.id, "fan-1", new_day) == "Fan: Good morning!"
    app.memory.delete(ada.id, "fan-1", answered.id)  # nothing of a deleted line stays in the index
    assert indexed(app, ada.id, "fan-1", follow_up) == "Fan: Mostly owls.\nAda Lovelace: Do you still sculpt?"
    app.memory.delete(ada.id, "fan-1", asked.id)
    assert indexed(app, ada.id, "fan-1", follow_up) == "Fan: Mostly owls."


def test_reindex_gives_old_memories_their_context_and_survives_a_change_of_embedding_model(
        app: Clonr, ada, clock, settings, fake_chat) -> None:
    _, answered = app.memory.remember(ada.id, "fan-1", ["Ada Lovelace: Do you still paint?",
                                                         "Fan: Yep, every weekend."])
    event = app.memory.post_event(ada.id, "I moved house.")
    app.memory._vectors(ada.id, "fan-1").add_texts([answered.text], ids=[answered.id])  # as written before context
    assert app.memory.reindex(ada.id) == 3
    assert indexed(app, ada.id, "fan-1", answered) == "Fan: Yep, every weekend.\nAda Lovelace: Do you still paint?"
    assert indexed(app, ada.id, SHARED_FAN, event) == "I moved house."

    class OtherModel(DeterministicFakeEmbedding):
        model_id: str = "another-model"

    switched = Clonr(settings, chat_model=fake_chat, embeddings=OtherModel(size=64), clock=clock)
    with pytest.raises(StorageError, match="set CLONR_EMBEDDINGS back"):
        switched.memory.recall(ada.id, "fan-1", "paint", 100, words)
    progress: list[tuple[int, int]] = []
    switched.memory.reindex(ada.id, on_progress=lambda done, total: progress.append((done, total)))
    assert progress[-1] == (3, 3)
    assert "Fan: Yep, every weekend." in texts(switched.memory.recall(ada.id, "fan-1", "paint", 100, words))


@pytest.mark.real_model
def test_an_answer_that_never_names_its_topic_is_found_by_it(settings, fake_chat, clock) -> None:
    from clonr.llm import MiniLMEmbeddings

    app = Clonr(settings, chat_model=fake_chat, embeddings=MiniLMEmbeddings(settings.home / "models"), clock=clock,
                importance=HeuristicImportanceScorer())
    ada = app.clones.create("Ada Lovelace")
    exchanges = [("Do you still paint watercolours?", "Yep, every weekend since I was ten."),
                 ("How was the dentist?", "Fine, no cavities this time."),
                 ("Did the train strike hit you?", "Yes, I worked from home all week."),
                 ("Any plans for your birthday?", "Just a quiet dinner with my sister.")]
    lines = [TranscriptLine(speaker, text, clock.now + timedelta(seconds=n), ref=str(n)) for n, (speaker, text) in
             enumerate((s, t) for pair in exchanges for s, t in zip(("clone", "fan"), pair, strict=True))]
    app.memory.import_transcript(ada, "fan-1", lines)
    app.memory.weights = RetrievalWeights(relevance=1.0, lexical=0.0, recency=0.0, importance=0.0, same_day=0.0,
                                          neighbour_share=0.0)
    fan_lines = [r for r in app.memory.recall(ada.id, "fan-1", "What art does the fan make?", 1000, words)
                 if r.memory.text.startswith("Fan:")]
    assert fan_lines[0].memory.text == "Fan: Yep, every weekend since I was ten."
    app.worker.drain()


def test_a_fan_cannot_touch_another_fans_memory(app: Clonr, ada) -> None:
    memory, = app.memory.remember(ada.id, "alice", ["Fan: private"])
    for action in (lambda: app.memory.pin(ada.id, "bob", memory.id),
                   lambda: app.memory.edit(ada.id, "bob", memory.id, "hacked"),
                   lambda: app.memory.delete(ada.id, "bob", memory.id),
                   lambda: app.memory.restore(ada.id, "bob", memory.id)):
        with pytest.raises(NotFoundError):
            action()
    assert app.memory.list(ada.id, "alice")[0].text == "Fan: private"


def test_an_event_is_shared_with_every_fan_and_a_long_one_is_refused(app: Clonr, ada) -> None:
    event = app.memory.post_event(ada.id, "  I just ran the   Berlin marathon. ")
    assert (event.fan_id, event.kind, event.text) == (SHARED_FAN, "event", "I just ran the Berlin marathon.")
    assert texts(app.memory.recall(ada.id, "any-fan", "marathon", 100, words)) == [event.text]
    with pytest.raises(InvalidInputError, match="limit is 4,000"):
        app.memory.post_event(ada.id, "word " * 1000)
    assert len(app.memory.list(ada.id, SHARED_FAN)) == 1


def test_the_fans_a_clone_remembers_latest_first(app: Clonr, ada, clock: FixedClock) -> None:
    grace = app.clones.create("Grace Hopper")
    app.memory.remember(ada.id, "alice", ["Fan: one", "Fan: two"])
    clock.advance(hours=1)
    app.memory.remember(ada.id, "bob", ["Fan: three"])
    app.memory.post_event(ada.id, "I moved house.")
    app.memory.remember(grace.id, "carol", ["Fan: elsewhere"])
    assert [(f.fan_id, f.memories, f.latest) for f in app.memory.fans(ada.id)] == [
        ("bob", 1, clock.now), ("alice", 2, clock.now - timedelta(hours=1))]


def test_a_memory_links_to_the_line_it_answers_what_it_rests_on_and_what_replaced_it(app: Clonr, ada,
                                                                                      clock: FixedClock) -> None:
    old, new = app.memory.remember(ada.id, "alice", ["Fan: I live in Paris", "Fan: I moved to Berlin"])
    bobs, = app.memory.remember(ada.id, "bob", ["Fan: bob's secret"])
    insight, = app.memory.remember(ada.id, "alice", ["Alice moves for work"], kind="reflection",
                                   evidence=[old.id, new.id, bobs.id])
    app.store.update_memory(old.id, superseded_by=new.id)
    clock.advance(hours=5)
    later, = app.memory.remember(ada.id, "alice", ["Fan: hello again"])
    old, new = app.memory._own(ada.id, "alice", old.id), app.memory._own(ada.id, "alice", new.id)
    links = app.memory.links(ada.id, [old, new, insight, later])
    assert links[old.id] == MemoryLinks(replaced_by=new)
    assert links[new.id] == MemoryLinks(in_reply_to=old), "the line before, in the same conversation"
    assert links[insight.id].rests_on == (old, new), "never another fan's memory"
    assert links[later.id] == MemoryLinks(), "five hours later is another conversation"


def test_forgetting_a_fan_deletes_everything_about_them_only(app: Clonr, ada, fake_chat) -> None:
    for fan in ("alice", "bob"):
        app.chat.start_turn(ada.id, f"I am {fan}", fan_id=fan).text()
    app.worker.drain()
    assert app.memory.forget_fan(ada.id, "alice") == 2
    assert app.memory.list(ada.id, "alice") == [] and app.chat.history(ada.id, "alice") == []
    assert app.memory.recall(ada.id, "alice", "I am alice", 100, words) == []
    assert len(app.memory.list(ada.id, "bob")) == 2 and len(app.chat.history(ada.id, "bob")) == 2


def test_two_turns_for_the_same_fan_at_once_lose_nothing(app: Clonr, ada) -> None:
    errors = []

    def talk(n: int) -> None:
        try:
            app.chat.start_turn(ada.id, f"message {n}", fan_id="busy").text()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=talk, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    app.worker.drain()
    assert errors == []
    assert len(app.chat.history(ada.id, "busy", 100)) == 12
    assert len(app.memory.list(ada.id, "busy", limit=100, every_saying=True)) == 12


def test_recall_works_on_postgres_and_pgvector(postgres_url: str, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    app = Clonr(load_settings(), chat_model=FakeChatModel(), embeddings=DeterministicFakeEmbedding(size=32),
                importance=HeuristicImportanceScorer())
    clone = app.clones.create("Ada")
    app.memory.remember(clone.id, "fan-1", ["Fan: my dog Biscuit loves the beach", "Fan: I work as a nurse"])
    recalled = app.memory.recall(clone.id, "fan-1", "Biscuit's beach", 200, words)
    assert texts(recalled)[0] == "Fan: my dog Biscuit loves the beach" and recalled[0].reasons["lexical"] == 1.0
    app.worker.drain()


def test_transcript_files_are_validated(tmp_path: Path) -> None:
    good = tmp_path / "t.json"
    good.write_text(json.dumps([{"speaker": "fan", "text": "hi", "time": "2025-01-01T10:00:00"}]))
    assert read_transcript(good, 10_000)[0].time.tzinfo is not None
    for content, message in [("not json", "not valid JSON"), ('{"a": 1}', "JSON list"),
                             ('[{"speaker": "fan"}]', "line 1 needs")]:
        good.write_text(content)
        with pytest.raises(InvalidInputError, match=message):
            read_transcript(good, 10_000)


def test_times_with_an_offset_are_stored_as_the_same_instant_in_utc(app: Clonr, ada) -> None:
    lines = [TranscriptLine("fan", "Landed in Tokyo.", datetime.fromisoformat("2025-03-01T09:00:00+09:00"), ref="1"),
             TranscriptLine("fan", "Back in London.", datetime.fromisoformat("2025-03-01T01:30:00+00:00"), ref="2")]
    app.memory.import_transcript(ada, "fan-1", lines)
    stored = {m.text: m.happened_at for m in app.memory.list(ada.id, "fan-1")}
    assert stored["Fan: Landed in Tokyo."] == datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
    assert [m.text for m in app.memory.list(ada.id, "fan-1")] == ["Fan: Back in London.", "Fan: Landed in Tokyo."]


def test_an_empty_memory_is_refused(app: Clonr, ada) -> None:
    with pytest.raises(InvalidInputError):
        app.memory.remember(ada.id, "fan-1", ["   "])


def test_the_answer_next_to_a_matching_question_is_recalled(app: Clonr, ada, clock: FixedClock) -> None:
    lines = [TranscriptLine("clone", "What did you research last week?", clock.now, ref="1"),
             TranscriptLine("fan", "Adoption agencies, mostly.", clock.now, ref="2"),
             TranscriptLine("clone", "The weather was grey.", clock.now, ref="3")]
    app.memory.import_transcript(ada, "fan-1", lines)
    app.memory.weights = RetrievalWeights(relevance=0.0, lexical=1.0, recency=0.0, importance=0.0)
    recalled = app.memory.recall(ada.id, "fan-1", "research", 100, words)
    assert [r.memory.text for r in recalled][:2] == ["Ada Lovelace: What did you research last week?",
                                                     "Fan: Adoption agencies, mostly."]
    assert "next_to_match" in recalled[1].reasons


def test_neighbours_come_from_the_same_conversation_and_a_question_alone_counts_less(app: Clonr, ada,
                                                                                     clock: FixedClock) -> None:
    lines = [TranscriptLine("fan", "Goodbye for now.", clock.now - timedelta(days=2), ref="1"),
             TranscriptLine("clone", "What did you research last week?", clock.now, ref="2"),
             TranscriptLine("fan", "Adoption agencies, mostly.", clock.now + timedelta(seconds=30), ref="3")]
    app.memory.import_transcript(ada, "fan-1", lines)
    app.memory.weights = RetrievalWeights(relevance=0.0, lexical=1.0, recency=0.0, importance=0.0)
    recalled = app.memory.recall(ada.id, "fan-1", "research", 100, words, touch=False)
    assert texts(recalled)[:2] == ["Ada Lovelace: What did you research last week?", "Fan: Adoption agencies, mostly."]
    assert recalled[0].reasons["asks"] < 0 and "next_to_match" in recalled[1].reasons
    assert not any("next_to_match" in r.reasons for r in recalled[2:]), "two days earlier: another conversation"


def test_a_person_named_in_the_query_has_their_own_words_first(app: Clonr, ada, clock: FixedClock) -> None:
    lines = [TranscriptLine("fan", "I painted a fox last week.", clock.now, name="Mel", ref="1"),
             TranscriptLine("clone", "I painted a barn once.", clock.now, ref="2")]
    app.memory.import_transcript(ada, "fan-1", lines)
    app.worker.drain()
    app.memory.weights = RetrievalWeights(relevance=0.0, lexical=0.0, recency=0.0, importance=1.0)
    for query, expected in [("What did Mel paint?", "Mel: I painted a fox last week."),
                            ("What did Ada Lovelace paint?", "Ada Lovelace: I painted a barn once.")]:
        recalled = app.memory.recall(ada.id, "fan-1", query, 100, words, touch=False)
        assert recalled[0].memory.text == expected and "speaker" in recalled[0].reasons
    both = app.memory.recall(ada.id, "fan-1", "Did Mel or Ada Lovelace paint?", 100, words, touch=False)
    assert not any("speaker" in r.reasons for r in both), "naming both favours neither"


def test_a_date_in_the_query_favours_what_happened_then(app: Clonr, ada) -> None:
    days = [datetime(2025, 3, 3, 18, tzinfo=UTC), datetime(2025, 6, 20, 18, tzinfo=UTC),
            datetime(2026, 1, 9, 18, tzinfo=UTC)]
    app.memory.remember(ada.id, "fan-1", ["Fan: went to a concert", "Fan: went to a concert with Jo",
                                          "Fan: went to a concert alone"], happened_at=days, importance=5)
    app.memory.weights = RetrievalWeights(relevance=0.0, recency=0.0)
    for query, expected in [("Which concert on 3 March, 2025?", days[0]), ("the concert in June 2025", days[1]),
                            ("a concert during 2026", days[2])]:
        recalled = app.memory.recall(ada.id, "fan-1", query, 100, words, touch=False)
        assert recalled[0].memory.happened_at == expected and recalled[0].reasons["period"] > 0


def test_yesterday_in_the_query_favours_yesterday(app: Clonr, ada, clock: FixedClock) -> None:
    days = [clock.now - timedelta(days=n) for n in (40, 1, 90)]
    app.memory.remember(ada.id, "fan-1", ["Fan: went to a concert", "Fan: went to a concert with Jo",
                                          "Fan: went to a concert alone"], happened_at=days, importance=5)
    app.memory.weights = RetrievalWeights(relevance=0.0, recency=0.0)
    recalled = app.memory.recall(ada.id, "fan-1", "the concert yesterday?", 100, words, touch=False)
    assert recalled[0].memory.happened_at == days[1] and recalled[0].reasons["period"] > 0


def test_background_work_waits_while_a_reply_is_being_made(app: Clonr, ada, fake_chat: FakeChatModel) -> None:
    ran = threading.Event()
    fake_chat.enqueue("one two three")
    stream = iter(app.chat.start_turn(ada.id, "hi", fan_id="f"))
    next(stream)  # the reply is under way
    app.worker.submit(ran.set)
    assert not ran.wait(0.3), "the job waited for the reply"
    list(stream)
    assert ran.wait(5), "and ran as soon as the reply was done"


def test_full_text_search_stays_inside_one_fan_even_with_look_alike_ids(app: Clonr, ada) -> None:
    for fan in ("a-b", "a-b-c", "A-B", "*x"):
        app.memory.remember(ada.id, fan, [f"Fan {fan}: my lighthouse keeper uncle"])
    for fan in ("a-b", "a-b-c", "A-B"):
        found = app.store.get_memories([i for i, _ in app.memory.lexical_search(ada.id, [fan], "lighthouse")])
        assert [m.fan_id for m in found] == [fan]


def test_full_text_search_starts_where_the_fans_memories_start_and_finds_all_of_them(app: Clonr, ada) -> None:
    """Postings before a fan's first memory are skipped (they are other fans'); none of the fan's may be."""
    def found(*fans: str) -> list[str]:
        return sorted(m.text for m in app.store.get_memories(
            [i for i, _ in app.memory.lexical_search(ada.id, list(fans), "lighthouse")]))

    app.memory.remember(ada.id, "early", ["Fan: the lighthouse at dawn"])
    app.memory.remember(ada.id, SHARED_FAN, ["Ada Lovelace: I painted a lighthouse"], kind="event")
    app.memory.remember(ada.id, "late", ["Fan: a lighthouse keeper's diary"])
    app.memory.remember(ada.id, "early", ["Fan: a lighthouse again"])
    app.memory.remember(ada.id, "late", ["Fan: the lighthouse was shut"])
    assert found("late") == ["Fan: a lighthouse keeper's diary", "Fan: the lighthouse was shut"]
    assert found("late", SHARED_FAN) == ["Ada Lovelace: I painted a lighthouse", *found("late")]
    app.memory.forget_fan(ada.id, "early")
    app.memory.remember(ada.id, "early", ["Fan: back at the lighthouse"])
    assert found("early") == ["Fan: back at the lighthouse"]


def test_the_upgrade_to_0008_finds_where_each_fans_memories_start(app: Clonr, ada) -> None:
    from alembic import command
    from alembic.config import Config

    from clonr.store.database import _MIGRATIONS

    app.memory.remember(ada.id, "other", ["Fan: a lighthouse"])
    app.memory.remember(ada.id, "fan-1", ["Fan: the lighthouse keeper", "Fan: lighthouse stairs"])
    with app.store.engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
        connection.exec_driver_sql("DELETE FROM memory_states")  # as before 0008: fans without a state row
        command.upgrade(config, "head")
        first = dict(connection.exec_driver_sql("SELECT fan_id, first_rowid FROM memory_states").all())
        lowest = dict(connection.exec_driver_sql("SELECT fan_id, min(rowid) FROM memories GROUP BY fan_id").all())
    assert first == lowest and first["fan-1"] > first["other"]
    assert len(app.memory.lexical_search(ada.id, ["fan-1"], "lighthouse")) == 2


def test_a_word_is_judged_common_or_rare_within_each_fan(app: Clonr, ada) -> None:
    app.memory.remember(ada.id, "pizza-lover", [f"Fan: pizza night number {n}" for n in range(40)] +
                        ["Fan: pizza in Lisbon was the best"])
    app.memory.remember(ada.id, "fan-2", ["Fan: I tried pizza once", "Fan: I like the sea"])
    found = app.store.get_memories([i for i, _ in app.memory.lexical_search(ada.id, ["fan-2"], "pizza")])
    assert [m.text for m in found] == ["Fan: I tried pizza once"], "rare for this fan, however common elsewhere"
    found = app.store.get_memories([i for i, _ in app.memory.lexical_search(ada.id, ["pizza-lover"], "pizza Lisbon")])
    assert [m.text for m in found] == ["Fan: pizza in Lisbon was the best"], "in every memory: not what is asked"


def test_a_long_message_is_remembered_whole_when_the_limit_is_raised(monkeypatch, fake_chat, fake_embeddings,
                                                                   clock) -> None:
    monkeypatch.setenv("CLONR_MAX_MESSAGE_CHARS", "10000")
    app = Clonr(load_settings(), chat_model=fake_chat, embeddings=fake_embeddings, clock=clock,
                importance=HeuristicImportanceScorer())
    ada = app.clones.create("Ada")
    long = "word " * 1500  # 7,500 characters: over the default limit, under the raised one
    app.chat.start_turn(ada.id, long, fan_id="fan-1").text()
    app.worker.drain()
    assert f"Fan: {long.strip()}" in [m.text for m in app.memory.list(ada.id, "fan-1")], "nothing cut silently"
    with pytest.raises(InvalidInputError, match=r"limit is 10,000 \(CLONR_MAX_MESSAGE_CHARS\)"):
        app.memory.post_event(ada.id, "x" * 10_001)


def test_exchanges_whose_memory_work_was_lost_are_remembered_when_a_server_starts(app: Clonr) -> None:
    """`kill -9` between storing a reply and remembering it left the exchange with no memory: the next server
    start makes it (dated when it was said), once."""
    from click.testing import CliRunner

    from clonr.cli import LazyApp, cli

    ada = app.clones.create("Ada")
    asked, reply = app.store.add_exchange(ada.id, "f_1", "I keep bees in Kent.", "How lovely!")  # and then died
    assert app.store.memories_of_message(asked) == []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("uvicorn.run", lambda *args, **kwargs: None)
        try:
            assert CliRunner().invoke(cli, ["serve"], obj=LazyApp(app)).exit_code == 0
        finally:
            gc.unfreeze()  # `serve` froze the start-up objects
    app.worker.drain()
    [memory] = app.store.memories_of_message(asked)
    assert "bees in Kent" in memory.text and memory.happened_at == app.store.get_message(asked).created_at
    assert [m.text for m in app.store.memories_of_message(reply)] == ["Ada: How lovely!"]
    assert app.memory.catch_up() == 0, "done once"


def test_a_reply_stands_when_its_memory_work_cannot_be_queued(app: Clonr, fake_chat: FakeChatModel,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The queue is down after the exchange is stored and charged: the fan still gets the reply (an error would
    invite a retry, stored and charged twice); the next start queues the memory work."""
    ada = app.clones.create("Ada")

    def queue_down(*_args: object) -> None:
        raise StorageError("Could not queue memory.remember_exchange in Postgres (OperationalError)")

    monkeypatch.setattr(app.memory, "remember_later", queue_down)
    fake_chat.enqueue("How lovely!")
    turn = app.chat.start_turn(ada.id, "I keep bees in Kent.", fan_id="f_1")
    assert turn.text() == "How lovely!" and not turn.interrupted
    monkeypatch.undo()
    asked, _reply = turn.stored
    assert app.store.memories_of_message(asked) == [] and len(app.store.usage_rows()) == 1
    assert app.memory.catch_up() == 1
    app.worker.drain()
    assert "bees in Kent" in app.store.memories_of_message(asked)[0].text
