"""Process-wide singletons for the studio: one `Clonr` (store, index, model) shared by every session."""

from __future__ import annotations

import streamlit as st

from clonr import Clonr
from clonr.store import Clone
from studio import state


def make_clonr() -> Clonr:
    """Build the service object; tests replace this to inject test doubles."""
    return Clonr()


@st.cache_resource(show_spinner="Opening Clonr…")
def get_app() -> Clonr:
    return make_clonr()


def current_clone() -> Clone:
    """The clone selected in the sidebar; stops the page with a pointer to the Profile step if there is none."""
    if not state.clone_id():
        st.info("Create a clone on the Profile page first.")
        st.stop()
    return get_app().clones.get(state.clone_id())
