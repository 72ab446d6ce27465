"""Step 8: what the clone remembers of each fan, and what you tell it about your life."""

from collections.abc import Callable
from typing import Any

import streamlit as st

from clonr import ClonrError
from clonr.memory import MemoryLinks
from clonr.store import SHARED_FAN, Memory
from studio import state
from studio.markup import plain
from studio.resources import current_clone, get_app

app = get_app()
st.header("Memories")
clone = current_clone()
st.caption(f"What {plain(clone.name)} remembers of each fan, and what you have told it about your life. A pinned "
           "memory is in every reply's prompt; a deleted one is forgotten everywhere.")
if waiting := app.memory.waiting(clone.id):
    st.info(f"Background work is waiting: {waiting}. It goes on while you work, and after a restart.",
            icon=":material/hourglass_top:")


def act(change: Callable[..., Any], *args: Any) -> bool:
    """Make a change; an error is shown (from a button's callback: at the top of the page)."""
    try:
        change(*args)
        return True
    except ClonrError as exc:
        st.error(str(exc))
        return False


def forget(fan_id: str) -> None:
    act(app.memory.forget_fan, clone.id, fan_id)
    st.session_state.pop("memories_fan", None)  # that fan is gone from the choice
    state.show_fan_memories(0)


def show_links(links: MemoryLinks) -> None:
    if links.in_reply_to:
        st.caption(f"In reply to: {plain(links.in_reply_to.text, 200)}")
    for evidence in links.rests_on:
        st.caption(f"Rests on: {plain(evidence.text, 200)}")
    if links.replaced_by:
        st.caption(f"Replaced by: {plain(links.replaced_by.text, 200)}")


def show_all(memories: list[Memory], place: str, reasons: list[str] | None = None) -> None:
    """Memories with their links and actions; `place` keeps widget keys apart where a memory shows twice (an
    event is in your life's list and may be recalled for a fan)."""
    links = app.memory.links(clone.id, memories)
    for memory, why in zip(memories, reasons or [""] * len(memories), strict=True):
        show(memory, f"memories_{place}", links[memory.id], why)


def show(memory: Memory, key: str, links: MemoryLinks, why: str) -> None:
    fan_id = memory.fan_id
    with st.container(border=True):
        facts = [memory.happened_at.strftime("%Y-%m-%d %H:%M"), memory.kind,
                 f"importance {memory.importance}" if memory.importance else "importance not scored yet"]
        if memory.pinned:
            facts.insert(0, "pinned")
        if memory.repeats > 1:
            facts.append(f"said {memory.repeats} times since {(memory.first_said_at or memory.happened_at):%Y-%m-%d}")
        if memory.superseded_by:
            facts.append("replaced by a newer memory: recalled below it, and for questions about the past")
        st.caption(" · ".join(facts) + (f" · chosen for: {plain(why)}" if why else ""))
        st.text(memory.text)  # never rendered as Markdown: fans wrote it
        show_links(links)
        pin, delete, restore, _ = st.columns([1, 1, 2, 6])
        pin.button("Unpin" if memory.pinned else "Pin", key=f"{key}_pin_{memory.id}",
                   on_click=act, args=(app.memory.pin, clone.id, fan_id, memory.id, not memory.pinned))
        delete.button("Delete", key=f"{key}_delete_{memory.id}",
                      on_click=act, args=(app.memory.delete, clone.id, fan_id, memory.id))
        if memory.superseded_by:
            restore.button("Still true", key=f"{key}_restore_{memory.id}", help="Recall it as current again.",
                           on_click=act, args=(app.memory.restore, clone.id, fan_id, memory.id))
        with st.expander("Edit"), st.form(f"{key}_edit_{memory.id}"):
            text = st.text_area("Text", value=memory.text, key=f"{key}_text_{memory.id}")
            if st.form_submit_button("Save") and act(app.memory.edit, clone.id, fan_id, memory.id, text):
                st.rerun()


events, fans = st.tabs(["Your life", "Fans"])
with events:
    with st.form("memories_event_form", clear_on_submit=True):
        told = st.text_area("Tell your clone what happened", placeholder="I just ran the Berlin marathon.")
        if st.form_submit_button("Tell my clone", type="primary"):
            try:
                app.memory.post_event(clone.id, told)
                app.worker.drain()  # the clone's current state may be rewritten from it: show the new one
                st.success(f"{plain(clone.name)} will remember it, and every fan's chat can draw on it.")
            except ClonrError as exc:
                st.error(str(exc))
    current, _ = app.memory.summaries(clone.id, SHARED_FAN)
    st.markdown(f"**Current state:** {plain(current) or 'none yet: it is written once events add up.'}")
    show_all(app.memory.list(clone.id, SHARED_FAN, limit=20), "life")

with fans:
    known = {fan.fan_id: fan for fan in app.memory.fans(clone.id)}
    if not known:
        st.info("No fan has chatted yet. Conversations in the test chat and the widget are remembered here.")
        st.stop()

    def describe(fan: str) -> str:
        count = known[fan].memories
        return f"{fan} · {count} memor{'y' if count == 1 else 'ies'} · last {known[fan].latest:%Y-%m-%d}"

    fan_id = st.selectbox("Fan", list(known), key="memories_fan", on_change=state.show_fan_memories, args=(0,),
                          format_func=describe)
    _, about = app.memory.summaries(clone.id, fan_id)
    st.markdown(f"**What {plain(clone.name)} knows of them:** {plain(about) or 'nothing summarised yet.'}")
    for name, what in app.memory.entities(clone.id, fan_id).items():
        st.caption(f"{plain(name, 80)}: {plain(what, 300)}")
    query = st.text_input("What would a reply to this message recall?", key="memories_query")
    if query.strip():
        try:
            with st.spinner("Recalling…"):  # loads the model once: its tokenizer counts the budget, as in a turn
                recalled = app.chat.preview(clone.id, fan_id, query).recalled
            st.caption(f"{len(recalled)} memories a reply would be given now, best first (those the conversation "
                       "already holds are not given again).")
            show_all([item.memory for item in recalled], "recalled",
                     [", ".join(f"{k} {v:.2f}" for k, v in item.reasons.items()) for item in recalled])
        except ClonrError as exc:
            st.error(str(exc))
    else:
        shown = state.fan_memories_shown()
        page = app.memory.list(clone.id, fan_id, limit=shown + 1)
        show_all(page[:shown], "fan")
        if len(page) > shown:
            st.button("Show more", key="memories_more", on_click=state.show_fan_memories, args=(shown,))
    with st.expander(f"Forget {fan_id}"):
        st.caption("Deletes every memory of this fan, the summary and the whole conversation. It cannot be undone.")
        sure = st.checkbox("Yes, forget this fan", key=f"memories_forget_sure_{fan_id}")
        st.button("Forget this fan", key="memories_forget", disabled=not sure, on_click=forget, args=(fan_id,))
