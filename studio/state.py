"""The only module that initialises session keys. Session state holds ids and UI flags, never records."""

from __future__ import annotations

import streamlit as st

CLONE_ID = "clone_id"
TEST_CHAT_THOUGHT = "test_chat_thought"  # the clone's last inner monologue, for the creator to edit


def init() -> None:
    st.session_state.setdefault(CLONE_ID, None)
    st.session_state.setdefault(TEST_CHAT_THOUGHT, "")


def clone_id() -> str | None:
    return st.session_state.get(CLONE_ID)


def select_clone(value: str | None) -> None:
    st.session_state[CLONE_ID] = value


def last_thought() -> str:
    return st.session_state.get(TEST_CHAT_THOUGHT, "")


def keep_thought(text: str) -> None:
    st.session_state[TEST_CHAT_THOUGHT] = text
