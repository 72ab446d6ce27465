"""Knowledge updates without a chat model: which of a fan's older statements a new one makes out of date.

A new statement replaces an older one when both are the same person's words about the same person, are close in
meaning, and either the new one says that something changed ("moved", "no longer", "switched", "these days") or
the two are so close that the newer is the same fact told again with a new value ("I live in Porto" -> "I live
in Lyon"). Whose fact it is matters most: "my sister moved to Madrid" never retires the fan's own home. A rule
errs both ways; a retired memory stays recallable (ranked below the current one for questions about the
present, above it for questions about the past), and a capable chat model, when configured, confirms each pair.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clonr.memory.lexical import said

# Words that announce a change of state. Plain string patterns: a cue is a hint, similarity decides the subject.
_CUES = re.compile(
    r"\b(?:now|nowadays|these days|currently|anymore|any more|no longer|not \w+ anymore|used to|moved|moving|"
    r"relocat\w*|quit|quitting|switch\w*|changed|changing|new|started|starting|stopped|gave up|given up|"
    r"giving up|left|leaving|became|become|instead|since|took up|taken up|back to|again|finally|replaced|"
    r"traded|sold|bought|got a|got an|got my|signed|joined|retired|broke up|split up|divorced|married|engaged)\b",
    re.IGNORECASE)
RELATIONS = (
    "sister", "brother", "sibling", "mum", "mom", "mother", "dad", "father", "parents", "son", "daughter", "kids",
    "children", "wife", "husband", "partner", "girlfriend", "boyfriend", "fiance", "fiancee", "fiancé", "fiancée",
    "boss", "manager", "colleague", "coworker", "co-worker", "friend", "mate", "neighbour", "neighbor",
    "flatmate", "roommate", "housemate", "cousin", "aunt", "uncle", "grandma", "grandpa", "grandmother",
    "grandfather", "gran", "nan", "niece", "nephew", "landlord", "landlady", "teacher", "coach", "doctor",
    "therapist", "in-laws", "stepdad", "stepmum", "stepmom", "godson", "goddaughter")
_RELATION = "|".join(sorted((re.escape(r) for r in RELATIONS), key=len, reverse=True))
_OPENERS = r"(?:(?:oh|so|well|btw|by the way|guess what|anyway|ugh|haha|lol|update|news|fun fact|also|and)\W+)*"
# "My sister ...", "Our neighbour Tom ...", "my best friend Ana's ...": the statement is about them.
_ABOUT_OTHER = re.compile(rf"^\W*{_OPENERS}(?:my|our)\s+(?:[\w-]+\s+){{0,2}}?(?P<who>{_RELATION})s?\b"
                          r"(?:\s+(?P<name>[A-Z][a-z]+))?", re.IGNORECASE)
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|i've|i'd|i'll|me|we|we're|we've|us)\b", re.IGNORECASE)
_ANY_RELATION = re.compile(rf"\b(?:my|our)\s+(?:[\w-]+\s+){{0,2}}?(?P<who>{_RELATION})s?\b", re.IGNORECASE)


def whose(words: str) -> str:
    """Whose fact a statement tells: "self" (the speaker's own), or the other person as the speaker calls them
    ("sister", "boss"): a statement opening on "my sister…" is hers; one with no I or we in it that names a
    relation ("the new job suits my brother") is that person's."""
    if match := _ABOUT_OTHER.match(words):
        return match["who"].casefold()
    if not _FIRST_PERSON.search(words) and (match := _ANY_RELATION.search(words)):
        return match["who"].casefold()
    return "self"


# A happening, not a state: "I took Biscuit to the beach today" tells of the dog, it does not replace it.
_HAPPENING = re.compile(r"\b(?:today|tonight|yesterday|last night|this morning|this afternoon|this weekend|"
                        r"just now)\b", re.IGNORECASE)


def tells_a_change(words: str) -> bool:
    return bool(_CUES.search(words))


@dataclass(frozen=True)
class ChangeRule:
    """How close an older statement must be to a new one to be replaced by it: the cosine of the two bare
    statements' embeddings (no speaker, no line before). Set on a year of chat (benchmarks/knowledge_currency.py,
    the first fan); the 32 pairs of benchmarks/knowledge_updates.py check it."""

    with_cue: float = 0.30  # the new statement says something changed
    restated: float = 0.50  # no cue: the same fact told again, with a new value or the same one


def replaces(new_text: str, old_text: str, similarity: float, rule: ChangeRule = ChangeRule()) -> bool:
    """Whether `new_text` (said later) makes `old_text` out of date, without asking a model."""
    new_speaker, new_words = said(new_text)
    old_speaker, old_words = said(old_text)
    if new_speaker.casefold() != old_speaker.casefold() or whose(new_words) != whose(old_words):
        return False
    if tells_a_change(new_words):
        return similarity >= rule.with_cue
    return similarity >= rule.restated and not _HAPPENING.search(new_words)
