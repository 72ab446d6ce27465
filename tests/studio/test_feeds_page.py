"""The "Live feeds" studio page: a feed followed from the form, its posts reviewed (let in, kept out), a failing
feed shown with its reason, and a feed stopped."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from clonr import Clonr
from tests.conftest import FixtureSite
from tests.studio.test_api_usage_page import open_page, page_text, studio  # noqa: F401 (fixtures)
from tests.test_feeds import RSS, recorded


def click(at: AppTest, label: str, index: int = 0) -> None:
    [b for b in at.button if b.label == label][index].click().run()
    assert not at.exception


def test_a_creator_follows_a_feed_and_reviews_its_posts(web_app: Clonr, site: FixtureSite, studio) -> None:  # noqa: F811
    clone = web_app.clones.create("Inês Duarte")
    url = site.add("/@ines.rss", recorded("mastodon_profile.rss"), RSS)
    studio.run()
    open_page(studio, "feeds")
    assert "No feeds yet" in studio.info[0].value
    studio.text_input(key="feeds_url").input(site.url("/market"))
    click(studio, "Follow")
    assert "answered HTTP 404: check the address" in studio.error[0].value and web_app.feeds.list(clone.id) == []
    studio.text_input(key="feeds_url").input(url)
    studio.checkbox(key="feeds_review").check()
    click(studio, "Follow")
    assert "Following Inês Duarte: 4 post(s) found. They wait for your review below." in studio.success[0].value
    assert any("Waiting for your review (4)" in h.value for h in studio.subheader)
    assert "Six pale green celadon tea bowls" in page_text(studio), "the alt text is shown for review"
    click(studio, "Let it in")
    assert [item.status for item in web_app.feeds.items(clone.id)].count("accepted") == 1
    click(studio, "Keep it out")
    assert [item.status for item in web_app.feeds.items(clone.id)].count("rejected") == 1
    assert any("What the clone learnt lately" in h.value for h in studio.subheader)
    site.add("/@ines.rss", b"", "text/plain", status=500)
    click(studio, "Poll now")
    assert "Failing (1 in a row)" in studio.warning[0].value and "HTTP 500" in studio.warning[0].value
    click(studio, "Stop following")
    assert web_app.feeds.list(clone.id) == [] and "No feeds yet" in studio.info[0].value
