"""Which words of a message full-text recall searches for: retrieval policy, kept out of the store.

The store counts and ranks; this module decides what counts as a word worth searching and when a word is so
common in a fan's memories that it says little about which memory is meant.
"""

from __future__ import annotations

import hashlib
import re

STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "did", "do", "does", "for", "from", "had", "has",
    "have", "he", "her", "his", "how", "i", "if", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our",
    "she", "so", "that", "the", "their", "them", "then", "there", "they", "this", "to", "was", "we", "were",
    "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
})
COMMON_SHARE = 0.05  # a word in more than 5 % of a fan's memories is left out...
MOST_MATCHES = 500  # ...and so is one in more than 500 of them
FEWEST_MATCHES = 20  # (a short stream keeps every word found up to 20 times)
MOST_TERMS = 32


def search_terms(query: str) -> list[str]:
    """Plain words only, each once, stop words left out: user text never reaches a full-text query syntax."""
    words = [w for w in re.findall(r"[A-Za-z0-9]+", query.lower()) if w not in STOPWORDS and len(w) > 1]
    return list(dict.fromkeys(words))[:MOST_TERMS]


def most_matches(stream_size: int) -> int:
    """How many of a fan's memories may contain a word that is still searched for. Such a common word (every
    line names the fan, say) tells little, yet ranking its thousands of matches is what makes full-text
    search slow on a long memory stream."""
    return int(min(max(FEWEST_MATCHES, COMMON_SHARE * stream_size), MOST_MATCHES))


def content_words(text: str) -> frozenset[str]:
    """The words that carry a line's meaning: lower-cased, stop words and single letters (not digits) left out."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return frozenset(w for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())) or frozenset(words)


def said(text: str) -> tuple[str, str]:
    """(speaker, words) of a memory's line: "Ada: I moved" -> ("Ada", "I moved"); ("", text) without one."""
    speaker, colon, words = text.partition(": ")
    return (speaker, words) if colon and 0 < len(speaker) <= 60 else ("", text)


def gist(text: str) -> str:
    """Who said a line and its content words, in any order, hashed: "Fan: My coffee machine is making weird
    noises again!" and "Fan: my coffee machine's making weird noises again" share it; the same words said by
    someone else do not."""
    speaker, words = said(text)
    key = speaker.casefold() + "\x1f" + " ".join(sorted(content_words(words)))
    return hashlib.sha256(key.encode()).hexdigest()[:16]
