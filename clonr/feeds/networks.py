"""Where posts come from: one small adapter per network, looked up by the address the creator gives.

A network says which addresses are its (`feed_url`) and how a poll reads them (`poll`; RSS and Atom unless it
says otherwise). Built-ins register through `register_network`, the same call an outside package makes from
the `clonr.feeds` entry-point group, so adding X or Instagram (paid APIs with tokens) is one module: a
`FeedNetwork` whose `poll` calls the API and returns `Post`s.
"""

from __future__ import annotations

import functools
import re
from abc import ABC
from dataclasses import dataclass, replace
from datetime import datetime
from importlib.metadata import entry_points
from typing import ClassVar
from urllib.parse import quote, urlsplit

from clonr.errors import NotFoundError
from clonr.feeds.parse import FEED_TYPES, FeedError, Post, feed_links, parse_feed, plain_text, safe_link
from clonr.ingest.fetch import SafeFetcher
from clonr.ingest.untrusted import load_json

__all__ = ["NETWORKS_GROUP", "FeedNetwork", "Polled", "Validators", "network_for", "network_named", "network_of",
           "register_network"]

NETWORKS_GROUP = "clonr.feeds"
_POLL_TYPES = (*FEED_TYPES, "text/html", "application/xhtml+xml", "text/plain", "application/octet-stream")


@dataclass(frozen=True)
class Validators:
    """What the last poll's answer said about itself, for a conditional request (304 when nothing changed)."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True)
class Polled:
    """What one poll found: the feed's title, its posts (newest first or in the feed's order), the validators for
    the next poll, and the address it was read at (a page's feed, once discovered)."""

    title: str
    posts: list[Post]
    validators: Validators
    feed_url: str
    not_modified: bool = False
    link: str = ""  # the site or profile it is the feed of
    generator: str = ""


class FeedNetwork(ABC):
    """One network: its name, how the clone tells of a post from it, and the addresses that are its."""

    name: ClassVar[str]  # stored with each feed: `network_named` finds the adapter again
    label: ClassVar[str]  # shown to the creator
    posted: ClassVar[str]  # how the clone tells of a post: "I posted on Mastodon"
    needs_token: ClassVar[bool] = False  # reads an API with the creator's token instead of a public feed

    def feed_url(self, url: str) -> str | None:
        """The address to poll for `url`, when `url` is this network's; None otherwise."""
        return None

    def wrote(self, polled: Polled) -> bool:
        """Whether a feed read as a plain feed is this network's (a Mastodon RSS address given as it is)."""
        return False

    def tidy(self, post: Post) -> Post:
        """A post as this network means it, where its feed bends RSS."""
        return post

    def poll(self, fetcher: SafeFetcher, feed_url: str, validators: Validators, token: str | None = None) -> Polled:
        """Read the feed at `feed_url`: RSS or Atom, asked conditionally; a web page is searched for its feed."""
        fetched = fetcher.get(feed_url, _POLL_TYPES, obey_robots=False, headers=validators.headers())
        if fetched.not_modified:
            return Polled("", [], validators, feed_url, not_modified=True)
        found = Validators(fetched.etag, fetched.last_modified)
        if fetched.content_type in ("text/html", "application/xhtml+xml"):
            links = feed_links(fetched.text, fetched.url)
            if not links:
                raise FeedError(f"{feed_url} is a web page that links to no RSS or Atom feed: give the feed's address "
                                "(often /feed, /rss or /atom.xml).")
            return self.poll(fetcher, links[0], Validators(), token)
        parsed = parse_feed(fetched.body, fetched.url)
        return Polled(parsed.title, parsed.posts, found, feed_url, link=parsed.link, generator=parsed.generator)


class Blog(FeedNetwork):
    """Any RSS or Atom feed, or a page that links to one: what every other network falls back to."""

    name, label, posted = "blog", "Blog or any RSS/Atom feed", "I wrote on my blog"

    def feed_url(self, url: str) -> str | None:
        return url


class Mastodon(FeedNetwork):
    """A Mastodon profile (`https://server/@name`): every server publishes it as RSS at `@name.rss`."""

    name, label, posted = "mastodon", "Mastodon", "I posted on Mastodon"
    _PROFILE = re.compile(r"/@([A-Za-z0-9_]{1,30})(\.rss)?/?")

    def feed_url(self, url: str) -> str | None:
        parts = urlsplit(url)
        match = self._PROFILE.fullmatch(parts.path)
        if not match or parts.netloc.lower() in ("medium.com", "www.medium.com", "www.youtube.com", "youtube.com"):
            return None
        return f"{parts.scheme}://{parts.netloc}/@{match[1]}.rss"

    def wrote(self, polled: Polled) -> bool:
        return polled.generator.startswith("Mastodon")


class MastodonApi(Mastodon):
    """A Mastodon profile read through the API with the creator's access token (scope `read:statuses`): the
    40 latest posts, without replies and boosts, and only the public and unlisted ones, so a followers-only or
    direct post never reaches a fan."""

    name, label, needs_token = "mastodon-api", "Mastodon (API, with a token)", True
    _SHOWN = ("public", "unlisted")

    def poll(self, fetcher: SafeFetcher, feed_url: str, validators: Validators, token: str | None = None) -> Polled:
        parts = urlsplit(feed_url)
        name = self._PROFILE.fullmatch(parts.path)[1]  # type: ignore[index]  # feed_url() matched it
        base = f"{parts.scheme}://{parts.netloc}/api/v1/accounts"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        account = self._json(fetcher, f"{base}/lookup?acct={quote(name)}", headers)
        if not isinstance(account, dict) or not isinstance(account.get("id"), str):
            raise FeedError(f"{parts.netloc} has no account @{name}: check the profile's address.")
        statuses = self._json(fetcher, f"{base}/{quote(account['id'])}/statuses?exclude_replies=true"
                                       "&exclude_reblogs=true&limit=40", headers)
        posts = [post for status in (statuses if isinstance(statuses, list) else [])
                 if (post := self._post(status)) is not None]
        title = f"{account.get('display_name') or name} (@{name}@{parts.netloc})"
        return Polled(title, posts, validators, feed_url)

    @staticmethod
    def _json(fetcher: SafeFetcher, url: str, headers: dict[str, str]) -> object:
        fetched = fetcher.get(url, ("application/json",), obey_robots=False, headers=headers)
        return load_json(url.split("?")[0], fetched.text)

    def _post(self, status: object) -> Post | None:
        if not isinstance(status, dict) or status.get("visibility") not in self._SHOWN or status.get("reblog"):
            return None
        text, alts = plain_text(str(status.get("content") or ""))
        if warning := " ".join(str(status.get("spoiler_text") or "").split()):
            text = f"(content warning: {warning}) {text}"
        images = [str(media.get("description")) for media in status.get("media_attachments") or []
                  if isinstance(media, dict) and media.get("description")]
        try:
            published = datetime.fromisoformat(str(status.get("created_at")).replace("Z", "+00:00"))
        except ValueError:
            published = None
        guid = str(status.get("uri") or status.get("id") or "")
        if not guid or not (text or images):
            return None
        return Post(guid=guid, title="", text=text, link=safe_link(status.get("url")),
                    images=tuple(dict.fromkeys([*alts, *images])), published=published)


class Bluesky(FeedNetwork):
    """A Bluesky profile (`https://bsky.app/profile/handle`): bsky.app publishes it as RSS at `/rss`."""

    name, label, posted = "bluesky", "Bluesky", "I posted on Bluesky"
    _PROFILE = re.compile(r"/profile/([A-Za-z0-9.:_-]{1,253})(/rss)?/?")

    def feed_url(self, url: str) -> str | None:
        parts = urlsplit(url)
        match = self._PROFILE.fullmatch(parts.path)
        if parts.netloc.lower() not in ("bsky.app", "www.bsky.app") or not match:
            return None
        return f"https://bsky.app/profile/{match[1]}/rss"

    def wrote(self, polled: Polled) -> bool:
        return urlsplit(polled.link).netloc.lower() in ("bsky.app", "www.bsky.app")

    def tidy(self, post: Post) -> Post:
        """Bluesky's posts have no title: what feedparser reads as one is an image's alt text (`media:title`)."""
        if not post.title:
            return post
        return replace(post, title="", images=tuple(dict.fromkeys([post.title, *post.images])))


class YouTube(FeedNetwork):
    """A YouTube channel: `/channel/UC…` has its feed at `feeds/videos.xml`; an `@handle` page links to it."""

    name, label, posted = "youtube", "YouTube channel", "I published a YouTube video"
    _CHANNEL = re.compile(r"/channel/(UC[A-Za-z0-9_-]{22})/?.*")

    def feed_url(self, url: str) -> str | None:
        parts = urlsplit(url)
        if parts.netloc.lower() not in ("youtube.com", "www.youtube.com", "m.youtube.com"):
            return None
        if match := self._CHANNEL.fullmatch(parts.path):
            return f"https://www.youtube.com/feeds/videos.xml?channel_id={match[1]}"
        return url  # an @handle or feed address: a poll finds or reads the feed

    def wrote(self, polled: Polled) -> bool:
        return urlsplit(polled.link).netloc.lower() in ("youtube.com", "www.youtube.com")


_NETWORKS: dict[str, FeedNetwork] = {}


def register_network(network: FeedNetwork) -> None:
    """Add a network; later ones are asked first, so a plugin can claim addresses a built-in would."""
    _NETWORKS[network.name] = network


for _builtin in (Blog(), YouTube(), Bluesky(), Mastodon(), MastodonApi()):
    register_network(_builtin)


@functools.cache
def _load_plugins() -> None:
    """The installed packages' networks, read once per process (not on every poll)."""
    for point in entry_points(group=NETWORKS_GROUP):
        if point.name not in _NETWORKS:
            register_network(point.load()())


def network_named(name: str) -> FeedNetwork:
    _load_plugins()
    try:
        return _NETWORKS[name]
    except KeyError:
        raise NotFoundError(f"No feed network is called {name!r}: install the plugin that adds it, or remove the "
                            "feed.") from None


def network_of(polled: Polled) -> FeedNetwork:
    """The network whose feed a plain feed is, by what it says of itself; the blog network when none claims it."""
    return next((network for network in reversed(_NETWORKS.values()) if not network.needs_token
                 and network.wrote(polled)), _NETWORKS["blog"])


def network_for(url: str, *, token: bool = False) -> tuple[FeedNetwork, str]:
    """The network an address belongs to and the address to poll; with `token`, a network that reads its API."""
    _load_plugins()
    for network in reversed(_NETWORKS.values()):
        if network.needs_token == token and (feed_url := network.feed_url(url)):
            return network, feed_url
    raise FeedError(f"{url} is not an address Clonr can read with a token (Mastodon profiles can): add it without "
                    "one to read its public feed.")
