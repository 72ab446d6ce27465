"""Step 3: everything else about the person: notes, files, web pages, YouTube, Wikipedia, chat exports."""

import streamlit as st

from clonr import ClonrError
from clonr.ingest import CHAT_SUFFIXES, FILE_SUFFIXES
from clonr.store import IngestJob
from studio import state
from studio.jobs_view import job_progress
from studio.markup import plain
from studio.resources import current_clone, get_app

app = get_app()
st.header("Sources")
clone = current_clone()
st.caption(f"What {plain(clone.name)} knows comes from these sources. Adding the same thing twice is harmless.")


def start(items: list[tuple[str, dict]]) -> None:
    """Queue staged uploads as one background job and watch its progress on this page."""
    run(app.ingest.start_job(clone.id, items))


def run(job: IngestJob) -> None:
    app.ingest.submit_job(job.id)
    state.watch_job(job.id)


def resume(job_id: str) -> None:
    app.ingest.submit_job(job_id)
    state.watch_job(job_id)


paste, files, links, chats = st.tabs(["Paste a note", "Files", "Web, YouTube, Wikipedia", "Chat exports"])
with paste, st.form("sources_paste_form", clear_on_submit=True):
    title = st.text_input("Title", placeholder="About me")
    text = st.text_area("Paste a note", height=180)
    if st.form_submit_button("Add note", type="primary"):
        try:
            result = app.ingest.add_text(clone.id, text, title or "Pasted note")
            st.success("Note indexed." if result.created else "That note was already there.")
        except ClonrError as exc:
            st.error(str(exc))

with files:
    uploads = st.file_uploader("Résumé, notes, pages, documents", type=[s.lstrip(".") for s in FILE_SUFFIXES],
                               accept_multiple_files=True, key="sources_uploads")
    if uploads and st.button("Add files", type="primary"):
        try:
            start([(app.ingest.stage_upload(u.name, u.getvalue()), {}) for u in uploads])
        except ClonrError as exc:
            st.error(str(exc))

with links, st.form("sources_links_form", clear_on_submit=True):
    lines = st.text_area("One per line", height=120, placeholder="https://ada.example.com/about\n"
                         "https://www.youtube.com/watch?v=…\nwiki:Ada Lovelace")
    follow = st.number_input("Follow same-site links, this many clicks deep", 0, 3, 0)
    sitemap = st.checkbox("Also add the pages in the site's sitemap", key="sources_sitemap")
    languages = st.text_input("YouTube transcript languages", value=",".join(app.settings.transcript_languages))
    if st.form_submit_button("Add", type="primary"):
        items = [line.strip() for line in lines.splitlines() if line.strip()]
        options = {"languages": [c.strip() for c in languages.split(",") if c.strip()]}
        if follow or sitemap:
            options |= {"depth": int(follow), "max_pages": 20, "sitemap": sitemap}
        try:
            run(app.ingest.start_web_job(clone.id, items, options))
        except ClonrError as exc:
            st.error(str(exc))

with chats, st.form("sources_chat_form", clear_on_submit=True):
    export = st.file_uploader("WhatsApp .txt/.zip, Telegram or Discord .json, or .csv (timestamp, sender, text)",
                              type=[s.lstrip(".") for s in CHAT_SUFFIXES], key="sources_chat_upload")
    me = st.text_input("Your name as it appears in the chat", value=clone.name)
    if st.form_submit_button("Add chat", type="primary"):
        if export is None or not me.strip():
            st.warning("Choose an export and give your name in it.")
        else:
            try:
                start([(app.ingest.stage_upload(export.name, export.getvalue()), {"chat_me": me.strip()})])
            except ClonrError as exc:
                st.error(str(exc))

for job in app.ingest.resumable_jobs(clone.id):
    if job.id not in state.watched_jobs():
        st.warning(f"An ingestion job stopped after {job.finished} of {job.total} items.")
        st.button("Resume it", key=f"sources_resume_{job.id}", on_click=resume, args=(job.id,))
job_progress()

sources = app.ingest.list_sources(clone.id)
st.subheader(f"{len(sources)} source{'s' if len(sources) != 1 else ''}")
for source in sources:
    dated = f"from {plain(source.published, 20)}" if source.published else "undated"
    with st.expander(f"{plain(source.title, 100)} · {source.kind} · {source.chunk_count} chunks · {dated}"):
        st.caption(" · ".join(plain(part, 200) for part in (source.location, source.author,
                                                            source.created_at.strftime("added %Y-%m-%d %H:%M"))
                              if part))
        with st.form(f"sources_date_{source.id}", border=False):
            when = st.text_input("When its content is from", value=source.published or "",
                                 key=f"sources_when_{source.id}", placeholder="2015, 2015-06 or 2015-06-30",
                                 help="A clone as of a year (Through the years) reads only sources dated up to then; "
                                      "leave it empty to keep this one out of every such clone.")
            if st.form_submit_button("Save the date"):
                try:
                    app.ingest.date_source(clone.id, source.id, when or None)
                    st.rerun()
                except ClonrError as exc:
                    st.error(str(exc))
        if st.toggle("Show its chunks", key=f"sources_show_{source.id}"):
            for chunk in app.ingest.source_chunks(clone.id, source.id):
                st.text(chunk)
        st.button("Delete this source", key=f"sources_delete_{source.id}",
                  on_click=app.ingest.delete_source, args=(clone.id, source.id))
candidates = app.ingest.dialogue_candidates(clone.id, limit=5)
if candidates:
    st.caption(f"From chat exports: example answers in your own words, e.g. “{plain(candidates[0].char_text, 80)}”.")
