"""The record store's contract, run against SQLite and Postgres."""

from __future__ import annotations

from pathlib import Path

import pytest

from clonr.errors import AlreadyExistsError, NotFoundError, StorageError
from clonr.store import SqlStore


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
