"""The progress of this tab's ingestion jobs: redrawn every second while one runs, then the page refreshes."""

from __future__ import annotations

import streamlit as st

from clonr.store import IngestJob
from studio import state
from studio.markup import plain
from studio.resources import get_app


def _watched() -> list[IngestJob]:
    return [get_app().ingest.job(job_id) for job_id in state.watched_jobs()[-3:]]


def _running(jobs: list[IngestJob]) -> bool:
    return any(job.status in ("queued", "running") for job in jobs)


def _draw(polling: bool) -> None:
    jobs = _watched()
    for job in jobs:
        if job.status == "done":
            added = sum(item.status == "done" for item in job.items)
            st.success(f"Finished: {added} added, {job.total - added - len(job.failures)} already there, "
                       f"{len(job.failures)} failed.")
        else:
            label = f"{job.finished} of {job.total}" + (f" · {plain(job.current, 80)}" if job.current else "")
            st.progress(job.finished / max(1, job.total), text=label)
            if job.status == "interrupted":
                st.button("Resume", key=f"jobs_resume_{job.id}", on_click=get_app().ingest.submit_job, args=(job.id,))
        for item in job.failures:
            st.error(plain(item.detail, 300))
    if polling and not _running(jobs):
        st.rerun()  # the whole page, so the source list shows what was added (and polling stops)


def job_progress() -> None:
    """One progress bar per watched job (done/total, the current item), and each failed item's error."""
    polling = _running(_watched())
    st.fragment(_draw, run_every=1.0 if polling else None)(polling)
