"""Step 3: chat with the clone as a fan would, and see what went into each reply."""

import streamlit as st

from clonr import ClonrError
from studio.resources import current_clone, get_app

STUDIO_FAN = "studio"
app = get_app()
st.header("Test chat")
clone = current_clone()

history = app.chat.history(clone.id, STUDIO_FAN, limit=50)
if not history and clone.greeting:
    st.chat_message("assistant").write(clone.greeting)
for message in history:
    st.chat_message(message.role).write(message.content)

prompt = st.chat_input(f"Say something to {clone.name}")
if prompt:
    st.chat_message("user").write(prompt)
    try:
        turn = app.chat.start_turn(clone.id, prompt, fan_id=STUDIO_FAN)
        with st.chat_message("assistant"):
            st.write_stream(turn)
        with st.expander("What the clone used"):
            st.write({section.name: f"{section.tokens} tokens, {section.items} item(s)"
                      for section in turn.plan.sections} | {"budget": turn.plan.budget})
            for recalled in turn.recalled:
                why = ", ".join(f"{reason} {value:.2f}" for reason, value in recalled.reasons.items())
                st.caption(f"Memory: {recalled.line[:300]} ({why})")
            for note in turn.plan.notes:
                st.caption(f"Note from {note.metadata.get('title', '')}: {note.page_content[:300]}")
    except ClonrError as exc:
        st.error(str(exc))
