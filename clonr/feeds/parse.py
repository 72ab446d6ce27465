"""Feeds as posts: RSS and Atom read by feedparser (never fetching: it is given the bytes our guarded fetcher
read), HTML turned to plain text with its images' alt text kept, and feed discovery in a web page."""

from __future__ import annotations

import calendar
import hashlib
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.sax import SAXParseException

import feedparser
import lxml.etree
import lxml.html

from clonr.errors import InvalidInputError
from clonr.ingest.untrusted import valid_text

__all__ = ["MAX_TEXT_CHARS", "FeedError", "ParsedFeed", "Post", "feed_links", "parse_feed", "plain_text", "safe_link"]

MAX_TEXT_CHARS = 2000  # of one post: a blog post's opening, a whole toot
MAX_TITLE_CHARS = 200
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml")
_BLOCKS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr", "figcaption")


class FeedError(InvalidInputError):
    """A feed that cannot be read: not a feed, malformed, or a page that links to none."""


@dataclass(frozen=True)
class Post:
    """One post as a feed or an API gives it, before it is stored."""

    guid: str
    title: str
    text: str
    link: str | None
    images: tuple[str, ...] = ()  # alt texts and captions
    published: datetime | None = None


def safe_link(link: object) -> str | None:
    """An http(s) link, or None: a `javascript:` or `data:` link never reaches a page or a prompt."""
    if not isinstance(link, str) or urlsplit(link.strip()).scheme.lower() not in ("http", "https"):
        return None
    return link.strip()[:2000]


def _clip(text: str, limit: int) -> str:
    text = " ".join(valid_text(text).split())
    return text if len(text) <= limit else text[:limit - 1].rsplit(" ", 1)[0] + "…"


def plain_text(html: str) -> tuple[str, tuple[str, ...]]:
    """The readable text of an HTML fragment on one line (scripts and styles dropped), and the alt text of its
    images."""
    if "<" not in html and "&" not in html:
        return _clip(html, MAX_TEXT_CHARS), ()
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return _clip(re.sub(r"<[^>]*>", " ", html), MAX_TEXT_CHARS), ()
    for dropped in root.xpath("//script|//style|//template"):
        dropped.drop_tree()
    alts = tuple(dict.fromkeys(_clip(alt, 300) for alt in root.xpath("//img/@alt") if alt.strip()))
    for element in root.iter(*_BLOCKS):
        element.tail = " " + (element.tail or "")  # "<p>one</p><p>two</p>" is two words, not "onetwo"
    return _clip(root.text_content(), MAX_TEXT_CHARS), alts


def _date(entry: Any) -> datetime | None:
    parsed: time.struct_time | None = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:
        when = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError):
        return None
    return min(when, datetime.now(UTC))  # a post from the future is a wrong clock: it happened by now


def _body(entry: Any) -> tuple[str, list[str]]:
    """The post's HTML (its full content before its summary), and the captions a feed gives beside it: Mastodon's
    RSS writes an image's alt text as `media:description`, which feedparser reports as plain-text content."""
    contents = [c for c in entry.get("content") or [] if isinstance(c, dict) and isinstance(c.get("value"), str)]
    html = [c["value"] for c in contents if c.get("type") in ("text/html", "application/xhtml+xml")]
    plain = [c["value"] for c in contents if c.get("type") not in ("text/html", "application/xhtml+xml")]
    captions = plain if entry.get("media_content") else []
    body = (html or ([] if captions else plain) or [entry.get("summary") or ""])[0]
    return body, [_clip(text, 300) for text in captions if text.strip()]


def _post(entry: Any) -> Post | None:
    link = safe_link(entry.get("link"))
    title, _ = plain_text(entry.get("title", "") or "")
    body, captions = _body(entry)
    text, alts = plain_text(body)
    if not (title or text):
        return None
    published = _date(entry)
    guid = (entry.get("id") or entry.get("guid") or link or
            hashlib.sha256(f"{title}\n{text}\n{published}".encode()).hexdigest())
    return Post(guid=str(guid)[:2000], title=_clip(title, MAX_TITLE_CHARS), text=text, link=link,
                images=tuple(dict.fromkeys([*alts, *captions])), published=published)


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    posts: list[Post]
    link: str  # the site or profile it is the feed of
    generator: str  # the software that wrote it ("Mastodon v4.3.0")


def parse_feed(body: bytes, url: str) -> ParsedFeed:
    """The feed's title, posts (each guid once, in the feed's order) and origin; `FeedError` when it is no feed."""
    parsed = feedparser.parse(body, response_headers={"content-location": url}, sanitize_html=True,
                              resolve_relative_uris=True)
    broken = parsed.get("bozo") and isinstance(parsed.get("bozo_exception"), SAXParseException)
    if broken or (not parsed.entries and not parsed.feed.get("title")) or not parsed.get("version"):
        reason = f" ({str(parsed.get('bozo_exception'))[:80]})" if broken else ""
        raise FeedError(f"{url} is not a readable RSS or Atom feed{reason}: check the address, or give the "
                        "address of the page that links to its feed.")
    posts: dict[str, Post] = {}
    for entry in parsed.entries:
        post = _post(entry)
        if post is not None and post.guid not in posts:
            posts[post.guid] = post
    title, _ = plain_text(parsed.feed.get("title", "") or "")
    return ParsedFeed(_clip(title, MAX_TITLE_CHARS) or urlsplit(url).netloc, list(posts.values()),
                      safe_link(parsed.feed.get("link")) or url, str(parsed.feed.get("generator") or "")[:200])


def feed_links(html: str, url: str) -> list[str]:
    """The RSS and Atom feeds a web page names in its `<link rel="alternate">` elements, as absolute URLs."""
    try:
        root = lxml.html.fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return []
    found = []
    for link in root.xpath("//link[@href]"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().strip()
        absolute = safe_link(urljoin(url, link.get("href", "").strip()))
        if "alternate" in rel and kind in FEED_TYPES and absolute:
            found.append(absolute)
    return list(dict.fromkeys(found))
