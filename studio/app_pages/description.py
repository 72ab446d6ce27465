"""Step 5: the AI long description, drafted from everything known; the creator accepts, edits or rejects it."""

import streamlit as st

from clonr import ClonrError
from studio.markup import plain
from studio.resources import current_clone, description_estimate, get_app

app = get_app()
st.header("Description")
clone = current_clone()
st.caption("Clonr reads your sources and your interview answers and proposes a description of you. Every claim "
           "says where it came from; nothing changes until you accept it.")

try:
    estimate = description_estimate(clone.id, len(app.ingest.list_sources(clone.id)), len(app.dialogues.list(clone.id)))
except ClonrError as exc:
    st.error(str(exc))
    st.stop()
st.write(f"The model will read **{estimate.excerpts} excerpts** (about {estimate.tokens:,} tokens) in "
         f"{estimate.steps} steps.")
if st.button("Draft a description", type="primary", disabled=not estimate.excerpts):
    with st.status("Drafting…") as status:
        bar = st.progress(0.0)
        try:
            app.descriptions.propose(clone.id, on_progress=lambda done, total: bar.progress(
                done / total, text=f"step {done} of {total}"))
            status.update(label="Draft ready: review it below.", state="complete")
        except ClonrError as exc:
            status.update(label=str(exc), state="error")

for proposal in app.descriptions.pending(clone.id):
    label = proposal.field.replace("_", " ")
    st.subheader(f"Proposed {label}")
    current, proposed = st.columns(2)
    current.caption("Now")
    current.text(getattr(clone, proposal.field) or "(empty)")
    proposed.caption("Proposed (edit before accepting if you like)")
    text = proposed.text_area(label, value=proposal.text, key=f"description_text_{proposal.id}",
                              label_visibility="collapsed", height=200)
    with st.expander("Show the changes as a diff"):
        st.code(app.descriptions.diff(clone.id, proposal.id) or "(no change)", language="diff")
    edited_since = getattr(clone, proposal.field) != proposal.base_text
    if edited_since:
        st.warning(f"You changed the {label} after this was proposed: accepting replaces your edit.")
    for claim in proposal.evidence:
        st.caption(f"• {plain(claim['claim'])} — from {plain('; '.join(claim['sources']), 300)}")
    accept, reject = st.columns(2)
    if accept.button("Accept", key=f"description_accept_{proposal.id}", type="primary"):
        try:
            app.descriptions.accept(clone.id, proposal.id, text=text, force=edited_since)
            st.rerun()
        except ClonrError as exc:
            st.error(str(exc))
    if reject.button("Reject", key=f"description_reject_{proposal.id}"):
        app.descriptions.reject(clone.id, proposal.id)
        st.rerun()
