"""Step 9: group chats — several clones and fans in one conversation; create one and test it as a fan."""

import streamlit as st

from clonr import ClonrError
from studio.markup import plain
from studio.resources import current_clone, get_app, my_clones
from studio.writing import clearing, show_writing

STUDIO_FAN, STUDIO_NAME = "studio", "You"
app = get_app()
st.header("Group chats")
st.caption("Several clones (and fans) in one conversation. Clones named in a message answer in the order named; "
           "otherwise each answers with its talkativeness as the chance, and someone always does.")
clone = current_clone()
clones = {c.id: c for c in my_clones().list()}

with st.expander("Create a group chat", expanded=not app.groups.list(clone.id)), st.form("groups_create_form"):
    name = st.text_input("Name", key="groups_name")
    members = st.multiselect("Clones", list(clones), default=[clone.id], format_func=lambda i: clones[i].name,
                             key="groups_members")
    talk = {member: st.slider(f"How talkative is {clones[member].name}?", 0.0, 1.0, 0.5, 0.05,
                              key=f"groups_talk_{member}") for member in members}
    if st.form_submit_button("Create"):
        try:
            app.groups.create(name, members, talk)
            st.success(f"Group chat {name!r} created.")
        except ClonrError as exc:
            st.error(str(exc))

groups = app.groups.list(clone.id)
if not groups:
    st.info(f"{plain(clone.name)} is in no group chat yet: create one above.")
    st.stop()
group = st.selectbox("Group chat", groups, format_func=lambda g: g.name, key="groups_selected")
st.caption("Members: " + ", ".join(f"{plain(clones[i].name)} ({t:.2f})" for i, t in group.members.items()
                                   if i in clones))
for said in app.groups.history(group.id, limit=60):
    with st.chat_message("user" if said.speaker_kind == "fan" else "assistant"):
        st.text(f"{said.speaker_name}: {said.content}")

text = st.chat_input(f"Say something to {group.name} as a fan")
if text:
    with st.chat_message("user"):
        st.text(f"{STUDIO_NAME}: {text}")
    try:
        for turn in app.groups.post(group.id, STUDIO_FAN, STUDIO_NAME, text):  # each is prepared in a few ms
            with st.chat_message("assistant"):
                st.caption(plain(turn.clone.name))
                st.write_stream(clearing(turn, show_writing(turn.clone.name)))
    except ClonrError as exc:
        st.error(str(exc))
