"""Web pages and Wikipedia articles → `Document`s, and the same-site links and sitemap entries to follow."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, unquote, urldefrag, urljoin, urlsplit

import lxml.etree
import lxml.html
from trafilatura.utils import decode_file

from clonr.errors import InvalidInputError
from clonr.ingest.documents import Document
from clonr.ingest.fetch import FetchError, SafeFetcher
from clonr.ingest.files import html_document, read_document

__all__ = ["fetch_page", "fetch_wikipedia", "same_site_links", "sitemap_urls", "wikipedia_title"]

_PAGE_TYPES = ("text/html", "application/xhtml+xml", "application/pdf", "text/plain")
_SKIP_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".svg", ".webp", ".css", ".js", ".zip", ".mp3", ".mp4", ".ico",
                  ".woff", ".woff2")
_WIKI_URL = re.compile(r"^https?://(?P<host>[a-z\-]+\.(?:m\.)?wikipedia\.org)/wiki/(?P<title>[^?#]+)", re.IGNORECASE)


def fetch_page(fetcher: SafeFetcher, url: str, max_bytes: int) -> tuple[Document, str | None]:
    """The page's main text with its metadata, and its HTML (None for a PDF or plain text) for link following."""
    fetched = fetcher.get(url, _PAGE_TYPES)
    if fetched.content_type == "application/pdf":
        name = unquote(urlsplit(fetched.url).path.rsplit("/", 1)[-1]) or "document.pdf"
        document = read_document(name if name.lower().endswith(".pdf") else name + ".pdf", fetched.body, max_bytes,
                                 location=fetched.url)
        return Document("page", document.title, text=document.text, location=fetched.url, author=document.author,
                        published=document.published), None
    if fetched.content_type == "text/plain":
        return Document("page", fetched.url, text=fetched.text, location=fetched.url), None
    # Without a charset in the header, trafilatura reads the page's own <meta charset> (or guesses) instead.
    html = fetched.text if fetched.charset else decode_file(fetched.body)
    return html_document(html, fetched.url, fetched.url, kind="page"), html


def same_site_links(html: str, base_url: str) -> list[str]:
    """Links on the page to other pages of the same site (same host), in page order, without fragments."""
    try:
        tree = lxml.html.fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return []
    host = urlsplit(base_url).netloc.lower()
    found: dict[str, None] = {}
    for element, attribute, link, _ in tree.iterlinks():
        if element.tag != "a" or attribute != "href":
            continue
        try:
            absolute = urldefrag(urljoin(base_url, link)).url
            parts = urlsplit(absolute)
        except ValueError:  # a link that is no URL (`http://[::1`): not one to follow
            continue
        if parts.scheme in ("http", "https") and parts.netloc.lower() == host \
                and not parts.path.lower().endswith(_SKIP_SUFFIXES) and absolute != base_url:
            found[absolute] = None
    return list(found)


def sitemap_urls(fetcher: SafeFetcher, site_url: str, limit: int) -> list[str]:
    """Page URLs listed in the site's /sitemap.xml (one level of sitemap index followed), same host only."""
    parts = urlsplit(site_url)
    root = f"{parts.scheme}://{parts.netloc}"
    pending, pages = [root + "/sitemap.xml"], []
    for depth in range(2):
        nested = []
        for sitemap in pending:
            try:
                fetched = fetcher.get(sitemap, ("application/xml", "text/xml", "text/plain"))
                tree = lxml.etree.fromstring(fetched.body, lxml.etree.XMLParser(resolve_entities=False, no_network=True,
                                                                                 huge_tree=False))
            except (FetchError, lxml.etree.XMLSyntaxError):
                continue
            locs = [loc.text.strip() for loc in tree.iter("{*}loc") if loc.text]
            target = nested if tree.tag.endswith("sitemapindex") and depth == 0 else pages
            target += [loc for loc in locs if _host(loc) == parts.netloc.lower()]
        pending = nested
    return list(dict.fromkeys(pages))[:limit]


def _host(url: str) -> str | None:
    """The URL's host (and port), lower-cased, or None when it does not parse."""
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return None


def wikipedia_title(reference: str, default_site: str) -> tuple[str, str]:
    """(site, title) from `wiki:Title`, `wiki:fr:Title` or a Wikipedia article URL."""
    match = _WIKI_URL.match(reference.strip())
    if match:
        return f"https://{match['host'].lower().replace('.m.', '.')}", unquote(match["title"]).replace("_", " ")
    title = reference.strip().removeprefix("wiki:").strip()
    language = re.match(r"^([a-z]{2,3}):(.+)$", title)
    if language:
        return f"https://{language[1]}.wikipedia.org", language[2].strip()
    if not title:
        raise InvalidInputError("Give a Wikipedia article as wiki:Title (e.g. wiki:Ada Lovelace) or its URL.")
    return default_site.rstrip("/"), title


def fetch_wikipedia(fetcher: SafeFetcher, reference: str, default_site: str) -> Document:
    """The article's plain text from the MediaWiki API (an API endpoint, so robots.txt does not apply)."""
    site, title = wikipedia_title(reference, default_site)
    fetched = fetcher.get(f"{site}/w/api.php", ("application/json",), obey_robots=False, params={
        "action": "query", "format": "json", "formatversion": "2", "prop": "extracts|info", "explaintext": "1",
        "redirects": "1", "inprop": "url", "titles": title})
    try:
        pages = json.loads(fetched.text)["query"]["pages"]
        page = pages[0]
    except (json.JSONDecodeError, KeyError, IndexError, TypeError):
        raise InvalidInputError(f"{site} did not answer like Wikipedia for {title!r}: check the address.") from None
    if page.get("missing") or page.get("invalid") or not (page.get("extract") or "").strip():
        raise InvalidInputError(f"Wikipedia has no article titled {title!r}: check the spelling, or give its URL.")
    url = page.get("fullurl") or f"{site}/wiki/{quote(page['title'].replace(' ', '_'))}"
    return Document("wikipedia", f"Wikipedia: {page['title']}", text=page["extract"], location=url,
                    published=(page.get("touched") or "")[:10] or None)
