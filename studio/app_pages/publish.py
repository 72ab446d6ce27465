"""Step 7: publish the clone as a widget and copy the snippet that embeds it; or take it elsewhere as a card."""

import streamlit as st

from clonr import ClonrError
from studio.resources import current_clone, get_app

app = get_app()
st.header("Publish")
clone = current_clone()

try:
    if clone.published:
        st.success(f"{clone.name} is live.")
        if st.button("Take offline"):
            app.clones.publish(clone.id, published=False)
            st.rerun()
    else:
        st.info(f"{clone.name} is a draft: only you can chat with it here.")
        if st.button("Publish", type="primary"):
            app.clones.publish(clone.id)
            st.rerun()
except ClonrError as exc:
    st.error(str(exc))

if clone.published:
    url = app.clones.widget_url(clone)
    st.markdown(f"Widget address: [{url}]({url})")
    st.caption("Paste this into any web page to embed the chat:")
    st.code(app.clones.embed_snippet(clone), language="html", wrap_lines=True)

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
