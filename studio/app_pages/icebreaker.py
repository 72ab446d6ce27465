"""Step 4: the icebreaker interview. Answers become example dialogues the clone learns its voice from."""

import streamlit as st

from clonr import ClonrError
from clonr.persona import CATEGORIES
from studio.markup import plain
from studio.resources import current_clone, get_app

app = get_app()
st.header("Icebreaker")
clone = current_clone()
st.caption("Answer as yourself, in your own words: short or long, slang or formal, as you really talk. "
           "Skip anything; stop any time and carry on later.")

step = app.interview.current(clone.id)
if step is None:
    st.success("You have been asked every question. Thank you!")
    st.button("Ask me the skipped ones again", on_click=app.interview.restart_skipped, args=(clone.id,))
else:
    st.progress(min(1.0, step.answered / 30), text=f"{step.answered} answered (30 make a good start)")
    with st.form("icebreaker_form", clear_on_submit=True):
        label = "A follow-up" if step.is_follow_up else step.category.replace("_", " ").capitalize()
        st.caption(label)
        st.markdown(f"**{step.text}**")
        answer = st.text_area("Your answer", height=120, key="icebreaker_answer")
        send, skip = st.columns(2)
        if send.form_submit_button("Answer", type="primary"):
            try:
                app.interview.answer(clone.id, answer)
                st.rerun()
            except ClonrError as exc:
                st.error(str(exc))
        if skip.form_submit_button("Skip this one"):
            app.interview.skip(clone.id)
            st.rerun()
    st.caption(" · ".join(f"{c.replace('_', ' ')} {step.by_category[c]}" for c in CATEGORIES))

dialogues = app.dialogues.list(clone.id)
st.subheader(f"{len(dialogues)} example dialogue{'s' if len(dialogues) != 1 else ''}")
for dialogue in reversed(dialogues):
    with st.expander(f"{plain(dialogue.category)} · {plain(dialogue.user_text, 80)}"):
        with st.form(f"icebreaker_edit_{dialogue.id}"):
            said = st.text_input("Said to you", value=dialogue.user_text)
            answer = st.text_area("Your answer", value=dialogue.char_text)
            if st.form_submit_button("Save"):
                try:
                    app.dialogues.update(clone.id, dialogue.id, user_text=said, char_text=answer)
                    st.rerun()
                except ClonrError as exc:
                    st.error(str(exc))
        st.button("Delete", key=f"icebreaker_delete_{dialogue.id}", on_click=app.dialogues.delete,
                  args=(clone.id, dialogue.id))
candidates = app.ingest.dialogue_candidates(clone.id, limit=20)
if candidates:
    st.subheader("From your chat exports")
    st.caption("Your own answers in your chats. Keep the ones that sound like you.")
    for candidate in candidates:
        st.markdown(f"*{plain(candidate.user_text, 120)}* → {plain(candidate.char_text, 200)}")
        st.button("Keep as an example", key=f"icebreaker_keep_{candidate.id}", on_click=app.dialogues.promote_candidate,
                  args=(clone.id, candidate.id))
