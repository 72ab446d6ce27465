"""Step 7: publish the clone as a widget and copy the snippet that embeds it; or take it elsewhere as a card."""

import streamlit as st

from clonr import ClonrError
from clonr.store import Clone
from studio.markup import plain
from studio.resources import current_clone, get_app, my_clones

FIDELITY_QUESTIONS = 6


def run_fidelity_check(clone_id: str, label: str) -> None:
    with st.status(label) as status:
        bar = st.progress(0.0)
        try:
            app.fidelity.run(clone_id, questions=FIDELITY_QUESTIONS, on_progress=lambda done, total: bar.progress(
                done / total, text=f"question {done} of {total}"))
            status.update(label="Checked.", state="complete")
        except ClonrError as exc:
            status.update(label=str(exc), state="error")


def show_fidelity(clone: Clone) -> None:
    """The last fidelity score before the button; a draft whose score is missing or stale is checked now."""
    st.subheader("Fidelity")
    if not app.fidelity.can_run(clone.id):
        st.info("No fidelity score yet: answer a few icebreaker questions (step 3), so the clone can be checked "
                "against your own answers before fans meet it.")
        return
    check = app.fidelity.last(clone.id)
    if not clone.published and (check is None or check.stale):
        run_fidelity_check(clone.id, "Checking how close the clone comes to your own answers…")
        check = app.fidelity.last(clone.id)
    if check is None:
        return
    left, right = st.columns(2)
    left.metric("Your clone", f"{check.report.clone_score:.2f}")
    right.metric("A generic assistant", f"{check.report.baseline_score:.2f}")
    st.caption(f"Similarity to your own answers (1.0 = the same meaning), {len(check.report.items)} questions, "
               f"checked {check.checked_at:%d %b %Y %H:%M} UTC."
               + (" The clone has changed since: check again for a current score." if check.stale else ""))
    if check.warning:
        st.warning(check.warning)
    if st.button("Check again", key="publish_fidelity_again"):
        run_fidelity_check(clone.id, "Checking again…")
        st.rerun()


app = get_app()
st.header("Publish")
clone = current_clone()
show_fidelity(clone)

st.subheader("Widget")
try:
    if clone.published:
        st.success(f"{plain(clone.name)} is live.")
        if st.button("Take offline"):
            my_clones().publish(clone.id, published=False)
            st.rerun()
    else:
        st.info(f"{plain(clone.name)} is a draft: only you can chat with it here.")
        if st.button("Publish", type="primary"):
            my_clones().publish(clone.id)
            st.rerun()
except ClonrError as exc:
    st.error(str(exc))

if clone.published:
    url = my_clones().widget_url(clone)
    st.markdown(f"Widget address: [{url}]({url})")
    st.caption("Paste this into any web page to embed the chat:")
    st.code(my_clones().embed_snippet(clone), language="html", wrap_lines=True)

st.subheader("Character card")
st.caption("Take the clone to SillyTavern, RisuAI or Agnai, or keep a copy: a card holds its descriptions, "
           "greeting and example dialogues.")
spec = st.radio("Format", ["ccv3", "ccv2"], horizontal=True, key="publish_card_spec",
                format_func={"ccv3": "Character Card V3", "ccv2": "V2"}.get)
for suffix, mime in ((".png", "image/png"), (".json", "application/json"), (".charx", "application/zip")):
    if spec == "ccv2" and suffix == ".charx":
        continue
    st.download_button(f"Download {suffix}", data=app.cards.export(clone.id, spec, f"{clone.slug}{suffix}"),
                       file_name=f"{clone.slug}{suffix}", mime=mime, key=f"publish_card_{suffix}")
