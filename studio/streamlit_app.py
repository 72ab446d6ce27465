"""The Clonr studio: routes to one page per onboarding step and draws the shared sidebar."""

import streamlit as st

from clonr import ClonrError
from studio import state
from studio.resources import get_app, my_clones

st.set_page_config(page_title="Clonr studio", page_icon=":material/face:", layout="wide")
state.init()

PAGES = [
    st.Page("app_pages/profile.py", title="1 · Profile", icon=":material/person:", default=True),
    st.Page("app_pages/discover.py", title="2 · Web presence", icon=":material/travel_explore:"),
    st.Page("app_pages/sources.py", title="3 · Sources", icon=":material/library_books:"),
    st.Page("app_pages/icebreaker.py", title="4 · Icebreaker", icon=":material/record_voice_over:"),
    st.Page("app_pages/description.py", title="5 · Description", icon=":material/edit_note:"),
    st.Page("app_pages/test_chat.py", title="6 · Test chat", icon=":material/chat:"),
    st.Page("app_pages/publish.py", title="7 · Publish", icon=":material/rocket_launch:"),
    st.Page("app_pages/memories.py", title="8 · Memories", icon=":material/psychology:"),
    st.Page("app_pages/groups.py", title="9 · Group chats", icon=":material/groups:"),
    st.Page("app_pages/api_usage.py", title="10 · API & usage", icon=":material/key:"),
    st.Page("app_pages/monetise.py", title="11 · Monetise", icon=":material/payments:"),
    st.Page("app_pages/conversations.py", title="12 · Conversations", icon=":material/forum:"),
    st.Page("app_pages/discord.py", title="13 · Discord", icon=":material/smart_toy:"),
    st.Page("app_pages/feeds.py", title="14 · Live feeds", icon=":material/rss_feed:"),
    st.Page("app_pages/as_of.py", title="15 · Through the years", icon=":material/history:"),
    st.Page("app_pages/voice.py", title="16 · Voice", icon=":material/volume_up:"),
]

try:
    app = get_app()
    clones = my_clones().list()
except ClonrError as exc:
    st.error(str(exc))
    st.stop()

with st.sidebar:
    st.title("Clonr studio")
    ids = [c.id for c in clones]
    names = {c.id: c.name for c in clones}
    if state.clone_id() not in ids:
        state.select_clone(ids[0] if ids else None)
    if ids:
        st.selectbox("Clone", ids, index=ids.index(state.clone_id()), format_func=names.get, key="sidebar_clone",
                     on_change=lambda: state.select_clone(st.session_state.sidebar_clone))
        current = next(c for c in clones if c.id == state.clone_id())
        sources = app.ingest.list_sources(current.id)
        steps = {"Profile": bool(current.long_description or current.short_description),
                 "Sources": bool(sources), "Icebreaker": bool(app.dialogues.list(current.id)),
                 "Published": current.published}
        st.progress(sum(steps.values()) / len(steps), text="Your progress")
        for step, done in steps.items():
            icon = ":material/check_circle:" if done else ":material/radio_button_unchecked:"
            st.markdown(f"{icon} {step}")
    else:
        st.info("Create your first clone on the Profile page.")

st.navigation(PAGES).run()
