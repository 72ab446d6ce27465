"""The only module that initialises session keys. Session state holds ids and UI flags, never records."""

from __future__ import annotations

import streamlit as st

CLONE_ID = "clone_id"
TEST_CHAT_THOUGHT = "test_chat_thought"  # the clone's last inner monologue, for the creator to edit
WATCHED_JOBS = "watched_jobs"  # ids of ingestion jobs this tab started, whose progress it shows
DISCOVER_CANDIDATES = "discover_candidates"  # the last web search's results (plain dicts), to approve
FAN_MEMORIES_SHOWN = "fan_memories_shown"  # how many of the chosen fan's memories the Memories page lists
MEMORY_PAGE = 50


def init() -> None:
    st.session_state.setdefault(CLONE_ID, None)
    st.session_state.setdefault(TEST_CHAT_THOUGHT, "")
    st.session_state.setdefault(WATCHED_JOBS, [])
    st.session_state.setdefault(DISCOVER_CANDIDATES, [])
    st.session_state.setdefault(FAN_MEMORIES_SHOWN, MEMORY_PAGE)


def clone_id() -> str | None:
    return st.session_state.get(CLONE_ID)


def select_clone(value: str | None) -> None:
    st.session_state[CLONE_ID] = value


def last_thought() -> str:
    return st.session_state.get(TEST_CHAT_THOUGHT, "")


def keep_thought(text: str) -> None:
    st.session_state[TEST_CHAT_THOUGHT] = text


def watched_jobs() -> list[str]:
    return st.session_state.get(WATCHED_JOBS, [])


def watch_job(job_id: str) -> None:
    st.session_state[WATCHED_JOBS] = [*watched_jobs(), job_id]


def discover_candidates() -> list[dict]:
    return st.session_state.get(DISCOVER_CANDIDATES, [])


def keep_candidates(candidates: list[dict]) -> None:
    st.session_state[DISCOVER_CANDIDATES] = candidates


def fan_memories_shown() -> int:
    return st.session_state.get(FAN_MEMORIES_SHOWN, MEMORY_PAGE)


def show_fan_memories(already: int) -> None:
    """List one more page after the `already` shown (0: the first page again, as when the fan changes)."""
    st.session_state[FAN_MEMORIES_SHOWN] = already + MEMORY_PAGE
