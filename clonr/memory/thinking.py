"""The memory work the chat model does in the background: reflections and knowledge updates.

Both ask for JSON that a schema constrains (llama.cpp turns it into a grammar, so small models always answer
in shape), and both validate what comes back: an insight may cite only memories it was shown, an update may
retire only memories it was shown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from clonr.llm.structured import ask_json, with_examples
from clonr.store import Memory

QUESTIONS_SCHEMA = {"type": "object", "properties": {"questions": {
    "type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3}}, "required": ["questions"]}
INSIGHTS_SCHEMA = {"type": "object", "properties": {"insights": {"type": "array", "maxItems": 5, "items": {
    "type": "object", "properties": {"insight": {"type": "string"}, "because_of": {
        "type": "array", "items": {"type": "integer"}, "minItems": 1}},
    "required": ["insight", "because_of"]}}}, "required": ["insights"]}
ENTITIES_SCHEMA = {"type": "object", "properties": {"entities": {"type": "array", "maxItems": 8, "items": {
    "type": "object", "properties": {"name": {"type": "string"}, "about": {"type": "string"}},
    "required": ["name", "about"]}}}, "required": ["entities"]}
STILL_TRUE_SCHEMA = {"type": "object", "properties": {"still_true": {"type": "boolean"}}, "required": ["still_true"]}


MEMORY_CHARS = 300  # of one memory in a prompt about memories
MEMORIES_CHARS = 6000  # of them all: about 1,500 tokens, which leave room in a 4,096-token context


def _numbered(memories: Sequence[Memory]) -> str:
    """The memories, numbered from 1 in the order given, each cut to MEMORY_CHARS; when they would outgrow
    MEMORIES_CHARS (a hundred long events from a blog's feed), the first ones are left out, keeping the numbers
    of the rest, so a model citing a number still names the memory it read."""
    lines = [f"{n}. [{m.happened_at:%Y-%m-%d}] {m.text if len(m.text) <= MEMORY_CHARS else m.text[:MEMORY_CHARS] + '…'}"
             for n, m in enumerate(memories, start=1)]
    kept, size = [], 0
    for line in reversed(lines):
        if size + len(line) > MEMORIES_CHARS and kept:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(reversed(kept))


_NUMBERED = re.compile(r"^\d{1,3}\.\s*(?:\[\d{4}-\d\d-\d\d\]\s*)?")


def _unnumbered(text: str) -> str:
    """An insight without the "1. [2024-05-01] " a small model copies from the list it was shown: what is left
    of a copied line is then seen to be a copy ("Fan: hello"), and dropped."""
    return _NUMBERED.sub("", text)


def reflection_questions(model: BaseChatModel, recent: Sequence[Memory], name: str) -> list[str]:
    prompt = (f"You are {name}. Here is what you remember of a fan, most recent last:\n{_numbered(recent)}\n\n"
              "What are the 3 most salient high-level questions you can answer about this fan and your "
              'relationship with them? Answer as JSON: {"questions": ["...", "...", "..."]}')
    value = ask_json(model, prompt, QUESTIONS_SCHEMA) or {}
    return [q.strip() for q in value.get("questions", []) if isinstance(q, str) and q.strip()][:3]


def insights(model: BaseChatModel, question: str, evidence: Sequence[Memory],
             name: str) -> list[tuple[str, list[Memory]]]:
    """Up to 5 insights about `question`, each with the memories it cites (only ones it was shown)."""
    prompt = (f"You are {name}. Memories about a fan:\n{_numbered(evidence)}\n\nQuestion: {question}\n"
              "What up to 5 high-level insights can you infer from these memories? Cite the numbers of the "
              'memories each insight rests on. Answer as JSON: {"insights": [{"insight": "...", '
              '"because_of": [1, 4]}]}')
    value = ask_json(model, prompt, INSIGHTS_SCHEMA) or {}
    found = []
    for item in value.get("insights", [])[:5]:
        if not isinstance(item, dict) or not str(item.get("insight", "")).strip():
            continue
        cited = [evidence[n - 1] for n in item.get("because_of", [])
                 if isinstance(n, int) and 1 <= n <= len(evidence)]
        if cited:  # an insight that cites nothing it was shown is not kept
            found.append((_unnumbered(" ".join(str(item["insight"]).split())), cited))
    return found


_STILL_TRUE = ("You keep what you know about a person up to date. Is the older memory still true now that the new "
               "one is known? It is not when a fact changed: a new home, job, relationship, age or habit replaces "
               "the old one. It still is when the new memory mentions the same person, pet, place or interest, "
               "adds to it, or tells of an event; and facts about other people stay true when the fan's own life "
               'changes. Answer as JSON: {"still_true": true} or {"still_true": false}.')
_STILL_TRUE_EXAMPLES = [
    ("Fan: I work at a bakery.", "Fan: I got a job at the hospital, I start on Monday.", False),
    ("Fan: My brother is called Tom.", "Fan: Tom visited me this weekend.", True),
    ("Fan: I live in Leeds.", "Fan: I moved to York in March.", False),
    ("Fan: I love hiking.", "Fan: I moved to York in March.", True),
    ("Fan: My mum lives in Leeds.", "Fan: I moved to York in March.", True),
    ("Fan: I'm learning Spanish.", "Fan: I practised Spanish for an hour today.", True)]


def _pair(old: str, new: str) -> str:
    return f"Older memory: {old}\nNew memory: {new}"


def outdated_by(model: BaseChatModel, new: Memory, similar: Sequence[Memory]) -> list[Memory]:
    """The older memories that `new` makes untrue (mem0/Zep-style knowledge update), asked one pair at a time
    with worked examples. A wrong answer hides a true memory from recall, so precision comes first: asked
    for a list of numbers, Qwen2.5-1.5B retired 11 wrongly in 32 hand-made cases ("took Biscuit to the
    beach" retired "I have a dog called Biscuit"); one pair at a time, 2 (and missed 8 real changes, which
    stay recallable next to the newer fact, dated; benchmarks/knowledge_updates.py)."""
    examples = with_examples(_STILL_TRUE, [(_pair(old, newer), {"still_true": still_true})
                                           for old, newer, still_true in _STILL_TRUE_EXAMPLES])
    return [old for old in similar
            if (ask_json(model, [*examples, HumanMessage(_pair(old.text, new.text))], STILL_TRUE_SCHEMA, max_tokens=12,
                         temperature=0.0) or {}).get("still_true") is False]


def summary(model: BaseChatModel, name: str, description: str, memories: Sequence[Memory], previous: str,
            about_fan: bool) -> str:
    """A short summary, rewritten from the previous one and the memories since; empty if the model gives none."""
    if not memories:
        return ""
    if about_fan:
        task = ("In at most 80 words, write what you know about this fan: who they are, the people and things "
                "in their life, what they care about, and your relationship with them. Write in the second "
                "person about the fan (\"They ...\"). Facts only, no invention.")
    else:
        task = (f"In at most 80 words, describe {name}'s current state: what has happened in your life lately "
                "and how you feel about it. Write in the first person. Facts only, no invention.")
    prompt = (f"You are {name}. {description[:600]}\n\nYour previous summary: {previous or '(none)'}\n\n"
              f"Memories:\n{_numbered(memories)}\n\n{task}")
    text = " ".join(model.invoke(prompt, temperature=0.2, max_tokens=160).text.split())
    return text[:800]


def entities(model: BaseChatModel, memories: Sequence[Memory], known: dict[str, str]) -> dict[str, str]:
    """The people, pets, places and things a fan talks about, each with what is known of it (name -> about).
    Only names that appear in the memories are kept: nothing is invented."""
    if not memories:
        return {}
    already = "; ".join(f"{name}: {about}" for name, about in known.items()) or "(none)"
    prompt = (f"Memories of conversations with a fan:\n{_numbered(memories)}\n\nAlready known: {already}\n\n"
              "List the people, pets, places and things the fan talks about (not the fan), each with one short "
              "sentence: who or what it is and how it relates to the fan. Answer as JSON: "
              '{"entities": [{"name": "Margaret", "about": "their sister, lives in Lisbon"}]}')
    value = ask_json(model, prompt, ENTITIES_SCHEMA) or {}
    text = " ".join(m.text for m in memories).casefold()
    found = {}
    for item in value.get("entities", []):
        name = " ".join(str(item.get("name", "")).split())[:120] if isinstance(item, dict) else ""
        about = " ".join(str(item.get("about", "")).split())[:300] if isinstance(item, dict) else ""
        if name and about and name.casefold() in text:
            found[name] = about
    return found
