"""Step 2: give the clone notes about the person: paste text or upload .txt/.md files."""

import streamlit as st

from clonr import ClonrError
from clonr.ingest import TEXT_SUFFIXES
from studio.resources import current_clone, get_app

app = get_app()
st.header("Sources")
clone = current_clone()
st.caption(f"What {clone.name} knows comes from these notes. Adding the same text twice is harmless.")

with st.form("sources_paste_form", clear_on_submit=True):
    title = st.text_input("Title", placeholder="About me")
    text = st.text_area("Paste a note", height=180)
    if st.form_submit_button("Add note", type="primary"):
        try:
            with st.status("Indexing the note…") as status:
                result = app.ingest.add_text(clone.id, text, title or "Pasted note")
                status.update(label="Note indexed." if result.created else "That note was already there.",
                              state="complete")
        except ClonrError as exc:
            st.error(str(exc))

uploads = st.file_uploader("Or upload files", type=[s.lstrip(".") for s in TEXT_SUFFIXES],
                           accept_multiple_files=True, key="sources_uploads")
if uploads and st.button("Add files"):
    progress = st.progress(0.0, text="Indexing files…")
    for done, upload in enumerate(uploads, start=1):
        try:
            result = app.ingest.add_upload(clone.id, upload.name, upload.getvalue())
            st.write(f"{upload.name}: {'added' if result.created else 'already there'}")
        except ClonrError as exc:
            st.error(str(exc))
        progress.progress(done / len(uploads), text=f"{done} of {len(uploads)} files")

sources = app.ingest.list_sources(clone.id)
st.subheader(f"{len(sources)} source{'s' if len(sources) != 1 else ''}")
if sources:
    st.dataframe([{"title": s.title, "kind": s.kind, "chunks": s.chunk_count,
                   "added": s.created_at.strftime("%Y-%m-%d %H:%M")} for s in sources],
                 hide_index=True, use_container_width=True)
