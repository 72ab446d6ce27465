"""Step 4: publish the clone as a widget and copy the snippet that embeds it."""

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
