"""Step 2: find the person's web presence: search, approve the pages about them, and index those."""

import streamlit as st

from clonr import ClonrError
from studio import state
from studio.jobs_view import job_progress
from studio.markup import plain
from studio.resources import current_clone, get_app

app = get_app()
st.header("Web presence")
clone = current_clone()
st.caption("Search the web for the person; nothing is fetched until you approve it.")

with st.form("discover_form"):
    name = st.text_input("Name to search for", value=clone.name)
    hints = st.text_input("Hints (optional, comma-separated)", placeholder="London, mathematician, @ada")
    if st.form_submit_button("Search", type="primary"):
        try:
            with st.spinner("Searching…"):
                found = app.ingest.discover(name, [h.strip() for h in hints.split(",") if h.strip()], 15)
            state.keep_candidates([{"url": c.url, "title": c.title, "snippet": c.snippet,
                                    "likelihood": c.likelihood, "reasons": list(c.reasons)} for c in found])
            if not found:
                st.info("The search found nothing: try another spelling or add a hint.")
        except ClonrError as exc:
            st.error(str(exc))

candidates = state.discover_candidates()
if candidates:
    with st.form("discover_approve_form"):
        st.subheader(f"{len(candidates)} pages found")
        chosen = []
        for n, candidate in enumerate(candidates):
            left, right = st.columns([1, 9])
            left.progress(candidate["likelihood"], text=f"{candidate['likelihood']:.0%}")
            reasons = plain("; ".join(candidate["reasons"])) or None
            if right.checkbox(plain(candidate["title"] or candidate["url"], 120), key=f"discover_pick_{n}",
                              value=candidate["likelihood"] >= 0.5, help=reasons):
                chosen.append(candidate["url"])
            right.caption(f"{plain(candidate['url'], 100)} — {plain(candidate['snippet'], 160)}")
        follow = st.number_input("Also follow same-site links, this many clicks deep", 0, 3, 0)
        sitemap = st.checkbox("Also add the pages in each site's sitemap", key="discover_sitemap")
        max_pages = st.number_input("At most this many pages per site", 1, 100, 10)
        if st.form_submit_button("Add the selected pages", type="primary"):
            if not chosen:
                st.warning("Tick at least one page.")
            else:
                options = {"depth": int(follow), "max_pages": int(max_pages), "sitemap": sitemap} \
                    if follow or sitemap else {}
                job = app.ingest.start_job(clone.id, [(url, options) for url in chosen])
                app.ingest.submit_job(job.id)
                state.watch_job(job.id)

job_progress()
