"""Whose fact is whose, without a model: the people (and pets) a fan introduces ("my sister Inês", "my best friend
is Leo", "a hamster called Nibbles") and, for any statement, whom it is about.

"Inês moved to Madrid" is the sister's news, not the fan's: a knowledge update never lets it retire the fan's own
home, and the clone is told who Inês is whenever a message names her. The people found here are saved as the
fan's entities ("Inês: their sister") unless the chat model's summary already described them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from clonr.memory.lexical import STOPWORDS, content_words

RELATIONS = (
    "sister", "brother", "sibling", "mum", "mom", "mother", "dad", "father", "parents", "son", "daughter", "kids",
    "children", "wife", "husband", "partner", "girlfriend", "boyfriend", "fiance", "fiancee", "fiancé", "fiancée",
    "boss", "manager", "colleague", "coworker", "co-worker", "friend", "mate", "neighbour", "neighbor",
    "flatmate", "roommate", "housemate", "cousin", "aunt", "uncle", "grandma", "grandpa", "grandmother",
    "grandfather", "grandad", "granddad", "gran", "nan", "niece", "nephew", "landlord", "landlady", "teacher",
    "coach", "doctor", "therapist", "in-laws", "stepdad", "stepmum", "stepmom", "godson", "goddaughter")
PETS = ("cat", "kitten", "dog", "puppy", "rabbit", "bunny", "hamster", "guinea pig", "parrot", "budgie", "horse",
        "tortoise", "turtle", "snake", "lizard", "ferret", "goldfish")
_RELATION = "|".join(sorted((re.escape(r) for r in RELATIONS), key=len, reverse=True))
_KIN = "|".join(sorted((re.escape(r) for r in (*RELATIONS, *PETS)), key=len, reverse=True))
_OPENERS = r"(?:(?:oh|so|well|btw|by the way|guess what|anyway|ugh|haha|lol|update|news|fun fact|also|and)\W+)*"
_NAME = r"(?P<name>[^\W\d_][\w'’-]*)"  # checked for a capital letter in code: the patterns ignore case
# "My sister ...", "Our neighbour Tom ...", "my best friend Ana's ...": the statement is about them.
_ABOUT_OTHER = re.compile(rf"^\W*{_OPENERS}(?:my|our)\s+(?:[\w-]+\s+){{0,2}}?(?P<who>{_KIN})s?\b"
                          rf"(?:\s+{_NAME})?", re.IGNORECASE)
# "Dad finally quit", "Mum's new job": a relation said as a name.
_KIN_AS_NAME = re.compile(rf"^\W*{_OPENERS}(?P<who>{_RELATION})(?:'s|’s)?\b", re.IGNORECASE)
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|i've|i'd|i'll|me|we|we're|we've|us)\b", re.IGNORECASE)
_ANY_RELATION = re.compile(rf"\b(?:my|our)\s+(?:[\w-]+\s+){{0,2}}?(?P<who>{_KIN})s?\b", re.IGNORECASE)
_KIN_WORD = re.compile(rf"\b(?P<who>{_KIN})\b", re.IGNORECASE)
_OPENING_NAME = re.compile(rf"^\W*{_OPENERS}{_NAME}", re.IGNORECASE)
# How people are introduced: "my sister Inês", "my best friend is Leo", "my daughter is called Mia", "a
# hamster called Nibbles", "a girlfriend, Anna", "Dan, my best mate".
_INTRODUCTIONS = (
    re.compile(rf"\b(?:my|our)\s+(?:[\w-]+\s+){{0,2}}?(?P<who>{_KIN})\s+(?:is\s+|was\s+)?(?:(?:called|named)\s+)?"
               rf"{_NAME}", re.IGNORECASE),
    re.compile(rf"\b(?:a|an)\s+(?:[\w-]+\s+){{0,2}}?(?P<who>{_KIN})(?:,\s+|\s+(?:called|named)\s+){_NAME}",
               re.IGNORECASE),
    re.compile(rf"\b{_NAME},\s+(?:my|our)\s+(?:[\w-]+\s+){{0,2}}?(?P<who>{_KIN})\b", re.IGNORECASE),
)
_NOT_NAMES = frozenset({
    "i", "a", "an", "the", "is", "was", "and", "but", "or", "so", "who", "which", "that", "this", "he", "she",
    "they", "it", "my", "our", "his", "her", "their", "called", "named", "just", "still", "now", "today", "has",
    "had", "have", "will", "would", "can", "could", "did", "does", "got", "gets", "says", "said", "lives", "works",
    "loves", "thinks", "always", "never", "finally", "also", "too", "again", "in", "on", "at", "to", "for", "from",
    "with", "of", "by", "yesterday", "tonight", "tomorrow", "last", "next", "new", "old", "best", "little", "big"})


def _as_name(word: str | None) -> str | None:
    """`word` if it reads as a name: capitalised, not a common word ("My sister Is" / "my sister lives")."""
    if not word:
        return None
    word = word.removesuffix("'s").removesuffix("’s")
    return word if word[0].isupper() and word.casefold() not in _NOT_NAMES else None


def introduced(words: str) -> dict[str, str]:
    """The people and pets `words` introduce by name: {"Inês": "sister"}."""
    found: dict[str, str] = {}
    for pattern in _INTRODUCTIONS:
        for match in pattern.finditer(words):
            if name := _as_name(match["name"]):
                found.setdefault(name, match["who"].casefold())
    return found


def only_introduces(words: str) -> bool:
    """Whether `words` say who someone is and nothing more ("My wife is Priya.", "My cat is called Pixel"): such a
    line stays true whatever news of them follows ("Priya got a promotion")."""
    rest = words
    for pattern in _INTRODUCTIONS:
        rest = pattern.sub(" ", rest)
    return rest != words and len(content_words(rest) - {"have", "got", "meet", "this", "is"}) == 0


_CAPITALISED = re.compile(r"\b[^\W\d_][\w-]*")


def names_in(words: str) -> set[str]:
    """The capitalised words of a line that are not common words ("Hugo", "Samsung", "Lyon"; not "I", "The")."""
    return {name for word in _CAPITALISED.findall(words)
            if (name := _as_name(word)) and len(name) > 1 and name.casefold() not in STOPWORDS}


def without_names(words: str, names: set[str]) -> str:
    """`words` with `names` (and their possessives) taken out: what is said of someone, not who."""
    for name in names:
        words = re.sub(rf"\b{re.escape(name)}(?:'s|’s)?\b", "", words)
    return " ".join(words.split())


class People:
    """Whom a fan has named, as the memory knows them: name -> relation ("inês" -> "sister"; "" when the
    relation is not known, as for a name the chat model's summary found)."""

    def __init__(self, relations: Mapping[str, str] | None = None) -> None:
        self._relation = {name.casefold(): relation for name, relation in (relations or {}).items()}

    @classmethod
    def from_entities(cls, entities: Mapping[str, str]) -> People:
        """From the fan's entities (name -> about): the relation is the first one the description names."""
        return cls({name: (m["who"].casefold() if (m := _KIN_WORD.search(about)) else "") for name, about in
                    entities.items()})

    def key(self, relation: str, name: str | None = None) -> str:
        """One key per person: their name; a relation alone stands for the one person known by it ("my sister"
        when the fan has one named sister)."""
        if name:
            return name.casefold()
        named = [n for n, r in self._relation.items() if r == relation]
        return named[0] if len(named) == 1 else relation

    def whose(self, words: str) -> str:
        """Whose fact a statement tells: "self" (the speaker's own), or the other person's key. A statement
        opening on "my sister…" is hers; one with no I or we in it is about the person it opens on ("Inês
        moved", "Dad quit") or, failing that, the relation it names ("the new job suits my brother")."""
        if match := _ABOUT_OTHER.match(words):
            return self.key(match["who"].casefold(), _as_name(match["name"]))
        if _FIRST_PERSON.search(words):
            return "self"
        if (match := _OPENING_NAME.match(words)) and (name := _as_name(match["name"])) and \
                name.casefold() in self._relation:
            return name.casefold()
        if match := _KIN_AS_NAME.match(words):
            return self.key(match["who"].casefold())
        if match := _ANY_RELATION.search(words):
            return self.key(match["who"].casefold())
        return "self"
