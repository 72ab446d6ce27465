"""Showing text from outside (web pages, chat exports, cards, search results) as plain text in Markdown.

Streamlit renders labels, captions and markdown as Markdown: a hostile page title could otherwise add links,
images that load from its server, LaTeX or colour directives. Every punctuation mark Markdown acts on is
backslash-escaped, which CommonMark renders as the character itself.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")


def plain(text: str | None, limit: int | None = None) -> str:
    """`text` on one line, cut to `limit` characters, with its Markdown neutralised."""
    flat = " ".join((text or "").split())
    if limit is not None and len(flat) > limit:
        flat = flat[:limit - 1] + "…"
    return _SPECIAL.sub(r"\\\1", flat)
