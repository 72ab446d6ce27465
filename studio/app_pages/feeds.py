"""Live feeds: the creator's blog, Mastodon, Bluesky or YouTube channel, polled on a schedule; each new post becomes
something the clone did lately (at once, or after the creator lets it in here)."""

from collections.abc import Callable

import streamlit as st

from clonr import ClonrError
from studio.markup import plain
from studio.resources import current_clone, get_app

app = get_app()
clone = current_clone()
st.header("Live feeds")
st.caption(f"What you post becomes what {plain(clone.name)} has been up to lately: it brings it up with fans when it "
           "fits (\"I just posted about …\"). Feeds are read every few minutes by `clonr serve`, the studio or "
           "`clonr worker`; a feed that fails is tried again later, less often.")


def act(action: Callable[..., object], *args: object, **kwargs: object) -> None:
    """A button's action, before the rerun; its error is shown by the rerun."""
    try:
        action(*args, **kwargs)
    except ClonrError as exc:
        st.session_state.feeds_error = str(exc)


with st.form("feeds_add", clear_on_submit=True):
    url = st.text_input("Address", key="feeds_url", placeholder="https://mastodon.social/@you",
                        help="Your blog (or any page that links to its feed), an RSS or Atom feed, a Mastodon or "
                             "Bluesky profile, or a YouTube channel.")
    review = st.checkbox("Let me review each post before the clone learns it", key="feeds_review")
    as_source = st.checkbox("Also add each post as a source", key="feeds_as_source")
    token = st.text_input("Mastodon access token (optional)", type="password", key="feeds_token",
                          help="With a token (scope read:statuses) the profile is read through the API; only public "
                               "and unlisted posts are ever used. Stored encrypted, never shown again.")
    add = st.form_submit_button("Follow", type="primary")

if add:
    try:
        with st.spinner("Reading the feed…"):
            result = app.feeds.add(clone.id, url, review=review, as_source=as_source, token=token or None)
        waiting = " They wait for your review below." if review and result.new else ""
        st.success(f"Following {plain(result.feed.title)}: {len(result.new)} post(s) found.{waiting}")
    except ClonrError as exc:
        st.error(str(exc))

if error := st.session_state.pop("feeds_error", None):
    st.error(error)

feeds = app.feeds.list(clone.id)
if not feeds:
    st.info("No feeds yet: add your blog or a profile above.")
for feed in feeds:
    with st.container(border=True):
        mode = "you review each post" if feed.review else "posts are learnt at once"
        polled = f"{feed.last_polled_at:%Y-%m-%d %H:%M}" if feed.last_polled_at else "never"
        st.markdown(f"**{plain(feed.title)}** · {plain(feed.network)} · {mode}")
        st.caption(f"{plain(feed.feed_url)} · polled {polled} UTC, next {feed.next_poll_at:%Y-%m-%d %H:%M} UTC")
        if feed.last_error:
            st.warning(f"Failing ({feed.failures} in a row): {plain(feed.last_error)}")
        poll_now, switch, remove = st.columns(3)
        poll_now.button("Poll now", key=f"feeds_poll_{feed.id}", on_click=act, args=(app.feeds.poll, clone.id, feed.id))
        switch.button("Learn posts at once" if feed.review else "Review posts first", key=f"feeds_mode_{feed.id}",
                      on_click=act, args=(app.feeds.change, clone.id, feed.id), kwargs={"review": not feed.review})
        remove.button("Stop following", key=f"feeds_remove_{feed.id}", on_click=act,
                      args=(app.feeds.remove, clone.id, feed.id))

pending = app.feeds.items(clone.id, status="pending")
if pending:
    st.subheader(f"Waiting for your review ({len(pending)})")
for item in pending:
    with st.container(border=True):
        st.markdown(f"**{item.published_at:%d %b %Y}** · {plain(item.title or item.text, 300)}")
        if item.title and item.text:
            st.caption(plain(item.text, 400))
        if item.images:
            st.caption("Images: " + "; ".join(plain(alt, 200) for alt in item.images))
        if item.link:
            st.caption(plain(item.link, 200))
        accept, reject = st.columns(2)
        accept.button("Let it in", key=f"feeds_accept_{item.id}", type="primary", on_click=act,
                      args=(app.feeds.accept, clone.id, item.id))
        reject.button("Keep it out", key=f"feeds_reject_{item.id}", on_click=act,
                      args=(app.feeds.reject, clone.id, item.id))

learnt = app.feeds.items(clone.id, status="accepted", limit=50)
if learnt:
    st.subheader("What the clone learnt lately")
    st.dataframe([{"posted": f"{item.published_at:%Y-%m-%d}", "post": item.title or item.text[:120],
                   "images": "; ".join(item.images), "link": item.link or ""} for item in learnt],
                 hide_index=True)
