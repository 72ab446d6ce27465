"""Process-wide singletons for the studio: one `Clonr` (store, index, model) shared by every session."""

from __future__ import annotations

import streamlit as st

from clonr import Clonr, freeze_startup_objects
from clonr.clones import CloneService
from clonr.persona import Estimate
from clonr.store import Clone
from studio import auth, state


def make_clonr() -> Clonr:
    """Build the service object; tests replace this to inject test doubles."""
    return Clonr()


@st.cache_resource(show_spinner="Opening Clonr…")
def shared_app() -> Clonr:
    app = make_clonr()
    app.start_background()  # catch-up, the meter, and queued jobs (ingestion started here) when they are in Postgres
    freeze_startup_objects()
    return app


def get_app() -> Clonr:
    """The one shared `Clonr`, acting for this session's creator (see `studio.auth`)."""
    return shared_app().acting_as(auth.creator())


def my_clones() -> CloneService:
    """The clones as this session's creator sees them."""
    return get_app().clones


def current_clone() -> Clone:
    """The clone selected in the sidebar; stops the page with a pointer to the Profile step if there is none."""
    if not state.clone_id():
        st.info("Create a clone on the Profile page first.")
        st.stop()
    return my_clones().get(state.clone_id())


@st.cache_data(ttl=600, show_spinner="Counting what the model will read…")
def description_estimate(clone_id: str, sources: int, dialogues: int) -> Estimate:
    """The description estimate tokenises the whole corpus: once per change of material, not on every rerun.
    `sources` and `dialogues` are in the key so that adding either refreshes it."""
    return get_app().descriptions.estimate(clone_id)
