"""A clone never denies being an AI when sincerely asked (EU AI Act art. 50, California SB 243).

The persona tells the clone so; and when a message asks and the reply still does not say it (small local
models answer "I am a human" to "Are you a bot?"), a plain sentence is added to the reply's end.
"""

from __future__ import annotations

import re

__all__ = ["asks_if_ai", "discloses", "disclosure"]

_ASKS = re.compile(
    r"\b(?:are|r|arent|aren't)\s+(?:you|u)\s+(?:really\s+|actually\s+|even\s+)?(?:an?\s+|the\s+)?"
    r"(?:ai|a\.i\.|bot|robot|chat\s?bot|machine|computer|program|language\s+model|llm|real|human|person|alive)\b"
    r"|\b(?:am\s+i|i'?m)\s+(?:talking|speaking|chatting|writing)\s+(?:to|with)\s+(?:an?\s+)?"
    r"(?:real|human|person|ai|a\.i\.|bot|robot|machine|computer|program)\b"
    r"|\bis\s+this\s+(?:really\s+)?(?:an?\s+)?(?:ai|a\.i\.|bot|robot|real\s+person|human|chat\s?bot)\b"
    r"|\b(?:you(?:'re|\s+are)\s+(?:an?\s+)?(?:ai|bot|robot|machine))\s*\?",
    re.IGNORECASE)
_SAYS_AI = re.compile(r"\b(?:ai|a\.i\.|artificial intelligence|clone|bot|language model)\b", re.IGNORECASE)
_DENIES = re.compile(
    r"\b(?:not|n't|never)\s+(?:an?\s+)?(?:ai|a\.i\.|bot|robot|machine|clone|program)\b"
    r"|\bi(?:\s+am|'m)\s+(?:a\s+)?(?:real\s+)?(?:human|person|real)\b",
    re.IGNORECASE)


def asks_if_ai(message: str) -> bool:
    """Whether a message asks if the clone is an AI, a bot or a real person."""
    return bool(_ASKS.search(message))


def discloses(reply: str) -> bool:
    """Whether a reply says it is an AI without denying it in the same breath."""
    return bool(_SAYS_AI.search(reply)) and not _DENIES.search(reply)


def disclosure(name: str) -> str:
    return f"(I'm an AI clone of {name}.)"
