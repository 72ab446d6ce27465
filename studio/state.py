"""The only module that initialises session keys. Session state holds ids and UI flags, never records."""

from __future__ import annotations

import streamlit as st

CLONE_ID = "clone_id"


def init() -> None:
    st.session_state.setdefault(CLONE_ID, None)


def clone_id() -> str | None:
    return st.session_state.get(CLONE_ID)


def select_clone(value: str | None) -> None:
    st.session_state[CLONE_ID] = value
