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
from clonr.memory.people import People, only_introduces

# Words that announce a change of state. Plain string patterns: a cue is a hint, similarity decides the subject.
_CUES = re.compile(
    r"\b(?:now|nowadays|these days|currently|anymore|any more|no longer|not \w+ anymore|used to|moved|moving|"
    r"relocat\w*|quit|quitting|switch\w*|changed|changing|new|started|starting|stopped|gave up|given up|"
    r"giving up|left|leaving|became|become|instead|since|took up|taken up|back to|again|finally|replaced|"
    r"traded|sold|bought|got a|got an|got my|signed|joined|retired|broke up|split up|divorced|married|engaged)\b",
    re.IGNORECASE)
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


def replaces(new_text: str, old_text: str, similarity: float, rule: ChangeRule = ChangeRule(),
             people: People | None = None) -> bool:
    """Whether `new_text` (said later) makes `old_text` out of date, without asking a model; `people`: whom the
    speaker has named, so "Inês moved" is known to be the sister's news."""
    new_speaker, new_words = said(new_text)
    old_speaker, old_words = said(old_text)
    people = people or People()
    about = people.whose(new_words)
    if new_speaker.casefold() != old_speaker.casefold() or about != people.whose(old_words):
        return False
    if about != "self" and only_introduces(old_words):
        return False  # "My wife is Priya" stays true whatever Priya does next
    if tells_a_change(new_words):
        return similarity >= rule.with_cue
    return similarity >= rule.restated and not _HAPPENING.search(new_words)
