"""The record store's contract, run against SQLite and Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clonr.errors import AlreadyExistsError, NotFoundError, StorageError
from clonr.store import Memory, SqlStore


@pytest.fixture
def store(database_url: str) -> SqlStore:
    return SqlStore(database_url)


def _create(store: SqlStore, name: str = "Ada Lovelace", slug: str = "ada-lovelace", clone_id: str = "c1"):
    return store.create_clone(clone_id=clone_id, slug=slug, name=name, short_description="Mathematician")


def test_a_clone_is_found_by_id_slug_or_name_in_any_case(store: SqlStore) -> None:
    created = _create(store)
    for ref in ("c1", "ada-lovelace", "ADA LOVELACE", " Ada Lovelace "):
        assert store.get_clone(ref) == created
    assert created.created_at.tzinfo is not None


def test_a_duplicate_slug_is_refused_and_the_first_clone_is_kept(store: SqlStore) -> None:
    _create(store)
    with pytest.raises(AlreadyExistsError, match="already exists"):
        _create(store, name="ada lovelace", clone_id="c2")
    assert [c.id for c in store.list_clones()] == ["c1"]


def test_an_unknown_clone_says_how_to_find_one(store: SqlStore) -> None:
    with pytest.raises(NotFoundError, match="clonr list"):
        store.get_clone("nobody")


def test_updates_change_only_the_given_fields(store: SqlStore) -> None:
    _create(store)
    updated = store.update_clone("c1", greeting="Hello!", published=True)
    assert (updated.greeting, updated.published, updated.short_description) == ("Hello!", True, "Mathematician")


def test_a_conversation_is_kept_per_fan_in_order(store: SqlStore) -> None:
    _create(store)
    store.add_exchange("c1", "fan-a", "hi", "hello A")
    store.add_exchange("c1", "fan-b", "hey", "hello B")
    store.add_exchange("c1", "fan-a", "how are you?", "fine")
    assert [m.content for m in store.recent_messages("c1", "fan-a")] == ["hi", "hello A", "how are you?", "fine"]
    assert [m.role for m in store.recent_messages("c1", "fan-a", limit=2)] == ["user", "assistant"]
    assert [m.content for m in store.recent_messages("c1", "fan-b")] == ["hey", "hello B"]


def test_opening_twice_migrates_once_and_keeps_data(database_url: str) -> None:
    _create(SqlStore(database_url))
    assert SqlStore(database_url).get_clone("c1").name == "Ada Lovelace"


def test_an_unreachable_database_gives_a_one_line_error() -> None:
    with pytest.raises(StorageError, match="start it or fix DATABASE_URL") as caught:
        SqlStore("postgresql+psycopg://clonr:secret@127.0.0.1:9/clonr")
    assert "\n" not in str(caught.value)
    assert "secret" not in str(caught.value)


def test_an_unwritable_database_folder_gives_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        SqlStore(f"sqlite:///{tmp_path}/missing/folder/clonr.db")


def test_a_turn_keeps_what_it_was_given_and_whether_the_reply_was_finished(store: SqlStore) -> None:
    _create(store)
    store.add_exchange("c1", "fan-a", "hi", "hello", context='{"memories": ["m1"]}')
    store.add_exchange("c1", "fan-a", "and?", "well", status="interrupted")
    hi, hello, more, well = store.recent_messages("c1", "fan-a")
    assert (hi.context, hello.context, more.context) == ('{"memories": ["m1"]}', None, None)
    assert (hello.status, well.status, well.interrupted, hello.interrupted) == ("complete", "interrupted", True, False)


def test_example_dialogues_list_in_the_order_given_and_are_found_by_id(store: SqlStore) -> None:
    _create(store)
    made = store.add_dialogues("c1", [{"category": "tastes", "user_text": f"q{n}", "char_text": f"a{n}",
                                       "origin": "manual"} for n in range(3)])
    assert [d.user_text for d in store.list_dialogues("c1")] == ["q0", "q1", "q2"]
    assert [d.char_text for d in store.get_dialogues("c1", [made[2].id, "nope"])] == ["a2"]
    store.delete_dialogue("c1", made[0].id)
    assert [d.user_text for d in store.list_dialogues("c1", unindexed=True)] == ["q1", "q2"]


def test_a_clone_keeps_only_its_last_fidelity_check_and_loses_it_with_the_clone(store: SqlStore) -> None:
    _create(store)
    assert store.last_fidelity_check("c1") is None
    store.save_fidelity_check("c1", "f" * 64, {"items": [{"question": "q1"}]})
    store.save_fidelity_check("c1", "e" * 64, {"items": []})
    last = store.last_fidelity_check("c1")
    assert (last.fingerprint, last.report) == ("e" * 64, {"items": []})
    assert last.checked_at.tzinfo is not None
    store.delete_clone("c1")
    assert store.last_fidelity_check("c1") is None


def test_a_job_records_its_items_and_their_progress(store: SqlStore) -> None:
    _create(store)
    store.create_job("j1", "c1", [("https://a.example/", {}), ("notes.md", {"kind": "file"})])
    store.append_job_items("j1", [("https://a.example/more", {})])
    assert store.set_job_status("j1", "running", only_from=("queued",))
    assert not store.set_job_status("j1", "running", only_from=("queued",)), "only from the states given"
    store.update_job_item("j1", 0, status="done", chunk_count=3)
    job = store.get_job("j1")
    assert (job.status, job.total, job.finished, job.current) == ("running", 3, 1, "notes.md")
    assert [j.id for j in store.list_jobs("c1")] == ["j1"]


def _memory(n: int, fan: str, text: str, **fields) -> Memory:
    when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
    return Memory(id=f"m{n:03d}", clone_id="c1", fan_id=fan, kind="observation", text=text, importance=None,
                  happened_at=when, created_at=when, last_accessed_at=when, **fields)


def test_memories_are_kept_per_fan_pinned_updated_and_forgotten(store: SqlStore) -> None:
    _create(store)
    store.add_memories([_memory(1, "fan-a", "Fan: my dog is Biscuit", pinned=True),
                        _memory(2, "fan-a", "Fan: I live in Paris"), _memory(3, "fan-b", "Fan: I am Bob")])
    assert [m.text for m in store.list_memories("c1", ["fan-a"])] == ["Fan: I live in Paris", "Fan: my dog is Biscuit"]
    assert [m.id for m in store.list_memories("c1", ["fan-a"], pinned_only=True)] == ["m001"]
    store.update_memory("m002", importance=7, superseded_by="m001")
    assert store.get_memories(["m002"])[0].importance == 7
    assert [m.id for m in store.list_memories("c1", ["fan-a"], include_superseded=False)] == ["m001"]
    store.set_summary("c1", "fan-a", "A dog person.", datetime.now(UTC))
    store.save_entities("c1", "fan-a", {"Biscuit": "their dog"}, datetime.now(UTC))
    assert (store.summaries("c1", ["fan-a", "fan-b"]), store.entities("c1", "fan-a")) == (
        {"fan-a": "A dog person."}, {"Biscuit": "their dog"})
    store.delete_fan("c1", "fan-a")
    assert store.list_memories("c1", ["fan-a"]) == [] and store.entities("c1", "fan-a") == {}
    assert [m.text for m in store.list_memories("c1", ["fan-b"])] == ["Fan: I am Bob"]


def test_full_text_search_ranks_within_the_fans_and_leaves_out_words_that_are_too_common(store: SqlStore) -> None:
    _create(store)
    store.add_memories([_memory(n, "fan-a", f"Fan: pizza night number {n}") for n in range(30)] +
                       [_memory(40, "fan-a", "Fan: the lighthouse keeper"), _memory(41, "fan-b", "Fan: a lighthouse"),
                        _memory(42, "fan-a", "Fan: pizza at the lighthouse")])
    found = [i for i, _ in store.lexical_search("c1", ["fan-a"], ["lighthouse"])]
    assert sorted(found) == ["m040", "m042"], "never another fan's"
    assert store.lexical_search("c1", ["fan-a"], []) == []
    if store.engine.dialect.name == "sqlite":  # Postgres ranks every term (its index counts are not cheap)
        rare_only = store.lexical_search("c1", ["fan-a"], ["pizza", "lighthouse"], most_matches=lambda size: 20)
        assert sorted(i for i, _ in rare_only) == ["m040", "m042"], "'pizza' is in 31 of 32: left out"


def test_boundaries_default_to_empty_and_round_trip(store: SqlStore) -> None:
    created = _create(store)
    assert (created.avoid_topics, created.shared_links) == ("", "")
    assert store.get_clone("c1") == created
    topics, links = "my divorce -> I keep that private.\npolitics", "Shop -> https://shop.example/é?a=1"
    updated = store.update_clone("c1", avoid_topics=topics, shared_links=links)
    assert (updated.avoid_topics, updated.shared_links, updated.short_description) == (topics, links, "Mathematician")
    assert [c.shared_links for c in store.list_clones()] == [links]
    assert store.update_clone("c1", greeting="Hi").avoid_topics == topics, "other updates leave them alone"


def test_api_keys_are_found_by_prefix_listed_per_owner_and_revoked_once(store: SqlStore) -> None:
    made = store.add_api_key(key_id="k1", owner_id="grace", name="App", prefix="abc123", secret_hash="h" * 64,
                             clone_ids=["c1"], expires_at=None)
    store.add_api_key(key_id="k2", owner_id="alan", name="Other", prefix="def456", secret_hash="i" * 64,
                      clone_ids=None, expires_at=None)
    assert store.api_key_by_prefix("abc123") == made and made.clone_ids == ("c1",)
    assert [k.id for k in store.list_api_keys("grace")] == ["k1"]
    store.touch_api_key("k1")
    assert store.api_key_by_prefix("abc123").last_used_at is not None
    assert not store.revoke_api_key("alan", "k1"), "only its owner revokes a key"
    assert store.revoke_api_key("grace", "k1") and not store.revoke_api_key("grace", "k1")
    assert store.api_key_by_prefix("abc123").revoked_at is not None
