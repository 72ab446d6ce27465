"""Read what fans and the clone said, and step in: a reply the creator writes goes into the fan's conversation
as theirs (the fan sees it signed with their name) and is remembered like any other line.

Fans' words are shown as plain text (`st.text`): nothing a fan writes is rendered as Markdown or HTML here.
"""

import streamlit as st

from clonr import ClonrError
from studio import auth
from studio.markup import plain
from studio.resources import current_clone, get_app

SHOWN = 60

app = get_app()
creator = auth.creator()
clone = current_clone()
st.header("Conversations")
st.caption(f"What fans said to {plain(clone.name)} (the most recently active fans first). Write a reply yourself "
           "and it is sent as yours: the fan sees it signed with your name, and the clone remembers it.")
try:
    fans = app.fans.fans_of(creator, clone.id)
except ClonrError as exc:
    st.error(str(exc))
    st.stop()
if not fans:
    st.info(f"No fan has talked with {plain(clone.name)} yet: publish it (step 7) and share its widget.")
    st.stop()
chosen = st.selectbox("Fan", fans, key="conversations_fan", format_func=lambda f: (
    f"{f.fan_id[:12]} · {'signed in' if f.signed_in else 'anonymous'} · {f.messages} messages · "
    f"last {f.last_at:%Y-%m-%d %H:%M} UTC"))
for message in app.fans.history(creator, clone.id, chosen.fan_id, SHOWN):
    with st.chat_message(message.role):
        if message.by_creator:
            st.caption("You, in person")
        st.text(message.content + (" … (interrupted)" if message.interrupted else ""))

with st.form("conversations_step_in", clear_on_submit=True):
    text = st.text_area("Your reply", key="conversations_text", placeholder="Write to this fan yourself…")
    send = st.form_submit_button("Send as yourself", type="primary")
if send:
    try:
        app.fans.step_in(creator, clone.id, chosen.fan_id, text)
        st.rerun()
    except ClonrError as exc:
        st.error(str(exc))
