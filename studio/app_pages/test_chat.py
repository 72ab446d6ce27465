"""Step 6: chat with the clone as a fan would, see what went into each reply, and test how close it comes."""

import streamlit as st

from clonr import ClonrError
from studio import state
from studio.markup import plain
from studio.resources import current_clone, get_app
from studio.writing import clearing, show_writing

STUDIO_FAN = "studio"


app = get_app()
st.header("Test chat")
clone = current_clone()

with st.expander("Test my clone: how close does it come to your own answers?"):
    st.caption("Questions you answered in the icebreaker are held out of its examples and asked again; a generic "
               "assistant answers them too. Scores are similarity to your answers (1.0 = the same meaning).")
    if st.button("Run the test", key="test_chat_fidelity"):
        try:
            with st.spinner("Asking…"):
                report = app.fidelity.run(clone.id, questions=6)
            left, right = st.columns(2)
            left.metric("Your clone", f"{report.clone_score:.2f}")
            right.metric("A generic assistant", f"{report.baseline_score:.2f}")
            for item in report.worst(3):
                st.markdown(f"**{plain(item.question)}** (clone {item.clone_score:.2f})")
                st.caption(f"You: {plain(item.creator_answer, 200)}")
                st.caption(f"Clone: {plain(item.clone_answer, 200)}")
        except ClonrError as exc:
            st.error(str(exc))

history = app.chat.history(clone.id, STUDIO_FAN, limit=50)
if not history and clone.greeting:
    st.chat_message("assistant").write(clone.greeting)
for message in history:
    st.chat_message(message.role).write(message.content + (" … *(interrupted)*" if message.interrupted else ""))

last = history[-1] if history and history[-1].role == "assistant" else None
if last:
    with st.expander("Correct the last reply"), st.form("test_chat_correction_form"):
        corrected = st.text_area("What you would have said", value=last.content, height=120)
        keep = st.checkbox("Also keep this exchange as an example dialogue", value=True)
        if st.form_submit_button("Save correction"):
            try:
                app.chat.correct_reply(clone.id, STUDIO_FAN, last.id, corrected, save_as_example=keep)
                st.success("Saved: the clone remembers your version" + (" and will talk like it." if keep
                                                                          else "."))
            except ClonrError as exc:
                st.error(str(exc))

thought = state.last_thought()
if last and thought:
    with st.expander("Edit the clone's thought and answer again"), st.form("test_chat_thought_form"):
        edited = st.text_area("Thought", value=thought, height=80)
        if st.form_submit_button("Answer again"):
            try:
                redo = app.chat.answer_again(clone.id, STUDIO_FAN, last.id, edited)
                redo.text()
                state.keep_thought(redo.thought)
                st.rerun()
            except ClonrError as exc:
                st.error(str(exc))

think = st.toggle("Inner monologue: let the clone think before it answers (slower)", key="test_chat_think")
prompt = st.chat_input(f"Say something to {clone.name}")
if prompt:
    st.chat_message("user").write(prompt)
    try:
        with st.chat_message("assistant"):
            sign = show_writing(clone.name, "thinking" if think else "writing")
            turn = app.chat.start_turn(clone.id, prompt, fan_id=STUDIO_FAN, think=think)
            st.write_stream(clearing(turn, sign))
        state.keep_thought(turn.thought)
        if turn.thought:
            st.info(f"Thought: {turn.thought}", icon=":material/psychology:")
        with st.expander("What the clone used"):
            st.write({section.name: f"{section.tokens} tokens, {section.items} item(s)"
                      for section in turn.plan.sections} | {"budget": turn.plan.budget})
            for recalled in turn.recalled:
                why = ", ".join(f"{reason} {value:.2f}" for reason, value in recalled.reasons.items())
                st.caption(f"Memory: {plain(recalled.line, 300)} ({plain(why)})")
            for note in turn.plan.notes:
                title = plain(str(note.metadata.get("title", "")), 100)
                st.caption(f"Note from {title}: {plain(note.page_content, 300)}")
    except ClonrError as exc:
        st.error(str(exc))
