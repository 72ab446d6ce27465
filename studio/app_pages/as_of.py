"""Through the years: the clone as of a date, a variant that knows only what was true up to then ("Inês, 2015"),
published with its own widget."""

import datetime as dt

import streamlit as st

from clonr import ClonrError
from clonr.persona import parse_as_of
from studio import state
from studio.markup import plain
from studio.resources import current_clone, get_app

app = get_app()
clone = current_clone()
st.header("Through the years")
if clone.as_of:
    st.info(f"{plain(clone.name)} is a clone as of {clone.as_of:%d %b %Y}: it knows nothing later, takes no live "
            "feed and no new event. Make other years from the clone it was made from.")
    st.stop()
st.caption(f"Let fans talk to {plain(clone.name)} as they were in another year: a new clone that knows only the "
           "sources, example dialogues and events dated up to then, with a description drafted from them alone. "
           "Date your sources on the Sources page (a year is enough); undated ones are left out.")

when = st.text_input("As of", key="as_of_when", placeholder=str(dt.date.today().year - 10),
                     help="A year (the end of it), a month (2015-06) or a day (2015-06-30).")
name = st.text_input("Its name", key="as_of_name", placeholder=f"{clone.name}, {dt.date.today().year - 10}")
describe = st.checkbox("Draft its description from what it knows (the chat model reads it all: minutes)",
                       value=True, key="as_of_describe")
if when:
    try:
        day = parse_as_of(when)
        found = app.variants.slice(clone.id, day)
    except ClonrError as exc:
        st.error(str(exc))
        st.stop()
    st.markdown(f"As of **{day:%d %b %Y}** it would know {len(found.sources)} source(s), {found.dialogues} example "
                f"dialogue(s) and {found.events} event(s); it leaves out {found.later_sources} later source(s), "
                f"{found.later_dialogues} dialogue(s) and {found.later_events} event(s).")
    if found.undated_sources:
        st.warning("Undated, so left out: " + "; ".join(plain(s.title, 60) for s in found.undated_sources[:20])
                   + ". Date them on the Sources page to include them.")
    if st.button(f"Make {plain(name or clone.name + ', ' + str(day.year))}", type="primary", key="as_of_make"):
        try:
            with st.status("Copying what it may know…", expanded=True) as status:
                progress = st.progress(0.0)
                variant, _ = app.variants.create(clone.id, day, name, describe=describe,
                                                 on_progress=lambda done, total: progress.progress(done / total))
                status.update(label=f"Made {plain(variant.name)}.", state="complete")
            st.success(f"Made {plain(variant.name)}: pick it in the sidebar to try it, then publish it.")
        except ClonrError as exc:
            st.error(str(exc))

variants = app.clones.variants(clone.id)
if variants:
    st.subheader("Its years")
for variant in variants:
    left, right = st.columns([3, 1])
    left.markdown(f"**{plain(variant.name)}** · as of {variant.as_of:%d %b %Y} · "
                  + ("published" if variant.published else "a draft"))
    right.button("Open it", key=f"as_of_open_{variant.id}", on_click=state.select_clone, args=(variant.id,))
