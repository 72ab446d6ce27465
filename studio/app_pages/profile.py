"""Step 1: create a clone, or edit the selected one's name, descriptions, greeting and boundaries."""

import streamlit as st

from clonr import ClonrError
from clonr.clones import LIMITS
from studio import state
from studio.resources import get_app, my_clones

app = get_app()
st.header("Profile")
clone = my_clones().get(state.clone_id()) if state.clone_id() else None

# Keyed per clone: a widget without a key is a new one once its `value` changes, so after a save the next
# edit of a changed field would be dropped for the stored text; a key keeps what the creator typed.
form = f"profile_{clone.id if clone else 'new'}"
with st.form("profile_form", clear_on_submit=False):
    name = st.text_input("Name", value=clone.name if clone else "", max_chars=LIMITS["name"],
                         placeholder="Ada Lovelace", key=f"{form}_name")
    short = st.text_input("Short description", value=clone.short_description if clone else "",
                          max_chars=LIMITS["short_description"], help="One line, about 20 words: who this is.",
                          key=f"{form}_short")
    long = st.text_area("Long description", value=clone.long_description if clone else "", height=220,
                        max_chars=LIMITS["long_description"],
                        help="The fundamental traits: personality, values, story, how they talk.",
                        key=f"{form}_long")
    greeting = st.text_area("Greeting", value=clone.greeting if clone else "", max_chars=LIMITS["greeting"],
                            height=80, help="The first message a fan sees.", key=f"{form}_greeting")
    if clone:  # boundaries are set on a clone that exists: creating one takes its name and descriptions
        avoid = st.text_area("Topics to avoid — one per line; `topic -> what to say instead`", key=f"{form}_avoid",
                             value=clone.avoid_topics, height=100, max_chars=LIMITS["avoid_topics"],
                             placeholder="my divorce -> I keep that private.\npolitics",
                             help=f"At most {LIMITS['boundary_lines']} lines of {LIMITS['boundary_line']} characters. "
                                  "Without `->` the clone politely changes the subject.")
        links = st.text_area("Links it may share — one per line; `label -> https://…`", key=f"{form}_links",
                             value=clone.shared_links, height=100, max_chars=LIMITS["shared_links"],
                             placeholder="My newsletter -> https://example.com/newsletter",
                             help=f"At most {LIMITS['boundary_lines']} lines of {LIMITS['boundary_line']} characters. "
                                  "The clone shares no other link.")
    saved = st.form_submit_button("Save changes" if clone else "Create clone", type="primary")

if saved:
    try:
        if clone:
            my_clones().update(clone.id, name=name, short_description=short, long_description=long,
                               greeting=greeting, avoid_topics=avoid, shared_links=links)
            st.success("Saved.")
        else:
            created = my_clones().create(name, short, long, greeting)
            state.select_clone(created.id)
            st.success(f"Created {created.name}. Next: add sources about them.")
    except ClonrError as exc:
        st.error(str(exc))

if clone:
    with st.expander("Create another clone"), st.form("profile_new_form"):
        new_name = st.text_input("Name of the new clone", max_chars=LIMITS["name"])
        if st.form_submit_button("Create"):
            try:
                created = my_clones().create(new_name)
                state.select_clone(created.id)
                st.rerun()
            except ClonrError as exc:
                st.error(str(exc))

with st.expander("Import a character card"):
    card = st.file_uploader("A V2 or V3 card: .png, .json or .charx", type=["png", "json", "charx"],
                            key="profile_card_upload")
    if card is not None and st.button("Create a clone from this card"):
        try:
            imported = app.cards.import_card(card.name, card.getvalue())
            state.select_clone(imported.id)
            st.rerun()
        except ClonrError as exc:
            st.error(str(exc))
