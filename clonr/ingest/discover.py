"""Web-presence discovery: search for a person, and say how likely each result is about them, and why.

The search is ddgs's DuckDuckGo HTML engine (its own request and parser), with the endpoint taken from
`CLONR_SEARCH_URL` so that a deployment can point it at a mirror and the tests at a local fixture.
Nothing found here is fetched until the creator approves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from clonr.errors import InvalidInputError

__all__ = ["Candidate", "score_candidate", "search_web"]

_PROFILE_HOSTS = ("linkedin.com", "github.com", "twitter.com", "x.com", "instagram.com", "youtube.com",
                  "wikipedia.org", "medium.com", "substack.com", "mastodon.social", "bsky.app", "tiktok.com",
                  "facebook.com", "threads.net", "about.me", "scholar.google.com", "imdb.com")


@dataclass(frozen=True)
class Candidate:
    url: str
    title: str
    snippet: str
    likelihood: float  # 0..1: how likely the page is about this person
    reasons: tuple[str, ...]


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.casefold()) if len(w) > 1}


def score_candidate(name: str, hints: list[str], url: str, title: str, snippet: str) -> Candidate:
    """A transparent score: the name in the title and snippet, the hints, and a profile-like address."""
    name_words = _words(name)
    title_words, snippet_words = _words(title), _words(snippet)
    host = _host(url)
    score, reasons = 0.0, []
    in_title = len(name_words & title_words) / max(1, len(name_words))
    if in_title == 1:
        score += 0.45
        reasons.append("full name in the title")
    elif in_title:
        score += 0.2 * in_title
        reasons.append("part of the name in the title")
    if name.casefold() in snippet.casefold():
        score += 0.2
        reasons.append("full name in the snippet")
    elif name_words & snippet_words:
        score += 0.05
    matched = [hint for hint in hints if _words(hint) and _words(hint) <= title_words | snippet_words]
    if matched:
        score += min(0.3, 0.15 * len(matched))
        reasons.append(f"mentions {', '.join(matched)}")
    if any(host == h or host.endswith("." + h) for h in _PROFILE_HOSTS):
        score += 0.1
        reasons.append(f"a profile or reference site ({host})")
    elif name_words and all(word in host.replace("-", "") for word in name_words):
        score += 0.2
        reasons.append(f"a personal domain ({host})")
    return Candidate(url, title, snippet, round(min(score, 1.0), 2), tuple(reasons))


def _host(url: str) -> str:
    try:
        return urlsplit(url).netloc.lower().removeprefix("www.")
    except ValueError:  # a result whose address does not parse (`http://[::1`)
        return ""


def _is_web_address(url: str) -> bool:
    try:
        return urlsplit(url).scheme in ("http", "https")
    except ValueError:
        return False


def search_web(name: str, hints: list[str], max_results: int, search_url: str, timeout: float) -> list[Candidate]:
    """Search results for the person, most likely first; duplicates and non-web links dropped."""
    from ddgs.engines.duckduckgo import Duckduckgo
    from ddgs.exceptions import DDGSException

    name = " ".join(name.split())
    if not name:
        raise InvalidInputError("Give the person's name to search for.")
    query = " ".join([f'"{name}"', *(h.strip() for h in hints if h.strip())])

    class _Engine(Duckduckgo):
        pass

    _Engine.search_url = search_url
    engine = _Engine(timeout=int(timeout))
    found: dict[str, Candidate] = {}
    try:
        for page in range(1, 4):
            before = len(found)
            for result in engine.search(query, page=page) or []:
                if _is_web_address(result.href) and result.href not in found:
                    found[result.href] = score_candidate(name, hints, result.href, result.title, result.body)
            if len(found) == before or len(found) >= max_results:
                break
    except DDGSException as exc:
        raise InvalidInputError(f"The web search failed ({str(exc)[:100]}): check the connection and try again.") \
            from None
    return sorted(found.values(), key=lambda c: -c.likelihood)[:max_results]
