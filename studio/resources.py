"""Process-wide singletons for the studio: one `Clonr` (store, index, model) shared by every session."""

from __future__ import annotations

import streamlit as st

from clonr import Clonr


def make_clonr() -> Clonr:
    """Build the service object; tests replace this to inject test doubles."""
    return Clonr()


@st.cache_resource(show_spinner="Opening Clonr…")
def get_app() -> Clonr:
    return make_clonr()
